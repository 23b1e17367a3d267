// One reply's event stream, kept alive across dropped connections.
//
// The first connection is POST /api/chat/stream (or, for a reply already running, GET /api/streams/{id}).
// Every event's id is remembered; when the connection drops before `finish` (network error, server
// restart, laptop sleep, a stall with no bytes not even keep-alives), it reconnects with backoff to
// GET /api/streams/{replyId} with `Last-Event-ID`, so the server sends only what came after. Events whose
// id is not after the last one seen are dropped, so no text is ever doubled. Before `start` (no replyId
// yet) a retry re-POSTs the same body: its clientRequestId makes the server attach to the same reply.

import { api, errorFrom } from "./api.js";
import { readSse } from "./sse.js";

const STALL_MS = 45_000; // the server pings every 15 s: three missed pings means a dead connection
const MAX_ATTEMPTS = 12; // failed reconnects in a row (time offline does not count)
const STOP_GRACE_MS = 12_000; // after Stop, how long to wait for the server's finish before giving up

/** Compares SSE ids: integers numerically, anything else as "different means newer". */
function isAfter(id, last) {
  if (last === null || id === null) return true;
  const a = Number(id);
  const b = Number(last);
  if (Number.isFinite(a) && Number.isFinite(b) && String(a) === id && String(b) === last) return a > b;
  return id !== last;
}

export class ReplyStream {
  /**
   * @param {object} o
   * @param {object} [o.body]      POST body for a new reply (must hold clientRequestId)
   * @param {string} [o.replyId]   attach to a running reply instead
   * @param {string|null} [o.lastEventId] resume after this id (null: from the start)
   * @param {(ev: {id, event, data}) => void} o.onEvent  every new event, parsed data in ev.data
   * @param {(s: {state: "connecting"|"connected"|"reconnecting"|"offline", attempt?: number, delayMs?: number}) => void} [o.onState]
   * @param {() => void} [o.onRead]  every read of the body (the rate meter tells replay bursts from live text)
   */
  constructor({ body = null, replyId = null, lastEventId = null, onEvent, onState = () => {}, onRead = () => {} }) {
    this.onRead = onRead;
    this.body = body;
    this.replyId = replyId;
    this.lastEventId = lastEventId;
    this.onEvent = onEvent;
    this.onState = onState;
    this.finished = false;
    this.closed = false;
    this.stopWanted = false;
    this.stopSent = false;
    this.controller = null;
    this.lastBytesAt = 0;
    this.wake = null; // resolves the current backoff wait early
    this.onOnline = () => this.kick("online");
    this.onVisible = () => {
      if (document.visibilityState === "visible") this.kick("visible");
    };
  }

  /**
   * Runs until the reply's `finish` (or a final failure). Resolves to one of
   *  {kind: "finished"} | {kind: "http-error", error: ApiError} | {kind: "gone"} (404 on resume)
   *  {kind: "aborted"} (abort() called) | {kind: "lost", error} (gave up reconnecting)
   *  {kind: "stopped-locally"} (Stop asked, server never confirmed)
   */
  async run() {
    window.addEventListener("online", this.onOnline);
    document.addEventListener("visibilitychange", this.onVisible);
    const watchdog = setInterval(() => this.checkStall(), 5_000);
    try {
      return await this.loop();
    } finally {
      clearInterval(watchdog);
      clearTimeout(this.stopTimer);
      window.removeEventListener("online", this.onOnline);
      document.removeEventListener("visibilitychange", this.onVisible);
      this.closed = true;
    }
  }

