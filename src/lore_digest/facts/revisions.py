"""Revision chains: which earlier postings a series is the vN of, and what superseded it.

Each revision of a series is usually a new thread, so a digest that says "v4, earlier
v1-v3, superseded by v5" has to link threads itself. The rules follow what b4 relies on,
strongest first:

1. change-id: b4 writes a "change-id: <id>" line at the end of every cover letter it
   sends, and keeps it across revisions (b4 also matches on it when looking for older
   revisions).
2. link: the cover letter names an earlier posting by URL ("Link to v2: https://lore...",
   "v1: https://lore.kernel.org/r/<msgid>", "[1] https://..." cited by "Changes since
   v1 [1]:") or is sent In-Reply-To an earlier revision. A cover letter also cites
   dependencies and discussions, so a URL counts only when words near it (or near the
   footnote marker it is given) speak of a version, and only when it points to an older
   posting of a series.
3. title+author: same normalized title and project prefix ("kvmtool", "stable 4.19"),
   same sender (address, or full name for people who moved to a kernel.org address),
   lower version, earlier date and at most a year apart (b4's own fallback query is a
   subject+from search limited to the previous twelve months).

Versions may repeat (a RESEND) and restart at v1 once an RFC series goes for real, so an
RFC is older than any later non-RFC posting of the same series. Links are followed
transitively, so a v5 that only names v4 still gets v1-v3 through v4's own cover letter.
Nothing is read up front: the postings each rule compares are looked up through a
PostingSource (the store's posting index, or mail held in memory), and raw mail is read
lazily and at most once per posting, so a report pays for its week's series only.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

from lore_digest.facts.postings import Posted, PostingSource
from lore_digest.mail.headers import in_body_headers, parse_from
from lore_digest.mail.mime import message_text
from lore_digest.mail.subject import LoreSubject
from lore_digest.store.db import StoredMessage
from lore_digest.vocabulary import SERIES_SPREAD_S, is_pull_as_patches, same_posting

__all__ = ["Revision", "RevisionChain", "RevisionIndex"]

# b4 limits its subject+author search for older revisions to the previous twelve months;
# the same window keeps two unrelated series that happen to share a title apart.
TITLE_WINDOW_S: Final = 365 * 86400
# A successor under a new title follows within weeks; later, it is more likely new work.
SUCCESSOR_WINDOW_S: Final = 60 * 86400
# The same posting sent again under a corrected prefix follows within the hour or so
# ("please ignore, resent"); a mainline patch and its backport come days apart.
REPOST_WINDOW_S: Final = 6 * 3600

REASON_CHANGE_ID: Final = "change-id"
REASON_LINK: Final = "link"
REASON_TITLE: Final = "title+author"
_REASON_RANK: Final = {REASON_CHANGE_ID: 0, REASON_LINK: 1, REASON_TITLE: 2}
# Later postings whose cover letters are read together when looking for a newer revision.
_BATCH: Final = 16
# What a message is to the index (RevisionIndex._kind).
_SKIP: Final = 0  # no series posting: a reply, a pull request, no patch
_POSTING: Final = 1  # a cover letter, a single patch, or patch 1 sent without a cover
_PATCH: Final = 2  # a later patch of a posting (patch 1 under its cover included)
_DAWN: Final = -(2**62)  # before any Date


@dataclass(frozen=True, slots=True)
class Revision:
    """One posted version of a series: its cover letter, or patch 1 without a cover."""

    version: int
    message_id: str
    date_utc: int
    subject: str
    from_email: str


@dataclass(frozen=True, slots=True)
class RevisionChain:
    """A posting with its earlier versions and the revision that superseded it, if any.

    earlier holds one posting per older version (the latest posting of that version, so a
    RESEND replaces the original), oldest first. newer is the next later posting of the
    series dated before the query's end, possibly a RESEND of the same version.
    link_reason tells for each of them which rule linked it ("change-id", "link",
    "title+author").
    """

    current: Revision
    earlier: tuple[Revision, ...]
    newer: Revision | None
    link_reason: dict[str, str]


# -- postings ---------------------------------------------------------------------------

# Subjects of replies are skipped before parse_subject, which costs ~12 µs a call.
_REPLY_PREFIX: Final = re.compile(r"\s*(?:re|aw|fwd?|sv|antw)\s*(?:\[\d+\])?\s*:", re.IGNORECASE)
# Extra prefixes that do not name a different project or branch of the series.
_NOISE_PREFIXES: Final = frozenset({"rft", "trivial", "-next", "next", "for-next"})


@dataclass(slots=True, eq=False)
class _Posting:
    """A cover letter or first patch, with what linking needs from its subject."""

    msg: StoredMessage
    subject: LoreSubject
    version: int
    is_rfc: bool
    is_resend: bool
    is_cover: bool
    total: int | None
    title: str
    key: tuple[str, tuple[str, ...]]  # (title, project prefixes such as "kvmtool")
    author: tuple[str, str]  # (address, lowercased display name)

    @property
    def date(self) -> int:
        return self.msg.date_utc

    def sent(self) -> tuple[str, LoreSubject, int]:
        """(sender, subject, date): what `vocabulary.same_posting` compares."""
        return (self.msg.from_email, self.subject, self.msg.date_utc)

    def revision(self) -> Revision:
        m = self.msg
        return Revision(self.version, m.message_id, m.date_utc, m.subject, m.from_email)


@dataclass(frozen=True, slots=True)
class _CoverFacts:
    """What a posting's body says about other revisions."""

    change_id: str | None
    link_ids: tuple[str, ...]
    cited_ids: tuple[str, ...] = ()  # every message id it links, versions or not
    reply_cites: tuple[str, ...] = ()  # links in prose and "[1] URL" footnotes, no trailers


