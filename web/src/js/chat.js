// The chat controller: sends messages, runs the reply streams, regenerates/edits/retries/stops, and
// loads conversations (attaching to a reply that is still being generated). Views only read the state
// and call these methods.
import { api } from "./api.js";
import { uuid } from "./dom.js";
import { explainError } from "./errors.js";
import { RateMeter } from "./ratemeter.js";
import { ReplyStream } from "./replystream.js";
import { STATUS_WORDS } from "./progress.js";
import { CONTINUABLE, makeMessage } from "./state.js";
import { save } from "./storage.js";

/** The first words of a reply as plain text, for the screen-reader announcement when it finishes. */
export function firstWords(text, count = 12) {
  const words = String(text ?? "")
    .replace(/```[^\n]*\n?/g, " ") // code fences
    .replace(/[#>*_`|~[\]()-]+/g, " ") // markdown punctuation
    .split(/\s+/)
    .filter(Boolean);
  if (!words.length) return "";
  return words.slice(0, count).join(" ") + (words.length > count ? "…" : "");
}

function normalizeError(error) {
  if (!error) return null;
  if (typeof error === "string") return { code: "error", message: error };
  return { code: error.code ?? "error", message: error.message ?? String(error) };
}

/** A server message -> the UI's message. */
function fromServer(m) {
  return makeMessage({
    id: m.id ?? null,
    role: m.role,
    content: m.content ?? "",
    reasoning: m.reasoning ?? "",
    reasoningSeconds: m.reasoningSeconds ?? null,
    status: m.status ?? "completed",
    finishReason: m.finishReason ?? null,
    error: normalizeError(m.error),
    model: m.model ?? null,
    usage: m.usage ?? null,
    replyId: m.replyId ?? null,
    parentId: m.parentId ?? null,
    versionIds: Array.isArray(m.versionIds) && m.versionIds.length ? m.versionIds : m.id ? [m.id] : [],
    versionIndex: Number.isInteger(m.versionIndex) ? m.versionIndex : 0,
    createdAt: m.createdAt ?? null,
  });
}

export class ChatController {
  constructor(state, { announce, conversations, focusComposer }) {
    this.state = state;
    this.announce = announce;
    this.conversations = conversations;
    this.focusComposer = focusComposer;
    this.stream = null;
    this.meter = null;
    this.rateTimer = null;
    this.loadToken = 0;
    this.stateless = false; // the server has no conversation API: send the history with each request
    /** Text shown of replies left running when the user switched away (message id -> text). */
    this.seenText = new Map();
  }

  // ---- progress -------------------------------------------------------------------------------------

  setActive(patch) {
    const s = this.state;
    s.active = patch === null ? null : { ...(s.active ?? {}), ...patch };
    s.emit("active", s.active);
  }

  startRateTimer() {
    clearInterval(this.rateTimer);
    this.meter = new RateMeter();
    this.rateTimer = setInterval(() => {
      if (this.state.active?.phase === "streaming") this.setActive({ rate: this.meter.rate() });
    }, 500);
  }

  // ---- sending --------------------------------------------------------------------------------------

  /** Sends `text` as a new user message. `replaceFrom` (a user message) makes it an edit/regenerate. */
  async send(text, { replaceFrom = null } = {}) {
    const s = this.state;
    if (s.busy || !text.trim()) return false;
    if (replaceFrom) this.removeFrom(replaceFrom.key);
    const now = new Date().toISOString();
    const user = makeMessage({ role: "user", content: text, status: "completed", createdAt: now });
    const reply = makeMessage({ role: "assistant", status: "streaming", model: s.model, sentAt: performance.now(), createdAt: now });
    for (const m of [user, reply]) {
      s.messages.push(m);
      s.emit("message-added", m);
    }
    this.setActive({ key: reply.key, phase: "sending", position: null, rate: null, attempt: 0 });
    this.announce("Sending message");

    const body = this.requestBody({ userInput: text, messages: [] });
    try {
      await this.ensureConversation(text);
    } catch (err) {
      this.fail(reply, { code: err.code ?? "conversation_error", message: err.message });
      return true;
    }
    if (this.stateless) {
      body.messages = s.messages
        .filter((m) => m !== user && m !== reply && m.content && (m.role === "user" || m.role === "assistant"))
        .map((m) => ({ role: m.role, content: m.content }));
    } else {
      body.conversationId = s.conversationId;
      if (replaceFrom?.id) {
        body.replaceFromMessageId = replaceFrom.id;
        // The edit is a new version of that message; the earlier one stays on the server.
        user.versionIds = [...(replaceFrom.versionIds?.length ? replaceFrom.versionIds : [replaceFrom.id])];
        user.pendingVersion = true;
      }
    }
    this.conversations.touch(s.conversationId);
    this.markRunning(true);
    await this.runStream(reply, user, { body });
    return true;
  }

