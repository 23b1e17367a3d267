"""A lean streaming load generator: raw asyncio (uvloop) protocols, hand-written HTTP/1.1.

Every delta the fake upstream sends carries its send time (``"<time.time()>|"``); this client finds each
timestamp in the bytes as they arrive (one may be split across reads) and records ``receive - send`` per
token. Nothing here parses JSON or SSE: one regex over each read, so that the client is never the
bottleneck. Run as a process (pinned by the caller)::

    python -m bench.loadgen SPEC.json RESULT.json
"""

from __future__ import annotations

import asyncio
import json
import re
import resource
import sys
import time
from array import array
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, cast

import numpy as np

__all__ = [
    "Collect",
    "DropAndResume",
    "HttpStreamProtocol",
    "LoadSpec",
    "build_request",
    "fetch",
    "percentiles",
    "run_load",
]

# What precedes a delta's timestamp in each wire format, so that timestamps repeated in a summary event
# (the Responses API's ``response.output_text.done`` and ``response.completed``) are not counted again.
PATTERNS: dict[str, bytes] = {
    "plain": rb"(\d{9,11}\.\d{6})\|",  # rillchat plain text: ts|ts|ts|
    "sse": rb'"text":"(\d{9,11}\.\d{6})\|"',  # rillchat SSE: data: {"text":"ts|"}
    "responses": rb'"delta":"(\d{9,11}\.\d{6})\|"',  # Responses API: response.output_text.delta
    "chat": rb'"content":"(\d{9,11}\.\d{6})\|"',  # Chat Completions: choices[0].delta.content
}
_CARRY = 40  # longer than any pattern's match: keep that much of an unfinished read


def build_request(
    port: int, path: str, body: dict[str, Any], headers: dict[str, str] | None = None, method: str = "POST"
) -> bytes:
    """One HTTP/1.1 request (``Connection: close``), ready to write."""
    payload = json.dumps(body).encode() if method == "POST" else b""
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: close"]
    if method == "POST":
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


class HttpStreamProtocol(asyncio.Protocol):
    """Writes one request, parses the response head and a chunked body incrementally.

    Subclasses get ``on_head(status, head, rest of the read)``, ``on_body(piece, now)`` for every piece of
    chunk data as it arrives and ``on_end(now)`` at the terminating chunk; ``on_lost`` if the connection
    ends before that.
    """

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.t_sent = 0.0
        self.t_head: float | None = None
        self.t_first_byte: float | None = None
        self.t_end: float | None = None
        self.status = 0
        self.complete = False
        self._head = b""
        self._in_body = False
        self._chunked = True
        self._line = b""
        self._left = 0
        self._skip = 0

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.t_sent = time.time()
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.time()
        if not self._in_body:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                return
            head, data = self._head[:end], self._head[end + 4 :]
            self._head = b""
            self._in_body = True
            self.t_head = now
            try:
                self.status = int(head.split(b" ", 2)[1])
            except (IndexError, ValueError):
                self.status = -1
            self._chunked = b"transfer-encoding: chunked" in head.lower()
            self.on_head(self.status, head, data)
            if not self._chunked or self.transport is None or self.transport.is_closing():
                return
            if not data:
                return
        if self._chunked and not self.complete:
            self._feed(data, now)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.complete:
            self.on_lost(exc)

    # -- chunked transfer coding

    def _feed(self, data: bytes, now: float) -> None:
        pos, n = 0, len(data)
        while pos < n:
            if self._left:
                end = pos + self._left
                if end > n:
                    self._left = end - n
                    self._data(data[pos:] if pos else data, now)
                    return
                self._data(data[pos:end], now)
                self._left = 0
                self._skip = 2  # the CRLF after the chunk's data
                pos = end
            elif self._skip:
                take = min(self._skip, n - pos)
                self._skip -= take
                pos += take
            else:
                nl = data.find(b"\n", pos)
                if nl < 0:
                    self._line += data[pos:]
                    return
                line, self._line = self._line + data[pos:nl], b""
                pos = nl + 1
                size = int(line.split(b";", 1)[0], 16)
                if size == 0:  # trailers, if any, are ignored
                    self.complete = True
                    self.t_end = now
                    self.on_end(now)
                    return
                self._left = size

    def _data(self, piece: bytes, now: float) -> None:
        if self.t_first_byte is None:
            self.t_first_byte = now
        self.on_body(piece, now)

    # -- for subclasses

    def on_head(self, status: int, head: bytes, rest: bytes) -> None:
        if status != 200 and self.transport is not None:
            self.transport.close()

    def on_body(self, piece: bytes, now: float) -> None:
        pass

    def on_end(self, now: float) -> None:
        if self.transport is not None:
            self.transport.close()

    def on_lost(self, exc: Exception | None) -> None:
        pass


