"""Full-text search over conversation titles and message text, in the database itself.

SQLite uses the FTS5 tables and triggers of migration ``0016_search``; PostgreSQL a stored generated
``messages.search_vector`` (``0016_search_vector``) and a GIN index on ``to_tsvector('simple', title)``.
Both index every write that stores text (triggers and generated columns see the checkpointer's UPDATEs and
an import's INSERTs alike), so nothing here has to be called on write.

Deliberate choices:

1. Words are matched as typed, without stemming, the same on both databases ('simple' config, unicode61
   tokenizer); the last word also matches as a prefix, so results come while a word is being typed.
2. One result per conversation, ranked by its best message plus a title match (counted double); the
   snippet is that best message's, computed only for the page returned (snippets re-read the text).
3. Pages are offsets: a ranking has no stable key to continue from.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["SearchHit", "SnippetPart", "ensure_search_index", "search", "search_terms"]

logger = logging.getLogger("rillchat.search")

_WORD = re.compile(r"[^\W_]+")
_MAX_TERMS = 16
_MAX_TERM_CHARS = 64
_HIT_START, _HIT_END = "\x02", "\x03"
_MARKERS = re.compile("([\x02\x03])")

SnippetPart = tuple[str, bool]
"""A run of text and whether it matched the query."""


@dataclass(frozen=True, slots=True)
class SearchHit:
    conversation_id: str
    title: str
    created_at: datetime
    updated_at: datetime
    title_parts: list[SnippetPart] | None
    message_id: str | None
    role: str | None
    snippet: list[SnippetPart] | None


def search_terms(query: str) -> list[str]:
    """The words of what the user typed, lower-cased; punctuation and query syntax are not words."""
    return [w[:_MAX_TERM_CHARS] for w in _WORD.findall(query.lower())][:_MAX_TERMS]


def _fts5_match(terms: list[str]) -> str:
    quoted = [f'"{t}"' for t in terms]
    quoted[-1] += "*"
    return " ".join(quoted)


def _tsquery(terms: list[str]) -> str:
    return " & ".join([*terms[:-1], f"{terms[-1]}:*"])


def _parts(marked: str | None) -> list[SnippetPart] | None:
    if not marked:
        return None
    parts: list[SnippetPart] = []
    hit = False
    for piece in _MARKERS.split(marked):
        if piece == _HIT_START:
            hit = True
        elif piece == _HIT_END:
            hit = False
        elif piece:
            parts.append((piece, hit))
    return parts


def _owner_clause(owner: str | None) -> str:
    return "c.owner IS NULL" if owner is None else "c.owner = :owner"


_SQLITE_PAGE = """
WITH message_hits AS (
    SELECT m.conversation_id AS cid, m.id AS mid, -bm25(messages_fts) AS score
    FROM messages_fts
    JOIN messages m ON m.rowid = messages_fts.rowid
    JOIN conversations c ON c.id = m.conversation_id
    WHERE messages_fts MATCH :match AND {owner}
),
title_hits AS (
    SELECT c.id AS cid, -2.0 * bm25(conversations_fts) AS score
    FROM conversations_fts
    JOIN conversations c ON c.rowid = conversations_fts.rowid
    WHERE conversations_fts MATCH :match AND {owner}
),
{common}
"""

_POSTGRES_PAGE = """
WITH q AS (SELECT to_tsquery('simple', :tsquery) AS query),
message_hits AS (
    SELECT m.conversation_id AS cid, m.id AS mid, ts_rank(m.search_vector, q.query) AS score
    FROM messages m
    JOIN conversations c ON c.id = m.conversation_id
    CROSS JOIN q
    WHERE m.search_vector @@ q.query AND {owner}
),
title_hits AS (
    SELECT c.id AS cid, 2.0 * ts_rank(to_tsvector('simple', c.title), q.query) AS score
    FROM conversations c
    CROSS JOIN q
    WHERE to_tsvector('simple', c.title) @@ q.query AND {owner}
),
{common}
"""

_COMMON = """
scored AS (
    SELECT cid, mid, score, 0 AS is_title FROM message_hits
    UNION ALL
    SELECT cid, NULL, score, 1 FROM title_hits
),
ranked AS (
    SELECT cid, mid, score, is_title,
           ROW_NUMBER() OVER (PARTITION BY cid, is_title ORDER BY score DESC, mid) AS n
    FROM scored
),
best AS (
    SELECT cid, MAX(CASE WHEN is_title = 0 THEN mid END) AS mid, MAX(is_title) AS title_match, SUM(score) AS score
    FROM ranked WHERE n = 1 GROUP BY cid
)
SELECT c.id, c.title, c.created_at, c.updated_at, b.mid, b.title_match, b.score
FROM best b
JOIN conversations c ON c.id = b.cid
ORDER BY b.score DESC, c.updated_at DESC, c.id DESC
LIMIT :limit OFFSET :offset
"""

_SQLITE_SNIPPETS = """
SELECT m.id, m.role, snippet(messages_fts, 0, char(2), char(3), '…', 24)
FROM messages_fts JOIN messages m ON m.rowid = messages_fts.rowid
WHERE messages_fts MATCH :match AND m.id IN :ids
"""

_SQLITE_TITLES = """
SELECT c.id, highlight(conversations_fts, 0, char(2), char(3))
FROM conversations_fts JOIN conversations c ON c.rowid = conversations_fts.rowid
WHERE conversations_fts MATCH :match AND c.id IN :ids
"""

_HEADLINE = (
    "StartSel=\x02, StopSel=\x03, MaxWords=24, MinWords=10, ShortWord=2, MaxFragments=2, FragmentDelimiter=' … '"
)

_POSTGRES_SNIPPETS = """
SELECT id, role, ts_headline('simple', content, to_tsquery('simple', :tsquery), :options)
FROM messages WHERE id IN :ids
"""

_POSTGRES_TITLES = """
SELECT id, ts_headline('simple', title, to_tsquery('simple', :tsquery), :options)
FROM conversations WHERE id IN :ids
"""


def _parse_time(value: object) -> datetime:
    """Raw SQL gives SQLite's timestamps back as text; PostgreSQL's as aware datetimes."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


