"""The repository on a real SQLite file and a real PostgreSQL (when RILLCHAT_TEST_POSTGRES_URL is set)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from rillchat.errors import Conflict, NotFound
from rillchat.storage import Database, Repository
from rillchat.storage.repository import Checkpoint


@pytest.fixture
async def repo(database_url) -> AsyncIterator[Repository]:
    database = Database(database_url)
    await database.migrate()
    await database.migrate()  # migrating twice is a no-op: start-up runs it every time
    try:
        yield Repository(database.sessions)
    finally:
        await database.aclose()


async def _turn(repo: Repository, conversation_id: str, text: str, **extra):
    args = {
        "conversation_id": conversation_id,
        "owner": None,
        "user_text": text,
        "model": "m",
        "reply_id": f"rep_{text}",
        "client_request_id": None,
        "replace_from_message_id": None,
    }
    args.update(extra)
    return await repo.begin_turn(**args)


async def _finish(repo: Repository, message_id: str, content: str, status: str = "completed") -> None:
    await repo.finish_reply(
        message_id,
        content=content,
        status=status,
        finish_reason="stop",
        input_tokens=3,
        output_tokens=4,
        error_code=None,
        error_message=None,
    )


async def test_a_turn_writes_the_user_message_and_a_streaming_placeholder_then_the_outcome(repo):
    conversation = await repo.create_conversation(None)
    turn = await _turn(repo, conversation.id, "first question")
    stored = await repo.get_conversation(conversation.id, None)
    assert [(m.role, m.status) for m in stored.messages] == [("user", "completed"), ("assistant", "streaming")]
    assert stored.title == "first question"
    await _finish(repo, turn.assistant_message_id, "an answer")
    stored = await repo.get_conversation(conversation.id, None)
    assistant = stored.messages[1]
    assert (assistant.content, assistant.status, assistant.input_tokens, assistant.output_tokens) == (
        "an answer",
        "completed",
        3,
        4,
    )
    second = await _turn(repo, conversation.id, "second")
    assert [(t.role, t.content) for t in second.history] == [("user", "first question"), ("assistant", "an answer")]
    assert (await repo.get_conversation(conversation.id, None)).title == "first question"


async def test_a_new_turn_while_a_reply_streams_is_a_conflict(repo):
    conversation = await repo.create_conversation(None)
    await _turn(repo, conversation.id, "q1")
    with pytest.raises(Conflict):
        await _turn(repo, conversation.id, "q2")


async def test_a_reused_client_request_id_is_refused_and_found(repo):
    a = await repo.create_conversation(None)
    b = await repo.create_conversation(None)
    turn = await _turn(repo, a.id, "q", client_request_id="req-1")
    await _finish(repo, turn.assistant_message_id, "x")
    with pytest.raises(Conflict) as caught:
        await _turn(repo, b.id, "q", client_request_id="req-1", reply_id="rep_other")
    assert caught.value.code == "duplicate_request"
    found = await repo.find_reply(client_request_id="req-1")
    assert found is not None and found.id == turn.assistant_message_id
    assert len((await repo.get_conversation(b.id, None)).messages) == 0, "the refused turn left nothing behind"


async def test_request_ids_are_per_owner(repo):
    """Issue 11: bob's use of an id neither blocks alice's nor is found by her; keys-off ids stay unique."""
    mine = await repo.create_conversation("alice")
    theirs = await repo.create_conversation("bob")
    bob = await _turn(repo, theirs.id, "q", owner="bob", client_request_id="shared", reply_id="rep_bob")
    assert await repo.find_reply(client_request_id="shared", owner="alice") is None
    alice = await _turn(repo, mine.id, "q", owner="alice", client_request_id="shared", reply_id="rep_alice")
    found_alice = await repo.find_reply(client_request_id="shared", owner="alice")
    found_bob = await repo.find_reply(client_request_id="shared", owner="bob")
    assert found_alice is not None and found_alice.id == alice.assistant_message_id
    assert found_bob is not None and found_bob.id == bob.assistant_message_id
    await _finish(repo, alice.assistant_message_id, "x")
    other = await repo.create_conversation("alice")
    with pytest.raises(Conflict) as caught:
        await _turn(repo, other.id, "q", owner="alice", client_request_id="shared", reply_id="rep_again")
    assert caught.value.code == "duplicate_request"
    open_a, open_b = await repo.create_conversation(None), await repo.create_conversation(None)
    await _turn(repo, open_a.id, "q", client_request_id="keys-off", reply_id="rep_off")
    with pytest.raises(Conflict):
        await _turn(repo, open_b.id, "q", client_request_id="keys-off", reply_id="rep_off2")


async def test_replace_from_a_user_message_adds_a_version_and_shows_its_branch(repo):
    conversation = await repo.create_conversation(None)
    first = await _turn(repo, conversation.id, "q1")
    await _finish(repo, first.assistant_message_id, "a1")
    second = await _turn(repo, conversation.id, "q2")
    await _finish(repo, second.assistant_message_id, "a2")
    third = await _turn(repo, conversation.id, "q2 edited", replace_from_message_id=second.user_message_id)
    assert [(t.role, t.content) for t in third.history] == [("user", "q1"), ("assistant", "a1")]
    stored = await repo.get_conversation(conversation.id, None)
    assert [m.content for m in stored.messages] == ["q1", "a1", "q2 edited", ""]
    assert stored.messages[2].version_ids == (second.user_message_id, third.user_message_id)
    await _finish(repo, third.assistant_message_id, "a2'")
    with pytest.raises(Conflict):
        await _turn(repo, conversation.id, "x", replace_from_message_id=first.assistant_message_id)


async def test_list_is_newest_first_and_pages_by_cursor(repo):
    ids = [(await repo.create_conversation(None, f"c{i}")).id for i in range(5)]
    page1 = await repo.list_conversations(None, 2)
    assert [c.id for c in page1] == ids[::-1][:2]
    last = page1[-1]
    page2 = await repo.list_conversations(None, 10, (last.updated_at, last.id))
    assert [c.id for c in page2] == ids[::-1][2:]


async def test_rename_delete_and_other_owners_see_nothing(repo):
    conversation = await repo.create_conversation("alice")
    turn = await _turn(repo, conversation.id, "q", owner="alice")
    await _finish(repo, turn.assistant_message_id, "a")
    renamed = await repo.rename_conversation(conversation.id, "alice", "Named")
    assert renamed.title == "Named"
    with pytest.raises(NotFound):
        await repo.get_conversation(conversation.id, "bob")
    assert await repo.list_conversations("bob", 10) == []
    await repo.delete_conversation(conversation.id, "alice")
    with pytest.raises(NotFound):
        await repo.get_conversation(conversation.id, "alice")
    assert await repo.count_messages() == 0


async def test_replies_left_streaming_are_marked_interrupted_with_their_checkpointed_text(repo):
    conversation = await repo.create_conversation(None)
    turn = await _turn(repo, conversation.id, "q")
    assert (await repo.get_conversation(conversation.id, None)).running_reply_id == "rep_q"
    await repo.checkpoint([Checkpoint(turn.assistant_message_id, "rep_q", "partial ans")])
    assert await repo.interrupt_streaming() == 1
    stored = await repo.get_conversation(conversation.id, None)
    assert (stored.messages[1].status, stored.messages[1].content) == ("interrupted", "partial ans")
    assert stored.messages[1].error_code == "server_restarted" and stored.running_reply_id is None
    assert await repo.interrupt_streaming() == 0


async def test_reasoning_is_stored_apart_from_the_content_and_kept_out_of_the_text(repo):
    conversation = await repo.create_conversation(None)
    turn = await _turn(repo, conversation.id, "why?")
    await repo.finish_reply(
        turn.assistant_message_id,
        content="because",
        reasoning="let me think",
        reasoning_seconds=2.5,
        reasoning_tokens=7,
        status="completed",
        finish_reason="stop",
        input_tokens=3,
        output_tokens=9,
        error_code=None,
        error_message=None,
    )
    assistant = (await repo.get_conversation(conversation.id, None)).messages[1]
    assert (assistant.content, assistant.reasoning, assistant.reasoning_seconds, assistant.reasoning_tokens) == (
        "because",
        "let me think",
        2.5,
        7,
    )
    nxt = await _turn(repo, conversation.id, "and?")
    assert nxt.history[1].content == "because"
    assert nxt.history[1].reasoning == "let me think"  # there for an upstream that wants it; providers decide
    await _finish(repo, nxt.assistant_message_id, "so")

    # A reply cut off by a dead replica keeps its thoughts too.
    cut = await _turn(repo, conversation.id, "more", reply_id="rep_cut")
    assert await repo.interrupt_reply("rep_cut", "partial", 4, reasoning="half a thought")
    stored = (await repo.get_conversation(conversation.id, None)).messages[-1]
    assert stored.id == cut.assistant_message_id
    assert (stored.status, stored.content, stored.reasoning) == ("interrupted", "partial", "half a thought")


async def test_one_checkpoint_statement_writes_many_replies_but_never_an_ended_one(repo):
    turns = []
    for i in range(3):
        conversation = await repo.create_conversation(None)
        turns.append((conversation.id, await _turn(repo, conversation.id, f"q{i}")))
    await _finish(repo, turns[0][1].assistant_message_id, "final")
    await repo.checkpoint(
        [Checkpoint(turn.assistant_message_id, f"rep_q{i}", f"part {i}") for i, (_, turn) in enumerate(turns)]
    )
    contents = [(await repo.get_conversation(c, None)).messages[1].content for c, _ in turns]
    assert contents == ["final", "part 1", "part 2"]


async def test_the_tree_migration_backfills_existing_linear_conversations(database_url):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import text

    from rillchat.storage.database import MIGRATIONS

    database = Database(database_url)

    def upgrade(connection, revision: str) -> None:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    try:
        async with database.engine.begin() as connection:
            await connection.run_sync(upgrade, "0001")
            now = datetime(2026, 11, 1, 10, tzinfo=UTC)
            await connection.execute(
                text(
                    "INSERT INTO conversations (id, owner, title, title_is_custom, created_at, updated_at) "
                    "VALUES ('c1', NULL, 'old', false, :now, :now)"
                ),
                {"now": now},
            )
            linear = [
                ("user", "q1", "completed"),
                ("assistant", "a1", "completed"),
                ("user", "q2", "completed"),
                ("assistant", "a2", "streaming"),
            ]
            for position, (role, content, status) in enumerate(linear):
                await connection.execute(
                    text(
                        "INSERT INTO messages (id, conversation_id, position, role, content, status, reply_id, "
                        "created_at, updated_at) VALUES (:id, 'c1', :position, :role, :content, :status, :reply, "
                        ":now, :now)"
                    ),
                    {
                        "id": f"m{position}",
                        "position": position,
                        "role": role,
                        "content": content,
                        "status": status,
                        "reply": f"r{position}",
                        "now": now,
                    },
                )
        await database.migrate()
        repo = Repository(database.sessions)
        stored = await repo.get_conversation("c1", None)
        assert [(m.id, m.parent_id) for m in stored.messages] == [
            ("m0", None),
            ("m1", "m0"),
            ("m2", "m1"),
            ("m3", "m2"),
        ]
        assert stored.running_reply_id == "r3"
        assert await repo.interrupt_streaming() == 1
        turn = await _turn(repo, "c1", "q3")
        assert (turn.history[-1].role, turn.history[-1].content) == ("assistant", "a2")
    finally:
        await database.aclose()
