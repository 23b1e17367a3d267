// The REST client for rillchat's same-origin API. Streaming responses are returned raw (see replystream.js).
// When the server is set up with API keys, every /api/ call carries `Authorization: Bearer <key>`; the
// key is entered in Settings and kept for the browser session only (sessionStorage, see storage.js). A 401
// calls the handler set by the app.
import { loadSecret } from "./storage.js";

export class ApiError extends Error {
  constructor(status, code, message, field = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

let unauthorized = () => {};

/** Called with the ApiError on every 401 (the UI then asks for an API key). */
export function onUnauthorized(handler) {
  unauthorized = handler;
}

/** The Authorization header, when an API key is stored. */
export function authHeaders() {
  const key = loadSecret("apiKey");
  return key ? { Authorization: `Bearer ${key}` } : {};
}

/** Reads {"error": {code, message}} from a failed response, whatever it actually contains. */
export async function errorFrom(response) {
  let code = `http_${response.status}`;
  let message = `${response.status} ${response.statusText || "error"}`.trim();
  let field = null;
  try {
    const body = await response.json();
    const err = body?.error ?? body;
    if (err && typeof err === "object") {
      if (typeof err.code === "string") code = err.code;
      if (typeof err.field === "string") field = err.field;
      if (typeof err.message === "string") message = err.message;
      else if (typeof body.detail === "string") message = body.detail;
    }
  } catch {
    /* not JSON: keep the status line */
  }
  const error = new ApiError(response.status, code, message, field);
  if (response.status === 401) unauthorized(error);
  return error;
}

async function request(method, path, body, { signal, raw } = {}) {
  const init = { method, headers: { Accept: "application/json", ...authHeaders() }, signal };
  if (body !== undefined || raw !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = raw ?? JSON.stringify(body); // raw: a File of JSON, sent as it is
  }
  const response = await fetch(path, init);
  if (!response.ok) throw await errorFrom(response);
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

const enc = encodeURIComponent;

export const api = {
  models: () => request("GET", "/api/models"),

  listConversations: ({ limit = 50, cursor } = {}) =>
    request("GET", `/api/conversations?limit=${limit}${cursor ? `&cursor=${enc(cursor)}` : ""}`),
  createConversation: (title, settings = {}) => request("POST", "/api/conversations", title ? { title, ...settings } : { ...settings }),
  updateConversation: (id, changes) => request("PATCH", `/api/conversations/${enc(id)}`, changes),
  searchConversations: (q, { limit = 20, cursor, signal } = {}) =>
    request("GET", `/api/conversations/search?q=${enc(q)}&limit=${limit}${cursor ? `&cursor=${enc(cursor)}` : ""}`, undefined, { signal }),
  importConversations: (file) => request("POST", "/api/conversations/import", undefined, { raw: file }),
  getConversation: (id, opts) => request("GET", `/api/conversations/${enc(id)}`, undefined, opts),
  renameConversation: (id, title) => request("PATCH", `/api/conversations/${enc(id)}`, { title }),
  deleteConversation: (id) => request("DELETE", `/api/conversations/${enc(id)}`),
  /** Makes the branch through `messageId` the shown one; answers the conversation as GET does. */
  selectBranch: (id, messageId) => request("POST", `/api/conversations/${enc(id)}/select`, { messageId }),

  stopReply: (replyId) => request("POST", `/api/streams/${enc(replyId)}/stop`),

  /** GET an export (a Response, not read: the caller saves it as a file). */
  exportConversations: (id, format) =>
    fetch(`/api/conversations/${id ? `${enc(id)}/` : ""}export?format=${enc(format)}`, { headers: authHeaders(), cache: "no-store" }),

  /** POST /api/chat/stream as SSE. Returns the Response (not read). */
  openChatStream: (body, signal) =>
    fetch("/api/chat/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/event-stream", ...authHeaders() },
      body: JSON.stringify(body),
      signal,
      cache: "no-store",
    }),

  /** GET /api/streams/{replyId}, from after lastEventId (or from the start). Returns the Response. */
  resumeStream: (replyId, lastEventId, signal) => {
    const headers = { Accept: "text/event-stream", ...authHeaders() };
    if (lastEventId !== null && lastEventId !== undefined) headers["Last-Event-ID"] = String(lastEventId);
    return fetch(`/api/streams/${enc(replyId)}`, { headers, signal, cache: "no-store" });
  },
};
