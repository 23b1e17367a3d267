"""Events -> the AI SDK's UI message stream: part boundaries, the transient queue part, errors, the end."""

from __future__ import annotations

from typing import Any

import orjson

from rillchat.encoders.uimessage import UIMessageStreamEncoder
from rillchat.events import Delta, ErrorEvent, Finish, FinishReason, Queued, Reasoning, ReplyStatus, Start, Usage


def chunks(data: bytes) -> list[Any]:
    frames = data.decode().split("\n\n")
    assert frames[-1] == "", "every frame ends with a blank line"
    out: list[Any] = []
    for frame in frames[:-1]:
        assert frame.startswith("data: ") and "\n" not in frame, frame
        payload = frame.removeprefix("data: ")
        out.append(payload if payload == "[DONE]" else orjson.loads(payload))
    return out


START = Start("rep_1", "fake", "conv_1", "msg_u", "msg_a")


def test_a_queued_reply_renders_its_position_as_a_transient_data_part_then_text_in_one_part():
    encoder = UIMessageStreamEncoder()
    events = [START, Queued(2), Queued(1), Delta("Hel"), Delta("lo")]
    events.append(Finish(ReplyStatus.COMPLETED, FinishReason.STOP, Usage(3, 2)))
    out = chunks(encoder.encode(events))
    assert out == [
        {
            "type": "start",
            "messageId": "msg_a",
            "messageMetadata": {"replyId": "rep_1", "conversationId": "conv_1", "model": "fake"},
        },
        {"type": "start-step"},
        {"type": "data-rillchat-queue", "data": {"position": 2}, "transient": True},
        {"type": "data-rillchat-queue", "data": {"position": 1}, "transient": True},
        {"type": "text-start", "id": "text-1"},
        {"type": "text-delta", "id": "text-1", "delta": "Hel"},
        {"type": "text-delta", "id": "text-1", "delta": "lo"},
        {"type": "text-end", "id": "text-1"},
        {"type": "finish-step"},
        {
            "type": "finish",
            "messageMetadata": {
                "status": "completed",
                "finishReason": "stop",
                "usage": {"inputTokens": 3, "outputTokens": 2},
            },
        },
        "[DONE]",
    ]


def test_an_error_closes_the_open_part_and_carries_only_its_message():
    encoder = UIMessageStreamEncoder()
    events = [
        START,
        Delta("par"),
        ErrorEvent("upstream_error", "The model failed."),
        Finish(ReplyStatus.FAILED, FinishReason.ERROR),
    ]
    out = chunks(encoder.encode(events))
    assert [c if isinstance(c, str) else c["type"] for c in out] == [
        "start",
        "start-step",
        "text-start",
        "text-delta",
        "text-end",
        "error",
        "finish-step",
        "finish",
        "[DONE]",
    ]
    assert out[5] == {"type": "error", "errorText": "The model failed."}
    assert out[7]["messageMetadata"]["usage"] is None


def test_batches_cut_anywhere_render_the_same_bytes_as_one_batch():
    events = [START, Queued(1), Delta("a"), Delta("b"), Delta("c"), Finish(ReplyStatus.STOPPED, FinishReason.CANCELLED)]
    whole = UIMessageStreamEncoder().encode(events)
    for cut in range(len(events) + 1):
        encoder = UIMessageStreamEncoder()
        assert encoder.encode(events[:cut]) + encoder.encode(events[cut:]) == whole


def test_a_reply_without_a_stored_message_uses_its_reply_id_as_the_message_id():
    out = chunks(UIMessageStreamEncoder().encode([Start("rep_9", "fake")]))
    assert out[0]["messageId"] == "rep_9"


def test_reasoning_and_text_are_separate_parts_with_their_own_ids():
    events = [START, Reasoning("hm"), Reasoning("m."), Delta("Yes"), Finish(ReplyStatus.COMPLETED, FinishReason.STOP)]
    out = chunks(UIMessageStreamEncoder().encode(events))
    assert out[2:8] == [
        {"type": "reasoning-start", "id": "reasoning-1"},
        {"type": "reasoning-delta", "id": "reasoning-1", "delta": "hm"},
        {"type": "reasoning-delta", "id": "reasoning-1", "delta": "m."},
        {"type": "reasoning-end", "id": "reasoning-1"},
        {"type": "text-start", "id": "text-2"},
        {"type": "text-delta", "id": "text-2", "delta": "Yes"},
    ]
