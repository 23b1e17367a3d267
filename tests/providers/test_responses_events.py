"""The Responses API stream read with and without ``event:`` lines (some compatible servers send only
``data:``, whose JSON ``type`` names the event): the same reasoning, answer and finish either way."""

from __future__ import annotations

import httpx
import pytest

from rillchat.events import Delta, Finish, Reasoning, ReplyStatus
from rillchat.providers.openai_responses import OpenAIResponsesProvider
from tests.fakes.openai_server import Scenario, expected_reasoning, expected_text
from tests.providers.test_reasoning_upstreams import collect, upstream


@pytest.mark.parametrize("event_names", [True, False], ids=["named", "unnamed"])
async def test_events_are_read_by_their_type_with_or_without_event_lines(fake_openai, event_names):
    fake_openai.scenario = Scenario(tokens=6, reasoning=4, summary_parts=2, event_names=event_names)
    provider = OpenAIResponsesProvider(upstream(fake_openai, "openai-responses"))
    reasoning, answer, events = await collect(provider, model="gpt-5-mini")
    assert answer == expected_text(fake_openai.scenario)
    assert reasoning == expected_reasoning(fake_openai.scenario, "responses")
    assert [type(e) for e in events].count(Delta) == 6
    assert any(type(e) is Reasoning for e in events)
    finish = events[-1]
    assert type(finish) is Finish and finish.status is ReplyStatus.COMPLETED
    assert finish.usage is not None and finish.usage.output_tokens == 10


async def test_unnamed_frames_really_lack_event_lines(fake_openai):
    """The fake's unnamed mode is what it claims: no frame of the stream has an ``event:`` line."""
    fake_openai.scenario = Scenario(tokens=3, event_names=False)
    body = {"model": "gpt-4o-mini", "input": "hi", "stream": True}
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{fake_openai.base_url}/responses", json=body, headers={"Authorization": "Bearer x"}
        )
    assert response.status_code == 200
    assert "event:" not in response.text
    assert response.text.count('"type":"response.output_text.delta"') == 3