  /** A chat request with the settings of the moment (model, instructions, temperature, max tokens). */
  requestBody(fields) {
    const s = this.state;
    const body = { ...fields, clientRequestId: uuid() };
    if (s.model) body.model = s.model;
    if (s.settings.instructions.trim()) body.instructions = s.settings.instructions;
    if (typeof s.settings.temperature === "number" && Number.isFinite(s.settings.temperature)) {
      body.temperature = s.settings.temperature; // 0 is sent as 0
    }
    if (Number.isInteger(s.settings.maxOutputTokens)) body.maxOutputTokens = s.settings.maxOutputTokens;
    if (s.settings.reasoningEffort) body.reasoningEffort = s.settings.reasoningEffort; // ignored by other models
    return body;
  }

  /** The sidebar's "generating" mark for the current conversation, at once (the list catches up later). */
  markRunning(running) {
    const id = this.state.conversationId;
    if (id && !this.stateless) this.conversations.setRunning(id, running ? this.state.active?.key ?? true : null);
  }

  /** Regenerate: a new version of assistant message `reply` (the earlier one is kept as a version). */
  async regenerateMessage(reply) {
    const s = this.state;
    if (s.busy || !reply?.id || this.stateless) return;
    const fresh = makeMessage({
      role: "assistant", status: "streaming", model: s.model, sentAt: performance.now(),
      parentId: reply.parentId,
      versionIds: [...(reply.versionIds?.length ? reply.versionIds : [reply.id])],
      pendingVersion: true,
    });
    this.removeFrom(reply.key);
    s.messages.push(fresh);
    s.emit("message-added", fresh);
    this.setActive({ key: fresh.key, phase: "sending", position: null, rate: null, attempt: 0 });
    this.announce("Regenerating the reply");
    const body = this.requestBody({ conversationId: s.conversationId, regenerateMessageId: reply.id });
    this.conversations.touch(s.conversationId);
    this.markRunning(true);
    await this.runStream(fresh, null, { body });
  }

  /** Continue: the server carries `reply` on, appending to the same message. */
  async continueMessage(key) {
    const s = this.state;
    const reply = s.message(key);
    if (s.busy || !reply?.id || !CONTINUABLE.has(reply.status) || this.stateless) return;
    reply.status = "streaming";
    reply.error = null;
    reply.finishReason = null;
    reply.timing = null;
    reply.sentAt = performance.now();
    reply.stream = null; // set from start.prefix
    reply.knownLength = 0;
    s.emit("message-changed", reply);
    this.setActive({ key: reply.key, phase: "sending", position: null, rate: null, attempt: 0 });
    this.announce("Continuing the reply");
    const body = this.requestBody({ conversationId: s.conversationId, continueMessageId: reply.id });
    this.conversations.touch(s.conversationId);
    this.markRunning(true);
    await this.runStream(reply, null, { body });
  }

