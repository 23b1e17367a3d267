// A React chat built only from @ai-sdk/react's documented API, pointed at rillchat (tests/aisdk drives it).
// The same source is bundled three times, against AI SDK 5, 6 and 7 (build.mjs aliases "ai" and
// "@ai-sdk/react" to each version's package). Query string: server=<rillchat origin>, chat=<chat id>,
// resume=1 for useChat({ resume: true }) (with the stop-endpoint wiring the README documents), model=<id>.
import { useChat } from "@ai-sdk/react";
import { DefaultChatTransport } from "ai";
import { useState } from "react";
import { createRoot } from "react-dom/client";

const params = new URLSearchParams(location.search);
const server = params.get("server");
const chatId = params.get("chat");
const resume = params.get("resume") === "1";
const model = params.get("model");
const api = `${server}/api/ai-sdk/chat`;

function Chat({ initialMessages }) {
  const [queuePosition, setQueuePosition] = useState(null);
  const [input, setInput] = useState("");
  const { messages, sendMessage, regenerate, stop, status, error } = useChat({
    id: chatId,
    messages: initialMessages,
    resume,
    transport: new DefaultChatTransport({
      api,
      body: { ...(resume ? { resumable: true } : {}), ...(model ? { model } : {}) },
    }),
    onData: (part) => {
      if (part.type === "data-rillchat-queue") setQueuePosition(part.data.position);
    },
  });

  async function stopReply() {
    // stop() only aborts this fetch; a resumable reply goes on until rillchat's stop endpoint is called.
    const last = messages[messages.length - 1];
    const replyId = last?.role === "assistant" ? last.metadata?.replyId : undefined;
    stop();
    if (resume && replyId) await fetch(`${server}/api/streams/${replyId}/stop`, { method: "POST" });
  }

  return (
    <main>
      <p id="status" data-status={status}>{status}</p>
      {queuePosition !== null && <p id="queue">{queuePosition}</p>}
      {error && <p id="error">{error.message}</p>}
      <ol id="messages">
        {messages.map((m) => (
          <li key={m.id} className="message" data-id={m.id} data-role={m.role} data-status={m.metadata?.status ?? ""}>
            {m.parts.map((part, i) =>
              part.type === "text" ? (
                <span key={i} className="text">{part.text}</span>
              ) : part.type === "reasoning" ? (
                <span key={i} className="reasoning">{part.text}</span>
              ) : null,
            )}
          </li>
        ))}
      </ol>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          sendMessage({ text: input });
          setInput("");
        }}
      >
        <input id="input" value={input} onChange={(e) => setInput(e.target.value)} />
        <button id="send" type="submit">Send</button>
      </form>
      <button id="stop" onClick={stopReply}>Stop</button>
      <button id="regenerate" onClick={() => regenerate()}>Regenerate</button>
    </main>
  );
}

async function main() {
  // The stored chat (a reply still running is left out: resume brings it, from its start).
  const response = await fetch(`${api}/${chatId}/messages`);
  const { messages } = await response.json();
  createRoot(document.getElementById("root")).render(<Chat initialMessages={messages} />);
}

main();