def _make_posting(msg: StoredMessage, subject: LoreSubject) -> _Posting:
    title = subject.normalized_title()
    project = tuple(sorted(_project_word(p) for p in subject.extra_prefixes))
    return _Posting(
        msg=msg,
        subject=subject,
        version=subject.version,
        is_rfc=subject.is_rfc,
        is_resend=subject.is_resend,
        is_cover=subject.is_cover,
        total=subject.total,
        title=title,
        key=(title, tuple(p for p in project if p not in _NOISE_PREFIXES)),
        author=(msg.from_email, _person(msg.from_name)),
    )


def _project_word(prefix: str) -> str:
    """A prefix in the form that stays the same across revisions ("v4.9" = "4.9.y" = "4.9")."""
    word = prefix.lower()
    if word[:1] == "v" and word[1:2].isdigit():
        word = word[1:]
    return word.removesuffix(".y")


def _person(name: str) -> str:
    """A display name good enough to recognise an author who changed address, else ""."""
    name = " ".join(name.lower().replace('"', "").split())
    return name if " " in name and "@" not in name else ""


def _same_author(one: _Posting, other: _Posting) -> bool:
    """Same address, or the same full name (people move from corporate to kernel.org)."""
    return one.author[0] == other.author[0] or (
        one.author[1] != "" and one.author[1] == other.author[1]
    )


def _precedes(old: _Posting, new: _Posting) -> bool:
    """Whether `old` can be an earlier revision of `new`.

    Versions grow, except that a series often restarts at v1 when it drops its RFC tag
    ("RFC v2" then "v1"), and a RESEND repeats its version.
    """
    if old.date >= new.date:
        return False
    if old.version <= new.version:
        return True
    return old.is_rfc and not new.is_rfc


def _strictly_older(old: _Posting, new: _Posting) -> bool:
    """`old` precedes `new` with a different version (not a mere repost of the same)."""
    return _precedes(old, new) and (
        old.version != new.version or (old.is_rfc and not new.is_rfc) or new.is_resend
    )


# -- cover letter text ------------------------------------------------------------------

_CHANGE_ID: Final = re.compile(r"^[ \t]*change-id:[ \t]*(\S+)[ \t]*$", re.IGNORECASE | re.MULTILINE)
_URL: Final = re.compile(
    r"https?://(?:lore\.kernel\.org|lkml\.kernel\.org|patch\.msgid\.link|msgid\.link)/[^\s<>\"']+",
    re.IGNORECASE,
)
# Words that make a URL a reference to another revision ("v1:", "Link to v2", "previous
# version", "RFC posting"); "v5.11" names a kernel release, not a revision.
_VERSION_WORDS: Final = re.compile(
    r"\bv\d+(?![.\d])|\b(?:version|revision|previous(?:ly)?|prior|earlier|older|posting"
    r"|iteration|respin|rfc|resend)\b",
    re.IGNORECASE,
)
# Words that make it a dependency instead ("applies on top of the previous fix at ...").
_DEPENDENCY_WORDS: Final = re.compile(
    r"\b(?:on top of|based on|depends?|dependency|dependencies|prerequisites?|requires?"
    r"|appl(?:y|ies|ied))\b",
    re.IGNORECASE,
)
_FOOTNOTE: Final = re.compile(r"\[\d+\]")
_FOOTNOTE_LINE: Final = re.compile(r"^\s*\[\d+\]")
_WORD: Final = re.compile(r"[A-Za-z][A-Za-z0-9]+")
# How many words before a footnote marker may say what it points to ("From v1 [1]:").
_MARKER_WORDS: Final = 4
_PATCH_START: Final = re.compile(r"^(?:diff --git |--- a/|Index: )", re.MULTILINE)