  /** Shows another version of `message` (the branch through `versionId`), as the server stores it. */
  async selectVersion(message, versionId) {
    const s = this.state;
    if (s.busy || !s.conversationId || !versionId || versionId === message.id) return;
    const token = ++this.loadToken;
    try {
      const conv = await api.selectBranch(s.conversationId, versionId);
      if (token !== this.loadToken) return;
      this.showConversation(conv);
      const index = conv.messages?.find((m) => m.id === versionId)?.versionIndex;
      this.announce(`Version ${(index ?? 0) + 1} of ${message.versionIds.length}`);
    } catch (err) {
      if (token === this.loadToken) s.emit("notice", `Could not switch versions: ${explainError(err).text}`);
    }
  }

  async ensureConversation(text) {
    const s = this.state;
    if (s.conversationId || this.stateless) return;
    const title = text.trim().split("\n")[0].slice(0, 60);
    try {
      // A new conversation starts from the settings on screen (the user's defaults) and remembers them.
      const temperature = s.settings.temperature;
      const conv = await api.createConversation(title, {
        model: s.model ?? null,
        instructions: s.settings.instructions.trim() ? s.settings.instructions : null,
        temperature: typeof temperature === "number" && Number.isFinite(temperature) ? temperature : null,
      });
      this.conversations.add(conv);
      this.setConversation(conv.id, { push: false });
      s.emit("conversation-loaded", conv);
    } catch (err) {
      if ([404, 405, 501].includes(err.status)) {
        this.stateless = true; // no conversation store on this server
        return;
      }
      throw err;
    }
  }

  setConversation(id, { push = true } = {}) {
    const s = this.state;
    s.conversationId = id;
    save("conversation", id);
    const hash = id ? `#c=${encodeURIComponent(id)}` : "";
    if (location.hash !== hash) {
      if (push && hash) location.hash = hash;
      else history.replaceState(null, "", hash || location.pathname + location.search);
    }
    s.emit("conversation", id);
  }

  /** Runs one reply stream to its end, updating `reply` (and `user`'s id) as events arrive. */
  async runStream(reply, user, options) {
    const s = this.state;
    if (s.active?.key !== reply.key) this.setActive({ key: reply.key, phase: "connecting", position: null, rate: null });
    this.startRateTimer();
    const meter = this.meter;
    const stream = new ReplyStream({
      ...options,
      onEvent: (ev) => this.onEvent(reply, user, ev),
      onState: (st) => {
        if (st.state === "connected") meter.connected();
        this.onStreamState(reply, st);
      },
      onRead: () => meter.read(),
    });
    this.stream = stream;
    let outcome;
    try {
      outcome = await stream.run();
    } catch (err) {
      outcome = { kind: "lost", error: err };
    }
    reply.lastEventId = stream.lastEventId;
    if (this.stream === stream) this.stream = null;
    clearInterval(this.rateTimer);
    switch (outcome.kind) {
      case "finished":
        break;
      case "http-error":
        // Refused before it started (validation, unknown model, busy...): nothing was generated.
        reply.status = "failed";
        reply.error = {
          code: outcome.error.code ?? "error",
          message: outcome.error.message,
          field: outcome.error.field ?? null,
          status: outcome.error.status ?? 0,
          refused: true,
        };
        break;
      case "stopped-locally":
        reply.status = "stopped";
        reply.finishReason = "cancelled";
        break;
      case "lost":
        reply.status = "interrupted";
        reply.error = {
          code: "connection_lost",
          message: "Connection lost. The reply may still be running on the server.",
        };
        break;
      case "gone":
        // The server no longer has the live stream: its database has the outcome.
        this.settle(reply);
        if (s.conversationId && !this.stateless) await this.reloadConversation({ attach: false });
        return;
      case "aborted":
        return; // switched away: the view is being replaced
      default:
        break;
    }
    this.settle(reply);
  }

  /** How long the reply took and how fast it came, from what this page saw of it live. */
  measure(reply, meter) {
    if (!meter?.live) return;
    const now = performance.now();
    const span = (meter.last - meter.first) / 1000;
    reply.timing = {
      // From Send to the end, when this page sent it; a reply joined half-way has no known start.
      seconds: reply.sentAt ? (now - reply.sentAt) / 1000 : null,
      rate: meter.live >= 2 && span > 0 ? (meter.live - 1) / span : null,
    };
  }

