// The thinking block: a reasoning model's thoughts, shown apart from its answer.
//
// While the model thinks: "Thinking…", collapsed to one line that shows the latest words (the line is
// clipped on the left, so the newest words stay in view). Once the answer starts (or the reply ends):
// "Thought for N s". Click to expand: the whole reasoning, as markdown. It is drawn only while expanded,
// so a collapsed block costs one short text update per frame however long the reasoning grows.
//
// The duration is the server's (finish event, stored message); until it arrives, the time this page saw
// the reasoning go by (message.thinkingStartedAt / thinkingEndedAt, set by chat.js).
import { h } from "./dom.js";
import { StreamingMarkdown } from "./incremental.js";

const PEEK_CHARS = 160;

/** "Thought for 4 s" (at least 1 s: a model that thought at all thought for a moment). */
export function thoughtFor(seconds) {
  if (typeof seconds !== "number" || !Number.isFinite(seconds)) return "Thought";
  return `Thought for ${Math.max(1, Math.round(seconds))} s`;
}

/** The seconds to show for a message: the server's, else what this page measured. */
export function thinkingSeconds(message, now = performance.now()) {
  if (typeof message.reasoningSeconds === "number") return message.reasoningSeconds;
  if (!message.thinkingStartedAt) return null;
  return ((message.thinkingEndedAt ?? now) - message.thinkingStartedAt) / 1000;
}

export class ThinkingBlock {
  constructor() {
    this.label = h("span", { class: "thinking-label", dataset: { testid: "thinking-label" } });
    this.peek = h("span", { class: "thinking-peek", dataset: { testid: "thinking-peek" }, "aria-hidden": "true" });
    this.body = h("div", { class: "thinking-body markdown", dataset: { testid: "thinking-body" } });
    this.el = h("details", { class: "thinking", dataset: { testid: "thinking" }, hidden: true },
      h("summary", { class: "thinking-summary" }, this.label, h("span", { class: "thinking-peek-clip" }, this.peek)),
      this.body);
    this.markdown = new StreamingMarkdown(this.body);
    this.shown = "";
    this.message = null;
    this.el.addEventListener("toggle", () => this.message && this.update(this.message));
  }

  /** Brings the block up to `message` (cheap when nothing changed). */
  update(message) {
    this.message = message;
    const text = message.reasoning ?? "";
    this.el.hidden = !text.trim();
    if (this.el.hidden) return;
    const thinking = message.status === "streaming" && !message.content;
    this.el.classList.toggle("is-thinking", thinking);
    this.el.dataset.state = thinking ? "thinking" : "done";
    const label = thinking ? "Thinking…" : thoughtFor(thinkingSeconds(message));
    if (this.label.textContent !== label) this.label.textContent = label;
    const peek = thinking ? latestWords(text) : "";
    if (this.peek.textContent !== peek) this.peek.textContent = peek;
    if (!this.el.open) return;
    if (message.status === "streaming") this.markdown.update(text);
    else this.markdown.finish(text);
  }
}

function latestWords(text) {
  const tail = text.slice(-PEEK_CHARS * 2).replace(/\s+/g, " ").trim();
  if (tail.length <= PEEK_CHARS) return tail;
  const cut = tail.indexOf(" ", tail.length - PEEK_CHARS);
  return tail.slice(cut > 0 ? cut + 1 : tail.length - PEEK_CHARS);
}