def _cover_facts(raw: bytes) -> _CoverFacts:
    """change-id and revision links of one posting (patch hunks are not read)."""
    text = message_text(raw).text
    start = _PATCH_START.search(text)
    if start is not None:
        text = text[: start.start()]
    found = _CHANGE_ID.findall(text)
    change_id = found[-1] if found else None  # b4 puts it last; a quoted one comes earlier
    return _CoverFacts(
        change_id,
        tuple(dict.fromkeys(_revision_links(text))),
        tuple(dict.fromkeys(_cited_links(text))),
        tuple(dict.fromkeys(_prose_cited_links(text))),
    )


def _footnote_links(text: str) -> Iterable[str]:
    """Message-IDs of "[1] https://lore..." footnotes whose line, and every line that
    cites the marker ("based on the fixup posted in [1]"), names no dependency."""
    lines = text.split("\n")
    for line in lines:
        marker = _FOOTNOTE_LINE.match(line)
        if marker is None or "://" not in line or _DEPENDENCY_WORDS.search(line):
            continue
        mark = marker.group(0).strip()
        citing = [o for o in lines if mark in o and not _FOOTNOTE_LINE.match(o)]
        if any(_DEPENDENCY_WORDS.search(o) for o in citing):
            continue
        for match in _URL.finditer(line):
            msgid = msgid_from_url(match.group(0))
            if msgid:
                yield msgid


# Trailers cite reports and discussions ("Closes:", "Link:"), not the series replaced.
_TRAILER_LINE: Final = re.compile(r"^\s*[A-Z][\w-]*(?:-by|-to)?:\s", re.MULTILINE)


def _prose_cited_links(text: str) -> Iterable[str]:
    """cited links of lines that are no trailer, for links to replies in a thread."""
    kept = "\n".join(line for line in text.split("\n") if not _TRAILER_LINE.match(line))
    yield from _cited_links(kept)
    yield from _footnote_links(kept)


def _cited_links(text: str) -> Iterable[str]:
    """Message-IDs the text links in its own words, not as a dependency.

    A URL counts when neither its line nor the line introducing it speaks of a
    dependency ("applies on top of", "based on"), and it is not a footnote ("[1] URL"),
    whose citing sentence is elsewhere.
    """
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if "://" not in line:  # no URL (most lines): nothing to cite, nothing to test
            continue
        if line.startswith(">") or _FOOTNOTE_LINE.match(line) or _DEPENDENCY_WORDS.search(line):
            continue
        if any(_DEPENDENCY_WORDS.search(above) for above in _introduction(lines, index)):
            continue
        for match in _URL.finditer(line):
            msgid = msgid_from_url(match.group(0))
            if msgid:
                yield msgid


_LIST_ITEM: Final = re.compile(r"^\s*(?:[-*+o]|\d+[.)]|\[\d+\])\s")


def _introduction(lines: Sequence[str], index: int) -> list[str]:
    """The lines that introduce line `index`: the text line above it and, when that is
    an item of a list ("  - memcache cleanups:") or another URL, the sentence opening
    the list above them ("The series is based on kvmarm/next, plus these two series:"),
    across one blank line above a list item. Dependencies are often cited so, their
    words lines above the URL. Sibling items are not read: "- Applied the tags" in a
    changelog says nothing of the "- Link to v1:" below it.
    """
    found: list[str] = []
    below = lines[index]
    for back in range(index - 1, max(index - 12, -1), -1):
        line = lines[back]
        if not line.strip():
            crossing = not found or _LIST_ITEM.match(below)
            if not crossing or (back > 0 and not lines[back - 1].strip()):
                break
            continue
        if line.startswith(">"):
            break
        listed = _LIST_ITEM.match(line) or "://" in line
        if not found or not listed:
            found.append(line)
        if not listed:
            break  # prose: the sentence that introduces what follows
        below = line
    return found