  /** The reply ended: final render, status announcement, composer back. */
  settle(reply) {
    if (reply.status === "streaming") reply.status = "interrupted";
    if (!reply.timing) this.measure(reply, this.meter);
    // The final text is the server's (prefix + deltas) whenever it is at least what was shown.
    if (typeof reply.stream === "string" && reply.stream.length >= reply.content.length) reply.content = reply.stream;
    this.setActive(null);
    this.markRunning(false);
    this.state.emit("message-changed", reply);
    let words = reply.status in STATUS_WORDS ? `Reply ${STATUS_WORDS[reply.status].toLowerCase()}` : "Reply ended";
    if (reply.error && reply.status !== "completed") words += `: ${explainError(reply.error).text}`;
    // Screen-reader users hear how the reply begins, without having to go and find it.
    const opening = reply.status === "completed" ? firstWords(reply.content) : "";
    if (opening) words += `: ${opening}`;
    this.announce(words);
    this.conversations.touch(this.state.conversationId);
  }

  fail(reply, error) {
    reply.status = "failed";
    reply.error = error;
    this.settle(reply);
  }

  onStreamState(reply, st) {
    const active = this.state.active;
    if (!active || active.key !== reply.key) return;
    if (st.state === "reconnecting" || st.state === "offline") {
      if (active.phase !== "reconnecting" && active.phase !== "offline") {
        this.announce(st.state === "offline" ? "Offline. Waiting for the network" : "Connection lost. Reconnecting");
      }
      this.setActive({ phase: st.state, attempt: st.attempt, resumePhase: active.resumePhase ?? active.phase });
    } else if (st.state === "connected" && (active.phase === "reconnecting" || active.phase === "offline")) {
      this.setActive({ phase: active.resumePhase ?? "waiting", resumePhase: null, attempt: 0 });
      this.announce("Reconnected");
    }
  }

  /**
   * Brings the shown text up to the streamed one, but never down: while a replay (attaching to a running
   * reply, or a Continue whose stored text is behind what was on screen) has not caught up with the text
   * already shown, the shown text stays.
   */
  showStream(reply) {
    const text = reply.stream ?? "";
    if (text.length >= reply.content.length) reply.content = text;
  }

  onEvent(reply, user, { event, data }) {
    const s = this.state;
    switch (event) {
      case "start":
        reply.replyId = data.replyId ?? reply.replyId;
        reply.id = data.assistantMessageId ?? reply.id;
        reply.model = data.model ?? reply.model;
        // The message's text is prefix + deltas: a Continue starts from the text so far, a new reply from "".
        reply.stream = typeof data.prefix === "string" ? data.prefix : "";
        this.showStream(reply);
        if (user && data.userMessageId) user.id = data.userMessageId;
        for (const m of [reply, user]) {
          if (m?.pendingVersion && m.id) {
            if (!m.versionIds.includes(m.id)) m.versionIds.push(m.id);
            m.versionIndex = m.versionIds.indexOf(m.id);
            m.pendingVersion = false;
          }
        }
        if (!reply.versionIds?.length && reply.id) reply.versionIds = [reply.id];
        if (user && !user.versionIds?.length && user.id) user.versionIds = [user.id];
        if (data.conversationId && !s.conversationId) this.setConversation(data.conversationId, { push: false });
        if (["sending", "connecting"].includes(s.active?.phase)) this.setActive({ phase: "waiting" });
        s.emit("message-changed", reply);
        if (user) s.emit("message-changed", user);
        break;
      case "queued":
        if (typeof data.position === "number" && data.position <= 0) {
          this.setActive({ phase: "waiting", position: null }); // its turn came
        } else {
          this.setActive({ phase: "queued", position: data.position ?? null });
          this.announce(`Queued, position ${data.position}`);
        }
        break;
      case "reasoning": {
        if (typeof data.text !== "string" || !data.text) break;
        if (!reply.reasoning) reply.thinkingStartedAt = performance.now();
        reply.reasoning += data.text;
        this.meter?.tick();
        if (s.active && !["thinking", "streaming", "stopping"].includes(s.active.phase)) {
          this.setActive({ phase: "thinking", position: null, resumePhase: null });
          this.announce("Assistant is thinking");
        }
        s.emit("message-text", reply);
        break;
      }
      case "delta": {
        if (typeof data.text !== "string" || !data.text) break;
        if (reply.reasoning && !reply.content) reply.thinkingEndedAt = performance.now();
        reply.stream = (reply.stream ?? "") + data.text;
        this.showStream(reply);
        // Text the page already had (a checkpoint, or what was on screen) is a replay, not live speed.
        if (!(reply.knownLength > 0 && reply.stream.length <= reply.knownLength)) this.meter?.tick();
        if (s.active && s.active.phase !== "streaming" && s.active.phase !== "stopping") {
          this.setActive({ phase: "streaming", position: null, resumePhase: null });
          this.announce("Assistant is replying");
        }
        s.emit("message-text", reply);
        break;
      }
      case "error":
        reply.error = { code: data.code ?? "error", message: data.message ?? "Something went wrong" };
        break;
      case "finish":
        reply.status = data.status ?? "completed";
        reply.finishReason = data.reason ?? null;
        reply.usage = data.usage ?? null;
        reply.reasoningSeconds = data.reasoningSeconds ?? reply.reasoningSeconds ?? null;
        if (reply.status === "failed" && !reply.error) {
          reply.error = { code: data.reason ?? "error", message: "The reply failed" };
        }
        break;
      default:
        break;
    }
  }

