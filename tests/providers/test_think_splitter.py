"""The inline ``<think>`` splitter: whatever the chunking, the same reasoning and the same answer."""

from __future__ import annotations

import itertools

import pytest

from rillchat.events import Delta, Reasoning
from rillchat.providers._think import ThinkSplitter


def run(mode, chunks):
    """(reasoning, answer, events) after feeding ``chunks`` and flushing."""
    splitter = ThinkSplitter(mode)
    events = []
    for chunk in chunks:
        events += splitter.decode(chunk)
    events += splitter.flush()
    reasoning = "".join(e.text for e in events if type(e) is Reasoning)
    answer = "".join(e.text for e in events if type(e) is Delta)
    return reasoning, answer, events


# (mode, whole content, expected reasoning, expected answer)
CASES = [
    ("auto", "<think>\nLet me see. 2 < 3.</think>\n\nIt is 3.", "Let me see. 2 < 3.", "It is 3."),
    ("auto", "  <think>a</b></think>answer", "a</b>", "answer"),
    ("auto", "<think></think>\n\nNo thoughts.", "", "No thoughts."),
    ("auto", "Plain answer, no <think> at the start.", "", "Plain answer, no <think> at the start."),
    ("auto", "<thinking is not a tag", "", "<thinking is not a tag"),
    ("auto", "<", "", "<"),
    ("auto", "\n\n", "", "\n\n"),
    ("auto", "日本<think>x</think>", "", "日本<think>x</think>"),
    ("on", "Started inside: 🙂 thoughts.</think>\n\nThe answer.", "Started inside: 🙂 thoughts.", "The answer."),
    ("on", "<think>\nopened anyway</think>answer", "opened anyway", "answer"),
    ("on", "never closed </thin", "never closed </thin", ""),
    ("on", "x</think></think>", "x", "</think>"),
    ("auto", "<think>x</think>y</think>", "x", "y</think>"),
]


@pytest.mark.parametrize(("mode", "content", "reasoning", "answer"), CASES)
def test_every_cut_in_two_and_three_gives_the_same_reasoning_and_answer(mode, content, reasoning, answer):
    assert run(mode, [content])[:2] == (reasoning, answer)
    for i in range(len(content) + 1):
        assert run(mode, [content[:i], content[i:]])[:2] == (reasoning, answer), f"cut at {i}"
    for i, j in itertools.combinations(range(len(content) + 1), 2):
        chunks = [content[:i], content[i:j], content[j:]]
        assert run(mode, chunks)[:2] == (reasoning, answer), f"cuts at {i}, {j}"


@pytest.mark.parametrize(("mode", "content", "reasoning", "answer"), CASES)
def test_one_character_at_a_time(mode, content, reasoning, answer):
    assert run(mode, list(content))[:2] == (reasoning, answer)


def test_nothing_is_held_longer_than_a_possible_tag():
    splitter = ThinkSplitter("auto")
    assert splitter.decode("<think>") == []
    assert splitter.decode("Thinking about it") == [Reasoning("Thinking about it")]
    assert splitter.decode(" and </th") == [Reasoning(" and ")]  # "</th" could be the closing tag
    assert splitter.decode("ey said") == [Reasoning("</they said")]  # it was not
    assert splitter.decode("</think>\n\nHi") == [Delta("Hi")]
    assert splitter.passthrough


def test_auto_mode_lets_a_plain_answer_through_at_once():
    splitter = ThinkSplitter("auto")
    assert splitter.decode("Hello") == [Delta("Hello")]
    assert splitter.passthrough


def test_reasoning_comes_out_as_it_streams_not_at_the_end():
    splitter = ThinkSplitter("on")
    assert splitter.decode("first thought, ") == [Reasoning("first thought, ")]
    assert splitter.decode("second thought") == [Reasoning("second thought")]
    assert not splitter.passthrough


def test_abandon_hands_back_held_text_as_answer_when_the_server_splits_itself():
    splitter = ThinkSplitter("auto")
    assert splitter.decode("  ") == []
    assert splitter.untouched
    assert splitter.abandon() == []
    assert splitter.passthrough