def _revision_links(text: str) -> Iterable[str]:
    """Message-IDs of URLs that the text presents as another version of the series."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        for match in _URL.finditer(line):
            msgid = msgid_from_url(match.group(0))
            if msgid and _names_a_revision(lines, index, match.start()):
                yield msgid


def msgid_from_url(url: str) -> str | None:
    """The Message-ID in a lore / patch.msgid.link URL, or None.

    lore paths are /<list>/<msgid>/..., /r/<msgid> or /all/<msgid>/ with "/" and other
    characters percent-escaped inside the id, so the path is split before unquoting.
    """
    path = url.split("://", 1)[-1].partition("/")[2]
    for segment in re.split(r"[#?]", path, maxsplit=1)[0].split("/"):
        if "@" in segment or "%40" in segment.lower():
            msgid = unquote(segment).strip("<>").rstrip(".,;:)]>")
            return msgid or None
    return None


def _names_a_revision(lines: Sequence[str], index: int, url_start: int) -> bool:
    """Whether the words around a URL present it as another version of the series.

    Three places are read: the text before the URL on its line ("v1: <url>", "Link to v2:
    <url>"), the line introducing a bare URL ("Changes from v1:"), and the words just
    before the URL's footnote marker where the text cites it ("* From v1 [1]:"). Cover
    letters cite dependencies in the same way, so a dependency word disqualifies a line.
    """
    before = lines[index][:url_start]
    if _WORD.search(_FOOTNOTE.sub("", before)):
        return _speaks_of_versions(before)
    previous = _previous_text_line(lines, index)
    if previous is not None and previous.rstrip().endswith(":") and _speaks_of_versions(previous):
        return True
    marker = _FOOTNOTE.search(before)
    if marker is None:
        return False
    return any(_cites_as_version(line, marker.group(0)) for line in lines if "://" not in line)


def _speaks_of_versions(text: str) -> bool:
    return _VERSION_WORDS.search(text) is not None and _DEPENDENCY_WORDS.search(text) is None


def _cites_as_version(line: str, marker: str) -> bool:
    """Whether `line` cites `marker` right after version words ("Changes since v3[2]:")."""
    position = line.find(marker)
    while position >= 0:
        words = " ".join(line[:position].split()[-_MARKER_WORDS:])
        if _speaks_of_versions(words) and _DEPENDENCY_WORDS.search(line) is None:
            return True
        position = line.find(marker, position + 1)
    return False


def _previous_text_line(lines: Sequence[str], index: int) -> str | None:
    """The non-blank line above (one blank line may separate them), unless it is a URL."""
    for back in range(index - 1, max(index - 3, -1), -1):
        if lines[back].strip():
            return None if "://" in lines[back] else lines[back]
    return None


# -- the index --------------------------------------------------------------------------


class RevisionIndex:
    """The revision chains of one list's postings, found through a PostingSource.

    Nothing is read up front: each query looks up the postings its rules compare (same
    title, same author near a date, replies in a thread, linked Message-IDs), and cover
    letters are read through `load_raw` when a rule needs their change-id or links.
    Every lookup and cover letter is kept, so the queries of one report share them.
    """

    def __init__(
        self,
        source: PostingSource,
        load_raw: Callable[[list[int]], dict[int, bytes]],
        thread_of: Callable[[str], int | None] | None = None,
    ) -> None:
        self._source = source
        self._load_raw = load_raw
        self._thread_of = thread_of  # Message-ID -> thread id, for links to replies
        self._kinds: dict[int, int] = {}  # pk -> _SKIP, _POSTING or _PATCH
        self._postings: dict[int, _Posting] = {}  # one object per posting: compared by identity
        self._titles: dict[str, list[_Posting]] = {}
        self._parents: dict[int, str | None] = {}  # patch pk -> the posting it belongs to
        self._facts: dict[int, _CoverFacts] = {}
        self._back: dict[int, list[tuple[_Posting, str]]] = {}
        self._chains: dict[tuple[str, int], RevisionChain | None] = {}

    # -- what each message is ---------------------------------------------------------

    def _kind(self, posted: Posted) -> int:
        """A series posting (cover letter, single patch, patch 1 without a cover), a
        later patch of one (patch 1 under its cover included), or neither."""
        msg, subject = posted
        kind = self._kinds.get(msg.pk)
        if kind is None:
            if _REPLY_PREFIX.match(msg.subject) or subject.is_reply or not subject.is_patch:
                kind = _SKIP
            elif subject.counter is None or subject.counter == 0:
                kind = _POSTING
            elif subject.counter == 1:
                kind = _PATCH if self._has_cover(posted) else _POSTING
            else:
                kind = _PATCH
            self._kinds[msg.pk] = kind
        return kind

    def _has_cover(self, first: Posted) -> bool:
        """Whether patch 1 belongs to a cover letter: threaded under it, or sent with it."""
        msg, subject = first
        for cover in self._source.by_ids(_refs(msg)).values():
            if self._is_cover(cover) and cover[1].version == subject.version:
                return True
        sent = (msg.from_email, subject, msg.date_utc)
        near = self._source.by_author(
            msg.from_email, msg.date_utc - SERIES_SPREAD_S, msg.date_utc + SERIES_SPREAD_S
        )
        return any(
            self._is_cover(other) and same_posting(sent, (m.from_email, s, m.date_utc))
            for other in near
            for m, s in (other,)
        )

    def _is_cover(self, posted: Posted) -> bool:
        return posted[1].is_cover and self._kind(posted) == _POSTING

    def _posting(self, posted: Posted) -> _Posting | None:
        """The one _Posting object of a series posting (None for anything else)."""
        if self._kind(posted) != _POSTING:
            return None
        posting = self._postings.get(posted[0].pk)
        if posting is None:
            posting = self._postings[posted[0].pk] = _make_posting(*posted)
        return posting

    def _postings_of(self, found: Iterable[Posted]) -> list[_Posting]:
        return [p for posted in found if (p := self._posting(posted)) is not None]

    def _posting_named(self, message_id: str) -> _Posting | None:
        """The series posting with exactly this Message-ID."""
        posted = self._source.by_ids((message_id,)).get(message_id)
        return None if posted is None else self._posting(posted)

    def _parent(self, patch: Posted) -> str | None:
        """The Message-ID of the posting a later patch is threaded under (first named)."""
        pk = patch[0].pk
        if pk not in self._parents:
            refs = _refs(patch[0])
            found = self._source.by_ids(refs)
            self._parents[pk] = next(
                (r for r in refs if r in found and self._posting(found[r]) is not None), None
            )
        return self._parents[pk]

    # -- groups -------------------------------------------------------------------------

    def _titled(self, title: str) -> list[_Posting]:
        group = self._titles.get(title)
        if group is None:
            group = self._titles[title] = self._postings_of(self._source.titled(title))
        return group

    def _by_author(self, email: str, start_utc: int, end_utc: int) -> list[_Posting]:
        """The author's postings with start_utc <= date <= end_utc, oldest first."""
        return self._postings_of(self._source.by_author(email, start_utc, end_utc))

    # -- lookups ----------------------------------------------------------------------

    def _posting_for(self, message_id: str) -> _Posting | None:
        """The series posting a message is (or belongs to, for a later patch)."""
        posted = self._source.by_ids((message_id,)).get(message_id)
        if posted is None or self._kind(posted) == _SKIP:
            # b4 lowercases the ids it puts in links
            posted = next(
                (
                    p
                    for p in reversed(self._source.by_lower_id(message_id.lower()))
                    if self._kind(p) != _SKIP
                ),
                None,
            )
            if posted is None:
                return None
        posting = self._posting(posted)
        if posting is not None:
            return posting
        parent = self._parent(posted)
        if parent is not None:
            return self._posting_named(parent)
        return self._unthreaded_anchor(posted)

    def _unthreaded_anchor(self, patch: Posted) -> _Posting | None:
        """The cover or patch 1 sent by the same author with a patch that has no parent."""
        msg, subject = patch
        sent = (msg.from_email, subject, msg.date_utc)
        near = self._by_author(
            msg.from_email, msg.date_utc - SERIES_SPREAD_S, msg.date_utc + SERIES_SPREAD_S
        )
        return next((p for p in near if same_posting(sent, p.sent())), None)

    def _ensure_facts(self, postings: Iterable[_Posting]) -> None:
        """Read the cover letters not read yet, in one batch."""
        missing = list(dict.fromkeys(p.msg.pk for p in postings if p.msg.pk not in self._facts))
        if not missing:
            return
        raws = self._load_raw(missing)
        for pk in missing:
            raw = raws.get(pk)
            self._facts[pk] = _cover_facts(raw) if raw is not None else _CoverFacts(None, ())

    # -- edges --------------------------------------------------------------------------

    def _back_edges(self, posting: _Posting) -> list[tuple[_Posting, str]]:
        """Earlier postings this one is linked to directly, best reason first."""
        cached = self._back.get(posting.msg.pk)
        if cached is not None:
            return cached
        self._ensure_facts([posting])
        facts = self._facts[posting.msg.pk]
        best: dict[int, tuple[_Posting, str]] = {}

        def offer(other: _Posting | None, reason: str) -> None:
            if other is None or other is posting:
                return
            known = best.get(other.msg.pk)
            if known is None or _REASON_RANK[reason] < _REASON_RANK[known[1]]:
                best[other.msg.pk] = (other, reason)

        if facts.change_id is not None:
            for other in self._same_change_id(posting, facts.change_id):
                if _precedes(other, posting):
                    offer(other, REASON_CHANGE_ID)
        for msgid in facts.link_ids:
            linked = self._posting_for(msgid)
            if linked is not None and _strictly_older(linked, posting):
                offer(linked, REASON_LINK)
        for ref in _refs(posting.msg):
            parent = self._posting_for(ref)
            if (
                parent is not None
                and _strictly_older(parent, posting)
                and (
                    parent.title == posting.title
                    or (
                        parent.msg.from_email == posting.msg.from_email
                        # an add-on patch sent under the series is no new version of it
                        and (posting.version > parent.version or posting.is_resend)
                    )
                )
            ):
                offer(parent, REASON_LINK)
        for other in self._title_matches_before(posting):
            offer(other, REASON_TITLE)
        edges = sorted(best.values(), key=lambda e: (_REASON_RANK[e[1]], e[0].date))
        self._back[posting.msg.pk] = edges
        return edges

    def _title_matches_before(self, posting: _Posting) -> Iterable[_Posting]:
        """Same title, project and author, sent in the year before `posting`."""
        group = self._titled(posting.title)
        low = bisect.bisect_left(group, posting.date - TITLE_WINDOW_S, key=lambda p: p.date)
        for other in group[low:]:
            if other.date >= posting.date:
                break
            if (
                other.key == posting.key
                and _same_author(other, posting)
                and _precedes(other, posting)
            ):
                yield other

    def _same_change_id(self, posting: _Posting, change_id: str) -> Iterable[_Posting]:
        """The author's earlier postings with this change-id (b4 keeps it per author)."""
        mine = self._by_author(posting.msg.from_email, _DAWN, posting.date)
        self._ensure_facts(mine)
        return (p for p in mine if self._facts[p.msg.pk].change_id == change_id)

    # -- queries ------------------------------------------------------------------------

    def chain(self, root: StoredMessage, until_utc: int) -> RevisionChain | None:
        """Earlier and newer revisions of the series `root` starts.

        `root` is a cover letter or the first patch (a patch 1 sent with a cover stands for
        that cover). Only postings dated before `until_utc` are considered. None when
        `root` is not a series posting. Kept per (root, until): a week's threads and its
        waiting list ask for the same chains.
        """
        key = (root.message_id, until_utc)
        if key not in self._chains:
            self._chains[key] = self._chain(root, until_utc)
        return self._chains[key]

    def _chain(self, root: StoredMessage, until_utc: int) -> RevisionChain | None:
        posted = self._source.by_ids((root.message_id,)).get(root.message_id)
        if posted is None:
            return None
        kind = self._kind(posted)
        if kind == _SKIP or (kind == _PATCH and posted[1].counter != 1):
            return None
        current = self._posting_for(root.message_id)
        if current is None:
            return None
        members = self._earlier_members(current, until_utc)
        earlier = _one_per_version(current, members)
        reasons = {p.msg.message_id: members[p.msg.pk][1] for p in earlier}
        newer = self._newer(current, members, until_utc)
        if newer is not None:
            reasons[newer[0].msg.message_id] = newer[1]
        return RevisionChain(
            current=current.revision(),
            earlier=tuple(p.revision() for p in earlier),
            newer=newer[0].revision() if newer is not None else None,
            link_reason=reasons,
        )

    def _earlier_members(
        self, current: _Posting, until_utc: int
    ) -> dict[int, tuple[_Posting, str]]:
        """Every posting reachable backwards from `current`, with the rule that reached it."""
        found: dict[int, tuple[_Posting, str]] = {}
        seen = {current.msg.pk}
        frontier = [current]
        while frontier:
            self._ensure_facts(frontier)
            following: list[_Posting] = []
            for posting in frontier:
                for other, reason in self._back_edges(posting):
                    if other.msg.pk in seen or other.date >= until_utc:
                        continue
                    seen.add(other.msg.pk)
                    found[other.msg.pk] = (other, reason)
                    following.append(other)
            frontier = following
        return found

    def _newer(
        self, current: _Posting, members: dict[int, tuple[_Posting, str]], until_utc: int
    ) -> tuple[_Posting, str] | None:
        """The first later posting (before `until_utc`) that links back into the chain.

        Candidates are checked oldest first and their cover letters read in small batches,
        so a superseded series costs a few reads and the latest one only the reads of the
        author's later postings.
        """
        chain_pks = {current.msg.pk, *members}
        candidates = [
            c for c in self._later_candidates(current, members, until_utc) if _follows(current, c)
        ]
        for start in range(0, len(candidates), _BATCH):
            batch = candidates[start : start + _BATCH]
            self._ensure_facts(batch)
            for candidate in batch:
                for other, reason in self._back_edges(candidate):
                    if other.msg.pk in chain_pks and _succeeds(current, candidate, other):
                        return candidate, reason
        return self._successor(current, chain_pks, until_utc)

    def _successor(
        self, current: _Posting, chain_pks: set[int], until_utc: int
    ) -> tuple[_Posting, str] | None:
        """A later posting that replaces `current` under a new title: the same author's,
        or (for a single patch) someone else's series carrying it (_carried_by_another).

        (heuristic) Authors retitle a series, carry on with one patch of it, or fold a
        single patch into a larger series: a later posting of theirs counts when it
        links `current` (or one of its patches, or a reply in its thread, outside
        trailers) in any words, when it carries the single
        patch `current` is as one of its patches, or when it is the next version ("v2"
        after v1, within SUCCESSOR_WINDOW_S) titled like one of current's patches or
        sharing most words of its title. Another project's posting counts only as the
        same posting sent again under a corrected prefix (see _reposted). A posting
        already linked to another series is that series' revision, not ours.
        """
        end = min(until_utc, current.date + SUCCESSOR_WINDOW_S)
        mine = self._by_author(current.msg.from_email, current.date, end)
        later = [p for p in _between(mine, current.date, end) if p.msg.pk not in chain_pks]
        self._ensure_facts(later)
        titles = self._patch_titles(current)
        for candidate in later:
            if candidate.key[1] != current.key[1]:
                if (
                    candidate.title == current.title
                    and _reposted(current, candidate)
                    and all(o.msg.pk in chain_pks for o, _ in self._back_edges(candidate))
                ):
                    return candidate, REASON_TITLE  # sent again with the prefix corrected
                continue  # another project ("kvmtool", "stable 5.10")
            facts = self._facts[candidate.msg.pk]
            if any(self._posting_for(msgid) is current for msgid in facts.cited_ids):
                return candidate, REASON_LINK
            if self._cites_a_reply_to(current, facts.reply_cites) and all(
                o.msg.pk in chain_pks for o, _ in self._back_edges(candidate)
            ):
                return candidate, REASON_LINK  # "as discussed in <Marc's reply to v1>"
            if current.total in (None, 1) and current.title in self._patch_titles(candidate):
                return candidate, REASON_TITLE  # the patch, carried on in a larger series
            if candidate.version != current.version + 1 or not (
                candidate.title in titles or _similar_titles(candidate.title, current.title)
            ):
                continue
            if any(o.msg.pk not in chain_pks for o, _ in self._back_edges(candidate)):
                continue
            return candidate, REASON_TITLE
        return self._carried_by_another(current, end)

    def _carried_by_another(self, current: _Posting, end: int) -> tuple[_Posting, str] | None:
        """A single patch that someone else (a maintainer) carries on in their series:
        a patch of it has the same title and keeps its author's "From:" line.

        Marc reposting Alexandre's PMU patch as 3/3 of his series, "with a small
        cosmetic change". Pull requests sent as patches carry applied patches: no.
        """
        if current.total not in (None, 1):
            return None
        author = current.msg.from_email.lower()
        for parent, patch in self._carriers(current.title):
            carrier = self._posting_named(parent)
            if carrier is None:
                continue
            if not (current.date < carrier.date < end) or carrier.key[1] != current.key[1]:
                continue
            if carrier.msg.from_email.lower() == author:
                continue  # the author's own larger series: _successor's title rule
            if is_pull_as_patches(carrier.subject):
                continue
            raw = self._load_raw([patch.pk]).get(patch.pk)
            if raw is not None and _written_by(message_text(raw).text, author):
                return carrier, REASON_TITLE
        return None

    def _carriers(self, title: str) -> list[tuple[str, StoredMessage]]:
        """Later patches titled `title`, each with the posting it is sent under: patches
        2..N first, then patches 1 sent under a cover letter, each group by date."""
        found = [
            (parent, posted)
            for posted in self._source.titled(title)
            if self._kind(posted) == _PATCH and (parent := self._parent(posted)) is not None
        ]
        found.sort(key=lambda f: (f[1][1].counter == 1, f[1][0].date_utc, f[1][0].pk))
        return [(parent, posted[0]) for parent, posted in found]

    def _cites_a_reply_to(self, current: _Posting, cited: Sequence[str]) -> bool:
        """Whether a link names a reply in current's thread (not a posting of a series)."""
        thread = current.msg.thread_id
        if self._thread_of is None or thread is None:
            return False
        return any(
            self._posting_for(msgid) is None and self._thread_of(msgid) == thread for msgid in cited
        )

    def _patch_titles(self, posting: _Posting) -> set[str]:
        """Normalized titles of a posting and of the patches sent under it."""
        mid = posting.msg.message_id
        under = {
            posted[1].normalized_title()
            for posted in self._source.replying_to(mid, posting.msg.thread_id)
            if self._kind(posted) == _PATCH and self._parent(posted) == mid
        }
        return {posting.title, *under}

    def _later_candidates(
        self, current: _Posting, members: dict[int, tuple[_Posting, str]], until_utc: int
    ) -> list[_Posting]:
        """Postings after `current` that could link back into its chain, oldest first.

        A later revision shares the title and author, replies to an earlier one, or was
        sent by one of the chain's authors (or under its title) and names it in its cover.
        """
        chain = [current, *(p for p, _ in members.values())]
        start = current.date
        groups: list[Sequence[_Posting]] = []
        groups.extend(self._titled(t) for t in {p.title for p in chain})
        groups.extend(
            self._by_author(a, start, until_utc) for a in {p.msg.from_email for p in chain}
        )
        found: dict[int, _Posting] = {}
        for group in groups:
            for other in _between(group, start, until_utc):
                found[other.msg.pk] = other
        for posting in chain:
            mid = posting.msg.message_id
            for other in self._postings_of(self._source.replying_to(mid, posting.msg.thread_id)):
                if start < other.date < until_utc:
                    found[other.msg.pk] = other
        return sorted(found.values(), key=lambda p: (p.date, p.msg.pk))


def _written_by(text: str, email: str) -> bool:
    """Whether a patch's body opens with "From: <email>" (git's note of the author)."""
    return any(
        field == "from" and parse_from(value)[1] == email for field, value in in_body_headers(text)
    )


def _succeeds(current: _Posting, candidate: _Posting, linked: _Posting) -> bool:
    """Whether `candidate`, linked to `linked` of current's chain, is current's successor.

    Linked to `current` itself, it is. Linked only to an earlier revision, it may be a
    sibling: v1 split into a v2 series and a separate v2 patch sent minutes apart both
    link v1. Then it must be a later version, the same title, or the real series after
    an RFC.
    """
    if linked is current:
        return True
    return (
        candidate.version > current.version
        or candidate.title == current.title
        or (current.is_rfc and not candidate.is_rfc)
    )


def _reposted(current: _Posting, candidate: _Posting) -> bool:
    """The same patch sent again soon under a project prefix: "[PATCH for-stable-4.19]"
    an hour after a bare "[PATCH]" sent by mistake (the author said "please ignore").
    Not between two projects: one backport sent to 4.19 and 5.4 is two postings."""
    return (
        not current.key[1]
        and candidate.date - current.date <= REPOST_WINDOW_S
        and candidate.total == current.total
        and candidate.version == current.version
    )


def _similar_titles(one: str, other: str) -> bool:
    """Most words shared (the subsystem prefix "KVM: arm64:" aside): a retitled series."""
    words = [set(_WORD.findall(t.rpartition(": ")[2].lower())) for t in (one, other)]
    shared = words[0] & words[1]
    return len(shared) >= 3 and len(shared) * 2 >= len(words[0] | words[1])


def _between(group: Sequence[_Posting], start: int, end: int) -> Sequence[_Posting]:
    """Members of a date-sorted group with start < date < end."""
    low = bisect.bisect_right(group, start, key=lambda p: p.date)
    high = bisect.bisect_left(group, end, key=lambda p: p.date)
    return group[low:high]


def _follows(current: _Posting, candidate: _Posting) -> bool:
    """Whether `candidate` can be a later revision than `current` (or its RESEND)."""
    if candidate.date <= current.date:
        return False
    return candidate.version >= current.version or (current.is_rfc and not candidate.is_rfc)


def _one_per_version(current: _Posting, members: dict[int, tuple[_Posting, str]]) -> list[_Posting]:
    """The latest posting of each version older than `current`, oldest version first.

    Versions restart when an RFC becomes a real series, so RFC postings sent before the
    chain's first non-RFC posting sort before all others ("order by version then date").
    """
    postings = [p for p, _ in members.values()]
    plain_dates = [p.date for p in (current, *postings) if not p.is_rfc]
    first_plain = min(plain_dates) if plain_dates else None

    def rank(p: _Posting) -> tuple[int, int]:
        early_rfc = p.is_rfc and (first_plain is None or p.date < first_plain)
        return (0 if early_rfc else 1, p.version)

    mine = rank(current)
    latest: dict[tuple[int, int], _Posting] = {}
    for posting in postings:
        key = rank(posting)
        if key >= mine:
            continue
        known = latest.get(key)
        if known is None or (posting.date, posting.msg.pk) > (known.date, known.msg.pk):
            latest[key] = posting
    return [latest[key] for key in sorted(latest)]


def _refs(msg: StoredMessage) -> tuple[str, ...]:
    """In-Reply-To first, then References (most recent last), without duplicates."""
    if msg.in_reply_to is None:
        return msg.references
    return tuple(dict.fromkeys((msg.in_reply_to, *msg.references)))
