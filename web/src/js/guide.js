// The guide's StreamingChat reading loop, in plain JS (no framework): POST the chat, read the plain-text
// body chunk by chunk with response.body.getReader() and a TextDecoder, append each chunk to a <p>.
// Unlike the guide's React version, the saved assistant message is the accumulated text, not the
// (stale, empty) state value captured when the request started.
import { authHeaders } from "./api.js";

const form = document.getElementById("guide-form");
const input = document.getElementById("guide-input");
const button = form.querySelector("button");
const output = document.getElementById("guide-output");
const history = document.getElementById("guide-messages");
const status = document.getElementById("guide-status");

/** The conversation so far, as the guide keeps it: [{role, content}]. */
const messages = [];
window.__guide = { messages };

function show(role, content) {
  const p = document.createElement("p");
  p.className = `guide-msg guide-${role}`;
  p.dataset.testid = "guide-message";
  p.dataset.role = role;
  p.textContent = content;
  history.append(p);
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const userInput = input.value;
  if (!userInput.trim()) return;
  input.value = "";
  button.disabled = true;
  show("user", userInput);
  output.textContent = "";
  status.textContent = "Streaming…";
  status.dataset.state = "streaming";
  let streamingMessage = "";
  try {
    const response = await fetch("/api/chat/stream", {
      method: "POST",
      headers: { "Content-Type": "application/json", ...authHeaders() },
      body: JSON.stringify({ userInput, messages, model: new URLSearchParams(location.search).get("model") || undefined }),
    });
    if (!response.ok || !response.body) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      const chunk = decoder.decode(value, { stream: true });
      streamingMessage += chunk;
      output.textContent += chunk;
    }
    const tail = decoder.decode();
    streamingMessage += tail;
    output.textContent += tail;
    messages.push({ role: "user", content: userInput }, { role: "assistant", content: streamingMessage });
    show("assistant", streamingMessage);
    status.textContent = "Done";
    status.dataset.state = "done";
  } catch (err) {
    status.textContent = `Error: ${err.message}`;
    status.dataset.state = "error";
  } finally {
    button.disabled = false;
    input.focus();
  }
});
