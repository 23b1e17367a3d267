// A Server-Sent Events parser for fetch() bodies (EventSource cannot POST), per the HTML spec's rules:
// lines end in \n, \r\n or \r; "field: value"; comments start with ":"; a blank line dispatches.

export class SseParser {
  /** @param {(ev: {id: string|null, event: string, data: string}) => void} onEvent */
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buffer = "";
    this.data = [];
    this.event = "";
    this.id = null; // the id field of the event being read (null: none yet)
    this.lastEventId = null; // spec: persists across events
    this.first = true;
    this.pendingCR = false;
  }

  push(chunk) {
    if (this.first && chunk.length) {
      if (chunk.charCodeAt(0) === 0xfeff) chunk = chunk.slice(1);
      this.first = false;
    }
    let text = this.buffer + chunk;
    // A "\r\n" split across two chunks: the "\r" already ended the line, drop the "\n".
    if (this.pendingCR && text.startsWith("\n")) text = text.slice(1);
    this.pendingCR = false;
    let start = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.line(text.slice(start, i));
      if (c === 13) {
        if (i + 1 < text.length) {
          if (text.charCodeAt(i + 1) === 10) i++;
        } else {
          this.pendingCR = true;
        }
      }
      start = i + 1;
    }
    this.buffer = text.slice(start);
  }

  line(line) {
    if (line === "") return this.dispatch();
    if (line.charCodeAt(0) === 58) return; // ":" comment (keep-alive ping)
    const colon = line.indexOf(":");
    let field = line;
    let value = "";
    if (colon >= 0) {
      field = line.slice(0, colon);
      value = line.slice(colon + 1);
      if (value.charCodeAt(0) === 32) value = value.slice(1);
    }
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.lastEventId = value;
    // "retry" is ignored: reconnection is ours (replystream.js).
  }

  dispatch() {
    const data = this.data;
    const event = this.event || "message";
    this.data = [];
    this.event = "";
    if (!data.length) return;
    this.onEvent({ id: this.lastEventId, event, data: data.join("\n") });
  }
}

/**
 * Reads an SSE response body to its end. Calls onBytes() on every chunk (keep-alives included) and
 * onEvent(ev) per event. Resolves when the body ends; rejects on network errors or abort.
 */
export async function readSse(response, { onEvent, onBytes }) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const parser = new SseParser(onEvent);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      onBytes?.();
      parser.push(decoder.decode(value, { stream: true }));
    }
    parser.push(decoder.decode());
  } finally {
    try {
      reader.releaseLock();
    } catch {
      /* already released */
    }
  }
}
