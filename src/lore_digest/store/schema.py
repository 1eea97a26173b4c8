"""Versioned schema migrations: each entry upgrades the store by one version, in order."""

from __future__ import annotations

# Never edit a migration that has shipped: append a new one instead.
MIGRATIONS: tuple[str, ...] = (
    # 1: lists, per-epoch progress, messages (indexed fields), raw mail (zstd), ingest log.
    """
    CREATE TABLE lists (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        url_base TEXT NOT NULL,
        source TEXT NOT NULL DEFAULT ''
    );
    CREATE TABLE epochs (
        list_id INTEGER NOT NULL REFERENCES lists(id),
        repo TEXT NOT NULL,
        last_commit TEXT NOT NULL,
        PRIMARY KEY (list_id, repo)
    );
    CREATE TABLE messages (
        id INTEGER PRIMARY KEY,
        list_id INTEGER NOT NULL REFERENCES lists(id),
        message_id TEXT NOT NULL,
        date_utc INTEGER NOT NULL,
        date_offset INTEGER,
        date_source TEXT NOT NULL,
        from_name TEXT NOT NULL,
        from_email TEXT NOT NULL,
        subject TEXT NOT NULL,
        in_reply_to TEXT,
        refs TEXT NOT NULL DEFAULT '',
        thread_id INTEGER,
        source_ref TEXT NOT NULL,
        repairs TEXT NOT NULL DEFAULT '',
        UNIQUE (list_id, message_id)
    );
    CREATE INDEX messages_by_date ON messages(list_id, date_utc);
    CREATE INDEX messages_by_thread ON messages(list_id, thread_id);
    CREATE INDEX messages_by_author ON messages(list_id, from_email, date_utc);
    CREATE TABLE raw_messages (
        id INTEGER PRIMARY KEY REFERENCES messages(id),
        data BLOB NOT NULL
    );
    CREATE TABLE ingest_log (
        id INTEGER PRIMARY KEY,
        list_id INTEGER NOT NULL REFERENCES lists(id),
        kind TEXT NOT NULL,
        message_id TEXT,
        source_ref TEXT NOT NULL,
        reason TEXT NOT NULL,
        raw BLOB,
        UNIQUE (list_id, source_ref, kind)
    );
    """,
    # 2: LLM summary cache (per thread, keyed by content) and the summaries of past reports
    # (the "memory" the next week's prompt refines instead of re-reading old mail).
    """
    CREATE TABLE llm_cache (
        key TEXT PRIMARY KEY,
        model TEXT NOT NULL,
        created_utc INTEGER NOT NULL,
        summary_json TEXT NOT NULL
    );
    CREATE TABLE report_summaries (
        list_id INTEGER NOT NULL REFERENCES lists(id),
        thread_root TEXT NOT NULL,
        label TEXT NOT NULL,
        lang TEXT NOT NULL,
        end_utc INTEGER NOT NULL,
        summary_json TEXT NOT NULL,
        PRIMARY KEY (list_id, thread_root, label, lang)
    );
    CREATE INDEX report_summaries_by_end ON report_summaries(list_id, thread_root, lang, end_utc);
    """,
    # 3: lore-over-HTTP progress in a table of its own (it used to be "lore:" and
    # "lore-threads:" rows of `epochs`, whose columns mean a git commit): the
    # Received-time range already fetched, as Unix times, and the store id up to which
    # threads were completed. The old rows are converted and removed.
    """
    CREATE TABLE lore_progress (
        list_id INTEGER NOT NULL REFERENCES lists(id),
        base TEXT NOT NULL,
        covered_start INTEGER,
        covered_end INTEGER,
        threads_done_pk INTEGER,
        PRIMARY KEY (list_id, base)
    );
    INSERT INTO lore_progress(list_id, base, covered_start, covered_end)
        SELECT list_id, substr(repo, 6),
               CAST(strftime('%s', substr(last_commit, 1, 19)) AS INTEGER),
               CAST(strftime('%s', substr(last_commit, instr(last_commit, '..') + 2, 19)) AS INTEGER)
        FROM epochs WHERE repo LIKE 'lore:%' AND instr(last_commit, '..') > 0;
    INSERT INTO lore_progress(list_id, base, threads_done_pk)
        SELECT list_id, substr(repo, 14), CAST(last_commit AS INTEGER)
        FROM epochs WHERE repo LIKE 'lore-threads:%' AND last_commit GLOB '[0-9]*'
        ON CONFLICT(list_id, base) DO UPDATE SET threads_done_pk = excluded.threads_done_pk;
    DELETE FROM epochs WHERE repo LIKE 'lore:%' OR repo LIKE 'lore-threads:%';
    """,
    # 4: the files each posted patch touches (from its diffstat and "diff --git" lines),
    # one row per patch, paths separated by newlines: read once from the raw mail, then
    # used to find the MAINTAINERS sections (who may apply) of every series.
    """
    CREATE TABLE patch_files (
        message_pk INTEGER PRIMARY KEY REFERENCES messages(id),
        paths TEXT NOT NULL
    );
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
