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
    # 4: who may apply. The files each posted patch touches (from its diffstat and
    # "diff --git" lines), one row per patch, paths separated by newlines, read once
    # from the raw mail, to find the MAINTAINERS sections of every series. And, for
    # lists without a MAINTAINERS file, the events the list's appliers are learned
    # from (b4 "applied" replies with commit lists, merged pull requests), scanned
    # incrementally: `applier_scan` holds the last message id looked at.
    """
    CREATE TABLE patch_files (
        message_pk INTEGER PRIMARY KEY REFERENCES messages(id),
        paths TEXT NOT NULL
    );
    CREATE TABLE applier_events (
        list_id INTEGER NOT NULL REFERENCES lists(id),
        message_pk INTEGER NOT NULL REFERENCES messages(id),
        kind TEXT NOT NULL,
        email TEXT NOT NULL,
        thread TEXT NOT NULL,
        date_utc INTEGER NOT NULL,
        other TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (message_pk, kind, email)
    );
    CREATE INDEX applier_events_by_list ON applier_events(list_id, date_utc);
    CREATE TABLE applier_scan (
        list_id INTEGER PRIMARY KEY REFERENCES lists(id),
        last_pk INTEGER NOT NULL
    );
    """,
    # 5: maintainers' git trees, to confirm that a posted patch was merged. A tree is a
    # location and a branch ('' for the remote's HEAD) with the tip its commits were
    # indexed up to; its commits (author email lowercased, subject with runs of spaces
    # collapsed, `git patch-id --stable`, '' for a commit without a diff); the
    # Message-IDs their Link: trailers name; the patch-ids of posted mails, with a hash
    # of the diff each was computed from ('' when the mail has none); and each patch's
    # match in each tree ('' commit: not found at the tree's current tip).
    """
    CREATE TABLE trees (
        id INTEGER PRIMARY KEY,
        location TEXT NOT NULL,
        branch TEXT NOT NULL,
        tip TEXT NOT NULL DEFAULT '',
        UNIQUE (location, branch)
    );
    CREATE TABLE tree_commits (
        tree_id INTEGER NOT NULL REFERENCES trees(id),
        sha TEXT NOT NULL,
        author_email TEXT NOT NULL,
        author_name TEXT NOT NULL,
        subject TEXT NOT NULL,
        patch_id TEXT NOT NULL,
        commit_utc INTEGER NOT NULL,
        PRIMARY KEY (tree_id, sha)
    );
    CREATE INDEX tree_commits_by_patch_id ON tree_commits(tree_id, patch_id);
    CREATE INDEX tree_commits_by_subject ON tree_commits(tree_id, subject);
    CREATE TABLE tree_links (
        tree_id INTEGER NOT NULL REFERENCES trees(id),
        message_id TEXT NOT NULL,
        sha TEXT NOT NULL,
        PRIMARY KEY (tree_id, message_id, sha)
    ) WITHOUT ROWID;
    CREATE TABLE mail_patch_ids (
        message_id TEXT PRIMARY KEY,
        diff_hash TEXT NOT NULL,
        patch_id TEXT NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE tree_matches (
        tree_id INTEGER NOT NULL REFERENCES trees(id),
        message_id TEXT NOT NULL,
        sha TEXT NOT NULL,
        how TEXT NOT NULL,
        PRIMARY KEY (tree_id, message_id)
    ) WITHOUT ROWID;
    """,
    # 6: b4 thank-you mails count by their commit list whatever is written above it
    # ("Provisionally applied..."): the appliers' events are scanned again with that rule.
    """
    DELETE FROM applier_events;
    DELETE FROM applier_scan;
    """,
    # 7: backfills through the providers' batch APIs: each answer kept by the request it
    # answers (so a resumed run replays every thread's conversation and pays nothing
    # twice), and the batches submitted and not yet collected.
    """
    CREATE TABLE llm_responses (
        key TEXT PRIMARY KEY,
        model TEXT NOT NULL,
        created_utc INTEGER NOT NULL,
        text TEXT NOT NULL,
        input_tokens INTEGER NOT NULL,
        output_tokens INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE llm_batches (
        backend TEXT NOT NULL,
        batch_id TEXT NOT NULL,
        list_id INTEGER NOT NULL REFERENCES lists(id),
        created_utc INTEGER NOT NULL,
        request_keys TEXT NOT NULL,
        collected_utc INTEGER,
        PRIMARY KEY (backend, batch_id)
    );
    """,
    # 8: an "applied" reply naming the branch counts as an applier's event too ("Applied
    # to target-arm.next, thanks"), not only b4's commit list: scanned again.
    """
    DELETE FROM applier_events;
    DELETE FROM applier_scan;
    """,
    # 9: the parse of each posting's subject ("[PATCH v3 2/7] title": flags, version,
    # counter, total, title, extra prefixes), kept at ingest so a report does not parse
    # the subject of every posting of the list again; `rules` is the parser's
    # SUBJECT_RULES it was made under (an older one is parsed again); `subject` holds the
    # cleaned subject only where cleaning changed it. Filled for old mail by the next
    # report.
    """
    CREATE TABLE subject_parses (
        message_pk INTEGER PRIMARY KEY REFERENCES messages(id),
        rules INTEGER NOT NULL,
        subject TEXT,
        title TEXT NOT NULL,
        flags INTEGER NOT NULL,
        version INTEGER NOT NULL,
        counter INTEGER,
        total INTEGER,
        extra TEXT NOT NULL
    );
    """,
    # 10: threads kept as mail arrives (threading/incremental.py): every Message-ID a
    # list's mail names (its own, In-Reply-To, References: ghosts too) with the thread it
    # is in, so new mail joins or merges threads through indexed lookups instead of a
    # re-thread of the whole list; `thread_progress` holds the store id up to which mail
    # is threaded (none yet: the next sync threads the list's mail from its first).
    """
    CREATE TABLE thread_keys (
        list_id INTEGER NOT NULL REFERENCES lists(id),
        message_id TEXT NOT NULL,
        thread_id INTEGER NOT NULL,
        PRIMARY KEY (list_id, message_id)
    ) WITHOUT ROWID;
    CREATE INDEX thread_keys_by_thread ON thread_keys(list_id, thread_id);
    CREATE TABLE thread_progress (
        list_id INTEGER PRIMARY KEY REFERENCES lists(id),
        threaded_pk INTEGER NOT NULL
    );
    """,
    # 11: the posting index (store/postings.py): a report looks up the postings it needs
    # (by normalized title, author, thread, Message-ID in any case) instead of reading
    # every posting of the list. `norm_title` and `lower_id` join each subject parse;
    # `pull_shortlogs` holds the commit titles each pull request's shortlog lists;
    # `posting_index` stamps, per list, the rules the index was built under and the
    # store id up to which it is complete (a report or sync brings it up to date).
    """
    ALTER TABLE subject_parses ADD COLUMN norm_title TEXT;
    ALTER TABLE subject_parses ADD COLUMN lower_id TEXT;
    CREATE INDEX subject_parses_by_title ON subject_parses(norm_title);
    CREATE INDEX subject_parses_by_lower_id ON subject_parses(lower_id);
    CREATE TABLE pull_shortlogs (
        message_pk INTEGER NOT NULL REFERENCES messages(id),
        seq INTEGER NOT NULL,
        title TEXT NOT NULL,
        PRIMARY KEY (message_pk, seq)
    ) WITHOUT ROWID;
    CREATE INDEX pull_shortlogs_by_title ON pull_shortlogs(title);
    CREATE TABLE posting_index (
        list_id INTEGER PRIMARY KEY REFERENCES lists(id),
        rules INTEGER NOT NULL,
        indexed_pk INTEGER NOT NULL
    );
    """,
    # 12: every move of a stored message to another thread (a merge when new mail links
    # two threads), numbered: a site built up to move N asks for the moves after it
    # instead of keeping the thread of every mail of the list (site/build.py).
    """
    CREATE TABLE thread_moves (
        seq INTEGER PRIMARY KEY,
        list_id INTEGER NOT NULL REFERENCES lists(id),
        message_pk INTEGER NOT NULL REFERENCES messages(id),
        old_thread_id INTEGER NOT NULL,
        date_utc INTEGER NOT NULL
    );
    CREATE INDEX thread_moves_by_list ON thread_moves(list_id, seq);
    """,
    # 13: an applied phrase inside a sentence ("I've fixed up the nits as I applied this
    # series to target-arm.next") is an applier's event too: scanned again.
    """
    DELETE FROM applier_events;
    DELETE FROM applier_scan;
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)
