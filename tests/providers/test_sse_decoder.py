"""Our incremental upstream SSE decoder gives exactly what httpx-sse gives (its public ``EventSource`` over a
response holding the same bytes), however the bytes are cut into reads: mid-line, mid-CRLF, mid-character."""

from __future__ import annotations

import httpx
import orjson
from httpx_sse import EventSource
from hypothesis import given, settings
from hypothesis import strategies as st

from rillchat.providers._sse import SSEDecoder


def reference(stream: bytes) -> list[tuple[str, bytes]]:
    response = httpx.Response(200, headers={"content-type": "text/event-stream"}, content=stream)
    return [(event.event, event.data.encode()) for event in EventSource(response).iter_sse() if event.data != ""]


def ours(stream: bytes, cuts: list[int]) -> list[tuple[str, bytes]]:
    decoder = SSEDecoder()
    out: list[tuple[str, bytes]] = []
    previous = 0
    for cut in [*sorted({c % (len(stream) + 1) for c in cuts}), len(stream)]:
        out += decoder.decode(stream[previous:cut])
        previous = cut
    return out + decoder.flush()


texts = st.text(alphabet=st.sampled_from(list('ab é日🙂"\\{}:')), max_size=12)
frames = st.builds(
    lambda name, payloads, comment: (
        (f": {comment}\n" if comment else "")
        + (f"event: {name}\n" if name else "")
        + "".join(f"data: {orjson.dumps({'delta': p}).decode()}\n" for p in payloads)
        + "\n"
    ),
    st.sampled_from(["", "response.output_text.delta", "response.completed", "error"]),
    st.lists(texts, min_size=1, max_size=3),
    st.sampled_from(["", "ping", "keep-alive"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(frames, min_size=1, max_size=8), st.lists(st.integers(min_value=0), max_size=12), st.booleans())
def test_any_split_of_a_stream_decodes_like_the_reference(stream_frames, cuts, crlf):
    stream = "".join(stream_frames)
    if crlf:
        stream = stream.replace("\n", "\r\n")
    raw = stream.encode()
    assert ours(raw, cuts) == reference(raw)


def test_a_stream_ending_without_its_blank_line_still_yields_the_last_event():
    decoder = SSEDecoder()
    assert decoder.decode(b"data: [DONE]") == []
    assert decoder.flush() == [("message", b"[DONE]")]


def test_cr_only_line_ends_and_a_cr_at_the_end_of_a_read():
    decoder = SSEDecoder()
    assert decoder.decode(b"event: x\rdata: 1\r") == []
    assert decoder.decode(b"\rdata: 2\r\n\r\n") == [("x", b"1"), ("message", b"2")]
