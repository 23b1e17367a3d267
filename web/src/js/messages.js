// The message list: one view per message, the streaming text drawn at most once per animation frame.
//
// Deltas only append to message.content (a string) and mark the view dirty; one requestAnimationFrame
// callback then brings every dirty view up to date. Completed markdown blocks are rendered once
// (incremental.js); the unfinished tail is re-rendered per frame, or less often when it is expensive
// (a long open code block): its measured cost sets how long to wait before the next tail render.
import { copyText, flashLabel, h } from "./dom.js";
import { explainError } from "./errors.js";
import { StreamingMarkdown } from "./incremental.js";
import { STATUS_WORDS, progressText, statusText } from "./progress.js";
import { timeElement } from "./timestamps.js";
import { ThinkingBlock } from "./thinking.js";
import { CONTINUABLE } from "./state.js";
import { versionSwitcher } from "./versions.js";

const ROLE_LABEL = { user: "You", assistant: "Assistant" };

class MessageView {
  constructor(message, list) {
    this.message = message;
    this.list = list;
    this.editing = false;
    this.nextTailAt = 0;
    const role = message.role;
    this.body = h("div", { class: `msg-body ${role === "assistant" ? "markdown" : "plain"}`, dataset: { testid: "message-body" } });
    // Only the reply in progress has a progress line in the DOM (one data-testid="progress" at most).
    this.progress = h("div", { class: "progress", dataset: { testid: "progress" } },
      h("span", { class: "spinner", "aria-hidden": "true" }), h("span", { class: "progress-text" }));
    this.status = h("div", { class: "msg-status", dataset: { testid: "message-status" }, hidden: true });
    this.errorBox = h("div", { class: "msg-error", hidden: true });
    this.meta = h("div", { class: "msg-meta", dataset: { testid: "message-meta" } });
    this.when = h("span", { class: "msg-when" });
    this.actions = h("div", { class: "msg-actions" });
    this.el = h("article", {
      class: `msg msg-${role}`,
      dataset: { testid: "message", role },
      "aria-label": ROLE_LABEL[role] ?? role,
    },
    h("div", { class: "bubble" }, this.body, this.status, this.errorBox),
    h("div", { class: "msg-foot" }, this.when, this.meta, this.actions));
    if (role === "assistant") {
      this.markdown = new StreamingMarkdown(this.body);
      this.thinking = new ThinkingBlock();
      this.body.before(this.thinking.el);
    }
    this.refresh();
  }

  get streaming() {
    return this.message.status === "streaming";
  }

  /** Redraws everything but the text. */
  refresh() {
    const m = this.message;
    this.el.dataset.status = m.status;
    if (m.id) this.el.dataset.messageId = m.id;
    this.el.classList.toggle("is-streaming", this.streaming);
    const label = statusText(m);
    this.status.textContent = label;
    this.status.dataset.status = m.status;
    // One message per error: when the error box speaks, the status label stays quiet.
    this.status.hidden = !label || this.renderError();
    this.renderMeta();
    this.renderText(true);
  }

  /** Brings the text up to date. `force` ignores the tail throttle. Returns true if the DOM changed. */
  renderText(force = false) {
    const m = this.message;
    this.el.classList.toggle("is-empty", !m.content);
    if (m.role !== "assistant") {
      if (!this.editing && this.body.textContent !== m.content) this.body.textContent = m.content;
      return false;
    }
    this.thinking.update(m);
    if (!this.streaming) {
      this.markdown.finish(m.content);
      return true;
    }
    const now = performance.now();
    const renderTail = force || now >= this.nextTailAt;
    const t0 = performance.now();
    const changed = this.markdown.update(m.content, { renderTail });
    if (renderTail) {
      const cost = performance.now() - t0;
      // Spend at most about a third of the time re-rendering the tail.
      this.nextTailAt = cost > 4 ? now + cost * 2 : 0;
      this.tailPending = false;
    } else {
      this.tailPending = !this.markdown.tailCurrent;
    }
    return changed;
  }

