// SseParser and readSse (src/js/sse.js) under node --test: events come out the same however the bytes
// are cut into reads, per the HTML spec's parsing rules.
import assert from "node:assert/strict";
import { test } from "node:test";
import { readSse, SseParser } from "../src/js/sse.js";

function parse(chunks) {
  const events = [];
  const parser = new SseParser((ev) => events.push(ev));
  for (const chunk of chunks) parser.push(chunk);
  return events;
}

const STREAM =
  ": ping\n" +
  "id: 1\nevent: start\ndata: {\"replyId\":\"r1\"}\n\n" +
  "id: 2\nevent: delta\ndata: {\"text\":\"h\u00e9llo \ud83d\ude42\"}\n\n" +
  ": ping\n\n" +
  "id: 3\ndata: line one\ndata: line two\n\n";

const EXPECTED = [
  { id: "1", event: "start", data: '{"replyId":"r1"}' },
  { id: "2", event: "delta", data: '{"text":"h\u00e9llo \ud83d\ude42"}' },
  { id: "3", event: "message", data: "line one\nline two" },
];

test("one chunk: ids, event names, multi-line data; comments and empty events dispatch nothing", () => {
  assert.deepEqual(parse([STREAM]), EXPECTED);
});

test("every split into two reads gives the same events", () => {
  for (let i = 0; i <= STREAM.length; i++) {
    assert.deepEqual(parse([STREAM.slice(0, i), STREAM.slice(i)]), EXPECTED, `split at ${i}`);
  }
});

test("CRLF and CR line ends, a CRLF split between reads, a byte order mark", () => {
  const crlf = STREAM.replaceAll("\n", "\r\n");
  for (let i = 0; i <= crlf.length; i++) {
    assert.deepEqual(parse(["\ufeff" + crlf.slice(0, i), crlf.slice(i)]), EXPECTED, `split at ${i}`);
  }
  assert.deepEqual(parse([STREAM.replaceAll("\n", "\r")]), EXPECTED);
});

test("the last event id persists across events that carry none", () => {
  assert.deepEqual(parse(["id: 7\ndata: a\n\ndata: b\n\n"]), [
    { id: "7", event: "message", data: "a" },
    { id: "7", event: "message", data: "b" },
  ]);
});

test("readSse decodes UTF-8 split inside a character and reports every read", async () => {
  const bytes = new TextEncoder().encode(STREAM);
  const cut = bytes.indexOf(0xf0) + 2; // in the middle of the emoji's four bytes
  const body = new ReadableStream({
    start(controller) {
      controller.enqueue(bytes.slice(0, cut));
      controller.enqueue(bytes.slice(cut));
      controller.close();
    },
  });
  const events = [];
  let reads = 0;
  await readSse(new Response(body), { onEvent: (ev) => events.push(ev), onBytes: () => reads++ });
  assert.deepEqual(events, EXPECTED);
  assert.equal(reads, 2);
});
