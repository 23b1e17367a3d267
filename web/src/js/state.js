// The app state: plain data plus change notifications. Views subscribe to the topics they draw;
// only the controller (chat.js) and the settings/sidebar handlers write.
//
// Topics: "models", "settings", "conversations", "conversation" (current id changed), "messages"
// (the list was replaced), "message-added" / "message-changed" / "message-text" (one message; detail =
// the message), "messages-removed" (detail = keys), "active" (the streaming reply's progress).

let nextKey = 1;

/** Statuses a reply can be continued from (the server carries the same message on). */
export const CONTINUABLE = new Set(["incomplete", "interrupted", "stopped"]);

/** A message as the UI holds it. `key` is local and stable; `id` is the server's (null until known). */
export function makeMessage(fields) {
  return {
    key: `m${nextKey++}`,
    id: null,
    role: "assistant",
    content: "",
    reasoning: "",
    reasoningSeconds: null,
    status: "completed",
    finishReason: null,
    error: null,
    model: null,
    usage: null,
    replyId: null,
    createdAt: null,
    parentId: null,
    versionIds: [],
    versionIndex: 0,
    ...fields,
  };
}

export class AppState extends EventTarget {
  constructor() {
    super();
    this.models = [];
    this.model = null;
    this.settings = { instructions: "", temperature: null, maxOutputTokens: null };
    /** The server's request limits (GET /api/models); settings.js fills in defaults until they arrive. */
    this.limits = null;
    this.conversations = [];
    this.nextCursor = null;
    this.conversationId = null;
    this.messages = [];
    /** The reply in progress: {key, phase, position, rate, attempt} or null. */
    this.active = null;
  }

  get busy() {
    return this.active !== null;
  }

  on(topic, fn) {
    this.addEventListener(topic, (e) => fn(e.detail));
  }

  emit(topic, detail) {
    this.dispatchEvent(new CustomEvent(topic, { detail }));
  }

  message(key) {
    return this.messages.find((m) => m.key === key) ?? null;
  }

  lastOf(role) {
    for (let i = this.messages.length - 1; i >= 0; i--) if (this.messages[i].role === role) return this.messages[i];
    return null;
  }
}