  /** Draws the error box (what happened and what to do; Retry only where it can help). True if shown. */
  renderError() {
    const m = this.message;
    const err = m.error;
    const show = Boolean(err) && m.status !== "completed" && m.status !== "streaming";
    this.errorBox.hidden = !show;
    if (!show) {
      this.errorBox.replaceChildren();
      return false;
    }
    const { text, retry } = explainError(err);
    // A refused request never started: no "Failed" prefix, the explanation is the whole story.
    const prefix = err.refused || m.status === "completed" || !(m.status in STATUS_WORDS) ? "" : `${STATUS_WORDS[m.status]}: `;
    const parts = [h("span", { class: "msg-error-text", dataset: { testid: "error-text" } }, prefix + text)];
    if (retry) {
      parts.push(h("button", { type: "button", class: "btn btn-small", dataset: { testid: "retry" },
        onclick: () => this.list.handlers.retry(m.key), disabled: this.list.state.busy }, "Retry"));
    }
    this.errorBox.replaceChildren(...parts);
    return true;
  }

  renderMeta() {
    const m = this.message;
    const parts = [];
    if (m.role === "assistant" && m.model && !this.streaming) {
      parts.push(h("span", { class: "msg-model", dataset: { testid: "message-model" }, title: "The model that wrote this reply" }, m.model));
    }
    if (m.role === "assistant" && m.usage?.outputTokens) parts.push(`${m.usage.outputTokens} tokens`);
    // Measured by this page while it watched the reply (chat.js measure()).
    if (m.role === "assistant" && m.timing && !this.streaming) {
      if (m.timing.seconds !== null) parts.push(`${m.timing.seconds.toFixed(1)} s`);
      if (m.timing.rate !== null) parts.push(`${Math.round(m.timing.rate)} tok/s`);
    }
    this.meta.replaceChildren(...parts.flatMap((p, i) => (i ? [" · ", p] : [p])));
    const time = timeElement(m.createdAt);
    if (time) this.when.replaceChildren(time);
    else this.when.replaceChildren();
  }

  setProgress(active) {
    const mine = active && active.key === this.message.key;
    if (!mine) {
      this.progress.remove();
      return;
    }
    if (!this.progress.isConnected) this.body.after(this.progress);
    this.progress.dataset.phase = active.phase;
    this.progress.classList.toggle("spinning", active.phase !== "streaming");
    const text = progressText(active);
    const span = this.progress.lastChild;
    if (span.textContent !== text) span.textContent = text;
  }

  renderActions({ busy, lastUser, lastAssistant }) {
    const m = this.message;
    const buttons = [];
    const button = (testid, label, onclick, aria) =>
      h("button", { type: "button", class: "btn btn-ghost btn-small", dataset: { testid }, "aria-label": aria, onclick, disabled: busy }, label);
    if (this.editing) {
      this.actions.replaceChildren();
      return;
    }
    buttons.push(versionSwitcher(m, { busy, onSelect: (message, id) => this.list.handlers.selectVersion(message, id) }));
    // Continue: the reply was cut off (length, stop, a restart) and the server can carry it on.
    if (m.role === "assistant" && m.id && CONTINUABLE.has(m.status) && !this.list.stateless()) {
      buttons.push(h("button", {
        type: "button", class: "btn btn-small btn-continue", dataset: { testid: "continue" }, "aria-label": "Continue this reply",
        disabled: busy, onclick: () => this.list.handlers.continueReply(m.key),
      }, "Continue"));
    }
    if (m.role === "assistant" && !this.streaming && m.content) {
      buttons.push(h("button", {
        type: "button", class: "btn btn-ghost btn-small", dataset: { testid: "copy-message" }, "aria-label": "Copy reply",
        onclick: async (e) => flashLabel(e.currentTarget, (await copyText(m.content)) ? "Copied" : "Copy failed"),
      }, "Copy"));
    }
    // A failed reply has Retry (same thing) in its error box instead.
    if (lastAssistant && !this.streaming && m.status !== "failed" && this.list.state.lastOf("user")) {
      buttons.push(button("regenerate", "Regenerate", () => this.list.handlers.regenerate(), "Regenerate reply"));
    }
    // Any stored user message can be edited (a new version, the earlier branch is kept); one the server
    // never got only if it is the last.
    if (m.role === "user" && (lastUser || (m.id && !this.list.stateless()))) {
      buttons.push(button("edit", "Edit", () => this.startEdit(), "Edit and resend this message"));
    }
    this.actions.replaceChildren(...buttons.filter(Boolean));
  }

