// BlockSplitter (src/js/incremental.js) under node --test: where a growing markdown text is cut into
// completed blocks, and that feeding it a character at a time cuts it exactly as feeding it whole.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BlockSplitter } from "../src/js/incremental.js";

/** The completed blocks of `text`, as strings, fed in pieces of `step` characters. */
function blocks(text, step = text.length) {
  const splitter = new BlockSplitter();
  const found = [];
  for (let end = Math.min(step, text.length); ; end = Math.min(end + step, text.length)) {
    for (const [start, stop] of splitter.scan(text.slice(0, end))) found.push(text.slice(start, stop));
    if (end === text.length) return found;
  }
}

function sameAtEveryPace(text) {
  const whole = blocks(text);
  for (const step of [1, 2, 3, 7]) assert.deepEqual(blocks(text, step), whole, `step ${step}`);
  return whole;
}

test("a paragraph is complete once the next block starts after a blank line", () => {
  assert.deepEqual(sameAtEveryPace("First paragraph,\nstill first.\n\nSecond"), ["First paragraph,\nstill first.\n\n"]);
  assert.deepEqual(blocks("Only one paragraph\n\n"), [], "the next block has not started: nothing is complete");
});

test("blank lines inside a fenced code block do not cut it; its closing line does", () => {
  const text = "```python\ndef f():\n\n    return 1\n```\nAfter";
  assert.deepEqual(sameAtEveryPace(text), ["```python\ndef f():\n\n    return 1\n```\n"]);
});

test("a loose list stays one block while its items keep coming, another marker starts a new one", () => {
  const list = "- one\n\n- two\n\n- three\n\n";
  assert.deepEqual(sameAtEveryPace(list + "1. first"), [list]);
  assert.deepEqual(sameAtEveryPace(list + "- four"), []);
});

test("an indented line after a blank line may continue the block: no cut", () => {
  assert.deepEqual(sameAtEveryPace("- item\n\n  more of the item\n\nNext"), ["- item\n\n  more of the item\n\n"]);
});

test("a heading after a blank line completes the paragraph before it", () => {
  assert.deepEqual(sameAtEveryPace("Intro\n\n# Title\n\nBody"), ["Intro\n\n", "# Title\n\n"]);
});