  async loop() {
    let attempt = 0; // failed connections in a row
    let lastError = null;
    for (;;) {
      if (this.closed) return { kind: "aborted" };
      const controller = new AbortController();
      this.controller = controller;
      let progressed = false;
      try {
        this.onState({ state: attempt ? "reconnecting" : "connecting", attempt });
        const response = this.replyId
          ? await api.resumeStream(this.replyId, this.lastEventId, controller.signal)
          : await api.openChatStream(this.body, controller.signal);
        if (!response.ok) {
          const error = await errorFrom(response);
          const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
          // A refused POST (validation, unknown model, overload) is final: the message shows it with Retry.
          if (!this.replyId) return { kind: "http-error", error };
          // The reply is unknown or expired: the caller reloads the conversation from the database.
          if (!retryable) return { kind: "gone", error };
          throw error;
        }
        if (!(response.headers.get("content-type") || "").includes("text/event-stream")) {
          const error = new Error(`expected an event stream, got ${response.headers.get("content-type")}`);
          if (!this.replyId) return { kind: "http-error", error };
          throw error;
        }
        this.lastBytesAt = Date.now();
        this.onState({ state: "connected" });
        await readSse(response, {
          onBytes: () => {
            this.lastBytesAt = Date.now();
            this.onRead();
          },
          onEvent: (raw) => {
            if (this.closed || !isAfter(raw.id, this.lastEventId)) return; // a replay: already seen
            let data = null;
            try {
              data = raw.data ? JSON.parse(raw.data) : null;
            } catch {
              data = { text: raw.data };
            }
            this.lastEventId = raw.id;
            progressed = true;
            if (raw.event === "start" && data?.replyId) {
              this.replyId = data.replyId;
              if (this.stopWanted) this.sendStop();
            }
            if (raw.event === "finish") this.finished = true;
            this.onEvent({ id: raw.id, event: raw.event, data: data ?? {} });
          },
        });
        if (this.finished) return { kind: "finished" };
        // The body ended without `finish`: the server or a proxy cut it. Reconnect.
      } catch (err) {
        if (this.finished) return { kind: "finished" };
        const reason = controller.signal.aborted ? controller.signal.reason : null;
        if (this.closed || reason === "abort") return { kind: "aborted" };
        if (reason !== "kick") lastError = err;
        if (reason === "kick" && progressed) {
          // A stalled but previously healthy connection: reconnect at once.
          attempt = 0;
          continue;
        }
      } finally {
        this.controller = null;
      }
      if (this.stopGaveUp) return { kind: "stopped-locally" };
      attempt = progressed ? 1 : attempt + 1;
      if (attempt > MAX_ATTEMPTS) {
        return { kind: "lost", error: lastError ?? new Error("the connection was lost") };
      }
      await this.backoff(attempt);
      if (this.stopGaveUp) return { kind: "stopped-locally" };
    }
  }

  /** Waits before reconnect `attempt`: 0.5 s, 1 s, 2 s, ... up to 10 s, with jitter; offline waits for `online`. */
  async backoff(attempt) {
    const delayMs = Math.min(10_000, 500 * 2 ** (attempt - 1)) * (0.8 + Math.random() * 0.4);
    const offline = navigator.onLine === false;
    this.onState({ state: offline ? "offline" : "reconnecting", attempt, delayMs: offline ? null : delayMs });
    await new Promise((resolve) => {
      this.wake = resolve;
      // Offline: `online` wakes us (navigator.onLine can lie, so still poll every 15 s).
      setTimeout(resolve, offline ? 15_000 : delayMs);
    });
    this.wake = null;
  }

  /** Something suggests the network is back or the tab resumed: retry now instead of waiting. */
  kick(why) {
    if (this.closed || this.finished) return;
    if (this.wake) {
      this.wake();
      return;
    }
    // Connected, but is it alive? After sleep or a network change a socket can hang silently.
    const quietMs = Date.now() - this.lastBytesAt;
    if (this.controller && quietMs > (why === "online" ? 3_000 : 20_000)) this.controller.abort("kick");
  }

  checkStall() {
    if (this.controller && this.lastBytesAt && Date.now() - this.lastBytesAt > STALL_MS) {
      this.controller.abort("kick");
    }
  }

  /** Asks the server to stop the reply; the stream then ends with finish status "stopped". */
  stop() {
    if (this.closed || this.finished || this.stopWanted) return;
    this.stopWanted = true;
    if (this.replyId) this.sendStop();
    // If the server never confirms (it is unreachable), stop listening anyway.
    this.stopTimer = setTimeout(() => {
      if (this.closed || this.finished) return;
      this.stopGaveUp = true;
      this.wake?.();
      this.controller?.abort("stop");
    }, STOP_GRACE_MS);
  }

  async sendStop() {
    if (this.stopSent) return;
    this.stopSent = true;
    try {
      await api.stopReply(this.replyId);
    } catch {
      // 404/409: the reply already ended; its finish is on the stream. Network: the grace timer decides.
    }
  }

  /** Stops listening (switching conversation, page leaving). The reply goes on on the server. */
  abort() {
    if (this.closed) return;
    this.closed = true;
    this.wake?.();
    this.controller?.abort("abort");
  }
}
