// Words for a reply's progress (the indicator under the growing message) and for finished statuses: the
// one place they are written (the message label, its error box and the announcement all use these).

/** What each final status is called. */
export const STATUS_WORDS = {
  completed: "Finished",
  stopped: "Stopped",
  incomplete: "Incomplete",
  failed: "Failed",
  interrupted: "Interrupted",
};

export function progressText(active) {
  switch (active?.phase) {
    case "sending":
      return "Sending…";
    case "connecting":
      return "Connecting…";
    case "queued":
      return active.position ? `Queued — position ${active.position}` : "Queued…";
    case "waiting":
      return "Waiting for first token…";
    case "thinking":
      return active.rate ? `Thinking · ${Math.round(active.rate)} tok/s` : "Thinking…";
    case "streaming":
      return active.rate ? `Streaming · ${Math.round(active.rate)} tok/s` : "Streaming…";
    case "reconnecting":
      return `Connection lost — reconnecting${active.attempt > 1 ? ` (attempt ${active.attempt})` : ""}…`;
    case "offline":
      return "Offline — waiting for the network…";
    case "stopping":
      return "Stopping…";
    default:
      return "";
  }
}

/** The label shown on a finished message whose status is not "completed" ("" when there is none). */
export function statusText(message) {
  const reason = message.finishReason;
  switch (message.status) {
    case "stopped":
      return STATUS_WORDS.stopped;
    case "incomplete":
      return `${STATUS_WORDS.incomplete}${reason ? ` (${reason.replace(/_/g, " ")})` : ""}`;
    case "failed":
      return `${STATUS_WORDS.failed}: ${message.error?.message ?? "the reply failed"}`;
    case "interrupted":
      return message.error?.code === "connection_lost" ? message.error.message : STATUS_WORDS.interrupted;
    default:
      return "";
  }
}
