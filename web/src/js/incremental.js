// Incremental markdown for a growing reply.
//
// The text is cut at the last *completed top-level block*: a blank line outside a fenced code block,
// followed by a line that starts at column 0 (an indented line may still belong to a list item or an
// indented code block), or the closing line of a fence that opened at column 0. Each completed block is
// rendered once into its own element and never parsed again; only the trailing, unfinished block (the
// "tail") is re-rendered, at most once per frame. A list split by a blank line stays one block while
// its items keep coming (same marker type), so loose lists are not cut into pieces. Lines are scanned
// once: the scanner keeps its state between updates.
//
// A tail that is an open fenced code block is not re-rendered whole each frame (that is quadratic in a
// long code block): its finished lines are highlighted in segments that are appended once, and only the
// last unfinished segment is redrawn. When the fence closes, the block is rendered once, exactly.
import { codeBlockShell, fenceLanguage, highlightFragment, renderMarkdown } from "./markdown.js";

const FENCE = /^( *)(`{3,}|~{3,})(.*)$/;
const BULLET = /^([-*+])\s/;
const ORDERED = /^\d{1,9}([.)])\s/;
const MAYBE_LIST_PREFIX = /^(?:[-*+]|\d{1,9}[.)]?)$/; // an incomplete line that may become a list item
const SEGMENT_LINES = 40; // open code: lines per highlighted segment
const BIG_CODE = 16_000; // a closed code block this long keeps its streamed DOM instead of a re-render

function listKind(line) {
  let m = BULLET.exec(line);
  if (m) return `b${m[1]}`;
  m = ORDERED.exec(line);
  if (m) return `o${m[1]}`;
  return null;
}

export class BlockSplitter {
  constructor() {
    this.reset();
  }

  reset() {
    this.committed = 0; // text before this index is in completed blocks
    this.scanPos = 0; // start of the first line not yet scanned
    this.fence = null; // {char, len, indent, lang, start, contentStart} inside a fenced code block
    this.closed = null; // the last fence closed: {fence, closeStart, end}
    this.blank = false; // the previous line was blank (outside a fence)
    this.lastTopList = null; // list kind of the last column-0 line of the current block
  }

  /**
   * Scans the new complete lines of `text` (and peeks at the incomplete last one) and returns the
   * completed blocks found, as [start, end) pairs. `text` must extend the text given before.
   */
  scan(text) {
    const blocks = [];
    const cut = (end) => {
      if (end > this.committed) blocks.push([this.committed, end]);
      this.committed = Math.max(this.committed, end);
    };
    for (;;) {
      const nl = text.indexOf("\n", this.scanPos);
      if (nl < 0) break;
      const start = this.scanPos;
      let line = text.slice(start, nl);
      if (line.endsWith("\r")) line = line.slice(0, -1);
      this.scanPos = nl + 1;
      const end = this.line(line, start, nl + 1);
      if (end !== null) cut(end);
    }
    // The line being written: after a blank line, its first characters already tell whether the block
    // before it is complete. Waiting for its end would keep a whole paragraph in the tail.
    if (this.blank && !this.fence && this.scanPos > this.committed) {
      const partial = text.slice(this.scanPos);
      if (partial && !/^\s/.test(partial) && !MAYBE_LIST_PREFIX.test(partial)) {
        const kind = listKind(partial);
        if (!(kind && kind === this.lastTopList)) cut(this.scanPos);
      }
    }
    return blocks;
  }

  /** Handles one complete line; returns where a completed block ends, or null. */
  line(line, start, next) {
    if (this.fence) {
      const m = FENCE.exec(line);
      if (m && m[2][0] === this.fence.char && m[2].length >= this.fence.len && !m[3].trim()) {
        const topLevel = this.fence.indent === 0;
        this.closed = { fence: this.fence, closeStart: start, end: next };
        this.fence = null;
        // A fence that opened at column 0 cannot be continued: the block ends with its closing line.
        if (topLevel) {
          this.lastTopList = null;
          return next;
        }
      }
      return null;
    }
    if (!line.trim()) {
      this.blank = true;
      return null;
    }
    let cut = null;
    const top = !/^\s/.test(line);
    if (this.blank && top && start > this.committed) {
      const kind = listKind(line);
      if (!(kind && kind === this.lastTopList)) cut = start;
    }
    this.blank = false;
    const m = FENCE.exec(line);
    if (m && !(m[2][0] === "`" && m[3].includes("`"))) {
      this.fence = {
        char: m[2][0], len: m[2].length, indent: m[1].length, lang: fenceLanguage(m[3]),
        start, contentStart: next,
      };
    }
    if (top) this.lastTopList = listKind(line);
    return cut;
  }
}

/** Draws an open fenced code block: finished segments once, the last segment per update. */
class OpenCode {
  constructor(fence) {
    this.fence = fence;
    this.done = 0; // offset (in the code) of the first line not yet in a finished segment
    const { block, code } = codeBlockShell(fence.lang);
    this.el = block;
    this.code = code;
    // Each segment is its own block box: appending to the last one then re-lays out only that one, not
    // every line of the code block (one inline formatting context would be re-laid out whole).
    this.pending = document.createElement("span");
    this.pending.className = "code-seg";
    this.code.append(this.pending);
    this.pendingSource = null;
  }

  dedent(code) {
    const n = this.fence.indent;
    return n ? code.replace(new RegExp(`^ {0,${n}}`, "gm"), "") : code;
  }

  get size() {
    return this.done + (this.pendingSource?.length ?? 0);
  }

  update(code, { final = false } = {}) {
    // Finish segments of SEGMENT_LINES complete lines.
    for (;;) {
      let end = this.done;
      for (let i = 0; i < SEGMENT_LINES; i++) {
        const nl = code.indexOf("\n", end);
        if (nl < 0) {
          end = -1;
          break;
        }
        end = nl + 1;
      }
      if (end < 0) break;
      const segment = document.createElement("span");
      segment.className = "code-seg";
      segment.append(highlightFragment(this.dedent(code.slice(this.done, end)), this.fence.lang));
      this.code.insertBefore(segment, this.pending);
      this.done = end;
      this.pendingSource = null;
    }
    const rest = code.slice(this.done);
    if (rest !== this.pendingSource) {
      this.pendingSource = rest;
      this.pending.replaceChildren(highlightFragment(this.dedent(rest), this.fence.lang));
    }
    if (final && !rest) this.pending.remove();
  }
}

/** Renders a growing markdown text into `container`: completed blocks once, the tail per update. */
export class StreamingMarkdown {
  constructor(container) {
    this.container = container;
    this.splitter = new BlockSplitter();
    this.reset();
  }

  reset() {
    this.text = "";
    this.tailSource = null;
    this.tail = null;
    this.openCode = null;
    this.preSource = null;
    this.renderedBlocks = 0;
    this.finished = false;
  }

  clear() {
    this.container.replaceChildren();
    this.splitter.reset();
    this.reset();
  }

  ensureTail() {
    if (!this.tail) {
      this.tail = document.createElement("div");
      this.tail.className = "md-tail";
      this.container.append(this.tail);
    }
    return this.tail;
  }

  /** True when the tail would not change if rendered now. */
  get tailCurrent() {
    return this.tailSource === this.text.slice(this.splitter.committed);
  }

  /**
   * Brings the DOM up to `text`. With `renderTail` false only completed blocks are added (the caller
   * throttles the tail when it is expensive). Returns true when the DOM changed.
   */
  update(text, { renderTail = true } = {}) {
    if (this.finished && text === this.text) return false;
    // Replaced rather than extended (or reopened after finishing): start over.
    if (this.finished || !text.startsWith(this.text)) this.clear();
    this.text = text;
    let changed = false;
    for (const [start, end] of this.splitter.scan(text)) {
      const closed = this.splitter.closed;
      if (this.openCode && closed?.fence === this.openCode.fence && closed.end === end && this.openCode.size > BIG_CODE) {
        // A long code block just closed: keep what was drawn (re-rendering it would freeze the page),
        // and keep it in place (moving it would re-lay it out): the tail becomes the block.
        this.openCode.update(text.slice(closed.fence.contentStart, closed.closeStart), { final: true });
        this.tail.className = "md-block";
        this.tail = null;
      } else {
        const block = document.createElement("div");
        block.className = "md-block";
        block.append(renderMarkdown(text.slice(start, end)));
        this.container.insertBefore(block, this.ensureTail());
      }
      this.renderedBlocks++;
      changed = true;
      this.tailSource = null; // the tail's start moved
      this.openCode = null;
    }
    const tail = this.ensureTail();
    const fence = this.splitter.fence;
    const committed = this.splitter.committed;
    if (fence && fence.start >= committed) {
      // The tail ends in an open code block: markdown before it (cached), the code incrementally.
      if (this.openCode?.fence !== fence) {
        this.openCode = new OpenCode(fence);
        this.preSource = null;
        this.preEl = document.createElement("div");
        tail.replaceChildren(this.preEl, this.openCode.el);
      }
      const pre = text.slice(committed, fence.start);
      if (pre !== this.preSource) {
        this.preSource = pre;
        if (pre.trim()) this.preEl.replaceChildren(renderMarkdown(pre));
        else this.preEl.replaceChildren();
        this.preEl.hidden = !pre.trim();
      }
      this.openCode.update(text.slice(fence.contentStart));
      this.tailSource = text.slice(committed);
      return true;
    }
    if (this.openCode) {
      this.openCode = null;
      this.tailSource = null;
    }
    if (renderTail) {
      const source = text.slice(committed);
      if (source !== this.tailSource) {
        this.tailSource = source;
        if (source.trim()) tail.replaceChildren(renderMarkdown(source));
        else tail.replaceChildren();
        changed = true;
      }
    }
    return changed;
  }

  /** The text is final: render the tail one last time as a normal block. */
  finish(text) {
    if (this.finished && text === this.text) return;
    this.update(text);
    if (this.openCode) {
      // Ended inside an unclosed fence: render the tail exactly, once (unless that is too slow).
      if (this.openCode.size > BIG_CODE) this.openCode.update(text.slice(this.openCode.fence.contentStart), { final: true });
      else this.tail.replaceChildren(renderMarkdown(text.slice(this.splitter.committed)));
      this.openCode = null;
    }
    this.finished = true;
    if (this.tail) {
      this.tail.className = "md-block";
      if (!this.tail.childNodes.length) this.tail.remove();
      this.tail = null;
    }
  }
}
