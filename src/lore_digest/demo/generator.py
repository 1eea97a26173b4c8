"""A deterministic, offline stand-in for a week of a kernel mailing list.

`lore-digest demo` must show a realistic report on a fresh machine with no mirror and
no network, so this module writes the mail itself: raw RFC 5322 messages as lore would
archive them, with the shapes that make real lists hard to digest — a series re-posted
as a new thread, two unrelated "[PATCH v3 0/4]" covers in one week, patches not threaded
under their cover, encoded names, base64 and quoted-printable bodies, a reply whose
parent was never archived, history weeks before the reported week.

Everything is a pure function of (week_start, list_name, seed): random-looking parts
(Message-IDs, SHAs, seconds) come from SHA-1 of the seed and a label, never from global
state, so the same inputs give the same bytes on any machine.  All people, addresses
and companies are fictional (example.org / example.com / example.net).

The mail text (commit messages, diffs, cover letters, replies) lives in data/*.txt, one
file per story, so that it can be read and edited as mail; this module keeps what
turns it into an archive: who posts what and when, threading, headers and encodings.
"""

from __future__ import annotations

import base64
import hashlib
import quopri
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from functools import cache
from importlib import resources
from pathlib import Path

__all__ = ["DemoMail", "generate_demo_list", "write_mbox"]


@dataclass(frozen=True, slots=True)
class DemoMail:
    """One generated message, as a list archive would store it."""

    raw: bytes  # full message bytes, headers + body, "\n" line endings
    message_id: str  # without angle brackets
    date: datetime  # aware, in the sender's time zone (as in the Date header)


# --------------------------------------------------------------------------------------
# Deterministic "randomness"


def _hex(seed: int, *label: object, n: int = 12) -> str:
    """Hex digits derived from the seed and a label.

    Hashing a label instead of drawing from one random stream keeps each value stable
    when messages are added or reordered in this file.
    """
    out = ""
    counter = 0
    while len(out) < n:
        data = repr((seed, counter, *label)).encode()
        out += hashlib.sha1(data, usedforsecurity=False).hexdigest()
        counter += 1
    return out[:n]


def _int(seed: int, *label: object, below: int) -> int:
    """A deterministic integer in [0, below)."""
    return int(_hex(seed, "int", *label, n=16), 16) % below


_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_LOWER = "abcdefghijklmnopqrstuvwxyz"


def _chars(seed: int, alphabet: str, n: int, *label: object) -> str:
    """n characters of `alphabet`, for Message-ID styles that are not hex."""
    digest = bytes.fromhex(_hex(seed, "chars", *label, n=2 * n))
    return "".join(alphabet[b % len(alphabet)] for b in digest)


# --------------------------------------------------------------------------------------
# People


@dataclass(frozen=True, slots=True)
class _Person:
    """A fictional list member: how they appear in headers and how their mailer behaves."""

    name: str
    email: str
    tz_minutes: int
    mid_style: str  # "wl", "mutt", "tb", "gmail", "host"
    agent: str  # full User-Agent / X-Mailer header line
    encoded_name: str | None = None  # exact RFC 2047 form to use in headers

    @property
    def tz(self) -> timezone:
        return timezone(timedelta(minutes=self.tz_minutes))

    @property
    def plain(self) -> str:
        """Name and address as written in bodies (trailers, attributions)."""
        return f"{self.name} <{self.email}>"

    @property
    def header(self) -> str:
        """Name and address as written in From/To/Cc: encoded or quoted when needed."""
        if self.encoded_name is not None:
            display = self.encoded_name
        elif not self.name.isascii():
            raise ValueError(f"{self.name!r} needs an explicit encoded form")
        elif re.search(r'[()<>\[\]:;@\\,."]', self.name):
            display = '"' + self.name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        else:
            display = self.name
        return f"{display} <{self.email}>"


_MUTT = "User-Agent: Mutt/2.2.12 (2023-09-09)"
_TB = "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101\n Thunderbird/115.8.0"
_WL = (
    "User-Agent: Wanderlust/2.15.9 (Almost Unreal) SEMI-EPG/1.14.7 (Harue)\n"
    " FLIM-LB/1.14.9 (Gojo) APEL-LB/10.8 EasyPG/1.0.0 Emacs/29.1\n"
    " (aarch64-unknown-linux-gnu) MULE/6.0 (HANACHIRUSATO)"
)
_GMAIL = "X-Mailer: Webmail/1.0"

MAINTAINER = _Person("Mara Zingaro", "maz@example.org", 60, "wl", _WL)
OLIVIA = _Person("Olivia Upshaw", "olivia.upshaw@example.com", -420, "mutt", _MUTT)
PAOLO = _Person("Paolo Benetti", "pbenetti@example.com", 120, "tb", _TB)
GAVIN = _Person("Gavin Shao", "gshao@example.net", 600, "tb", _TB)
ZHANG = _Person("张三", "zhangsan@example.net", 480, "tb", _TB, "=?UTF-8?B?5byg5LiJ?=")
KENJI = _Person("Kenji Sato", "kenji.sato@example.com", 540, "tb", _TB)
RITA = _Person("Rita Ferreira", "rferreira@example.org", -480, "gmail", _GMAIL)
COSMIN = _Person("Cosmin Marinescu", "cmarinescu@example.org", 0, "mutt", _MUTT)
DANIEL = _Person(
    "Daniel P. Berrangé",
    "dpb@example.com",
    0,
    "mutt",
    _MUTT,
    "=?UTF-8?q?Daniel_P=2E_Berrang=C3=A9?=",
)
JURGEN = _Person(
    "Jürgen Vogt", "jvogt@example.net", 120, "tb", _TB, "=?iso-8859-1?Q?J=FCrgen?= Vogt"
)
JAMES = _Person("James Morrow", "james.morrow@example.com", 0, "mutt", _MUTT)
SAM = _Person("Sam Whitfield", "swhitfield@example.com", -240, "mutt", _MUTT)
ALINA = _Person("Alina Eliade", "alina.eliade@example.org", 180, "mutt", _MUTT)
WILL = _Person("Will Denton", "will@example.org", 0, "host", _MUTT)
ALDER = _Person("Alder Jonsson", "ajonsson@example.com", 120, "mutt", _MUTT)
PRIYA = _Person("Priya Natarajan", "priya.n@example.com", 330, "tb", _TB)
SYZBOT = _Person("syzbot", "syzbot+abc123def@syzkaller.appspotmail.com", -420, "syz", "")

#: The one Message-ID that replies point at but that is never generated (a "ghost").
GHOST_LABEL = "ghost-stable-backport"


# --------------------------------------------------------------------------------------
# Dates and versions


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _git_date(dt: datetime) -> str:
    """git's ISO-like date ("2024-04-07 13:22:46 -0700"), locale-independent."""
    off = _offset(dt)
    return f"{dt:%Y-%m-%d %H:%M:%S} {off}"