  // ---- actions --------------------------------------------------------------------------------------

  stop() {
    const active = this.state.active;
    if (!active || !this.stream) return;
    this.stream.stop();
    this.setActive({ phase: "stopping" });
    this.announce("Stopping");
    this.focusComposer();
  }

  /** The user message right before `key` (or before the end). */
  userBefore(key) {
    const list = this.state.messages;
    let i = key ? list.findIndex((m) => m.key === key) : list.length;
    for (i -= 1; i >= 0; i--) if (list[i].role === "user") return list[i];
    return null;
  }

  regenerate() {
    const last = this.state.messages.at(-1);
    if (last?.role === "assistant" && last.id && !this.stateless) {
      this.regenerateMessage(last);
      return;
    }
    const user = last?.role === "assistant" ? this.userBefore(last.key) : this.state.lastOf("user");
    if (!user) return;
    this.resend(user, user.content);
  }

  editResend(user, text) {
    if (!text.trim()) return;
    this.resend(user, text);
  }

  /** Replaces `user` (and everything after it) by a new user message `text` and its reply. */
  resend(user, text) {
    if (this.state.busy) return;
    // Without a server id the old message never reached the database: just send again.
    const replaceFrom = user.id && !this.stateless ? user : null;
    if (!replaceFrom) this.removeFrom(user.key);
    this.send(text, { replaceFrom });
  }

  retry(key) {
    const reply = this.state.message(key);
    if (!reply || this.state.busy) return;
    if (reply.error?.code === "connection_lost" && reply.replyId) {
      // The reply may have gone on without us: pick up where we left off.
      reply.status = "streaming";
      reply.error = null;
      this.state.emit("message-changed", reply);
      this.setActive({ key: reply.key, phase: "connecting", position: null, rate: null });
      this.runStream(reply, null, { replyId: reply.replyId, lastEventId: reply.lastEventId ?? null });
      return;
    }
    // A reply the server has (it failed or was cut off): a new version of it, the old one is kept.
    if (reply.id && !this.stateless) {
      this.regenerateMessage(reply);
      return;
    }
    const user = this.userBefore(key);
    if (user) this.resend(user, user.content);
  }

  removeFrom(key) {
    const s = this.state;
    const i = s.messages.findIndex((m) => m.key === key);
    if (i < 0) return;
    const removed = s.messages.splice(i).map((m) => m.key);
    s.emit("messages-removed", removed);
  }

  // ---- conversations --------------------------------------------------------------------------------