class Collect(HttpStreamProtocol):
    """Keeps the whole body with the arrival time of each piece; ``done`` when the connection ends."""

    def __init__(self, request: bytes) -> None:
        super().__init__(request)
        self.pieces: list[tuple[float, bytes]] = []
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_body(self, piece: bytes, now: float) -> None:
        self.pieces.append((now, piece))

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if not self.done.done():
            self.done.set_result(None)

    @property
    def body(self) -> bytes:
        return b"".join(piece for _, piece in self.pieces)

    def arrivals(self, marker: bytes) -> list[float]:
        """When each occurrence of ``marker`` in the body had fully arrived."""
        ends, offset = [], 0
        for _, piece in self.pieces:
            offset += len(piece)
            ends.append(offset)
        body, times, found, i = self.body, [t for t, _ in self.pieces], [], 0
        pos = body.find(marker)
        while pos >= 0:
            end = pos + len(marker)
            while ends[i] < end:
                i += 1
            found.append(times[i])
            pos = body.find(marker, end)
        return found


async def fetch(port: int, request: bytes, limit: float = 60.0, host: str = "127.0.0.1") -> Collect:
    """One request on a new connection; returns once the response (or the connection) ended."""
    loop = asyncio.get_running_loop()
    proto = Collect(request)
    await loop.create_connection(lambda: proto, host, port)
    await asyncio.wait_for(proto.done, limit)
    return proto


# --------------------------------------------------------------------------------------------------
# Load


@dataclass
class LoadSpec:
    port: int
    request: str
    """The raw HTTP request, latin-1."""
    pattern: str
    """Wire format, a key of PATTERNS: plain, sse, responses, chat."""
    streams: int
    expected_tokens: int
    rate: float
    """Tokens per second per stream (to compute the offered rate)."""
    ramp: float = 1.0
    """Seconds over which the streams start (evenly)."""
    sequential: bool = False
    """Start each stream after the previous one ended (for time-to-first-byte probes)."""
    deadline: float = 60.0
    """Seconds after the first start when unfinished streams count as failed."""
    host: str = "127.0.0.1"
    unique: str = ""
    """A marker in ``request`` (20+ characters, e.g. a clientRequestId's value) replaced by a value unique to
    each stream, of the same length (so Content-Length holds)."""
    values: list[str] = field(default_factory=list)
    """With ``unique``: the value for each stream, in order (e.g. a conversation id), instead of a made-up one;
    each exactly as long as the marker."""
    resume_port: int = 0
    """Drop and resume (rillchat SSE only): read ``resume_after`` tokens, close the connection and go on with
    ``GET /api/streams/{replyId}`` + ``Last-Event-ID`` on this port (another replica). 0 = off."""
    resume_after: int = 10
    soak: float = 0.0
    """Seconds of a soak: each stream that ends is replaced by a new one until then, so ``streams`` stay
    open all along; the result gets a ``timeline`` of ``soak_window``-second windows. 0 = off."""
    soak_window: float = 30.0


class _Collector:
    __slots__ = ("catchup", "delays", "done", "first", "pending", "recv")

    def __init__(self, streams: int) -> None:
        # Arrays of doubles, not lists of floats: a soak collects millions.
        self.delays = array("d")
        self.recv = array("d")
        self.first: list[float] = []
        """Drop and resume: delays of the tokens read before the drop (these are not in ``delays``)."""
        self.catchup: list[float] = []
        """Drop and resume: delays of the tokens sent before the resume request went out (not in ``delays``)."""
        self.pending = streams
        self.done = asyncio.Event()
        if streams == 0:
            self.done.set()

    def finished(self) -> None:
        self.pending -= 1
        if self.pending <= 0:
            self.done.set()