def _offset(dt: datetime) -> str:
    delta = dt.utcoffset() or timedelta(0)
    minutes = int(delta.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    minutes = abs(minutes)
    return f"{sign}{minutes // 60:02d}{minutes % 60:02d}"


_LINUX_5_0 = datetime(2019, 3, 3, tzinfo=UTC)
_CYCLE_DAYS = 65.45  # 5.0 (2019-03-03) → 6.0 (2022-10-02) in 20 releases


@dataclass(frozen=True, slots=True)
class _Kernel:
    """Kernel and git versions plausible for the demo week, so a 2022 demo says 5.18."""

    version: str  # release being stabilised ("6.9")
    previous: str  # last release ("6.8"), for stable backports
    rc: int  # rc tagged the Sunday before the week
    git: str  # git version in patch signatures


def _kernel_for(when: datetime) -> _Kernel:
    days = (when - _LINUX_5_0).total_seconds() / 86400
    index = max(1, int(days // _CYCLE_DAYS) + 1)

    def name(i: int) -> str:
        return f"{5 + i // 20}.{i % 20}"

    git_minor = max(20, 20 + int((when - datetime(2018, 12, 9, tzinfo=UTC)).days // 84))
    return _Kernel(name(index), name(index - 1), 4 + index % 4, f"2.{git_minor}.0")


# --------------------------------------------------------------------------------------
# Diffs


@dataclass(frozen=True, slots=True)
class _Hunk:
    """One hunk; lines carry git's " ", "+", "-" prefixes."""

    old_start: int
    func: str
    lines: tuple[str, ...]

    @property
    def old_count(self) -> int:
        return sum(1 for line in self.lines if line[0] in " -")

    @property
    def new_count(self) -> int:
        return sum(1 for line in self.lines if line[0] in " +")

    @property
    def added(self) -> int:
        return sum(1 for line in self.lines if line[0] == "+")

    @property
    def removed(self) -> int:
        return sum(1 for line in self.lines if line[0] == "-")


def _hunk(old_start: int, func: str, text: str) -> _Hunk:
    """Build a hunk from data-file text where context lines start with "|".

    "|" instead of a space keeps tab-indented kernel code from looking like mixed
    indentation to editors, and makes blank context lines visible (and safe from
    editors that strip trailing whitespace).
    """
    lines: list[str] = []
    for raw in text.strip("\n").split("\n"):
        marker, rest = raw[:1], raw[1:]
        if marker == "|":
            lines.append(" " + rest)
        elif marker in ("+", "-") and marker:
            lines.append(raw)
        else:
            raise ValueError(f"bad hunk line {raw!r}")
    return _Hunk(old_start, func, tuple(lines))


@dataclass(frozen=True, slots=True)
class _FileDiff:
    path: str
    hunks: tuple[_Hunk, ...]
    new_file: bool = False

    @property
    def added(self) -> int:
        return sum(h.added for h in self.hunks)

    @property
    def removed(self) -> int:
        return sum(h.removed for h in self.hunks)


def _range(start: int, count: int) -> str:
    # git omits ",1"; an empty side starts at the line before ("-0,0").
    return str(start) if count == 1 else f"{start},{count}"


def _render_file(f: _FileDiff, seed: int) -> str:
    """One file of a `git format-patch` diff, with consistent hunk counts."""
    body_id = "\n".join(line for h in f.hunks for line in h.lines)
    new_blob = _hex(seed, "blob", f.path, body_id)
    out = [f"diff --git a/{f.path} b/{f.path}"]
    if f.new_file:
        out += [
            "new file mode 100644",
            f"index 000000000000..{new_blob}",
            "--- /dev/null",
            f"+++ b/{f.path}",
        ]
    else:
        out += [
            f"index {_hex(seed, 'base-blob', f.path)}..{new_blob} 100644",
            f"--- a/{f.path}",
            f"+++ b/{f.path}",
        ]
    shift = 0
    for h in f.hunks:
        if f.new_file:
            old, new = "0,0", _range(1, h.new_count)
        else:
            old = _range(h.old_start, h.old_count)
            new = _range(h.old_start + shift, h.new_count)
        head = f"@@ -{old} +{new} @@"
        out.append(f"{head} {h.func}" if h.func else head)
        out.extend(h.lines)
        shift += h.new_count - h.old_count
    return "\n".join(out)


def _diffstat(entries: Sequence[tuple[str, int, int]], width: int = 72) -> str:
    """git's --stat block, scaled like git does when a graph would not fit."""
    name_w = max(len(p) for p, _, _ in entries)
    changes = [a + d for _, a, d in entries]
    count_w = len(str(max(changes)))
    graph_w = max(10, width - name_w - count_w - 5)
    biggest = max(changes)

    def scale(n: int) -> int:
        if biggest <= graph_w or n == 0:
            return n
        return 1 + (n * (graph_w - 1)) // biggest

    lines = [
        f" {p:<{name_w}} | {a + d:>{count_w}} {'+' * scale(a)}{'-' * scale(d)}"
        for p, a, d in entries
    ]
    ins = sum(a for _, a, _ in entries)
    dels = sum(d for _, _, d in entries)
    summary = f" {len(entries)} file{'s' if len(entries) != 1 else ''} changed"
    if ins:
        summary += f", {ins} insertion{'s' if ins != 1 else ''}(+)"
    if dels:
        summary += f", {dels} deletion{'s' if dels != 1 else ''}(-)"
    return "\n".join([*lines, summary])


@dataclass(frozen=True, slots=True)
class _Patch:
    """One commit of a series, before it is wrapped into a mail."""

    title: str
    message: str
    files: tuple[_FileDiff, ...]
    trailers: tuple[str, ...] = ()
    notes: str = ""  # free text between "---" and the diffstat (per-patch changelog)

    def stat_entries(self) -> list[tuple[str, int, int]]:
        return [(f.path, f.added, f.removed) for f in self.files]

    def hunk_text(self, file_index: int, hunk_index: int, first: int = 0, last: int = 99) -> str:
        """Lines of one hunk, for reviewers who quote the code they talk about."""
        lines = self.files[file_index].hunks[hunk_index].lines[first:last]
        return "\n".join(lines)


def _combined_stat(patches: Sequence[_Patch]) -> list[tuple[str, int, int]]:
    """Per-file totals over a series, sorted by path like a cover letter's diffstat."""
    totals: dict[str, list[int]] = {}
    for p in patches:
        for path, a, d in p.stat_entries():
            t = totals.setdefault(path, [0, 0])
            t[0] += a
            t[1] += d
    return [(path, a, d) for path, (a, d) in sorted(totals.items())]


# --------------------------------------------------------------------------------------
# Mail text: the bodies live in data/*.txt, one file per story


_SECTION_HEADER = re.compile(r"=== (template )?(\S.*?) ===")
_HUNK_HEADER = re.compile(r"@@ -(\d+) @@(?: (.+))?")


@dataclass(frozen=True, slots=True)
class _Section:
    text: str
    template: bool  # filled in with str.format


@cache
def _sections(story: str) -> Mapping[str, _Section]:
    """The named blocks of data/<story>.txt, read once.

    The format is plain text so that the demo's mail can be edited as mail:

    - A line ``=== NAME ===`` starts a block, which runs to the next such line.
      Blank lines before the next header only separate blocks: no block ends with
      a newline, the code adds one where a mail needs it.
    - ``=== template NAME ===`` starts a block that the code fills in with
      ``str.format``: ``{field}`` is replaced and literal braces are written
      ``{{`` ``}}``.  Every template may use ``{sig_sep}`` (the "-- " signature
      separator, kept out of the files so that no line ends in a space, which
      editors strip), ``{mara_sig}`` and ``{daniel_sig}`` (signatures.txt).
      Other blocks are used verbatim, braces and all.
    - ``NAME, quoted`` is the excerpt that the reply ``NAME`` quotes.
    - ``patch KEY`` is a commit: subject line, blank line, message.  Each
      ``patch KEY: PATH`` after it is the commit's diff of PATH, as hunks that start
      with ``@@ -OLD_START @@ FUNCTION`` (line counts are computed) and whose lines
      start with "|" (context, a space in the diff), "+" or "-".  A file whose only
      hunk starts at line 0 is a new file.  Tabs in the code are kept as they are.
    """
    path = resources.files("lore_digest.demo").joinpath("data", f"{story}.txt")
    sections: dict[str, _Section] = {}
    name: str | None = None
    template = False
    lines: list[str] = []

    def close() -> None:
        if name is None:
            if "".join(lines).strip():
                raise ValueError(f"{story}.txt: text before the first === header")
        elif name in sections:
            raise ValueError(f"{story}.txt: two blocks named {name!r}")
        else:
            sections[name] = _Section("\n".join(lines).rstrip("\n"), template)

    for line in path.read_text("utf-8").split("\n"):
        header = _SECTION_HEADER.fullmatch(line)
        if header is None:
            lines.append(line)
            continue
        close()
        template, name, lines = header[1] is not None, header[2], []
    close()
    return sections


@cache
def _shared_fields() -> Mapping[str, str]:
    """Fields every template may use; the signatures themselves may use only {sig_sep}."""
    sep = {"sig_sep": SIG}
    signatures = _sections("signatures")
    return {
        **sep,
        "mara_sig": signatures["mara"].text.format_map(sep),
        "daniel_sig": signatures["daniel"].text.format_map(sep),
    }


def _text(story: str, name: str, **fields: object) -> str:
    """Block `name` of data/<story>.txt, with its fields filled in if it is a template."""
    try:
        section = _sections(story)[name]
    except KeyError:
        raise KeyError(f"no block {name!r} in {story}.txt") from None
    if section.template:
        return section.text.format_map({**_shared_fields(), **fields})
    if fields:
        raise ValueError(f"block {name!r} of {story}.txt is not a template")
    return section.text


def _hunks(text: str, where: str) -> tuple[_Hunk, ...]:
    """The hunks of one "patch KEY: PATH" block."""
    heads: list[tuple[int, str]] = []
    bodies: list[list[str]] = []
    for line in text.split("\n"):
        head = _HUNK_HEADER.fullmatch(line)
        if head is not None:
            heads.append((int(head[1]), head[2] or ""))
            bodies.append([])
        elif bodies:
            bodies[-1].append(line)
        elif line:
            raise ValueError(f"{where}: text before the first @@ line")
    return tuple(
        _hunk(start, func, "\n".join(body))
        for (start, func), body in zip(heads, bodies, strict=True)
    )


@cache
def _patches(story: str) -> Mapping[str, _Patch]:
    """The commits of data/<story>.txt by KEY, in file order.

    Trailers and notes differ between revisions of a series, so the code adds them.
    """
    commits: dict[str, tuple[str, str]] = {}
    files: dict[str, list[_FileDiff]] = {}
    for name in _sections(story):
        if not name.startswith("patch "):
            continue
        key, colon, path = name.removeprefix("patch ").partition(": ")
        if not colon:
            title, _, message = _text(story, name).partition("\n\n")
            commits[key], files[key] = (title, message), []
        elif key not in files:
            raise ValueError(f"{story}.txt: diff {name!r} before its commit")
        else:
            hunks = _hunks(_text(story, name), f"{story}.txt {name!r}")
            new_file = len(hunks) == 1 and hunks[0].old_start == 0
            files[key].append(_FileDiff(path, hunks, new_file))
    return {
        key: _Patch(title, message, tuple(files[key])) for key, (title, message) in commits.items()
    }


# --------------------------------------------------------------------------------------
# Message assembly


def _fold(name: str, value: str, limit: int = 78) -> str:
    """Fold a header at spaces so that lines stay under `limit` characters.

    Folding only at existing spaces keeps unfolding (RFC 5322 §2.2.3) lossless.
    """
    words = value.split(" ")
    lines: list[str] = []
    current = f"{name}: {words[0]}"
    for word in words[1:]:
        if len(current) + 1 + len(word) > limit:
            lines.append(current)
            current = " " + word
        else:
            current += " " + word
    lines.append(current)
    return "\n".join(lines)


def _fold_addresses(name: str, items: Sequence[str], limit: int = 78) -> str:
    """Fold an address list after commas, never inside one address, like mailers do."""
    lines: list[str] = []
    current = f"{name}:"
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else "")
        if current != f"{name}:" and len(current) + 1 + len(piece) > limit:
            lines.append(current)
            current = " " + piece
        else:
            current += " " + piece
    lines.append(current)
    return "\n".join(lines)


def _quote(text: str) -> str:
    """Quote text the way mail clients do for bottom-posted replies."""
    return "\n".join("> " + line if line else ">" for line in text.split("\n"))


def _attribution(parent: _Built, me: _Person) -> str:
    """The "On <date>, <name> wrote:" line, in the style of the replier's mail client."""
    who = parent.author
    pd = parent.date
    if me.mid_style == "wl":
        return f"On {format_datetime(pd)},\n{who.plain} wrote:"
    if me.mid_style in ("mutt", "host"):
        hour = pd.hour % 12 or 12
        ampm = "AM" if pd.hour < 12 else "PM"
        stamp = (
            f"{_DAYS[pd.weekday()]}, {_MONTHS[pd.month - 1]} {pd.day:02d}, {pd.year} at "
            f"{hour:02d}:{pd.minute:02d}:{pd.second:02d}{ampm} {_offset(pd)}"
        )
        return f"On {stamp}, {who.name} wrote:"
    if me.mid_style == "gmail":
        local = pd.astimezone(me.tz)
        return (
            f"On {_DAYS[local.weekday()]}, {local.day} {_MONTHS[local.month - 1]} "
            f"{local.year} at {local.hour:02d}:{local.minute:02d}, {who.plain} wrote:"
        )
    local = pd.astimezone(me.tz)
    return (
        f"On {local.month}/{local.day}/{local.year % 100:02d} "
        f"{local.hour:02d}:{local.minute:02d}, {who.name} wrote:"
    )


@dataclass(slots=True)
class _Built:
    """A generated message plus what replies need to know about it."""

    message_id: str
    date: datetime
    author: _Person
    subject: str
    to: list[_Person | str]
    cc: list[_Person | str]
    references: list[str]
    body: str
    raw: bytes = b""


def _addr(x: _Person | str) -> str:
    return x.header if isinstance(x, _Person) else x


def _email_of(x: _Person | str) -> str:
    return x.email if isinstance(x, _Person) else x


@dataclass(slots=True)
class _Archive:
    """Collects the messages of the demo list and renders them to bytes."""

    seed: int
    list_name: str
    mails: list[_Built] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)

    @property
    def list_addr(self) -> str:
        return f"{self.list_name}@lists.example.org"

    def lore(self, mid: str) -> str:
        return f"https://lore.kernel.org/{self.list_name}/{mid}/"

    def client_mid(self, who: _Person, when: datetime, label: str) -> str:
        """A Message-ID in the style of the sender's mail client."""
        s = self.seed
        local = who.email.split("@")[0]
        domain = who.email.split("@")[1]
        if who.mid_style == "wl":
            return f"8{_int(s, label, below=10)}{_chars(s, _LOWER, 8, label)}.wl-{local}@{domain}"
        if who.mid_style == "mutt":
            return f"{_chars(s, _ALNUM, 16, label)}@{domain}"
        if who.mid_style == "host":
            n = 1000 + _int(s, label, below=30000)
            return f"{when.astimezone(UTC):%Y%m%d%H%M%S}.GA{n}@willie-the-truck.{domain}"
        if who.mid_style == "gmail":
            return f"CA+{_chars(s, _ALNUM, 40, label)}@mail.{domain}"
        if who.mid_style == "syz":
            return f"000000000000{_hex(s, label, n=16)}@google.com"
        h = _hex(s, label, n=32)
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}@{domain}"

    def post(
        self,
        *,
        author: _Person,
        when: datetime,
        subject: str,
        body: str,
        to: Sequence[_Person | str] = (),
        cc: Sequence[_Person | str] = (),
        parent: _Built | None = None,
        ghost_parent: str | None = None,
        message_id: str | None = None,
        label: str | None = None,
        cte: str | None = None,
        charset: str = "utf-8",
        mailer: str | None = None,
    ) -> _Built:
        """Add one message; a reply inherits recipients and References from its parent."""
        if when.tzinfo is None:
            raise ValueError("dates must be aware")
        date = when.astimezone(author.tz).replace(microsecond=0)
        mid = message_id or self.client_mid(author, date, label or subject + str(date))
        if mid in self.ids:
            raise ValueError(f"duplicate Message-ID {mid}")
        references: list[str] = []
        to_list = list(to)
        cc_list = list(cc)
        if parent is not None:
            if parent.date >= date:
                raise ValueError(f"reply {subject!r} is not after its parent")
            references = [*parent.references, parent.message_id]
            if not to_list:
                to_list = [parent.author]
                cc_list = [*parent.to, *parent.cc]
        elif ghost_parent is not None:
            references = [ghost_parent]
        to_list, cc_list = _dedup(to_list, cc_list, author)
        built = _Built(mid, date, author, subject, to_list, cc_list, references, body)
        built.raw = self._render(built, cte=cte, charset=charset, mailer=mailer)
        self.mails.append(built)
        self.ids.add(mid)
        return built

    def _render(self, m: _Built, *, cte: str | None, charset: str, mailer: str | None) -> bytes:
        body = m.body if m.body.endswith("\n") else m.body + "\n"
        headers = [f"From: {m.author.header}"]
        if m.to:
            headers.append(_fold_addresses("To", [_addr(x) for x in m.to]))
        if m.cc:
            headers.append(_fold_addresses("Cc", [_addr(x) for x in m.cc]))
        headers.append(_fold("Subject", m.subject))
        headers.append(f"Date: {format_datetime(m.date)}")
        headers.append(f"Message-ID: <{m.message_id}>")
        if m.references:
            headers.append(f"In-Reply-To: <{m.references[-1]}>")
            headers.append("References: " + "\n ".join(f"<{r}>" for r in m.references))
        if cte is None:
            cte = "7bit" if body.isascii() else "8bit"
        if cte == "7bit" and not body.isascii():
            raise ValueError(f"non-ASCII body in 7bit mail {m.subject!r}")
        payload = body.encode(charset)
        if cte == "quoted-printable":
            payload = quopri.encodestring(payload)
        elif cte == "base64":
            payload = base64.encodebytes(payload)
        if mailer is not None and cte == "7bit":
            # git send-email adds no MIME headers to a plain ASCII patch.
            headers.append(f"X-Mailer: {mailer}")
        else:
            shown_charset = "us-ascii" if cte == "7bit" else charset
            headers += [
                "MIME-Version: 1.0",
                f"Content-Type: text/plain; charset={shown_charset}",
                f"Content-Transfer-Encoding: {cte}",
            ]
            if mailer is not None:
                headers.append(f"X-Mailer: {mailer}")
            elif m.author.agent:
                headers.append(m.author.agent)
        headers.append(f"List-Id: <{self.list_name}.lists.example.org>")
        head = "\n".join(headers)
        if not head.isascii():
            raise ValueError(f"non-ASCII header in {m.subject!r}")
        return head.encode("ascii") + b"\n\n" + payload

    def reply(
        self,
        parent: _Built,
        author: _Person,
        when: datetime,
        text: str,
        *,
        quoted: str | None = None,
        cte: str | None = None,
        charset: str = "utf-8",
    ) -> _Built:
        """A bottom-posted reply: attribution, quoted excerpt, then the answer."""
        excerpt = quoted if quoted is not None else _first_paragraph(parent.body)
        body = f"{_attribution(parent, author)}\n{_quote(excerpt)}\n\n{text}"
        subject = parent.subject if parent.subject.startswith("Re: ") else "Re: " + parent.subject
        return self.post(
            author=author,
            when=when,
            subject=subject,
            body=body,
            parent=parent,
            label=f"reply:{parent.message_id}:{author.email}:{when.isoformat()}",
            cte=cte,
            charset=charset,
        )


def _dedup(
    to: list[_Person | str], cc: list[_Person | str], me: _Person
) -> tuple[list[_Person | str], list[_Person | str]]:
    """Drop the sender and repeated addresses, as mail clients do on reply-all."""
    seen = {me.email}
    out_to: list[_Person | str] = []
    out_cc: list[_Person | str] = []
    for src, dst in ((to, out_to), (cc, out_cc)):
        for x in src:
            key = _email_of(x)
            if key not in seen:
                seen.add(key)
                dst.append(x)
    return out_to, out_cc


def _first_paragraph(body: str) -> str:
    for para in body.split("\n\n"):
        if para.strip() and not para.startswith(("On ", ">")):
            return para.strip("\n")
    return body.split("\n")[0]


SIG = "-- "  # the signature separator; built here so no line ends in a space (data/ too)


def _series(
    arch: _Archive,
    *,
    author: _Person,
    when: datetime,
    prefix: str,
    title: str,
    intro: str,
    patches: Sequence[_Patch],
    to: Sequence[_Person | str],
    cc: Sequence[_Person | str],
    kernel: _Kernel,
    changelog: str = "",
    threaded: bool = True,
    b4_slug: str | None = None,
    b4_change_date: datetime | None = None,
    spacing: Sequence[int] | None = None,
) -> tuple[_Built, list[_Built]]:
    """Post a cover letter and its patches the way git send-email or b4 would."""
    n = len(patches)
    utc = when.astimezone(UTC)
    seed = arch.seed
    base = _hex(seed, "base-commit", title, prefix, n=40)
    if b4_slug is not None:
        change_date = (b4_change_date or when).astimezone(UTC)
        series_hash = _hex(seed, "b4", b4_slug, prefix)
        ver = re.search(r"v(\d+)", prefix)
        v = ver.group(1) if ver else "1"

        def mid(i: int) -> str:
            return f"{change_date:%Y%m%d}-{b4_slug}-v{v}-{i}-{series_hash}@{author.email.split('@')[1]}"

    else:
        pid = 1000 + _int(seed, "pid", title, prefix, below=3_000_000)

        def mid(i: int) -> str:
            return f"{utc:%Y%m%d%H%M%S}.{pid}-{i + 1}-{author.email}"

    mailer = "b4 0.13.0" if b4_slug else f"git-send-email {kernel.git}"
    shortlog_indent = "      " if b4_slug else "  "
    shortlog = f"{author.name} ({n}):\n" + "\n".join(shortlog_indent + p.title for p in patches)
    stat = _diffstat(_combined_stat(patches))
    if b4_slug is not None:
        cover_body = (
            f"{intro}\n\n---\n{changelog}\n\n---\n{shortlog}\n\n{stat}\n---\n"
            f"base-commit: {base}\nchange-id: {change_date:%Y%m%d}-{b4_slug}-"
            f"{_hex(seed, 'change-id', b4_slug)}\n\nBest regards,\n{SIG}\n{author.plain}\n"
        )
    else:
        parts = [intro]
        if changelog:
            parts.append(changelog)
        parts += [shortlog, stat, f"base-commit: {base}\n{SIG}\n{kernel.git}\n"]
        cover_body = "\n\n".join(parts)
    cover = arch.post(
        author=author,
        when=when,
        subject=f"[{prefix} 0/{n}] {title}",
        body=cover_body,
        to=to,
        cc=cc,
        message_id=mid(0),
        mailer=mailer,
    )
    offsets = spacing or [i + 1 for i in range(n)]
    sent: list[_Built] = []
    for i, p in enumerate(patches, start=1):
        body = _patch_body(p, author, seed, kernel)
        sent.append(
            arch.post(
                author=author,
                when=when + timedelta(seconds=offsets[i - 1]),
                subject=f"[{prefix} {i}/{n}] {p.title}",
                body=body,
                to=to,
                cc=cc,
                parent=cover if threaded else None,
                message_id=mid(i),
                mailer=mailer,
            )
        )
    return cover, sent


def _applied(patches: Sequence[_Built], seed: int) -> str:
    """b4 ty's list of applied patches with their commit ids."""
    out = []
    for p in patches:
        m = re.match(r"\[[^\]]*?(\d+/\d+)\] (.*)", p.subject)
        assert m is not None
        out.append(f"[{m.group(1)}] {m.group(2)}\n      commit: {_hex(seed, 'applied', p.subject)}")
    return "\n".join(out)


def _snip(*parts: str) -> str:
    """Join quoted fragments with the "[...]" marker reviewers put where they cut."""
    return "\n\n[...]\n\n".join(parts)


# --------------------------------------------------------------------------------------
# The patches (fictional but kernel-shaped; the text is in data/*.txt)


_VHE_TLB = "arch/arm64/kvm/hyp/vhe/tlb.c"


def _series_a(v2: bool) -> list[_Patch]:
    """Range-based stage-2 TLB invalidation: v1 breaks bisection, v2 fixes it.

    The data file holds v2. v1 lacked the VHE helper, and its patch 2 used
    stage2_unmap_defer_tlb_flush() without defining it: what the v1 reviews point out.
    """
    helper, defer, hook = _patches("tlbi").values()
    if v2:
        return [
            replace(helper, notes="v2: add the VHE implementation (Kenji)"),
            replace(defer, notes=_text("tlbi", "v2 notes 2")),
            hook,
        ]
    (pgtable,) = defer.files
    return [
        replace(helper, files=tuple(f for f in helper.files if f.path != _VHE_TLB)),
        replace(defer, files=(replace(pgtable, hunks=pgtable.hunks[1:]),)),
        hook,
    ]


def _series_b(v3: bool) -> list[_Patch]:
    """vgic LPI translation cache lifetime fixes (b4-sent, threaded)."""
    refcount, invalidate, rcu, selftest = _patches("vgic").values()
    if v3:
        refcount = replace(refcount, trailers=(f"Reviewed-by: {OLIVIA.plain}",))
        invalidate = replace(
            invalidate, notes="v3: also invalidate when the device was never mapped"
        )
    return [refcount, invalidate, rcu, selftest]


def _series_c(v3: bool) -> list[_Patch]:
    """PMCR_EL0.N made writable by userspace (unthreaded in v3); v3 adds the selftest."""
    per_vm, writable, sanitize, selftest = _patches("pmu").values()
    if not v3:
        return [per_vm, writable, sanitize]
    notes = "v3: drop the -EINVAL for N greater than the limit, ignore it instead"
    return [per_vm, replace(writable, notes=notes), sanitize, selftest]


def _series_rfc() -> list[_Patch]:
    return list(_patches("rfc").values())


def _kvm_unit_test() -> _Patch:
    test = _patches("tools")["kvm-unit-tests"]
    return replace(test, notes="v2: skip instead of failing when not running at EL2 (Alder)")


def _kvmtool() -> list[_Patch]:
    tools = _patches("tools")
    return [tools["kvmtool 1"], tools["kvmtool 2"]]


def _single_patch() -> _Patch:
    return _patches("tools")["single"]


# --------------------------------------------------------------------------------------
# The demo list: one function per story, each posting its whole thread(s)

ARM_LIST = "linux-arm-kernel@lists.example.org"
KVM_LIST = "kvm@lists.example.org"
LKML = "linux-kernel@vger.example.org"


@dataclass(slots=True)
class _Demo:
    """What every story needs: the archive, the reported week, the kernel of the day."""

    arch: _Archive
    ws: datetime
    kernel: _Kernel

    @property
    def seed(self) -> int:
        return self.arch.seed

    @property
    def lst(self) -> str:
        return self.arch.list_addr

    @property
    def reviewers(self) -> list[_Person | str]:
        return [KENJI, JAMES, COSMIN, ARM_LIST, self.lst]

    @property
    def git_mailer(self) -> str:
        return f"git-send-email {self.kernel.git}"

    def at(self, week: int, day: int, hour: int, minute: int, label: str) -> datetime:
        """A moment relative to the week (UTC), with seed-dependent seconds.

        Stories are written as "week -4, Monday 23:50 UTC" so they keep their shape
        whatever week is asked for; the seconds make different seeds differ.
        """
        second = _int(self.seed, "second", label, below=60)
        delta = timedelta(weeks=week, days=day, hours=hour, minutes=minute, seconds=second)
        return self.ws + delta

    def reply(
        self,
        parent: _Built,
        author: _Person,
        when: datetime,
        story: str,
        name: str,
        *,
        quoted: str | None = None,
        cte: str | None = None,
        charset: str = "utf-8",
        **fields: object,
    ) -> _Built:
        """A reply whose text is block `name` of data/<story>.txt (fields fill a template).

        It quotes `quoted`, else the block "<name>, quoted" when there is one, else the
        parent's first paragraph, so that the data file shows what each reply answers.
        """
        if quoted is None and f"{name}, quoted" in _sections(story):
            quoted = _text(story, f"{name}, quoted")
        text = _text(story, name, **fields)
        return self.arch.reply(parent, author, when, text, quoted=quoted, cte=cte, charset=charset)


def generate_demo_list(
    week_start: datetime, *, list_name: str = "demo-kvmarm", seed: int = 1
) -> list[DemoMail]:
    """Messages around the ISO week starting at `week_start`, sorted by date.

    `week_start` must be aware (normally a Monday 00:00 UTC). Most messages fall inside
    [week_start, week_start + 7 days); the rest is history 3 to 6 weeks earlier, so that
    a digest has to tell new activity from old. Same inputs give identical bytes.
    """
    if week_start.tzinfo is None or week_start.utcoffset() is None:
        raise ValueError("week_start must be timezone-aware")
    ws = week_start.astimezone(UTC)
    demo = _Demo(_Archive(seed, list_name), ws, _kernel_for(ws))
    _tlbi_story(demo)
    vgic_cover = _vgic_story(demo)
    _pmu_story(demo)
    _question_story(demo)
    _syzbot_story(demo, vgic_cover)
    _tools_story(demo)
    _rfc_story(demo)
    _pull_story(demo)
    _ghost_story(demo)
    mails = sorted(demo.arch.mails, key=lambda m: (m.date, m.message_id))
    return [DemoMail(m.raw, m.message_id, m.date) for m in mails]


_TLBI_TITLE = "KVM: arm64: Batch stage-2 TLB invalidation on range unmap"


def _tlbi_story(d: _Demo) -> None:
    """Series A: v1 reviewed 4 weeks ago, v2 re-posted as a new thread, acked, applied."""
    arch = d.arch
    v1_objs = _series_a(v2=False)
    v1_cover, v1_patches = _series(
        arch,
        author=GAVIN,
        when=d.at(-4, 0, 23, 50, "a1"),
        prefix="PATCH v1",
        title=_TLBI_TITLE,
        intro=_text("tlbi", "intro"),
        patches=v1_objs,
        to=[MAINTAINER, OLIVIA],
        cc=d.reviewers,
        kernel=d.kernel,
    )
    kenji = d.reply(
        v1_patches[0],
        KENJI,
        d.at(-4, 1, 5, 30, "a1-kenji"),
        "tlbi",
        "kenji on v1 1/3",
        quoted=_snip(_first_paragraph(v1_patches[0].body), v1_objs[0].hunk_text(1, 0, 0, 8)),
    )
    d.reply(kenji, GAVIN, d.at(-4, 1, 7, 2, "a1-gavin-kenji"), "tlbi", "gavin to kenji")
    olivia = d.reply(
        v1_patches[1],
        OLIVIA,
        d.at(-4, 1, 16, 44, "a1-olivia"),
        "tlbi",
        "olivia on v1 2/3",
        quoted=_snip(v1_objs[1].hunk_text(0, 0, 3, 9)),
    )
    d.reply(olivia, GAVIN, d.at(-4, 2, 0, 15, "a1-gavin-olivia"), "tlbi", "gavin to olivia")

    # v2 is a new thread, with a changelog and a link to v1.
    v2_objs = _series_a(v2=True)
    v2_cover, v2_patches = _series(
        arch,
        author=GAVIN,
        when=d.at(0, 0, 0, 30, "a2"),
        prefix="PATCH v2",
        title=_TLBI_TITLE,
        intro=_text("tlbi", "intro"),
        patches=v2_objs,
        to=[MAINTAINER, OLIVIA],
        cc=d.reviewers,
        kernel=d.kernel,
        changelog=_text("tlbi", "v2 changelog", v1=arch.lore(v1_cover.message_id)),
    )
    d.reply(
        v2_patches[0],
        KENJI,
        d.at(0, 1, 6, 15, "a2-kenji"),
        "tlbi",
        "kenji on v2 1/3",
        me=KENJI.plain,
        quoted=_snip(_first_paragraph(v2_patches[0].body)),
    )
    d.reply(
        v2_cover,
        COSMIN,
        d.at(0, 1, 11, 0, "a2-cosmin"),
        "tlbi",
        "cosmin on v2 0/3",
        me=COSMIN.plain,
        quoted=_first_paragraph(v2_cover.body),
    )
    d.reply(
        v2_patches[1],
        OLIVIA,
        d.at(0, 1, 16, 40, "a2-olivia"),
        "tlbi",
        "olivia on v2 2/3",
        me=OLIVIA.plain,
        quoted=_snip(v2_objs[1].hunk_text(0, 0, 3, 15)),
    )
    d.reply(
        v2_cover,
        MAINTAINER,
        d.at(0, 4, 11, 35, "a2-applied"),
        "tlbi",
        "mara applies v2",
        applied=_applied(v2_patches, d.seed),
        quoted=_snip(_first_paragraph(v2_cover.body)),
    )


_VGIC_TITLE = "KVM: arm64: vgic: Fix LPI translation cache races"


def _vgic_story(d: _Demo) -> _Built:
    """Series B (b4, threaded): v2 five weeks ago, v3 this week; returns the v3 cover."""
    arch = d.arch
    change_date = d.at(-7, 0, 9, 0, "b-change-id")
    v2_cover, v2_patches = _series(
        arch,
        author=ZHANG,
        when=d.at(-5, 2, 2, 30, "b2"),
        prefix="PATCH v2",
        title=_VGIC_TITLE,
        intro=_text("vgic", "intro"),
        patches=_series_b(v3=False),
        to=[MAINTAINER, OLIVIA, KENJI],
        cc=[JAMES, ARM_LIST, d.lst, LKML],
        kernel=d.kernel,
        changelog=_text(
            "vgic", "v2 changelog", change_date=change_date, v1_hash=_hex(d.seed, "b1")
        ),
        b4_slug="vgic-lpi-cache",
        b4_change_date=change_date,
    )
    d.reply(
        v2_patches[0],
        OLIVIA,
        d.at(-5, 2, 18, 20, "b2-olivia"),
        "vgic",
        "olivia on v2 1/4",
        me=OLIVIA.plain,
        quoted=_first_paragraph(v2_patches[0].body),
    )
    maz = d.reply(
        v2_patches[1],
        MAINTAINER,
        d.at(-5, 3, 8, 45, "b2-maz"),
        "vgic",
        "mara on v2 2/4",
        quoted=_snip(_first_paragraph(v2_patches[1].body), _series_b(False)[1].hunk_text(0, 0)),
    )
    d.reply(
        maz,
        ZHANG,
        d.at(-5, 4, 1, 15, "b2-zhang"),
        "vgic",
        "zhang to mara on v2",
        quoted="This only covers the case where the device was mapped.",
    )

    # v3: the vgic "[PATCH v3 0/4]" of the week.
    v3_objs = _series_b(v3=True)
    v3_cover, v3_patches = _series(
        arch,
        author=ZHANG,
        when=d.at(0, 1, 2, 10, "b3"),
        prefix="PATCH v3",
        title=_VGIC_TITLE,
        intro=_text("vgic", "intro"),
        patches=v3_objs,
        to=[MAINTAINER, OLIVIA, KENJI],
        cc=[JAMES, ARM_LIST, d.lst, LKML],
        kernel=d.kernel,
        changelog=_text("vgic", "v3 changelog", v2=v2_cover.message_id),
        b4_slug="vgic-lpi-cache",
        b4_change_date=change_date,
    )
    d.reply(
        v3_patches[1],
        KENJI,
        d.at(0, 2, 3, 30, "b3-kenji"),
        "vgic",
        "kenji on v3 2/4",
        me=KENJI.plain,
        quoted=_first_paragraph(v3_patches[1].body),
    )
    maz = d.reply(
        v3_patches[2],
        MAINTAINER,
        d.at(0, 2, 14, 15, "b3-maz"),
        "vgic",
        "mara on v3 3/4",
        quoted=_snip(v3_objs[2].hunk_text(0, 0)),
    )
    # The base64 body: a UTF-8 reply with Chinese text.
    d.reply(maz, ZHANG, d.at(0, 3, 1, 40, "b3-zhang"), "vgic", "zhang to mara on v3", cte="base64")
    return v3_cover


_PMU_TITLE = "KVM: arm64: PMU: Allow userspace to limit PMCR_EL0.N"


def _pmu_story(d: _Demo) -> None:
    """Series C: v2 six weeks ago; v3 this week, unthreaded, questioned, no trailers."""
    arch = d.arch
    v2_cover, _ = _series(
        arch,
        author=RITA,
        when=d.at(-6, 1, 16, 5, "c2"),
        prefix="PATCH v2",
        title=_PMU_TITLE,
        intro=_text("pmu", "intro"),
        patches=_series_c(v3=False),
        to=[MAINTAINER, OLIVIA],
        cc=d.reviewers,
        kernel=d.kernel,
        changelog=_text("pmu", "v2 changelog"),
    )
    question = d.reply(
        v2_cover, OLIVIA, d.at(-6, 2, 17, 40, "c2-olivia"), "pmu", "olivia on v2 0/3"
    )
    d.reply(question, RITA, d.at(-6, 3, 15, 10, "c2-rita"), "pmu", "rita to olivia on v2")

    # v3: cover and patches each a new thread, sent within a minute; the cover goes
    # out on Sunday evening in the author's zone, which is Monday in UTC.
    _, v3_patches = _series(
        arch,
        author=RITA,
        when=d.at(0, 0, 5, 40, "c3"),
        prefix="PATCH v3",
        title=_PMU_TITLE,
        intro=_text("pmu", "intro"),
        patches=_series_c(v3=True),
        to=[MAINTAINER, OLIVIA],
        cc=d.reviewers,
        kernel=d.kernel,
        changelog=_text("pmu", "v3 changelog", v2=arch.lore(v2_cover.message_id)),
        threaded=False,
        spacing=[14, 27, 41, 55],
    )
    question = d.reply(
        v3_patches[1],
        OLIVIA,
        d.at(0, 1, 19, 5, "c3-olivia"),
        "pmu",
        "olivia on v3 2/4",
        quoted=_snip(_series_c(True)[1].hunk_text(0, 0, 21, 26)),
    )
    d.reply(question, RITA, d.at(0, 2, 16, 22, "c3-rita"), "pmu", "rita to olivia on v3")


def _question_story(d: _Demo) -> None:
    """A discussion without patches; one answer has a body line starting with "From "."""
    arch = d.arch
    question = arch.post(
        author=DANIEL,
        when=d.at(0, 0, 13, 20, "question"),
        subject="KVM: arm64: question about CNTFRQ_EL0 after live migration?",
        to=[d.lst],
        cc=[MAINTAINER, OLIVIA, "qemu-arm@lists.example.org"],
        body=_text("question", "daniel asks"),
    )
    maz = d.reply(question, MAINTAINER, d.at(0, 0, 15, 2, "q-maz"), "question", "mara answers")
    jurgen = d.reply(
        maz,
        JURGEN,
        d.at(0, 0, 17, 30, "q-jurgen"),
        "question",
        "jurgen",
        cte="quoted-printable",
        charset="iso-8859-1",
    )
    d.reply(
        jurgen,
        DANIEL,
        d.at(0, 1, 9, 30, "q-daniel"),
        "question",
        "daniel thanks",
        cte="quoted-printable",
    )


def _syzbot_story(d: _Demo, fix_cover: _Built) -> None:
    """A syzbot report, answered with a pointer to the series that fixes it."""
    report = _syzbot(d.arch, d.kernel, d.at(0, 2, 7, 12, "syzbot"), d.lst)
    d.reply(
        report,
        OLIVIA,
        d.at(0, 2, 17, 5, "syz-olivia"),
        "syzbot",
        "olivia",
        fix=d.arch.lore(fix_cover.message_id),
    )


def _tools_story(d: _Demo) -> None:
    """Patches for the other trees the list carries, plus a lone unanswered patch."""
    arch, seed = d.arch, d.seed
    _series_single(
        arch,
        PRIYA,
        d.at(0, 0, 8, 55, "single"),
        _single_patch(),
        [MAINTAINER, OLIVIA],
        d.reviewers,
        d.kernel,
    )

    kut_when = d.at(0, 2, 9, 48, "kut")
    kut = arch.post(
        author=SAM,
        when=kut_when,
        subject=f"[kvm-unit-tests PATCH v2 1/1] {_kvm_unit_test().title}",
        to=[KVM_LIST, d.lst],
        cc=[ALDER, MAINTAINER, OLIVIA],
        body=_patch_body(_kvm_unit_test(), SAM, seed, d.kernel),
        message_id=f"{kut_when:%Y%m%d%H%M%S}.{4200 + _int(seed, 'kut', below=9000)}-1-{SAM.email}",
        mailer=d.git_mailer,
    )
    d.reply(kut, ALDER, d.at(0, 3, 19, 0, "kut-alder"), "tools", "alder applies kvm-unit-tests")

    # kvmtool: no cover letter, patch 2 threaded under patch 1.
    kvmtool = _kvmtool()
    k_when = d.at(0, 2, 10, 30, "kvmtool")
    k_ids = [
        f"{k_when:%Y%m%d%H%M%S}.{7000 + _int(seed, 'kvmtool', below=9000)}-{i}-{ALINA.email}"
        for i in (1, 2)
    ]
    first = arch.post(
        author=ALINA,
        when=k_when,
        subject=f"[PATCH kvmtool 1/2] {kvmtool[0].title}",
        to=[WILL],
        cc=[d.lst, MAINTAINER, OLIVIA],
        body=_patch_body(kvmtool[0], ALINA, seed, d.kernel),
        message_id=k_ids[0],
        mailer=d.git_mailer,
    )
    arch.post(
        author=ALINA,
        when=k_when + timedelta(seconds=1),
        subject=f"[PATCH kvmtool 2/2] {kvmtool[1].title}",
        to=[WILL],
        cc=[d.lst, MAINTAINER, OLIVIA],
        body=_patch_body(kvmtool[1], ALINA, seed, d.kernel),
        parent=first,
        message_id=k_ids[1],
        mailer=d.git_mailer,
    )
    d.reply(
        first,
        WILL,
        d.at(0, 3, 12, 30, "kvmtool-will"),
        "tools",
        "will applies kvmtool",
        title1=kvmtool[0].title,
        commit1=_hex(seed, "kt1"),
        title2=kvmtool[1].title,
        commit2=_hex(seed, "kt2"),
    )


def _rfc_story(d: _Demo) -> None:
    """An RFC whose ABI the maintainer pushes back on."""
    arch = d.arch
    cover, _ = _series(
        arch,
        author=JAMES,
        when=d.at(0, 3, 8, 0, "rfc"),
        prefix="RFC PATCH",
        title="KVM: arm64: Expose the counter offset through PTP_KVM",
        intro=_text("rfc", "intro"),
        patches=_series_rfc(),
        to=[MAINTAINER, OLIVIA],
        cc=[KENJI, d.lst],
        kernel=d.kernel,
    )
    maz = d.reply(cover, MAINTAINER, d.at(0, 3, 15, 45, "rfc-maz"), "rfc", "mara on 0/2")
    d.reply(
        maz,
        JAMES,
        d.at(0, 4, 9, 0, "rfc-james"),
        "rfc",
        "james to mara",
        quoted="I'm not keen on growing the PTP_KVM ABI for this.",
    )


def _pull_story(d: _Demo) -> None:
    """Two fixes pull requests to the KVM maintainer: take #1 in history, take #2 now."""
    take1 = d.at(-3, 4, 10, 5, "pull1")
    rc_date = d.ws - timedelta(weeks=3, days=1) + timedelta(hours=20, minutes=22)
    pull1 = _pull_request(d.arch, d.kernel, 1, take1, max(1, d.kernel.rc - 3), rc_date)
    d.reply(pull1, PAOLO, d.at(-3, 5, 14, 20, "pull1-paolo"), "pull", "paolo pulls")

    take2 = d.at(0, 3, 10, 20, "pull2")
    rc_date = d.ws - timedelta(days=1) + timedelta(hours=20, minutes=31)
    pull2 = _pull_request(d.arch, d.kernel, 2, take2, d.kernel.rc, rc_date)
    d.reply(pull2, PAOLO, d.at(0, 4, 15, 50, "pull2-paolo"), "pull", "paolo pulls")


def _ghost_story(d: _Demo) -> None:
    """A reply to a stable backport that went only to stable@, so it was never archived."""
    seed = d.seed
    ghost_when = d.ws - timedelta(days=3) + timedelta(hours=8, minutes=34, seconds=12)
    ghost_pid = _int(seed, GHOST_LABEL, below=90000)
    ghost_id = f"{ghost_when:%Y%m%d%H%M%S}.{ghost_pid}-1-backports@example.net"
    d.arch.post(
        author=MAINTAINER,
        when=d.at(0, 3, 13, 10, "ghost"),
        subject=f"Re: [PATCH {d.kernel.previous}.y] KVM: arm64: vgic-its: Avoid potential UAF "
        "in LPI translation cache",
        to=["backports@example.net"],
        cc=["stable@lists.example.org", d.lst],
        ghost_parent=ghost_id,
        body=_text(
            "stable",
            "mara acks backport",
            date=format_datetime(ghost_when.astimezone(MAINTAINER.tz)),
            commit=_hex(seed, "upstream-fix", n=40),
            me=MAINTAINER.plain,
        ),
        label=GHOST_LABEL,
    )


def _patch_body(p: _Patch, author: _Person, seed: int, kernel: _Kernel) -> str:
    """The body git format-patch writes for one commit."""
    trailers = "\n".join([*p.trailers, f"Signed-off-by: {author.plain}"])
    below = f"---\n{p.notes}\n\n" if p.notes else "---\n"
    diff = "\n".join(_render_file(f, seed) for f in p.files)
    return (
        f"{p.message}\n\n{trailers}\n{below}{_diffstat(p.stat_entries())}\n\n"
        f"{diff}\n{SIG}\n{kernel.git}\n"
    )


def _series_single(
    arch: _Archive,
    author: _Person,
    when: datetime,
    patch: _Patch,
    to: Sequence[_Person | str],
    cc: Sequence[_Person | str],
    kernel: _Kernel,
) -> _Built:
    """A lone "[PATCH]" with no cover and no replies: the digest's "awaiting review"."""
    utc = when.astimezone(UTC)
    pid = 1000 + _int(arch.seed, "pid", patch.title, below=3_000_000)
    return arch.post(
        author=author,
        when=when,
        subject=f"[PATCH] {patch.title}",
        body=_patch_body(patch, author, arch.seed, kernel),
        to=to,
        cc=cc,
        message_id=f"{utc:%Y%m%d%H%M%S}.{pid}-1-{author.email}",
        mailer=f"git-send-email {kernel.git}",
    )


def _pull_request(
    arch: _Archive, kernel: _Kernel, take: int, when: datetime, base_rc: int, base_date: datetime
) -> _Built:
    """A "[GIT PULL]" in the format of git request-pull, as the maintainer sends them.

    The fixes it lists are not on the list: only the pull request's own text is.
    """
    seed = arch.seed
    v = kernel.version
    tip_date = (when - timedelta(hours=3, minutes=17)).astimezone(MAINTAINER.tz)
    rc_date = base_date.astimezone(timezone(timedelta(hours=-7)))
    shortlog = _text("pull", f"shortlog take {take}")
    body = _text(
        "pull",
        "request-pull",
        blurb=_text("pull", f"blurb take {take}", v=v),
        base=_hex(seed, "pull-base", take, n=40),
        v=v,
        base_rc=base_rc,
        rc_date=_git_date(rc_date),
        take=take,
        tip=_hex(seed, "pull-tip", take, n=40),
        last_subject=shortlog.split("\n")[-1].strip(),
        tip_date=_git_date(tip_date),
        summary=_text("pull", f"summary take {take}"),
        log=shortlog,
        stat=_text("pull", f"stat take {take}"),
    )
    utc = when.astimezone(UTC)
    return arch.post(
        author=MAINTAINER,
        when=when,
        subject=f"[GIT PULL] KVM/arm64 fixes for {v}, take #{take}",
        body=body + "\n",
        to=[PAOLO],
        cc=[OLIVIA, KENJI, JAMES, PRIYA, arch.list_addr, "kvm@lists.example.org"],
        message_id=f"{utc:%Y%m%d%H%M%S}.{_int(seed, 'pull', take, below=3_000_000)}-1-"
        f"{MAINTAINER.email}",
        mailer=f"git-send-email {kernel.git}",
    )


def _syzbot(arch: _Archive, kernel: _Kernel, when: datetime, lst: str) -> _Built:
    """A syzbot report: a "---" separator in the body that is not a patch."""
    seed = arch.seed
    head = _hex(seed, "syz-head")
    body = _text(
        "syzbot",
        "report",
        head=head,
        v=kernel.version,
        rc=kernel.rc,
        x=_hex(seed, "syz-log", n=16),
        cfg=_hex(seed, "syz-config", n=16),
        bios=when - timedelta(days=16),
    )
    return arch.post(
        author=SYZBOT,
        when=when,
        subject="[syzbot] [kvmarm?] KASAN: slab-use-after-free Read in kvm_vgic_flush_hwstate",
        body=body + "\n",
        to=[MAINTAINER, OLIVIA, KENJI, lst, "linux-kernel@vger.example.org"],
        cc=["syzkaller-bugs@googlegroups.com"],
        label="syzbot-report",
    )


# --------------------------------------------------------------------------------------
# mboxrd


_FROM_LINE = re.compile(rb">*From ")


def write_mbox(mails: Iterable[DemoMail], path: Path) -> None:
    """Write an mboxrd file, the format lore serves (``t.mbox.gz``).

    mboxrd prefixes ">" to every body line matching ``^>*From ``, so the escaping can
    be undone exactly; Python's mailbox.mbox reads the result (it does not unescape,
    but it splits messages correctly because no body line starts with "From ").
    """
    with Path(path).open("wb") as out:
        for mail in mails:
            out.write(b"From mboxrd@z Thu Jan  1 00:00:00 1970\n")
            raw = mail.raw.replace(b"\r\n", b"\n")
            lines = raw.split(b"\n")
            if lines and lines[-1] == b"":
                lines.pop()
            for line in lines:
                if _FROM_LINE.match(line):
                    out.write(b">")
                out.write(line + b"\n")
            out.write(b"\n")
