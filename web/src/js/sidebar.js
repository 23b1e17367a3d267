// The conversations sidebar: new, switch, rename (inline), delete (with a confirm step). On narrow
// screens it slides over the chat and the header's menu button opens it.
import { h } from "./dom.js";
import { icon } from "./icons.js";

const NARROW = "(max-width: 760px)";

export class Sidebar {
  constructor(state, { root, list, newButton, moreButton, toggle, scrim }, { conversations, open, create, notice }) {
    this.state = state;
    this.root = root;
    this.list = list;
    this.toggle = toggle;
    this.scrim = scrim;
    this.conversations = conversations;
    this.onOpen = open;
    this.notice = notice;
    this.renaming = null;
    this.confirming = null;

    newButton.addEventListener("click", () => {
      create();
      this.close();
    });
    moreButton.addEventListener("click", () => conversations.loadMore().catch((e) => notice(e.message)));
    this.moreButton = moreButton;
    toggle.addEventListener("click", () => this.setOpen(!this.isOpen()));
    scrim.addEventListener("click", () => this.close());
    // Esc closes the overlay wherever the focus is (main.js asks first, before Esc means Stop).
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.isOpen() && !e.defaultPrevented && !this.renaming && !this.confirming) {
        e.preventDefault();
        this.close();
        toggle.focus();
      }
    }, true);
    matchMedia(NARROW).addEventListener("change", () => this.setOpen(false));
    state.on("conversations", () => this.render());
    state.on("conversation", () => this.markCurrent());
  }

  isOpen() {
    return this.root.classList.contains("open");
  }

  setOpen(open) {
    const narrow = matchMedia(NARROW).matches;
    this.root.classList.toggle("open", open && narrow);
    this.scrim.hidden = !(open && narrow);
    this.toggle.setAttribute("aria-expanded", String(open && narrow));
    if (open && narrow) requestAnimationFrame(() => this.root.querySelector("button")?.focus());
  }

  close() {
    this.setOpen(false);
  }

  markCurrent() {
    for (const li of this.list.children) {
      if (li.dataset.id === this.state.conversationId) li.setAttribute("aria-current", "page");
      else li.removeAttribute("aria-current");
    }
  }

  render() {
    const items = this.state.conversations.map((c) => this.item(c));
    this.list.replaceChildren(...items);
    if (!items.length) this.list.append(h("li", { class: "conv-empty" }, "No conversations yet"));
    this.moreButton.hidden = !this.state.nextCursor;
    this.markCurrent();
  }

  item(conv) {
    const title = conv.title || "Untitled";
    const li = h("li", { class: "conv", dataset: { testid: "conversation-item", id: conv.id } });
    if (this.renaming === conv.id) {
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
            this.notice(`Rename failed: ${err.message}`);
            this.render();
          }
        } else {
          this.render();
        }
        this.list.querySelector(`[data-id="${CSS.escape(conv.id)}"] .conv-open`)?.focus();
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
    if (this.confirming === conv.id) {
      const cancel = () => {
        this.confirming = null;
        this.render();
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
              this.notice(`Delete failed: ${err.message}`);
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
    li.append(
      h("button", {
        type: "button", class: "conv-open", dataset: { testid: "conversation-open" }, title,
        onclick: () => {
          this.close();
          if (conv.id !== this.state.conversationId) this.onOpen(conv.id);
        },
      }, h("span", { class: "conv-title" }, title)),
      h("button", {
        type: "button", class: "icon-btn", dataset: { testid: "rename-conversation" }, "aria-label": `Rename “${title}”`, title: "Rename",
        onclick: () => {
          this.renaming = conv.id;
          this.confirming = null;
          this.render();
        },
      }, icon("pencil")),
      h("button", {
        type: "button", class: "icon-btn", dataset: { testid: "delete-conversation" }, "aria-label": `Delete “${title}”`, title: "Delete",
        onclick: () => {
          this.confirming = conv.id;
          this.renaming = null;
          this.render();
        },
      }, icon("trash")),
    );
    return li;
  }
}
