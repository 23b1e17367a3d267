"""The floor a Python relay stands on, measured beside rillchat in the relay part (mode ``floor``).

Raw ASGI on the same uvicorn (uvloop, httptools) + aiohttp + orjson, and nothing else: ``POST
/api/chat/stream`` with rillchat's body relays an upstream Responses API stream's text deltas as plain-text
chunks. No validation, log, storage, resume, followers, stop, watchdogs or metrics: what rillchat costs
beyond this row is what those cost; what this row costs is the server, the HTTP client and the system
calls, which a relay on this stack cannot go below. Run as
``python -m bench.floor_relay --port 8001 --upstream http://127.0.0.1:9100/v1``.
"""

from __future__ import annotations

import argparse
from typing import Any

import aiohttp
import orjson
import uvicorn

__all__ = ["FloorRelay"]

_DELTA = b"event: response.output_text.delta\n"
_NOT_FOUND = b'{"error":{"code":"not_found"}}'


class FloorRelay:
    """The ASGI app: one upstream request per POST, its deltas written as they come."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/") + "/responses"
        self.session: aiohttp.ClientSession | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http" and scope["method"] == "POST":
            await self._relay(receive, send)
        else:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": _NOT_FOUND})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.session is not None:
                    await self.session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _relay(self, receive: Any, send: Any) -> None:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = orjson.loads(body)
        upstream = {
            "model": request["model"],
            "input": [{"role": "user", "content": request["userInput"]}],
            "stream": True,
            "max_output_tokens": request.get("maxOutputTokens"),
        }
        assert self.session is not None
        headers = {"Authorization": "Bearer x", "Content-Type": "application/json"}
        async with self.session.post(self.upstream, data=orjson.dumps(upstream), headers=headers) as response:
            start = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
            await send(start)
            rest = b""
            async for chunk in response.content.iter_any():
                *frames, rest = (rest + chunk).split(b"\n\n")
                texts = [orjson.loads(f[f.index(b"data: ") + 6 :])["delta"] for f in frames if f.startswith(_DELTA)]
                if texts:
                    await send({"type": "http.response.body", "body": "".join(texts).encode(), "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the Responses API base URL, e.g. http://127.0.0.1:9100/v1")
    args = parser.parse_args()
    app = FloorRelay(args.upstream)
    uvicorn.run(app, host="127.0.0.1", port=args.port, loop="uvloop", http="httptools", log_level="warning")


if __name__ == "__main__":
    main()