async def search(
    session: AsyncSession, owner: str | None, terms: list[str], *, limit: int, offset: int
) -> list[SearchHit]:
    """One page of the owner's conversations that match every term, best first."""
    sqlite = session.get_bind().dialect.name == "sqlite"
    params: dict[str, object] = {"owner": owner, "limit": limit, "offset": offset}
    if sqlite:
        params["match"] = _fts5_match(terms)
        page_sql = _SQLITE_PAGE.format(owner=_owner_clause(owner), common=_COMMON)
    else:
        params["tsquery"] = _tsquery(terms)
        page_sql = _POSTGRES_PAGE.format(owner=_owner_clause(owner), common=_COMMON)
    if owner is None:
        del params["owner"]
    rows = (await session.execute(text(page_sql), params)).all()
    if not rows:
        return []
    query_params = {k: v for k, v in params.items() if k in ("match", "tsquery")}
    message_ids = [row.mid for row in rows if row.mid is not None]
    snippets: dict[str, tuple[str, str]] = {}
    if message_ids:
        sql = _SQLITE_SNIPPETS if sqlite else _POSTGRES_SNIPPETS
        extra = {} if sqlite else {"options": _HEADLINE}
        statement = text(sql).bindparams(bindparam("ids", expanding=True))
        for mid, role, marked in await session.execute(statement, {**query_params, **extra, "ids": message_ids}):
            snippets[mid] = (role, marked)
    title_ids = [row.id for row in rows if row.title_match]
    titles: dict[str, str] = {}
    if title_ids:
        statement = text(_SQLITE_TITLES if sqlite else _POSTGRES_TITLES).bindparams(bindparam("ids", expanding=True))
        extra = {} if sqlite else {"options": "StartSel=\x02, StopSel=\x03, HighlightAll=true"}
        for cid, marked in await session.execute(statement, {**query_params, **extra, "ids": title_ids}):
            titles[cid] = marked
    hits = []
    for row in rows:
        role, marked = snippets.get(row.mid, (None, None)) if row.mid else (None, None)
        hits.append(
            SearchHit(
                conversation_id=row.id,
                title=row.title,
                created_at=_parse_time(row.created_at),
                updated_at=_parse_time(row.updated_at),
                title_parts=_parts(titles.get(row.id)),
                message_id=row.mid,
                role=role,
                snippet=_parts(marked),
            )
        )
    return hits


# Repair --------------------------------------------------------------------------------------------

_SQLITE_TRIGGERS = {
    "messages_fts_insert": "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_fts(rowid, content) VALUES (new.rowid, new.content); END",
    "messages_fts_delete": "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.rowid, old.content); END",
    "messages_fts_update": "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN "
    "INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.rowid, old.content); "
    "INSERT INTO messages_fts(rowid, content) VALUES (new.rowid, new.content); END",
    "conversations_fts_insert": "CREATE TRIGGER conversations_fts_insert AFTER INSERT ON conversations BEGIN "
    "INSERT INTO conversations_fts(rowid, title) VALUES (new.rowid, new.title); END",
    "conversations_fts_delete": "CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN "
    "INSERT INTO conversations_fts(conversations_fts, rowid, title) VALUES ('delete', old.rowid, old.title); END",
    "conversations_fts_update": "CREATE TRIGGER conversations_fts_update AFTER UPDATE OF title ON conversations "
    "BEGIN INSERT INTO conversations_fts(conversations_fts, rowid, title) VALUES ('delete', old.rowid, old.title); "
    "INSERT INTO conversations_fts(rowid, title) VALUES (new.rowid, new.title); END",
}


def ensure_search_index(connection: Connection) -> bool:
    """Put back SQLite's search triggers if a migration rebuilt a table (and so dropped them); True if it did.

    SQLite's batch mode rebuilds a table by copying it, which drops its triggers and renumbers its rows, so
    the index is rebuilt as well. PostgreSQL alters tables in place: its indexes need no repair.
    """
    if connection.dialect.name != "sqlite":
        return False
    present = set(
        connection.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger' AND name LIKE '%_fts_%'"))
        .scalars()
        .all()
    )
    missing = [name for name in _SQLITE_TRIGGERS if name not in present]
    if not missing:
        return False
    logger.warning("search triggers %s were missing (a table was rebuilt): recreating and reindexing", missing)
    for name in missing:
        connection.execute(text(_SQLITE_TRIGGERS[name]))
    connection.execute(text("INSERT INTO messages_fts(messages_fts) VALUES ('rebuild')"))
    connection.execute(text("INSERT INTO conversations_fts(conversations_fts) VALUES ('rebuild')"))
    return True
