"""Fuzzing: schemathesis drives every operation of our OpenAPI schema; hypothesis throws arbitrary JSON
and malformed bodies at the write endpoints. Whatever comes in, never a 5xx, always a JSON error."""

from __future__ import annotations

import json

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fakes.openai_server import Scenario

FUZZ_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.fixture
def fuzz_server(server_with_fake, fake_openai):
    fake_openai.scenario = Scenario(tokens=3)
    return server_with_fake(
        default_model="fake-chat",
        max_output_tokens_limit=64,
        rate_limit_per_minute=0,
        max_body_bytes=50_000,
    )


def test_no_operation_answers_a_server_error(fuzz_server):
    """Every operation in /openapi.json, with schemathesis-generated requests (valid and near-valid)."""
    schema = schemathesis.openapi.from_url(f"{fuzz_server}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 10
    cases = 0
    for operation in operations:

        @FUZZ_SETTINGS
        @given(case=operation.as_strategy())
        def check(case):
            nonlocal cases
            cases += 1
            response = case.call(timeout=30)
            assert response.status_code < 500, (case.method, case.path, response.text[:300])
            if response.status_code >= 400:
                assert set(response.json()) == {"error"}, response.text[:300]

        check()
    assert cases >= 10 * len(operations) // 2


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30,
)
chat_like = st.fixed_dictionaries(
    {},
    optional={
        "userInput": json_values | st.text(max_size=200),
        "messages": json_values | st.lists(st.fixed_dictionaries({"role": json_values, "content": json_values})),
        "instructions": json_values,
        "model": json_values,
        "temperature": json_values | st.floats(),
        "maxOutputTokens": json_values,
        "conversationId": json_values,
        "clientRequestId": json_values,
    },
)


@pytest.mark.parametrize("path", ["/api/chat/stream", "/api/chat", "/api/conversations"])
def test_arbitrary_json_bodies_get_a_4xx_or_a_reply_never_a_5xx(fuzz_server, path):
    with httpx.Client(timeout=30) as client:

        @FUZZ_SETTINGS
        @given(body=chat_like | json_values)
        def check(body):
            response = client.post(
                f"{fuzz_server}{path}", content=json.dumps(body).encode(), headers={"content-type": "application/json"}
            )
            assert response.status_code < 500, (body, response.text[:300])
            if response.status_code >= 400:
                assert response.json()["error"]["message"]

        check()


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 100_000,
        b'{"userInput": "' + b"\xff\xfe" * 100 + b'"}',
        b'{"userInput": "x", "temperature": 1e999}',
        b'{"userInput": "x", "messages": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b"\x00\x01\x02",
        b"",
        b'{"userInput": "x"' + b" " * 60_000 + b"}",
    ],
    ids=["deep-nesting", "bad-utf8", "huge-float", "nested-messages", "binary", "empty", "oversized"],
)
def test_malformed_and_oversized_bodies_are_clean_4xx(fuzz_server, raw):
    with httpx.Client(timeout=30) as client:
        response = client.post(
            f"{fuzz_server}/api/chat/stream", content=raw, headers={"content-type": "application/json"}
        )
    assert 400 <= response.status_code < 500, response.text[:300]
    assert response.json()["error"]["code"]
