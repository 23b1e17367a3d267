"""Our one-line SSE framing must produce exactly what sse-starlette's general encoder produces."""

from __future__ import annotations

import orjson
import pytest
from sse_starlette.event import ServerSentEvent

from rillchat.encoders.sse import encode_event
from rillchat.events import Delta, ErrorEvent, Finish, FinishReason, Queued, ReplyStatus, Start, Usage

EVENTS = [
    Start("rep_x", "smollm2", "conv_1", "msg_1", "msg_2"),
    Queued(3),
    Delta("hello"),
    Delta("line one\nline two\r\nthree\r"),
    Delta("日本語 🙂 é"),
    Delta('quotes " and \\ backslashes'),
    ErrorEvent("upstream_error", "boom\nwith newline"),
    Finish(ReplyStatus.COMPLETED, FinishReason.STOP, Usage(10, 20)),
    Finish(ReplyStatus.STOPPED, FinishReason.CANCELLED, None),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.name)
def test_sse_frame_matches_sse_starlette(event):
    reference = ServerSentEvent(
        data=orjson.dumps(event.to_wire()).decode(), event=event.name, id="42", sep="\n"
    ).encode()
    assert encode_event(42, event) == reference


def test_sse_frame_data_is_one_line_even_when_text_has_newlines():
    frame = encode_event(1, Delta("a\nb\n\nc"))
    data_lines = [line for line in frame.split(b"\n") if line.startswith(b"data:")]
    assert len(data_lines) == 1
    assert orjson.loads(data_lines[0][len(b"data: ") :]) == {"text": "a\nb\n\nc"}