  startEdit() {
    if (this.list.state.busy) return;
    this.editing = true;
    const area = h("textarea", { class: "edit-input", dataset: { testid: "edit-input" }, "aria-label": "Edit your message", rows: 3 });
    area.value = this.message.content;
    const save = () => {
      const text = area.value;
      if (!text.trim()) return;
      this.editing = false;
      this.list.handlers.editResend(this.message, text);
    };
    const cancel = () => {
      this.editing = false;
      this.body.textContent = this.message.content;
      this.list.refreshActions();
      this.list.handlers.focusComposer();
    };
    area.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        save();
      } else if (e.key === "Escape") {
        e.preventDefault();
        e.stopPropagation();
        cancel();
      }
    });
    this.body.replaceChildren(area, h("div", { class: "edit-buttons" },
      h("button", { type: "button", class: "btn btn-small", dataset: { testid: "edit-cancel" }, onclick: cancel }, "Cancel"),
      h("button", { type: "button", class: "btn btn-primary btn-small", dataset: { testid: "edit-save" }, onclick: save }, "Save & send")));
    this.actions.replaceChildren();
    // The box replaces a text that may have been taller: keep the view where it is (no jump to the bottom)
    // and show the whole box, clear of the header, once it is laid out.
    this.list.scroller.hold();
    area.focus({ preventScroll: true });
    area.setSelectionRange(area.value.length, area.value.length);
    requestAnimationFrame(() => {
      if (this.editing) this.body.scrollIntoView({ block: "nearest" });
    });
  }
}

export class MessageList {
  /**
   * @param {HTMLElement} root     the list container
   * @param {HTMLElement} empty    the empty-state element
   * @param {import("./state.js").AppState} state
   * @param {object} handlers      {retry(key), regenerate(), editResend(msg, text), focusComposer()}
   * @param {import("./scroll.js").Scroller} scroller
   */
  constructor(root, empty, state, handlers, scroller) {
    this.root = root;
    this.empty = empty;
    this.state = state;
    this.handlers = handlers;
    this.scroller = scroller;
    this.views = new Map();
    this.dirty = new Set();
    this.frame = 0;

    state.on("messages", () => this.resetAll());
    state.on("message-added", (m) => {
      this.add(m);
      this.afterChange();
      if (m.role === "user") this.scroller.reset();
    });
    state.on("message-changed", (m) => {
      this.views.get(m.key)?.refresh();
      this.afterChange();
    });
    state.on("message-text", (m) => this.markDirty(m.key));
    state.on("messages-removed", (keys) => {
      for (const key of keys) {
        this.views.get(key)?.el.remove();
        this.views.delete(key);
        this.dirty.delete(key);
      }
      this.afterChange();
    });
    let wasBusy = false;
    state.on("active", (active) => {
      for (const view of this.views.values()) view.setProgress(active);
      if (wasBusy !== state.busy) {
        wasBusy = state.busy;
        this.refreshActions();
      }
    });
    state.on("loading", (loading) => root.setAttribute("aria-busy", loading ? "true" : "false"));

    // Copy buttons inside rendered code blocks (markup made by markdown.js).
    root.addEventListener("click", async (e) => {
      const button = e.target.closest?.(".code-copy");
      if (!button || !root.contains(button)) return;
      const code = button.closest(".code-block")?.querySelector("pre code");
      if (code) flashLabel(button, (await copyText(code.textContent)) ? "Copied" : "Copy failed");
    });
  }

  add(message) {
    const view = new MessageView(message, this);
    this.views.set(message.key, view);
    this.root.append(view.el);
    view.setProgress(this.state.active);
  }

  resetAll() {
    for (const view of this.views.values()) view.el.remove();
    this.views.clear();
    this.dirty.clear();
    for (const m of this.state.messages) this.add(m);
    this.afterChange();
    this.scroller.reset();
  }

  afterChange() {
    this.empty.hidden = this.state.messages.length > 0;
    this.refreshActions();
  }

  /** True when the server keeps no conversations (no versions, no Continue). */
  stateless() {
    return Boolean(this.handlers.isStateless?.());
  }

  refreshActions() {
    const busy = this.state.busy;
    const lastUser = this.state.lastOf("user");
    const last = this.state.messages.at(-1);
    for (const view of this.views.values()) {
      const m = view.message;
      view.renderActions({ busy, lastUser: m === lastUser, lastAssistant: m === last && m.role === "assistant" });
      const retry = view.errorBox.querySelector("button");
      if (retry) retry.disabled = busy;
    }
  }

  markDirty(key) {
    this.dirty.add(key);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  /** One DOM update per frame for all streaming text. */
  flush() {
    this.frame = 0;
    const again = [];
    for (const key of this.dirty) {
      const view = this.views.get(key);
      if (!view) continue;
      view.renderText();
      if (view.tailPending) again.push(key);
    }
    this.dirty.clear();
    this.scroller.stick();
    for (const key of again) this.markDirty(key);
  }
}
