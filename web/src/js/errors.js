// Errors in plain words, each saying what to do, and whether a Retry can help. The server answers
// {"error": {code, message, field?}}; field names and codes are for programs, so they are translated here.
// Anything not listed keeps the server's message (it is written for people too) and may be retried.

const number = (n) => Number(n).toLocaleString("en-US");

/** The "N" of a server message such as "userInput: at most 100000 characters" (null if absent). */
function limitIn(message) {
  const m = /at most (\d+)/.exec(message ?? "");
  return m ? Number(m[1]) : null;
}

function sentence(text) {
  const t = String(text ?? "").trim();
  if (!t) return "Something went wrong.";
  const first = t[0].toUpperCase() + t.slice(1);
  return /[.!?]$/.test(first) ? first : `${first}.`;
}

const FIELD_WORDS = {
  userInput: (n) => `Your message is too long: at most ${number(n)} characters. Shorten it or split it into parts.`,
  instructions: (n) => `The instructions in Settings are too long: at most ${number(n)} characters.`,
  messages: (n) => `This conversation has too many messages to send (at most ${number(n)}). Start a new chat.`,
  maxOutputTokens: (n) => `Max tokens is too high: at most ${number(n)}. Lower it in Settings.`,
};

function fieldError(field, message) {
  const base = String(field ?? "").split(".")[0];
  const n = limitIn(message);
  if (base === "messages" && /content/.test(field)) {
    return n ? `A message in this conversation is too long: at most ${number(n)} characters.` : sentence(message);
  }
  if (FIELD_WORDS[base] && n) return FIELD_WORDS[base](n);
  if (base === "temperature") return "Temperature must be a number from 0 to 2 (Settings).";
  if (base === "maxOutputTokens") return "Max tokens must be a whole number of at least 1 (Settings).";
  if (base === "userInput") return "Your message is empty: type something to send.";
  // Whatever else: the server's words, without the field-name prefix it adds.
  return sentence(String(message ?? "").replace(new RegExp(`^${field}:\\s*`), ""));
}

/**
 * {text, retry} for an error: `text` says what happened and what to do, `retry` whether trying the same
 * request again can help. `error`: {code, message, field?, status?} as the API (or the stream) gave it.
 */
export function explainError(error) {
  const code = error?.code ?? "error";
  const message = error?.message ?? "";
  const status = error?.status ?? 0;
  if (error?.field || code === "invalid_field") {
    return { text: fieldError(error.field ?? message.split(":")[0], message), retry: false };
  }
  switch (code) {
    case "payload_too_large":
      return { text: "Your message is too large to send. Shorten it or split it into parts.", retry: false };
    case "invalid_json":
    case "invalid_request":
      return { text: sentence(message), retry: false };
    case "unknown_model":
      return { text: "This model is not available on the server. Pick another one in the model menu.", retry: false };
    case "not_found":
      return { text: "This conversation no longer exists. Start a new chat.", retry: false };
    case "conversation_busy":
    case "conflict":
      return { text: "A reply is still being written in this conversation. Wait for it to finish, or stop it.", retry: false };
    case "unauthorized":
    case "http_401":
      return { text: "This server needs an API key: enter it in Settings.", retry: false };
    case "rate_limited":
      return { text: "Too many requests for now. Wait a moment, then retry.", retry: true };
    case "upstream_auth":
      return { text: "The model provider refused the server's credentials. The server's administrator has to fix its API key.", retry: false };
    case "upstream_rate_limited":
      return { text: "The model provider is busy right now. Retry in a moment.", retry: true };
    case "upstream_timeout":
    case "timeout":
      return { text: "The model took too long to answer. Retry, or ask for something shorter.", retry: true };
    case "upstream_unavailable":
    case "upstream_error":
    case "upstream_disconnected":
      return { text: `The model provider had a problem (${message.trim().replace(/[.\s]+$/, "") || code}). Retry in a moment.`, retry: true };
    case "connection_lost":
      return { text: "The connection was lost. The reply may still be running on the server: retry to pick it up.", retry: true };
    case "server_restarted":
    case "shutdown":
      return { text: "The server restarted while writing this reply. The text written so far is kept.", retry: true };
    case "internal_error":
      return { text: "The server hit an unexpected error. Retry; if it happens again, tell the server's administrator.", retry: true };
    default:
      break;
  }
  if (status >= 400 && status < 500 && status !== 408 && status !== 429) return { text: sentence(message), retry: false };
  return { text: sentence(message), retry: true };
}
