"""The reply tree of each thread (Thread.reply_tree), as Markdown, text and HTML show it."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from lore_digest.facts.classify import Category
from lore_digest.facts.week import iso_week_window
from lore_digest.model import ReplyNode, Thread, ThreadMessage
from lore_digest.model.thread import MAX_TREE_DEPTH
from lore_digest.report.build import ReportBuilder
from lore_digest.report.markdown import render_markdown
from lore_digest.report.model import Report
from lore_digest.store.db import Store

NOW = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.fixture(scope="module")
def w19(synced_db: object) -> Report:
    with Store.open(synced_db) as store:  # type: ignore[arg-type]
        return ReportBuilder(store, "kvmarm").build(iso_week_window("2022-W19"), lang="en", now=NOW)


def _walk(nodes: tuple[ReplyNode, ...] | list[ReplyNode], depth: int = 0):  # type: ignore[no-untyped-def]
    for node in nodes:
        yield depth, node
        yield from _walk(node.replies, depth + 1)


def test_every_mail_is_once_under_the_mail_it_answers(w19: Report) -> None:
    nested = 0
    for thread in w19.threads:
        placed = list(_walk(thread.reply_tree()))
        assert sorted(n.message.message_id for _, n in placed) == sorted(
            m.message_id for m in thread.messages
        )
        for depth, node in placed:
            if depth < MAX_TREE_DEPTH:  # below it, the rest of a branch is listed flat
                assert all(r.message.parent_id == node.message.message_id for r in node.replies)
            dates = [r.message.date for r in node.replies]
            assert dates == sorted(dates)
        nested = max(nested, *(depth for depth, _ in placed))
    assert nested >= 4  # kvmarm discussions nest deep: the tree is not flat


def test_a_reply_shows_its_first_own_line_a_posting_its_subject(w19: Report) -> None:
    seen = {"posting": 0, "reply": 0, "trailer": 0}
    for thread in w19.threads:
        for m in thread.messages:
            if not m.subject.lower().startswith("re:"):
                assert m.gist == m.subject
                seen["posting"] += 1
                continue
            assert not m.gist.startswith(">") and not re.match(r"(?i)(hi|hello)\b", m.gist)
            assert len(m.gist) <= 100
            seen["reply"] += m.gist != m.subject
            seen["trailer"] += m.gist.startswith(("Reviewed-by:", "Acked-by:", "Tested-by:"))
    assert all(seen.values()), seen


def test_markdown_indents_replies_under_their_parent(w19: Report) -> None:
    text = render_markdown(w19)
    thread = max(w19.threads, key=lambda t: len(t.messages))
    depth_of = {n.message.url: d for d, n in _walk(thread.reply_tree())}
    # Eager Page Splitting v4 is folded under v5: its tree sits one level deeper.
    folded = {t.id for earlier in w19.folded().values() for t in earlier}
    base = 1 if thread.id in folded else 0
    tree_line = re.compile(r"^( *)- (?:\*\(\w+\)\* )?\d\d-\d\d \d\d:\d\d \*\*.*\]\((\S+)\)$")
    checked = 0
    for line in text.splitlines():
        found = tree_line.match(line)
        if found and found.group(2) in depth_of:
            assert len(found.group(1)) == 2 * (base + depth_of[found.group(2)]), line
            checked += 1
    assert checked == len(thread.messages)


def test_ghosts_and_parent_loops_still_place_every_mail_once() -> None:
    start = datetime(2022, 5, 9, tzinfo=UTC)

    def mail(mid: str, parent: str | None, minutes: int) -> ThreadMessage:
        return ThreadMessage(
            mid, start + timedelta(minutes=minutes), "N", "n@x", f"Re: {mid}", True,
            f"https://lore.kernel.org/x/{mid}/", parent,
        )  # fmt: skip

    messages = [
        mail("root", None, 0),
        mail("a", "b", 1),  # a and b answer each other
        mail("b", "a", 2),
        mail("c", "ghost", 3),  # its parent is not in the archive
        mail("d", "root", 4),
        mail("e", "e", 5),  # its own parent
    ]
    thread = Thread("root", "s", "u", "https://lore.kernel.org/x", Category.OTHER, None, messages)
    trees = thread.reply_tree()
    placed = [n.message.message_id for _, n in _walk(trees)]
    assert sorted(placed) == sorted(m.message_id for m in messages)
    assert [t.message.message_id for t in trees][:3] == ["root", "c", "e"]


def test_a_thousand_deep_chain_is_cut_flat_not_a_crash() -> None:
    start = datetime(2022, 5, 9, tzinfo=UTC)
    messages = [
        ThreadMessage(
            f"m{i}", start + timedelta(minutes=i), "N", "n@x", "Re: s", True,
            f"https://lore.kernel.org/x/m{i}/", f"m{i - 1}" if i else None,
        )
        for i in range(3000)
    ]  # fmt: skip
    thread = Thread("m0", "s", "u", "https://lore.kernel.org/x", Category.OTHER, None, messages)
    placed = list(_walk(thread.reply_tree()))
    assert len(placed) == 3000 and max(d for d, _ in placed) == MAX_TREE_DEPTH + 1
    assert [n.message.message_id for _, n in placed] == [f"m{i}" for i in range(3000)]


def test_the_deepest_tree_still_renders_every_mail_in_markdown_and_text() -> None:
    """Markdown parsers stop nesting lists at some depth (markdown-it: 20 tokens, about
    nine list levels): the tree is cut before, so the mail's HTML and text parts keep
    every line."""
    from lore_digest.report.text import markdown_to_text

    start = datetime(2022, 5, 9, tzinfo=UTC)
    messages = [
        ThreadMessage(
            f"m{i}", start + timedelta(minutes=i), "N", "n@x", "Re: s", True,
            f"https://lore.kernel.org/x/m{i}/", f"m{i - 1}" if i else None, gist=f"line {i}",
        )
        for i in range(40)
    ]  # fmt: skip
    thread = Thread("m0", "s", "u", "https://lore.kernel.org/x", Category.OTHER, None, messages)
    markdown = "\n".join(
        "  " * depth + f"- **N**: [{n.message.gist}]({n.message.url})"
        for depth, n in _walk(thread.reply_tree())
    )
    text = markdown_to_text(markdown)
    assert all(f"line {i} [" in text for i in range(40))
