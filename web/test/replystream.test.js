// ReplyStream (src/js/replystream.js) under node --test, against an HTTP server on loopback that plays
// rillchat's side of the protocol: the POST's connection drops mid-reply, the resume with Last-Event-ID
// replays from there. Every event must reach the page once, in order.
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer } from "node:http";
import { after, before, test } from "node:test";
import { ReplyStream } from "../src/js/replystream.js";

let server;
let origin;
const requests = [];

// The page's globals the module touches; fetch() resolves the API's relative paths against the server,
// as a page served from it would.
before(async () => {
  server = createServer(answer);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  origin = `http://127.0.0.1:${server.address().port}`;
  const fetchFromPage = globalThis.fetch;
  globalThis.fetch = (path, init) => fetchFromPage(new URL(path, origin), init);
  globalThis.window = new EventTarget();
  globalThis.document = Object.assign(new EventTarget(), { visibilityState: "visible" });
  if (!("navigator" in globalThis)) globalThis.navigator = { onLine: true };
});

after(() => server.close());

const frame = (id, event, data) => `id: ${id}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
const EVENTS = [
  frame(1, "start", { replyId: "rep_1" }),
  frame(2, "delta", { text: "Hello" }),
  frame(3, "delta", { text: ", " }),
  frame(4, "delta", { text: "world" }),
  frame(5, "finish", { status: "completed" }),
];

function answer(request, response) {
  requests.push({ method: request.method, url: request.url, lastEventId: request.headers["last-event-id"] });
  response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  if (request.method === "POST") {
    // Three events and half of the fourth, then the connection is cut.
    response.write(EVENTS.slice(0, 3).join("") + EVENTS[3].slice(0, 12), () => request.socket.destroy());
    return;
  }
  // The resume replays from the id asked for, and one already seen (a replay the page must drop).
  const after = Number(request.headers["last-event-id"]);
  response.end(EVENTS.slice(after - 1).join(""));
}

test("a reply cut mid-event resumes with Last-Event-ID and every event arrives once", async () => {
  const seen = [];
  const stream = new ReplyStream({
    body: { userInput: "hi", clientRequestId: "req-1" },
    onEvent: (ev) => seen.push(ev),
  });
  const outcome = await stream.run();
  assert.deepEqual(outcome, { kind: "finished" });
  assert.deepEqual(
    seen.map((ev) => ev.id),
    ["1", "2", "3", "4", "5"],
  );
  assert.equal(
    seen.filter((ev) => ev.event === "delta").map((ev) => ev.data.text).join(""),
    "Hello, world",
  );
  assert.deepEqual(requests, [
    { method: "POST", url: "/api/chat/stream", lastEventId: undefined },
    { method: "GET", url: "/api/streams/rep_1", lastEventId: "3" },
  ]);
});