class TokenStream(HttpStreamProtocol):
    """One stream of timestamped deltas."""

    def __init__(
        self, request: bytes, pattern: re.Pattern[bytes], collector: _Collector, on_done: Callable[[TokenStream], None]
    ) -> None:
        super().__init__(request)
        self.pattern = pattern
        self.collector = collector
        self.on_done = on_done
        self.tokens = 0
        self.error: str | None = None
        self.detail = ""
        """The start of an error response's body (its error code)."""
        self.ended = False
        self._carry = b""

    def on_head(self, status: int, head: bytes, rest: bytes) -> None:
        if status != 200:
            self.detail = rest[:200].decode(errors="replace")
            self._end(f"http_{status}")
        elif not self._chunked:
            self._end("not_chunked")

    def on_body(self, piece: bytes, now: float) -> None:
        data = self._carry + piece if self._carry else piece
        last = 0
        delays, recv = self.collector.delays, self.collector.recv
        for match in self.pattern.finditer(data):
            delays.append(now - float(match.group(1)))
            recv.append(now)
            last = match.end()
            self.tokens += 1
        tail = len(data) - _CARRY
        self._carry = data[last if last > tail else max(tail, 0) :]

    def on_end(self, now: float) -> None:
        self._end(None)

    def on_lost(self, exc: Exception | None) -> None:
        self._end("connection_lost" if exc is None else f"connection_error:{type(exc).__name__}")

    def _end(self, error: str | None) -> None:
        if self.ended:
            return
        self.ended = True
        self.error = error
        if self.t_end is None:
            self.t_end = time.time()
        if self.transport is not None:
            self.transport.close()
        self.on_done(self)


class _Leg(HttpStreamProtocol):
    """The resumed connection of a :class:`DropAndResume`: everything goes to its owner."""

    def __init__(self, request: bytes, owner: DropAndResume) -> None:
        super().__init__(request)
        self.owner = owner

    def on_head(self, status: int, head: bytes, rest: bytes) -> None:
        if status != 200:
            self.owner.detail = rest[:200].decode(errors="replace")
            self.owner._end(f"resume_http_{status}")
        elif not self._chunked:
            self.owner._end("resume_not_chunked")

    def on_body(self, piece: bytes, now: float) -> None:
        self.owner.on_resumed(piece, now)

    def on_end(self, now: float) -> None:
        self.owner._end(None)

    def on_lost(self, exc: Exception | None) -> None:
        self.owner._end("resume_lost" if exc is None else f"resume_error:{type(exc).__name__}")


class DropAndResume(TokenStream):
    """A rillchat SSE stream read from one replica until ``after`` tokens came, then dropped and resumed on
    another: ``GET /api/streams/{replyId}`` (the ``x-rillchat-reply-id`` header) with ``Last-Event-ID`` = the
    id of the last complete event read. Before the drop the body is split into events (a few, so cheap);
    after it, the same regex scan as :class:`TokenStream`. Delays go to ``collector.first`` (before the drop),
    ``collector.catchup`` (sent before the resume request went out) and ``collector.delays`` (the rest)."""

    def __init__(
        self,
        request: bytes,
        pattern: re.Pattern[bytes],
        collector: _Collector,
        on_done: Callable[[TokenStream], None],
        host: str,
        port: int,
        after: int,
    ) -> None:
        super().__init__(request, pattern, collector, on_done)
        self.host = host
        self.port = port
        self.after = after
        self.reply_id = ""
        self.last_id = 0
        self.leg: _Leg | None = None
        self.t_resume = 0.0
        self._events = b""
        self._task: asyncio.Task[None] | None = None

    def on_head(self, status: int, head: bytes, rest: bytes) -> None:
        super().on_head(status, head, rest)
        for line in head.split(b"\r\n"):
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"x-rillchat-reply-id":
                self.reply_id = value.strip().decode()

    def on_body(self, piece: bytes, now: float) -> None:
        if self.leg is not None or self.ended:
            return  # bytes of the first connection still buffered after the drop: the resume repeats them
        self._events += piece
        end = self._events.rfind(b"\n\n")
        if end < 0:
            return
        complete, self._events = self._events[: end + 2], self._events[end + 2 :]
        first, recv = self.collector.first, self.collector.recv
        for event in complete.split(b"\n\n"):
            if event.startswith(b"id: "):
                self.last_id = int(event[4 : event.index(b"\n")])
            for match in self.pattern.finditer(event):
                first.append(now - float(match.group(1)))
                recv.append(now)
                self.tokens += 1
            if self.tokens >= self.after:
                self._resume()
                return

    def _resume(self) -> None:
        if not self.reply_id:
            self._end("no_reply_id")
            return
        headers = {"Accept": "text/event-stream", "Last-Event-ID": str(self.last_id)}
        request = build_request(self.port, f"/api/streams/{self.reply_id}", {}, headers, method="GET")
        self.leg = _Leg(request, self)
        if self.transport is not None:
            self.transport.close()
        self.t_resume = time.time()
        self._task = asyncio.get_running_loop().create_task(self._connect(self.leg))

    async def _connect(self, leg: _Leg) -> None:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.create_connection(lambda: leg, self.host, self.port), 15.0)
        except (OSError, TimeoutError) as exc:
            self._end(f"resume_connect:{type(exc).__name__}")

    def on_resumed(self, piece: bytes, now: float) -> None:
        data = self._carry + piece if self._carry else piece
        last = 0
        delays, catchup, recv, t_resume = (
            self.collector.delays,
            self.collector.catchup,
            self.collector.recv,
            self.t_resume,
        )
        for match in self.pattern.finditer(data):
            sent = float(match.group(1))
            (catchup if sent < t_resume else delays).append(now - sent)
            recv.append(now)
            last = match.end()
            self.tokens += 1
        tail = len(data) - _CARRY
        self._carry = data[last if last > tail else max(tail, 0) :]

    def on_end(self, now: float) -> None:
        if self.leg is None:  # the first connection's end (a reply shorter than ``after``)
            self._end(None)

    def on_lost(self, exc: Exception | None) -> None:
        if self.leg is None:  # the first connection, lost before the drop
            super().on_lost(exc)

    def _end(self, error: str | None) -> None:
        if self.ended:
            return
        super()._end(error)
        if self.leg is not None and self.leg.transport is not None:
            self.leg.transport.close()

    @property
    def resume_head(self) -> float | None:
        """Seconds from the resume request to the other replica's response head (its first body byte waits
        for the next token, so it would measure the token rate, not the replica)."""
        leg = self.leg
        if leg is None or leg.t_head is None:
            return None
        return leg.t_head - leg.t_sent


