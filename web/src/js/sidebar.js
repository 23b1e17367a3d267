// The conversations sidebar: new, switch, rename (inline), delete (with a confirm step), grouped by date
// (dategroups.js) and one Tab stop with arrow keys inside (roving.js). On wide screens the header's menu
// button collapses it (remembered); on narrow screens it slides over the chat and the same button opens it.
import { groupByDate } from "./dategroups.js";
import { h } from "./dom.js";
import { icon } from "./icons.js";
import { RovingFocus } from "./roving.js";
import { load, save } from "./storage.js";

const NARROW = "(max-width: 760px)";
const narrow = () => matchMedia(NARROW).matches;

export class Sidebar {
  constructor(state, { app, root, list, newButton, moreButton, toggle, scrim }, { conversations, open, create, notice, badge }) {
    this.state = state;
    this.app = app;
    this.root = root;
    this.list = list;
    this.toggle = toggle;
    this.scrim = scrim;
    this.conversations = conversations;
    this.onOpen = open;
    this.notice = notice;
    this.badge = badge ?? (() => null);
    this.renaming = null;
    this.confirming = null;
    this.roving = new RovingFocus(list, { row: ".conv", primary: ".conv-open", controls: ".conv-open, .conv-actions button" });

    newButton.addEventListener("click", () => {
      create();
      this.close();
    });
    moreButton.addEventListener("click", () => conversations.loadMore().catch((e) => notice(e.message)));
    this.moreButton = moreButton;
    this.collapsed = load("sidebarCollapsed", false) === true;
    toggle.addEventListener("click", () => {
      if (narrow()) this.setOpen(!this.isOpen());
      else this.setCollapsed(!this.collapsed);
    });
    scrim.addEventListener("click", () => this.close());
    // Esc closes the overlay wherever the focus is (main.js asks first, before Esc means Stop).
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.isOpen() && !e.defaultPrevented && !this.renaming && !this.confirming) {
        e.preventDefault();
        this.close();
        toggle.focus();
      }
    }, true);
    list.addEventListener("keydown", (e) => this.onKey(e));
    matchMedia(NARROW).addEventListener("change", () => {
      this.setOpen(false);
      this.applyCollapsed();
    });
    this.applyCollapsed();
    // A background refresh (polling running replies) must not redraw a row being renamed or confirmed.
    state.on("conversations", () => {
      if (this.renaming || this.confirming) this.stale = true;
      else this.render();
    });
    state.on("conversation", () => this.markCurrent({ reveal: true }));
    this.revealPending = true;
  }

  isOpen() {
    return this.root.classList.contains("open");
  }

  /** Whether the list can be seen right now (collapsed on a wide screen, closed on a narrow one: no). */
  visible() {
    return narrow() ? this.isOpen() : !this.collapsed;
  }

  setOpen(open) {
    const overlay = open && narrow();
    this.root.classList.toggle("open", overlay);
    this.scrim.hidden = !overlay;
    this.syncToggle();
    if (overlay) requestAnimationFrame(() => this.focusList());
  }

  close() {
    this.setOpen(false);
  }

  setCollapsed(collapsed) {
    this.collapsed = collapsed;
    save("sidebarCollapsed", collapsed);
    this.applyCollapsed();
    if (!collapsed) this.markCurrent({ reveal: true });
  }

  applyCollapsed() {
    this.app.classList.toggle("sidebar-collapsed", this.collapsed && !narrow());
    // A collapsed sidebar is out of the Tab order and the accessibility tree, not just out of sight.
    this.root.inert = this.collapsed && !narrow();
    this.syncToggle();
  }

  syncToggle() {
    const shown = this.visible();
    this.toggle.setAttribute("aria-expanded", String(shown));
    this.toggle.setAttribute("aria-label", shown ? "Hide conversations" : "Show conversations");
    this.toggle.title = shown ? "Hide conversations" : "Show conversations";
  }

  /** Shows the sidebar (for its search box) if it is collapsed or, on a narrow screen, closed. */
  showForSearch() {
    if (this.visible()) return;
    if (narrow()) {
      this.root.classList.add("open");
      this.scrim.hidden = false;
      this.syncToggle();
    } else {
      this.setCollapsed(false);
    }
  }

  /** Shows the list if needed and puts the focus on its one Tab stop (the current conversation). */
  focusList() {
    if (!this.visible()) {
      if (narrow()) {
        this.setOpen(true); // focuses when drawn
        return;
      }
      this.setCollapsed(false);
    }
    const target = this.roving.tabStop();
    if (target) this.roving.focus(target);
    else this.root.querySelector(".new-chat")?.focus();
  }

  /** F2 renames, Delete asks to delete: the row's controls without leaving the arrow keys. */
  onKey(e) {
    const row = e.target.closest?.(".conv");
    if (!row || e.target.closest(".rename-input") || row.classList.contains("confirming")) return;
    if (e.key === "F2") {
      e.preventDefault();
      this.startRename(row.dataset.id);
    } else if (e.key === "Delete") {
      e.preventDefault();
      this.startDelete(row.dataset.id);
    }
  }

  startRename(id) {
    this.renaming = id;
    this.confirming = null;
    this.render();
  }

  startDelete(id) {
    this.confirming = id;
    this.renaming = null;
    this.render();
  }

  rowOf(id) {
    return id ? this.list.querySelector(`.conv[data-id="${CSS.escape(id)}"]`) : null;
  }

  /** `reveal`: scroll the current conversation into view, now or as soon as it is drawn. */
  markCurrent({ reveal = false } = {}) {
    if (reveal) this.revealPending = true;
    const id = this.state.conversationId;
    for (const li of this.list.querySelectorAll(".conv")) {
      if (li.dataset.id === id) li.setAttribute("aria-current", "page");
      else li.removeAttribute("aria-current");
    }
    const row = this.rowOf(id);
    if (!this.list.contains(document.activeElement)) this.roving.refresh(row);
    // The current conversation is always in view in the list (it may be far down a long one).
    if (row && this.revealPending && this.visible()) {
      this.revealPending = false;
      row.scrollIntoView({ block: "nearest" });
    }
  }

  render() {
    this.stale = false;
    const hadFocus = this.list.contains(document.activeElement) ? document.activeElement.closest(".conv")?.dataset.id : null;
    const groups = groupByDate(this.state.conversations);
    this.list.replaceChildren(...groups.map((g) => {
      const heading = `conv-group-${g.id}`;
      return h("section", { class: "conv-group", dataset: { group: g.id }, "aria-labelledby": heading },
        h("h2", { class: "conv-group-title", id: heading }, g.label),
        h("ul", { class: "conv-items", role: "list" }, g.items.map((c) => this.item(c))));
    }));
    if (!groups.length) this.list.append(h("p", { class: "conv-empty" }, "No conversations yet"));
    this.moreButton.hidden = !this.state.nextCursor;
    this.markCurrent();
    if (hadFocus && !this.renaming && !this.confirming) {
      const row = this.rowOf(hadFocus);
      if (row) this.roving.focus(row.querySelector(".conv-open"), { scroll: false });
    }
  }

  item(conv) {
    const title = conv.title || "Untitled";
    const li = h("li", { class: "conv", dataset: { testid: "conversation-item", id: conv.id } });
    if (this.renaming === conv.id) return this.renameRow(li, conv);
    if (this.confirming === conv.id) return this.confirmRow(li, conv, title);
    const badge = this.badge(conv);
    if (badge) li.dataset.badge = badge.kind;
    const parts = [
      h("button", {
        type: "button", class: "conv-open", dataset: { testid: "conversation-open" }, tabindex: -1,
        "aria-describedby": badge ? `badge-${conv.id}` : null,
        onclick: () => {
          this.close();
          if (conv.id !== this.state.conversationId) this.onOpen(conv.id);
        },
      }, h("span", { class: "conv-title" }, title)),
      badge
        ? h("span", { class: `conv-badge conv-badge-${badge.kind}`, id: `badge-${conv.id}`, role: "img", "aria-label": badge.label, title: badge.label, dataset: { testid: "conversation-badge" } })
        : null,
      // Over the end of the title, only while the row is hovered or focused: titles keep the full width.
      h("div", { class: "conv-actions" },
        h("button", {
          type: "button", class: "icon-btn", dataset: { testid: "rename-conversation" }, tabindex: -1,
          "aria-label": `Rename “${title}”`, title: "Rename (F2)", onclick: () => this.startRename(conv.id),
        }, icon("pencil")),
        h("button", {
          type: "button", class: "icon-btn", dataset: { testid: "delete-conversation" }, tabindex: -1,
          "aria-label": `Delete “${title}”`, title: "Delete (Del)", onclick: () => this.startDelete(conv.id),
        }, icon("trash"))),
    ];
    li.append(...parts.filter(Boolean));
    return li;
  }

  renameRow(li, conv) {
    const input = h("input", { class: "rename-input", dataset: { testid: "rename-input" }, "aria-label": "New title", maxlength: 200 });
    input.value = conv.title || "";
    let done = false;
    const finish = async (saveIt) => {
      if (done) return;
      done = true;
      this.renaming = null;
      const value = input.value.trim();
      if (saveIt && value && value !== conv.title) {
        try {
          await this.conversations.rename(conv.id, value);
        } catch (err) {
          this.notice(`Could not rename the conversation: ${err.message}`);
          this.render();
        }
      } else {
        this.render();
      }
      const row = this.rowOf(conv.id);
      if (row) this.roving.focus(row.querySelector(".conv-open"));
    };
    input.addEventListener("keydown", (e) => {
      if (e.key === "Enter") {
        e.preventDefault();
        finish(true);
      } else if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        finish(false);
      }
    });
    input.addEventListener("blur", () => finish(true));
    li.append(input);
    queueMicrotask(() => {
      input.focus();
      input.select();
    });
    return li;
  }

  confirmRow(li, conv, title) {
    const cancel = () => {
      this.confirming = null;
      this.render();
      const row = this.rowOf(conv.id);
      if (row) this.roving.focus(row.querySelector(".conv-open"));
    };
    li.classList.add("confirming");
    li.append(
      h("span", { class: "conv-title" }, `Delete “${title}”?`),
      h("button", {
        type: "button", class: "btn btn-danger btn-small", dataset: { testid: "confirm-delete" },
        onclick: async () => {
          this.confirming = null;
          try {
            await this.conversations.remove(conv.id);
            if (this.state.conversationId === conv.id) this.onOpen(null);
          } catch (err) {
            this.notice(`Could not delete the conversation: ${err.message}`);
            this.render();
          }
        },
      }, "Delete"),
      h("button", { type: "button", class: "btn btn-small", dataset: { testid: "cancel-delete" }, onclick: cancel }, "Cancel"),
    );
    li.addEventListener("keydown", (e) => {
      if (e.key === "Escape") {
        e.stopPropagation();
        cancel();
      }
    });
    queueMicrotask(() => li.querySelector("[data-testid=cancel-delete]")?.focus());
    return li;
  }
}
