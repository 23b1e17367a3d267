"""The client with a reasoning model: typed Reasoning events, reply.reasoning, the whole result, resumed
across connections cut in the middle of the thoughts; models with their capabilities; stored reasoning."""

from __future__ import annotations

import pytest

from rillchat.client import AsyncClient, Client, Delta, Finish, Reasoning, ReplyStatus, Start
from tests.client.test_client import random_cuts
from tests.fakes.openai_server import Scenario, expected_reasoning, expected_text
from tests.netproxy import BreakingProxy


@pytest.fixture
def server(server_with_fake):
    return server_with_fake(event_log_ttl_seconds=60)


def test_sync_stream_hands_out_reasoning_then_text(server, fake_openai):
    fake_openai.scenario = Scenario(tokens=6, reasoning=9)
    with Client(server) as client, client.stream("think", model="fake-chat", reasoning_effort="low") as reply:
        events = list(reply)
        assert reply.reasoning == expected_reasoning(fake_openai.scenario, "chat")
        assert reply.text_so_far == expected_text(fake_openai.scenario)
    kinds = [type(e) for e in events]
    assert kinds[0] is Start and kinds[-1] is Finish
    first_delta = kinds.index(Delta)
    assert set(kinds[1:first_delta]) == {Reasoning}
    assert reply.reasoning_seconds is not None and reply.reasoning_seconds >= 0
    assert reply.usage is not None and reply.usage.reasoning_tokens == 9
    assert "reasoning_effort" not in fake_openai.requests[-1].json, "fake-chat takes no effort: not sent"


async def test_async_chat_result_has_the_reasoning(server, fake_openai):
    fake_openai.scenario = Scenario(tokens=3, reasoning=4)
    async with AsyncClient(server) as client:
        result = await client.chat("think", model="fake-chat")
        assert result.reasoning == expected_reasoning(fake_openai.scenario, "chat")
        assert result.text == expected_text(fake_openai.scenario)
        assert result.reasoning_seconds is not None
        assert result.usage is not None and result.usage.reasoning_tokens == 4


def test_resume_across_cuts_in_the_middle_of_the_reasoning(server, fake_openai):
    # Cuts land past the response headers (about 1.2 KB with the security headers) and inside the thoughts.
    fake_openai.scenario = Scenario(tokens=20, reasoning=120, rate=2000)
    with BreakingProxy(server, random_cuts(5, 1500, 2600)) as proxy, Client(proxy.url, max_resume_attempts=8) as client:
        for _ in range(3):
            with client.stream("think hard", model="fake-chat") as reply:
                numbered = list(reply.numbered())
            assert [seq for seq, _ in numbered] == list(range(1, len(numbered) + 1))
            assert reply.reasoning == expected_reasoning(fake_openai.scenario, "chat")
            assert reply.text_so_far == expected_text(fake_openai.scenario)
            assert reply.status is ReplyStatus.COMPLETED
            assert reply.resumes >= 1
    assert fake_openai.stats.requests_total == 3


def test_models_carry_capabilities_and_messages_their_reasoning(server, fake_openai):
    fake_openai.scenario = Scenario(tokens=2, reasoning=3)
    with Client(server) as client:
        models = {m.id: m for m in client.models()}
        assert models["fake-chat"].available and models["fake-chat"].reasoning is None
        conversation = client.conversations.create()
        client.chat("think", model="fake-chat", conversation_id=conversation.id)
        models = {m.id: m for m in client.models()}
        assert models["fake-chat"].reasoning is True, "it reasoned: now known to"
        stored = client.conversations.get(conversation.id).messages
        assert stored is not None
        assert stored[-1].reasoning == "think0 think1 think2 "
        assert stored[-1].reasoning_seconds is not None
        assert stored[-1].usage is not None and stored[-1].usage.reasoning_tokens == 3


def test_history_turns_can_carry_reasoning_and_it_stays_out_upstream_by_default(server, fake_openai):
    fake_openai.scenario = Scenario(tokens=1)
    history = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "reasoning": "hmm"}]
    with Client(server) as client:
        client.chat("next", model="fake-chat", messages=history)
    sent = fake_openai.requests[-1].json["messages"]
    assert {"role": "assistant", "content": "a"} in sent and "hmm" not in repr(sent)