async def run_load(spec: LoadSpec) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    request = spec.request.encode("latin-1")
    marker = spec.unique.encode("latin-1")
    if marker and (len(marker) < 20 or marker not in request):
        raise ValueError("the unique marker must be 20+ characters and appear in the request")
    nonce = time.time_ns() // 1000 % 16**10  # different in every run: ids stay unique across runs
    pattern = re.compile(PATTERNS[spec.pattern])
    collector = _Collector(spec.streams)
    streams: list[TokenStream] = []
    errors: dict[str, int] = {}
    next_ready = asyncio.Event()

    soak_end = loop.time() + spec.soak if spec.soak else 0.0

    def on_done(stream: TokenStream) -> None:
        collector.finished()
        next_ready.set()
        if soak_end and loop.time() < soak_end:
            collector.pending += 1
            tasks.append(loop.create_task(open_one(request_for(len(streams)))))

    def request_for(i: int) -> bytes:
        """Built before the stream's task starts: a mistake here fails the run at once, not a task silently
        (which left a sequential probe waiting forever)."""
        if not marker:
            return request
        value = spec.values[i].encode() if spec.values else f"{nonce:010x}{i:0{len(marker) - 10}d}".encode()
        return request.replace(marker, value)

    async def open_one(mine: bytes) -> None:
        stream: TokenStream
        if spec.resume_port:
            stream = DropAndResume(mine, pattern, collector, on_done, spec.host, spec.resume_port, spec.resume_after)
        else:
            stream = TokenStream(mine, pattern, collector, on_done)
        streams.append(stream)
        try:
            await asyncio.wait_for(loop.create_connection(lambda: stream, spec.host, spec.port), 15.0)
        except (OSError, TimeoutError) as exc:
            stream.t_sent = stream.t_sent or time.time()
            stream._end(f"connect:{type(exc).__name__}")

    tasks: list[asyncio.Task[None]] = []
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0_wall = time.time()
    t0 = loop.time()
    if spec.sequential:
        for _ in range(spec.streams):
            next_ready.clear()
            tasks.append(loop.create_task(open_one(request_for(len(tasks)))))
            await asyncio.wait_for(next_ready.wait(), spec.deadline)
    else:
        for i in range(spec.streams):
            due = t0 + i * spec.ramp / spec.streams
            wait = due - loop.time()
            if wait > 0.001:
                await asyncio.sleep(wait)
            tasks.append(loop.create_task(open_one(request_for(i))))
    remaining = spec.deadline - (loop.time() - t0)
    try:
        await asyncio.wait_for(collector.done.wait(), max(remaining, 0.1))
    except TimeoutError:
        for stream in streams:
            if not stream.ended:
                stream._end("timeout")
    await asyncio.gather(*tasks, return_exceptions=True)
    t1_wall = time.time()
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)

    total = len(streams)
    ok = 0
    samples: dict[str, str] = {}
    for stream in streams:
        error = stream.error
        if error is None and stream.tokens != spec.expected_tokens:
            error = f"incomplete:{stream.tokens}/{spec.expected_tokens}"
            stream.error = error
        if error is None:
            ok += 1
        else:
            key = error.split(":", 1)[0]
            errors[key] = errors.get(key, 0) + 1
            if len(samples) < 5 and error not in samples:
                samples[error] = stream.detail

    delays = np.asarray(collector.delays, dtype=np.float64) * 1000.0
    recv = np.asarray(collector.recv, dtype=np.float64) - t0_wall
    ttfb = np.asarray(
        [(s.t_first_byte - s.t_sent) * 1000.0 for s in streams if s.t_first_byte is not None], dtype=np.float64
    )
    # Delivered rate: tokens received while every stream should be running (after the ramp, before the
    # first stream's planned end), against streams x rate over that window.
    duration = (spec.expected_tokens - 1) / spec.rate if spec.rate > 0 else 0.0
    w0, w1 = spec.ramp + 0.25, duration - 0.25
    if spec.soak:  # every stream slot stays busy until the soak ends (but for reconnections)
        w0, w1 = spec.ramp + duration, spec.soak
    window: dict[str, float] | None = None
    if not spec.sequential and spec.rate > 0 and w1 - w0 >= 1.0:
        received = int(np.count_nonzero((recv >= w0) & (recv < w1)))
        offered = spec.streams * spec.rate * (w1 - w0)
        window = {"start": w0, "end": w1, "received": received, "offered": offered, "pct": 100.0 * received / offered}
    result = {
        "spec": {k: v for k, v in asdict(spec).items() if k not in ("request", "values")},
        "t0": t0_wall,
        "t1": t1_wall,
        "wall_s": t1_wall - t0_wall,
        "streams": total,
        "ok": ok,
        "failed": total - ok,
        "errors": errors,
        "error_samples": samples,
        "tokens": int(recv.size),  # = delays.size, but for drop and resume (first and catch-up tokens too)
        "tokens_expected": total * spec.expected_tokens,
        "delay_ms": percentiles(delays),
        "ttfb_ms": percentiles(ttfb),
        "window": window,
        "intervals": [[s.t_sent, s.t_end or t1_wall] for s in streams],
        "client_cpu_s": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
    }
    if spec.soak:
        result["timeline"] = timeline(recv, delays, spec.soak_window, spec.streams * spec.rate)
        result.pop("intervals")
        result["concurrency"] = spec.streams
    if spec.resume_port:
        resumed = [s for s in streams if isinstance(s, DropAndResume)]
        heads = [s.resume_head * 1000.0 for s in resumed if s.resume_head is not None]
        result["resumed"] = sum(1 for s in resumed if s.leg is not None)
        result["delay_first_ms"] = percentiles(np.asarray(collector.first, dtype=np.float64) * 1000.0)
        result["catchup_ms"] = percentiles(np.asarray(collector.catchup, dtype=np.float64) * 1000.0)
        result["resume_head_ms"] = percentiles(np.asarray(heads, dtype=np.float64))
    return result