  /** Stops listening to the current reply (it goes on on the server, and the sidebar shows it running). */
  detach() {
    if (this.stream) {
      this.stream.abort();
      this.stream = null;
      this.conversations.watchRunning();
      // What was on screen, so that coming back never shows less (the server's copy is a checkpoint).
      const live = this.state.message(this.state.active?.key);
      if (live?.id && live.content) this.seenText.set(live.id, live.content);
    }
    clearInterval(this.rateTimer);
    if (this.state.active) this.setActive(null);
  }

  newConversation() {
    this.detach();
    this.loadToken++;
    const s = this.state;
    s.messages = [];
    this.setConversation(null, { push: false });
    s.emit("messages", s.messages);
    this.focusComposer();
  }

  /** `fromLink`: the id came from a URL, so a missing conversation is worth a visible notice. */
  async openConversation(id, { push = true, fromLink = false } = {}) {
    if (!id) return this.newConversation();
    this.detach();
    this.setConversation(id, { push });
    const s = this.state;
    s.messages = [];
    s.emit("messages", s.messages);
    await this.reloadConversation({ attach: true, fromLink });
  }

  /** (Re)loads the current conversation from the server; attaches to a reply still streaming. */
  async reloadConversation({ attach = true, fromLink = false } = {}) {
    const s = this.state;
    const id = s.conversationId;
    const token = ++this.loadToken;
    s.emit("loading", true);
    let conv;
    try {
      conv = await api.getConversation(id);
    } catch (err) {
      if (token !== this.loadToken) return;
      s.emit("loading", false);
      if (err.status === 404) {
        this.conversations.forget(id);
        this.newConversation();
        if (fromLink) s.emit("notice", "The linked conversation does not exist: it was deleted, or the link is incomplete. This is a new chat.");
        else this.announce("That conversation no longer exists");
      } else if (err.status !== 401) {
        s.emit("notice", `Could not load the conversation: ${err.message}`);
      }
      return;
    }
    if (token !== this.loadToken || s.conversationId !== id) return;
    s.emit("loading", false);
    this.showConversation(conv);
    this.conversations.seen(id);
    const live = s.messages.findLast((m) => m.role === "assistant" && m.status === "streaming" && m.replyId);
    if (live && attach && !s.busy) {
      live.reasoning = "";
      live.thinkingStartedAt = live.thinkingEndedAt = null;
      // Replay the reply from its first event (the database's text is a checkpoint, up to a second behind);
      // the checkpoint stays on screen until the replay has caught up with it (showStream).
      live.stream = "";
      this.setActive({ key: live.key, phase: "connecting", position: null, rate: null, attempt: 0 });
      this.runStream(live, this.userBefore(live.key), { replyId: live.replyId, lastEventId: null });
    } else if (live && !attach) {
      live.status = "interrupted";
      s.emit("message-changed", live);
    }
  }

  /**
   * Shows a conversation as the server sent it. A message this page already showed with more text (the
   * server's copy is a checkpoint, a little behind) keeps its longer text: seen text never shrinks.
   */
  showConversation(conv) {
    const s = this.state;
    const before = new Map(s.messages.filter((m) => m.id).map((m) => [m.id, m]));
    s.messages = (conv.messages ?? []).filter((m) => m.role === "user" || m.role === "assistant").map((raw) => {
      const m = fromServer(raw);
      const seen = before.get(m.id)?.content ?? this.seenText.get(m.id);
      this.seenText.delete(m.id);
      if (seen && seen.length > m.content.length && seen.startsWith(m.content)) {
        m.stream = m.content;
        m.content = seen;
        // The replay of a running reply counts as live only beyond what is already known.
        m.knownLength = seen.length;
      } else {
        m.knownLength = m.content.length;
      }
      if (before.get(m.id)?.timing && m.status !== "streaming") m.timing = before.get(m.id).timing;
      return m;
    });
    s.emit("messages", s.messages);
    this.conversations.update(conv);
    s.emit("conversation-loaded", conv);
  }
}
