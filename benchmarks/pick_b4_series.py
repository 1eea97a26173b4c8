"""Pick real patch series of the kvmarm corpus for the b4 cross-check test.

    .venv/bin/python benchmarks/pick_b4_series.py [--db STORE] [--corpus ../shared/corpus/kvmarm-0.git]

tests/test_b4_crosscheck.py compares our trailer attribution with b4's on a fixed list
of series (PINNED there), so the test is deterministic and fast. This script is how
that list was made, and can be re-run after the corpus changes: it prints one line per
series (Message-ID of the cover letter or first patch, the revision compared, and why it
was chosen), ready to paste into PINNED.

Each series shape the attribution rules care about gets a category (cover with per-patch
reviews, cover-level acks, Tested-by, trailers naming someone else than the sender,
single patches, carried trailers, replies to replies, a newer revision posted in reply
to the compared one, and two spellings b4 reads differently from us). Within a category candidates are sorted by date and picked at evenly spaced
positions, so the picks spread over the corpus years instead of clustering in one month.

The features are found with deliberately simple means (subjects, In-Reply-To, a few
regexes over the unquoted lines of each body), independent of lore_digest.facts, so that a bug
in the code under test cannot hide the series that would reveal it.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lore_digest.mail.mime import message_text
from lore_digest.mail.subject import LoreSubject, parse_subject
from lore_digest.store.db import Store, StoredMessage

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus" / "kvmarm-0.git"
LIST = "kvmarm"

# A trailer line as a reviewer types it: key, colon, something with an address.
_TRAILER = re.compile(
    r"^\s*(Reviewed|Acked|Tested|Reported|Suggested|Nacked)-by\s*:\s*(.*?<?([\w.+=-]+@[\w-]+(?:\.[\w-]+)+)>?.*)$",
    re.IGNORECASE,
)
_UTILITY = re.compile(r"^\s*(Fixes|Link|Closes)\s*:\s*\S", re.IGNORECASE)
_SPACED_COLON = re.compile(r"^\s*[A-Za-z]+-by\s+:", re.IGNORECASE)
_ANY_TRAILER = re.compile(r"^[A-Za-z][A-Za-z-]*-by:|^(?:Fixes|Link|Closes|Cc):", re.IGNORECASE)
# A diff as b4 spots one (git's header, or a bare "--- a/..." / "+++ b/..." pair).
_DIFF = re.compile(r"^(?:diff --git |--- \S.*\n\+\+\+ )", re.MULTILINE)


@dataclass
class Mail:
    """One message of a thread with what the picker needs to know about it."""

    msg: StoredMessage
    subject: LoreSubject
    # (kind, address) of each trailer line the sender wrote (quotes and diffs excluded)
    trailers: list[tuple[str, str]]
    utility: list[str]
    has_diff: bool
    own_lines: list[str]

    @property
    def is_patch(self) -> bool:
        """A patch or cover letter as sent, not a reply to one."""
        return self.subject.is_patch and not self.subject.is_reply


@dataclass
class Series:
    """One revision of a series inside one thread, and the facts the categories test."""

    thread: list[Mail]
    version: int
    cover: Mail | None
    patches: list[Mail]

    @property
    def head(self) -> Mail:
        """The mail the test exports the thread by: cover letter, else first patch."""
        return self.cover or self.patches[0]

    @property
    def date(self) -> int:
        """When the series was sent (its head mail's Date), for the spread over the years."""
        return self.head.msg.date_utc


def _own_lines(text: str) -> list[str]:
    """The lines a sender wrote: stop at the signature or the patch separator, skip quotes."""
    out = []
    for line in text.split("\n"):
        if line.rstrip() in ("-- ", "--", "---") or _DIFF.match(line):
            break
        if not line.lstrip().startswith(">"):
            out.append(line)
    return out


def _mail(msg: StoredMessage, raw: bytes) -> Mail:
    text = message_text(raw).text
    trailers: list[tuple[str, str]] = []
    utility: list[str] = []
    own = _own_lines(text)
    for line in own:
        if match := _TRAILER.match(line):
            trailers.append((match.group(1).lower(), match.group(3).lower()))
        elif match := _UTILITY.match(line):
            utility.append(match.group(1).lower())
    return Mail(msg, parse_subject(msg.subject), trailers, utility, bool(_DIFF.search(text)), own)


def load_series(store: Store) -> list[Series]:
    """Every (thread, revision) of the list that has at least one patch."""
    info = store.get_list(LIST)
    if info is None:
        sys.exit(f"list {LIST!r} is not in the store")
    by_thread: dict[int, list[StoredMessage]] = defaultdict(list)
    for msg in store.messages_between(info.id, 0, 2**62):
        if msg.thread_id is not None:
            by_thread[msg.thread_id].append(msg)
    found: list[Series] = []
    for messages in by_thread.values():
        subjects = [parse_subject(m.subject) for m in messages]
        if not any(s.is_patch and not s.is_reply for s in subjects):
            continue
        raws = store.raw_many(m.pk for m in messages)
        mails = [_mail(m, raws.get(m.pk, b"")) for m in messages]
        versions = sorted(
            {m.subject.version for m in mails if m.is_patch and not m.subject.is_cover}
        )
        for version in versions:
            cover = next(
                (
                    m
                    for m in mails
                    if m.is_patch and m.subject.is_cover and m.subject.version == version
                ),
                None,
            )
            patches = [
                m
                for m in mails
                if m.is_patch and not m.subject.is_cover and m.subject.version == version
            ]
            if patches:
                found.append(Series(mails, version, cover, patches))
    found.sort(key=lambda s: (s.date, s.head.msg.message_id))
    return found


def _replies(series: Series) -> list[Mail]:
    return [m for m in series.thread if not m.is_patch]


def _by_id(series: Series) -> dict[str, Mail]:
    return {m.msg.message_id: m for m in series.thread}


def _is_clean(series: Series) -> bool:
    """One mail per patch number, every number present, no other revision or stray diff.

    Clean series are where b4 and we must agree exactly; the odd shapes have their own
    categories so their differences are looked at on purpose, not by accident.
    """
    counters = [m.subject.counter or 1 for m in series.patches]
    total = series.patches[0].subject.total or 1
    if sorted(counters) != list(range(1, total + 1)):
        return False
    others = [m for m in series.thread if m.is_patch and m.subject.version != series.version]
    stray = [m for m in series.thread if not m.is_patch and m.has_diff and not m.subject.is_reply]
    return not others and not stray


def _trailer_replies(series: Series, to: Callable[[Mail, Mail], bool]) -> list[Mail]:
    """Replies carrying a person trailer whose direct parent satisfies `to`."""
    by_id = _by_id(series)
    out = []
    for mail in _replies(series):
        parent = by_id.get(mail.msg.in_reply_to or "")
        if mail.trailers and parent is not None and to(mail, parent):
            out.append(mail)
    return out


def _in_series(series: Series) -> Callable[[Mail, Mail], bool]:
    ids = {m.msg.message_id for m in series.patches}
    return lambda _mail, parent: parent.msg.message_id in ids


def _to_cover(series: Series) -> Callable[[Mail, Mail], bool]:
    cover_id = series.cover.msg.message_id if series.cover else None
    return lambda _mail, parent: parent.msg.message_id == cover_id


# -- categories: (name, how many, predicate returning a reason or None) ---------------------


def cat_cover_reviews(s: Series) -> str | None:
    if s.cover is None or not _is_clean(s) or len(s.patches) < 3:
        return None
    givers = _trailer_replies(s, _in_series(s))
    if len({m.msg.in_reply_to for m in givers}) >= 2:
        return f"cover + {len(s.patches)} patches, per-patch trailers in {len(givers)} replies"
    return None


def cat_cover_quiet(s: Series) -> str | None:
    if s.cover is None or not _is_clean(s) or len(s.patches) < 2:
        return None
    if any(m.trailers for m in _replies(s)):
        return None
    carried = sum(1 for m in s.patches if m.trailers)
    return (
        f"cover + {len(s.patches)} patches, no follow-up trailer ({carried} patches carry trailers)"
    )


def cat_cover_level(s: Series) -> str | None:
    if s.cover is None or not _is_clean(s):
        return None
    givers = _trailer_replies(s, _to_cover(s))
    kinds = {k for m in givers for k, _ in m.trailers}
    if kinds & {"acked", "reviewed"}:
        return f"cover-level {'/'.join(sorted(kinds))}-by on the cover, {len(s.patches)} patches"
    return None


def cat_revision(s: Series) -> str | None:
    if s.version < 2 or not _is_clean(s) or not _trailer_replies(s, _in_series(s)):
        return None
    cover = "cover" if s.cover else "no cover"
    return f"v{s.version} revision ({cover}, {len(s.patches)} patches) with follow-up trailers"


def cat_single(s: Series) -> str | None:
    if s.cover is not None or len(s.patches) != 1 or not _is_clean(s):
        return None
    givers = _trailer_replies(s, _in_series(s))
    if givers:
        return f"single patch without cover, trailers in {len(givers)} direct replies"
    return None


def cat_single_quiet(s: Series) -> str | None:
    if s.cover is not None or len(s.patches) != 1 or not _is_clean(s):
        return None
    if any(m.trailers for m in _replies(s)) or len(_replies(s)) < 2:
        return None
    return f"single patch without cover, {len(_replies(s))} replies, none with a trailer"


def cat_tested(s: Series) -> str | None:
    if s.cover is None or not _is_clean(s):
        return None
    testers = [m for m in _replies(s) if any(k == "tested" for k, _ in m.trailers)]
    if testers:
        return f"Tested-by in {len(testers)} replies, cover + {len(s.patches)} patches"
    return None


def cat_other_person(s: Series) -> str | None:
    if not _is_clean(s):
        return None
    for mail in _replies(s):
        for kind, email in mail.trailers:
            if email != mail.msg.from_email.lower():
                return f"{kind}-by for {email} sent by {mail.msg.from_email}"
    return None


def cat_carried(s: Series) -> str | None:
    if s.version < 2 or not _is_clean(s):
        return None
    carried = [m for m in s.patches if any(k in ("reviewed", "acked") for k, _ in m.trailers)]
    if len(carried) >= 2 and not any(m.trailers for m in _replies(s)):
        return f"v{s.version}: {len(carried)}/{len(s.patches)} patches carry review trailers from earlier revisions"
    return None


def cat_deep(s: Series) -> str | None:
    if not _is_clean(s):
        return None
    ids = {m.msg.message_id for m in s.patches}
    if s.cover:
        ids.add(s.cover.msg.message_id)
    by_id = _by_id(s)
    for mail in _replies(s):
        parent = by_id.get(mail.msg.in_reply_to or "")
        if (
            mail.trailers
            and parent is not None
            and not parent.is_patch
            and parent.msg.in_reply_to in ids
        ):
            return "trailer in a reply to a reply (attribution must climb two levels)"
    return None


def cat_utility(s: Series) -> str | None:
    if not _is_clean(s):
        return None
    in_replies = [m for m in _replies(s) if m.utility]
    if in_replies:
        kinds = sorted({k for m in in_replies for k in m.utility})
        return f"{'/'.join(kinds)} given in {len(in_replies)} replies"
    return None


def _answers(series: Series, mail: Mail, targets: set[str]) -> bool:
    """Whether `mail` is (through In-Reply-To, any depth) a reply to one of `targets`."""
    by_id = _by_id(series)
    seen: set[str] = set()
    node = by_id.get(mail.msg.in_reply_to or "")
    while node is not None and node.msg.message_id not in seen:
        if node.msg.message_id in targets:
            return True
        seen.add(node.msg.message_id)
        node = by_id.get(node.msg.in_reply_to or "")
    return False


def cat_newer_in_reply(s: Series) -> str | None:
    """A newer revision posted in reply to the compared one, with trailers of its own.

    Its trailers (in its patches, or in replies to them) belong to the newer revision;
    attributing the compared revision must stop at the newer revision's mails.
    """
    ours = {m.msg.message_id for m in s.patches} | ({s.cover.msg.message_id} if s.cover else set())
    newer = [
        m for m in s.thread if m.is_patch and m.subject.version > s.version and _answers(s, m, ours)
    ]
    if not newer:
        return None
    newer_ids = {m.msg.message_id for m in newer}
    given = [m for m in _replies(s) if m.trailers and _answers(s, m, newer_ids)]
    carried = [m for m in newer if m.trailers]
    if given or carried:
        versions = "/".join(f"v{v}" for v in sorted({m.subject.version for m in newer}))
        return (
            f"v{s.version} compared; {versions} was posted in reply to it, "
            f"{len(carried)} of its mails carry trailers, {len(given)} replies to it give some"
        )
    return None


def cat_spaced_colon(s: Series) -> str | None:
    """A reply writes "Reviewed-by : Name <addr>" (a space before the colon)."""
    if not _is_clean(s):
        return None
    for mail in _replies(s):
        if mail.trailers and any(_SPACED_COLON.match(line) for line in mail.own_lines):
            return "a reply writes its trailer with a space before the colon"
    return None


def cat_split_block(s: Series) -> str | None:
    """A patch whose review trailers sit above a blank line that splits its trailer block.

    git and b4 read only the last paragraph as trailers; a digest should still count an
    Acked-by that the author separated from the Signed-off-by with an empty line.
    """
    if not _is_clean(s):
        return None
    for mail in s.patches:
        lines = mail.own_lines
        marks = [i for i, line in enumerate(lines) if _ANY_TRAILER.match(line)]
        if len(marks) < 2:
            continue
        block = lines[marks[0] : marks[-1] + 1]
        if not all(not line.strip() or _ANY_TRAILER.match(line) for line in block):
            continue
        last_blank = max((i for i, line in enumerate(block) if not line.strip()), default=None)
        if last_blank is None:
            continue
        upper = block[:last_blank]
        if any(_TRAILER.match(line) or _UTILITY.match(line) for line in upper):
            return f"patch {mail.subject.counter or 1} has review trailers above a blank line in its trailer block"
    return None


CATEGORIES: Sequence[tuple[str, int, Callable[[Series], str | None]]] = (
    ("cover-reviews", 3, cat_cover_reviews),
    ("cover-quiet", 2, cat_cover_quiet),
    ("cover-level", 3, cat_cover_level),
    ("revision", 3, cat_revision),
    ("single", 2, cat_single),
    ("single-quiet", 1, cat_single_quiet),
    ("tested", 2, cat_tested),
    ("other-person", 3, cat_other_person),
    ("carried", 2, cat_carried),
    ("deep", 2, cat_deep),
    ("utility", 2, cat_utility),
    ("newer-in-reply", 3, cat_newer_in_reply),
    ("spaced-colon", 1, cat_spaced_colon),
    ("split-block", 1, cat_split_block),
)


def spread(candidates: list[tuple[Series, str]], count: int) -> list[tuple[Series, str]]:
    """`count` candidates at evenly spaced positions of the (date-sorted) list."""
    if len(candidates) <= count:
        return candidates
    step = len(candidates) / count
    return [candidates[int(step * i + step / 2)] for i in range(count)]


def pick(series: list[Series]) -> list[tuple[str, Series, str]]:
    """(category, series, reason) for every pick; a thread is picked at most once."""
    taken: set[int] = set()
    out = []
    for name, count, predicate in CATEGORIES:
        candidates = []
        for s in series:
            if s.head.msg.thread_id in taken:
                continue
            reason = predicate(s)
            if reason:
                candidates.append((s, reason))
        for s, reason in spread(candidates, count):
            taken.add(s.head.msg.thread_id or -1)
            out.append((name, s, reason))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a store with the corpus synced as list kvmarm")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lore-digest-pick-") as tmp:
        db = opts.db
        if db is None:
            from lore_digest.ingest import sync_mirror

            if not opts.corpus.exists():
                sys.exit(f"corpus {opts.corpus} not found (expected ../shared/corpus)")
            db = Path(tmp) / "kvmarm.sqlite3"
            with Store.open(db) as store:
                sync_mirror(store, str(opts.corpus), LIST)
        with Store.open(db) as store:
            picks = pick(load_series(store))
    print(f"# {len(picks)} series picked by benchmarks/pick_b4_series.py")
    for name, s, reason in picks:
        day = datetime.fromtimestamp(s.date, UTC).date().isoformat()
        print(f'    ("{s.head.msg.message_id}", {s.version}, "{name}: {reason} ({day})"),')


if __name__ == "__main__":
    main()