def timeline(
    recv: np.ndarray[Any, Any], delays: np.ndarray[Any, Any], window: float, offered_per_s: float
) -> list[dict[str, float]]:
    """Per window of ``window`` seconds (by arrival time): tokens/s against the offered rate, delays."""
    rows: list[dict[str, float]] = []
    if recv.size == 0:
        return rows
    edges = np.arange(0.0, float(recv.max()) + window, window)
    which = np.digitize(recv, edges) - 1
    for i, start in enumerate(edges[:-1]):
        mine = delays[which == i]
        if mine.size == 0:
            continue
        p50, p99 = np.percentile(mine, [50, 99])
        rows.append(
            {
                "start_s": float(start),
                "tokens_per_s": mine.size / window,
                "rate_pct": 100.0 * mine.size / window / offered_per_s if offered_per_s else 0.0,
                "p50_ms": float(p50),
                "p99_ms": float(p99),
                "max_ms": float(mine.max()),
            }
        )
    return rows


def percentiles(values: np.ndarray[Any, Any]) -> dict[str, float] | None:
    if values.size == 0:
        return None
    p50, p90, p99 = np.percentile(values, [50, 90, 99])
    return {
        "n": int(values.size),
        "p50": float(p50),
        "p90": float(p90),
        "p99": float(p99),
        "max": float(values.max()),
        "mean": float(values.mean()),
    }


def main() -> None:
    from bench.launch import raise_fd_limit

    raise_fd_limit()
    with open(sys.argv[1]) as fh:
        spec = LoadSpec(**json.load(fh))
    try:
        import uvloop

        result = uvloop.run(run_load(spec))
    except ImportError:
        result = asyncio.run(run_load(spec))
    with open(sys.argv[2], "w") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main()
