"""A finished reply stays readable for the event-log TTL, and keeps only what a reader needs: thousands are
held at a time under load, and each object they keep is memory and work for the cyclic collector."""

from __future__ import annotations

import weakref

import httpx

from rillchat.api.app import create_app
from rillchat.api.threaded import serve_in_thread
from rillchat.streams.finished import FinishedReply
from rillchat.streams.generation import Generation
from tests.conftest import fake_upstreams
from tests.fakes.openai_server import Scenario, expected_text
from tests.helpers import sse_events, text_of, wait_until


def test_a_finished_reply_lets_go_of_its_generation_and_still_resumes(fake_openai, make_settings):
    fake_openai.scenario = Scenario(tokens=20)
    app = create_app(make_settings(upstreams=fake_upstreams(fake_openai)))
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=30) as client:
        hub = app.state.services.hub
        generations: list[weakref.ref[Generation]] = []
        hub.observers.append(lambda generation: generations.append(weakref.ref(generation)))

        live = sse_events(client, "POST", "/api/chat/stream", json={"userInput": "hi", "model": "fake-responses"})
        reply_id = live[0].data["replyId"]
        wait_until(lambda: isinstance(hub.get(reply_id), FinishedReply), what="the hub holds the finished reply")
        # Freed by reference counting as soon as the reply ended: no cycle waits for the collector.
        wait_until(lambda: generations[0]() is None, what="the generation is freed")

        for after in (0, 1, 7, len(live)):
            resumed = sse_events(client, "GET", f"/api/streams/{reply_id}", headers={"Last-Event-ID": str(after)})
            assert [(e.id, e.event, e.data) for e in resumed] == [(e.id, e.event, e.data) for e in live[after:]]
        assert text_of(live) == expected_text(fake_openai.scenario)
        whole = client.get(f"/api/streams/{reply_id}").text
        assert "tok19" in whole
