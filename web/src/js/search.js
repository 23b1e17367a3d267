// Search across conversations from the sidebar: results as you type (debounced; a newer query cancels
// the one in flight), the hits highlighted, arrow keys moving through the results while the focus stays
// in the box (the ARIA combobox pattern; past the last one, the next page), Enter opening one, Esc
// clearing the search. Ctrl+K (⌘K) goes to the box from anywhere (main.js).
import { api } from "./api.js";
import { h } from "./dom.js";

const DEBOUNCE_MS = 200;
const PAGE = 20;

/** Parts [{text, match}] as text nodes and <mark>s: no string from the server ever becomes markup. */
function highlighted(parts) {
  return (parts ?? []).map((p) => (p.match ? h("mark", {}, p.text) : p.text));
}

export class Search {
  constructor(state, { input, results, status, nav }, { open }) {
    this.state = state;
    this.input = input;
    this.results = results;
    this.status = status;
    this.nav = nav;
    this.onOpen = open;
    this.hits = [];
    this.active = -1;
    this.query = "";
    this.cursor = null;
    this.timer = null;
    this.controller = null;

    input.addEventListener("input", () => this.schedule());
    input.addEventListener("keydown", (e) => this.onKey(e));
    results.addEventListener("mousedown", (e) => e.preventDefault()); // keep the focus in the box
  }

  get searching() {
    return this.query !== "";
  }

  schedule() {
    clearTimeout(this.timer);
    const query = this.input.value.trim();
    if (!query) {
      this.clear({ keepText: true });
      return;
    }
    this.timer = setTimeout(() => this.run(query), DEBOUNCE_MS);
  }

  async run(query, { more = false } = {}) {
    this.controller?.abort();
    const controller = new AbortController();
    this.controller = controller;
    let page;
    try {
      page = await api.searchConversations(query, { limit: PAGE, cursor: more ? this.cursor : undefined, signal: controller.signal });
    } catch (err) {
      if (err.name === "AbortError" || controller.signal.aborted) return;
      this.show(query, [], null, `Search failed: ${err.message}`);
      return;
    }
    if (controller.signal.aborted) return;
    this.show(query, [...(more ? this.hits : []), ...(page?.data ?? [])], page?.nextCursor ?? null);
  }

  show(query, hits, cursor, error = null) {
    const fresh = query !== this.query;
    this.query = query;
    this.hits = hits;
    this.cursor = cursor;
    this.nav.classList.add("searching");
    this.input.setAttribute("aria-expanded", "true");
    if (fresh) this.active = -1;
    const items = hits.map((hit, i) => this.item(hit, i));
    if (cursor) {
      items.push(h("button", {
        type: "button", class: "btn btn-ghost btn-small search-more", dataset: { testid: "search-more" }, tabindex: "-1",
        onclick: () => this.run(this.query, { more: true }),
      }, "More results"));
    }
    this.results.replaceChildren(...items);
    this.results.hidden = false;
    const n = hits.length;
    this.status.textContent = error ?? (n ? `${n}${cursor ? "+" : ""} conversation${n === 1 ? "" : "s"} found` : `Nothing found for “${query}”`);
    this.status.hidden = false;
    this.highlight();
  }

  item(hit, i) {
    const title = hit.titleMatch ? highlighted(hit.titleMatch) : [hit.title || "Untitled"];
    const snippet = hit.snippet
      ? [h("span", { class: "search-role" }, hit.role === "user" ? "You: " : "Reply: "), ...highlighted(hit.snippet)]
      : [];
    return h("div", {
      role: "option", id: `search-hit-${i}`, class: "search-hit", "aria-selected": "false",
      dataset: { testid: "search-result", id: hit.id },
      onclick: () => this.openHit(i),
    },
    h("div", { class: "search-hit-title" }, ...title),
    snippet.length ? h("div", { class: "search-hit-snippet", dataset: { testid: "search-snippet" } }, ...snippet) : null);
  }

  highlight() {
    const options = this.results.querySelectorAll(".search-hit");
    options.forEach((el, i) => el.setAttribute("aria-selected", String(i === this.active)));
    const current = options[this.active];
    if (current) {
      this.input.setAttribute("aria-activedescendant", current.id);
      current.scrollIntoView({ block: "nearest" });
    } else {
      this.input.removeAttribute("aria-activedescendant");
    }
  }

  onKey(e) {
    if (e.key === "Escape") {
      if (!this.input.value && !this.searching) return; // Esc goes on to close the sidebar or stop a reply
      e.preventDefault();
      e.stopPropagation();
      this.clear();
      return;
    }
    if (!this.hits.length) return;
    if (e.key === "ArrowDown" && this.active === this.hits.length - 1 && this.cursor) {
      e.preventDefault();
      this.run(this.query, { more: true }); // past the last result: the next page, the selection stays
      return;
    }
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      const step = e.key === "ArrowDown" ? 1 : -1;
      this.active = (this.active + step + this.hits.length) % this.hits.length;
      this.highlight();
    } else if (e.key === "Home" && this.active >= 0) {
      e.preventDefault();
      this.active = 0;
      this.highlight();
    } else if (e.key === "End" && this.active >= 0) {
      e.preventDefault();
      this.active = this.hits.length - 1;
      this.highlight();
    } else if (e.key === "Enter") {
      e.preventDefault();
      this.openHit(Math.max(this.active, 0));
    }
  }

  openHit(i) {
    const hit = this.hits[i];
    if (!hit) return;
    this.active = i;
    this.highlight();
    this.onOpen(hit.id, hit.messageId);
  }

  /** Back to the conversation list. `keepText`: the box was emptied by typing, leave it be. */
  clear({ keepText = false } = {}) {
    clearTimeout(this.timer);
    this.controller?.abort();
    if (!keepText) this.input.value = "";
    this.query = "";
    this.hits = [];
    this.active = -1;
    this.cursor = null;
    this.results.replaceChildren();
    this.results.hidden = true;
    this.status.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
    this.nav.classList.remove("searching");
  }
}
