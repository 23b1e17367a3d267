"""Reasoning read from each upstream dialect, over real HTTP from the fake OpenAI server."""

from __future__ import annotations

from typing import Any

import pytest

from rillchat.config import UpstreamConfig
from rillchat.errors import RequestError
from rillchat.events import Delta, Finish, Reasoning, ReplyStatus
from rillchat.providers import ChatMessage, GenerationRequest
from rillchat.providers.openai_chat import OpenAIChatProvider
from rillchat.providers.openai_responses import OpenAIResponsesProvider
from tests.fakes.openai_server import Scenario, expected_reasoning, expected_text, think_content


def upstream(fake, kind: str, **extra: Any) -> UpstreamConfig:
    values: dict[str, Any] = {
        "name": "up",
        "kind": kind,
        "base_url": fake.base_url,
        "api_key": "sk-test",
        "max_retries": 0,
        "models": ["gpt-5-mini", "qwen3:8b", "deepseek-r1", "gpt-4o-mini"],
    }
    values.update(extra)
    return UpstreamConfig(**values)


async def collect(provider, model: str = "qwen3:8b", messages=None, **request: Any):
    events = []
    stream = await provider.open(
        GenerationRequest(model=model, messages=messages or [ChatMessage("user", "hi")], **request)
    )
    async for event in stream:
        events.append(event)
    await provider.aclose()
    reasoning = "".join(e.text for e in events if type(e) is Reasoning)
    answer = "".join(e.text for e in events if type(e) is Delta)
    return reasoning, answer, events


def first_answer_index(events) -> int:
    return next(i for i, e in enumerate(events) if type(e) is Delta)


@pytest.mark.parametrize("form", ["reasoning_content", "reasoning", "both"])
async def test_chat_completions_reasoning_fields_become_reasoning_events(fake_openai, form):
    fake_openai.scenario = Scenario(tokens=5, reasoning=7, reasoning_form=form)
    reasoning, answer, events = await collect(OpenAIChatProvider(upstream(fake_openai, "openai-chat")))
    assert reasoning == expected_reasoning(fake_openai.scenario, "chat")  # "both": taken once, not twice
    assert answer == expected_text(fake_openai.scenario)
    assert all(type(e) is Reasoning for e in events[: first_answer_index(events)])
    finish = events[-1]
    assert type(finish) is Finish and finish.status is ReplyStatus.COMPLETED
    assert finish.usage is not None and finish.usage.reasoning_tokens == 7
    assert finish.usage.output_tokens == 12


@pytest.mark.parametrize("mode", ["auto", "on"])
async def test_inline_think_tags_split_at_every_possible_place(fake_openai, mode):
    scenario = Scenario(tokens=3, reasoning=3, reasoning_form="think_tags", token_text=["é ", "🙂", "ok"])
    whole = think_content(scenario)
    for cut in range(len(whole) + 1):
        fake_openai.scenario = Scenario(**{**scenario.__dict__, "think_cut": cut})
        provider = OpenAIChatProvider(upstream(fake_openai, "openai-chat", think_tags=mode))
        reasoning, answer, _ = await collect(provider)
        assert (reasoning, answer) == ("think0 think1 think2 ", "é 🙂ok"), f"cut at {cut}"


async def test_inline_think_tags_one_character_per_delta(fake_openai):
    fake_openai.scenario = Scenario(tokens=4, reasoning=5, reasoning_form="think_tags", think_chunk=1)
    reasoning, answer, events = await collect(OpenAIChatProvider(upstream(fake_openai, "openai-chat")))
    assert reasoning == expected_reasoning(fake_openai.scenario, "chat")
    assert answer == expected_text(fake_openai.scenario)
    assert sum(type(e) is Reasoning for e in events) > 10, "the reasoning streams, it is not held to the end"


async def test_a_reply_that_starts_inside_reasoning_needs_think_tags_on(fake_openai):
    fake_openai.scenario = Scenario(tokens=3, reasoning=4, reasoning_form="think_open_in_prompt", think_chunk=3)
    on = await collect(OpenAIChatProvider(upstream(fake_openai, "openai-chat", think_tags="on")))
    assert on[:2] == (expected_reasoning(fake_openai.scenario, "chat"), expected_text(fake_openai.scenario))
    auto = await collect(OpenAIChatProvider(upstream(fake_openai, "openai-chat", think_tags="auto")))
    assert auto[:2] == ("", think_content(fake_openai.scenario)), "auto only splits a reply that opens the tag"


async def test_think_tags_off_leaves_the_content_alone(fake_openai):
    fake_openai.scenario = Scenario(tokens=2, reasoning=2, reasoning_form="think_tags")
    reasoning, answer, _ = await collect(OpenAIChatProvider(upstream(fake_openai, "openai-chat", think_tags="off")))
    assert (reasoning, answer) == ("", think_content(fake_openai.scenario))


async def test_a_plain_model_is_untouched_by_the_splitter(fake_openai):
    fake_openai.scenario = Scenario(tokens=6, token_text=["<", "b>", "bold", "</b>", " <think>", "x"])
    reasoning, answer, _ = await collect(OpenAIChatProvider(upstream(fake_openai, "openai-chat", think_tags="auto")))
    assert (reasoning, answer) == ("", "<b>bold</b> <think>x")


@pytest.mark.parametrize("parts", [1, 3])
async def test_responses_summaries_stream_as_reasoning_with_parts_as_paragraphs(fake_openai, parts):
    fake_openai.scenario = Scenario(tokens=4, reasoning=9, summary_parts=parts)
    provider = OpenAIResponsesProvider(upstream(fake_openai, "openai-responses"))
    reasoning, answer, events = await collect(provider, model="gpt-5-mini", temperature=0.7)
    assert reasoning == expected_reasoning(fake_openai.scenario, "responses")
    assert reasoning.count("\n\n") == parts - 1
    assert answer == expected_text(fake_openai.scenario)
    assert events[-1].usage.reasoning_tokens == 9
    body = fake_openai.requests[-1].json
    assert body["reasoning"] == {"summary": "auto"}
    assert "temperature" not in body, "OpenAI's reasoning models refuse a temperature"


async def test_responses_reasoning_text_events(fake_openai):
    fake_openai.scenario = Scenario(tokens=2, reasoning=3, reasoning_form="reasoning_text")
    provider = OpenAIResponsesProvider(upstream(fake_openai, "openai-responses", models=["gpt-oss-20b"]))
    reasoning, answer, _ = await collect(provider, model="gpt-oss-20b", reasoning_effort="low")
    assert (reasoning, answer) == ("think0 think1 think2 ", "tok0 tok1 ")
    assert fake_openai.requests[-1].json["reasoning"] == {"effort": "low", "summary": "auto"}


async def test_a_model_not_known_to_reason_is_not_asked_for_a_summary(fake_openai):
    fake_openai.scenario = Scenario(tokens=2)
    provider = OpenAIResponsesProvider(upstream(fake_openai, "openai-responses"))
    await collect(provider, model="gpt-4o-mini", temperature=0.5, reasoning_effort="high")
    body = fake_openai.requests[-1].json
    assert "reasoning" not in body
    assert body["temperature"] == 0.5


async def test_a_refused_summary_is_retried_once_without_it_and_never_asked_again(fake_openai):
    fake_openai.scenario = Scenario(tokens=3, reasoning=4, summary_forbidden=True)
    provider = OpenAIResponsesProvider(upstream(fake_openai, "openai-responses"))
    for _ in range(2):
        stream = await provider.open(
            GenerationRequest("gpt-5-mini", [ChatMessage("user", "hi")], reasoning_effort="high")
        )
        events = [e async for e in stream]
        assert "".join(e.text for e in events if type(e) is Delta) == "tok0 tok1 tok2 "
        assert not any(type(e) is Reasoning for e in events), "the model thought, but no summary was given"
        assert events[-1].usage.reasoning_tokens == 4
    await provider.aclose()
    sent = [r.json.get("reasoning") for r in fake_openai.requests]
    assert [r.status for r in fake_openai.requests] == [400, 200, 200]
    assert sent == [{"effort": "high", "summary": "auto"}, {"effort": "high"}, {"effort": "high"}]


async def test_other_400s_are_not_retried(fake_openai):
    fake_openai.scenario = Scenario(status_before_stream=400)
    provider = OpenAIResponsesProvider(upstream(fake_openai, "openai-responses"))
    with pytest.raises(RequestError):
        await provider.open(GenerationRequest("gpt-5-mini", [ChatMessage("user", "hi")]))
    await provider.aclose()
    assert len(fake_openai.requests) == 1


HISTORY = [
    ChatMessage("user", "first"),
    ChatMessage("assistant", "answer one", reasoning="secret thoughts"),
    ChatMessage("user", "second"),
]


async def test_reasoning_is_never_sent_back_upstream_by_default(fake_openai):
    fake_openai.scenario = Scenario(tokens=1)
    await collect(OpenAIChatProvider(upstream(fake_openai, "openai-chat")), messages=HISTORY)
    await collect(OpenAIResponsesProvider(upstream(fake_openai, "openai-responses")), messages=HISTORY)
    for record in fake_openai.requests:
        assert b"secret thoughts" not in repr(record.json).encode()
    assert fake_openai.requests[0].json["messages"][1] == {"role": "assistant", "content": "answer one"}


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("reasoning_content", {"role": "assistant", "content": "answer one", "reasoning_content": "secret thoughts"}),
        ("reasoning", {"role": "assistant", "content": "answer one", "reasoning": "secret thoughts"}),
        ("think_tags", {"role": "assistant", "content": "<think>\nsecret thoughts\n</think>\n\nanswer one"}),
    ],
)
async def test_an_upstream_that_wants_reasoning_back_gets_it_its_way(fake_openai, how, expected):
    fake_openai.scenario = Scenario(tokens=1)
    provider = OpenAIChatProvider(upstream(fake_openai, "openai-chat", send_reasoning=how))
    await collect(provider, messages=HISTORY)
    assert fake_openai.requests[-1].json["messages"][1] == expected


async def test_chat_reasoning_effort_goes_only_to_models_that_take_it(fake_openai):
    fake_openai.scenario = Scenario(tokens=1)
    config = upstream(fake_openai, "openai-chat", models=["gpt-oss-20b", "qwen3:8b"])
    await collect(OpenAIChatProvider(config), model="gpt-oss-20b", reasoning_effort="medium")
    await collect(OpenAIChatProvider(config), model="qwen3:8b", reasoning_effort="medium")
    assert fake_openai.requests[0].json["reasoning_effort"] == "medium"
    assert "reasoning_effort" not in fake_openai.requests[1].json


async def test_a_model_seen_reasoning_is_known_to_reason(fake_openai):
    fake_openai.scenario = Scenario(tokens=1, reasoning=2)
    provider = OpenAIChatProvider(upstream(fake_openai, "openai-chat", models=["mystery-model"]))
    assert provider.traits("mystery-model").reasoning is None
    await collect(provider, model="mystery-model")
    assert provider.traits("mystery-model").reasoning is True
