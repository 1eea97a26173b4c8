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
"""

from __future__ import annotations

import base64
import hashlib
import quopri
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
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
    """Build a hunk from source text where context lines start with "|".

    "|" instead of a space keeps tab-indented kernel code from looking like mixed
    indentation to linters, and makes blank context lines visible.
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


SIG = "-- "  # the signature separator; built here so no source line ends in a space


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


def _mara_sig() -> str:
    return f"Thanks,\n\n\tM.\n{SIG}\nA TLB miss is just a cache hit that has not happened yet."


def _dpb_sig() -> str:
    return (
        f"With regards,\nDaniel\n{SIG}\n"
        "|: https://dpb.example.com      -o-    https://www.example.com/~dpb :|\n"
        "|: https://libvirt.example.org         -o-        https://fstop.example.net :|\n"
        "|: https://entangle.example.org    -o-    https://www.example.com/~dpb/pix :|"
    )


# --------------------------------------------------------------------------------------
# The patches (fictional but kernel-shaped)


def _series_a(v2: bool) -> list[_Patch]:
    """Range-based stage-2 TLB invalidation: v1 breaks bisection, v2 fixes it."""
    asm_h = _FileDiff(
        "arch/arm64/include/asm/kvm_asm.h",
        (
            _hunk(
                68,
                "enum __kvm_host_smccc_func {",
                """
|	__KVM_HOST_SMCCC_FUNC___kvm_tlb_flush_vmid_ipa,
|	__KVM_HOST_SMCCC_FUNC___kvm_tlb_flush_vmid_ipa_nsh,
|	__KVM_HOST_SMCCC_FUNC___kvm_tlb_flush_vmid,
+	__KVM_HOST_SMCCC_FUNC___kvm_tlb_flush_vmid_range,
|	__KVM_HOST_SMCCC_FUNC___kvm_flush_cpu_context,
|	__KVM_HOST_SMCCC_FUNC___kvm_timer_set_cntvoff,
|	__KVM_HOST_SMCCC_FUNC___vgic_v3_read_vmcr,
""",
            ),
            _hunk(
                229,
                "extern void __kvm_tlb_flush_vmid_ipa(struct kvm_s2_mmu *mmu, phys_addr_t ipa,",
                """
|extern void __kvm_tlb_flush_vmid_ipa_nsh(struct kvm_s2_mmu *mmu,
|					 phys_addr_t ipa,
|					 int level);
+extern void __kvm_tlb_flush_vmid_range(struct kvm_s2_mmu *mmu,
+					phys_addr_t start, unsigned long pages);
|extern void __kvm_tlb_flush_vmid(struct kvm_s2_mmu *mmu);
|
|extern void __kvm_timer_set_cntvoff(u64 cntvoff);
""",
            ),
        ),
    )
    nvhe_tlb = _FileDiff(
        "arch/arm64/kvm/hyp/nvhe/tlb.c",
        (
            _hunk(
                130,
                "void __kvm_tlb_flush_vmid(struct kvm_s2_mmu *mmu)",
                """
|	exit_vmid_context(&cxt);
|}
|
+void __kvm_tlb_flush_vmid_range(struct kvm_s2_mmu *mmu,
+				phys_addr_t start, unsigned long pages)
+{
+	struct tlb_inv_context cxt;
+	unsigned long stride;
+
+	/*
+	 * Since the range of addresses may not be mapped at
+	 * the same level, assume the worst case as PAGE_SIZE
+	 */
+	stride = PAGE_SIZE;
+	start = round_down(start, stride);
+
+	/* Switch to requested VMID */
+	enter_vmid_context(mmu, &cxt, false);
+
+	__flush_s2_tlb_range_op(ipas2e1is, start, pages, stride, 0);
+
+	dsb(ish);
+	__tlbi(vmalle1is);
+	dsb(ish);
+	isb();
+
+	exit_vmid_context(&cxt);
+}
+
|void __kvm_flush_cpu_context(struct kvm_s2_mmu *mmu)
|{
|	struct tlb_inv_context cxt;
""",
            ),
        ),
    )
    vhe_tlb = _FileDiff(
        "arch/arm64/kvm/hyp/vhe/tlb.c",
        (
            _hunk(
                111,
                "void __kvm_tlb_flush_vmid(struct kvm_s2_mmu *mmu)",
                """
|	exit_vmid_context(&cxt);
|}
|
+void __kvm_tlb_flush_vmid_range(struct kvm_s2_mmu *mmu,
+				phys_addr_t start, unsigned long pages)
+{
+	struct tlb_inv_context cxt;
+	unsigned long stride;
+
+	stride = PAGE_SIZE;
+	start = round_down(start, stride);
+
+	dsb(ishst);
+
+	/* Switch to requested VMID */
+	enter_vmid_context(mmu, &cxt);
+
+	__flush_s2_tlb_range_op(ipas2e1is, start, pages, stride, 0);
+
+	dsb(ish);
+	__tlbi(vmalle1is);
+	dsb(ish);
+	isb();
+
+	exit_vmid_context(&cxt);
+}
+
|void __kvm_flush_cpu_context(struct kvm_s2_mmu *mmu)
|{
|	struct tlb_inv_context cxt;
""",
            ),
        ),
    )
    defer_helper = _hunk(
        1020,
        "static void stage2_unmap_put_pte(const struct kvm_pgtable_visit_ctx *ctx,",
        """
|	mm_ops->put_page(ctx->ptep);
|}
|
+static bool stage2_unmap_defer_tlb_flush(struct kvm_pgtable *pgt)
+{
+	/*
+	 * If FEAT_TLBIRANGE is implemented, defer the individual
+	 * TLB invalidations until the entire walk is finished, and
+	 * then use the range-based TLBI instructions to do the
+	 * invalidations. Condition deferred TLB invalidation on the
+	 * system supporting FWB as the optimization is entirely
+	 * pointless when the unmap walker needs to perform CMOs.
+	 */
+	return system_supports_tlb_range() && stage2_has_fwb(pgt);
+}
+
|static int stage2_unmap_walker(const struct kvm_pgtable_visit_ctx *ctx,
|			       enum kvm_pgtable_walk_flags visit)
|{
""",
    )
    walker = _hunk(
        1046,
        "static int stage2_unmap_walker(const struct kvm_pgtable_visit_ctx *ctx,",
        """
|	 * block entry and rely on the remaining portions being faulted
|	 * back lazily.
|	 */
-	stage2_unmap_put_pte(ctx, mmu, mm_ops);
+	if (stage2_unmap_defer_tlb_flush(pgt))
+		/* Perform the appropriate TLB invalidation at the end */
+		kvm_clear_pte(ctx->ptep);
+	else
+		stage2_unmap_put_pte(ctx, mmu, mm_ops);
|
|	if (need_flush && mm_ops->dcache_clean_inval_poc)
|		mm_ops->dcache_clean_inval_poc(kvm_pte_follow(ctx->old, mm_ops),
""",
    )
    unmap = _hunk(
        1065,
        "int kvm_pgtable_stage2_unmap(struct kvm_pgtable *pgt, u64 addr, u64 size)",
        """
|		.arg	= pgt,
|		.flags	= KVM_PGTABLE_WALK_LEAF | KVM_PGTABLE_WALK_TABLE_POST,
|	};
+	int ret;
|
-	return kvm_pgtable_walk(pgt, addr, size, &walker);
+	ret = kvm_pgtable_walk(pgt, addr, size, &walker);
+	if (stage2_unmap_defer_tlb_flush(pgt))
+		/* Perform the appropriate TLB invalidation at the end */
+		kvm_tlb_flush_vmid_range(pgt->mmu, addr, size);
+
+	return ret;
|}
|
|struct stage2_attr_data {
""",
    )
    pgtable = _FileDiff(
        "arch/arm64/kvm/hyp/pgtable.c",
        (defer_helper, walker, unmap) if v2 else (walker, unmap),
    )
    mmu = _FileDiff(
        "arch/arm64/kvm/mmu.c",
        (
            _hunk(
                161,
                "int kvm_arch_flush_remote_tlbs(struct kvm *kvm)",
                """
|	return 0;
|}
|
+int kvm_arch_flush_remote_tlbs_range(struct kvm *kvm,
+				      gfn_t gfn, u64 nr_pages)
+{
+	kvm_tlb_flush_vmid_range(&kvm->arch.mmu,
+				gfn << PAGE_SHIFT, nr_pages << PAGE_SHIFT);
+	return 0;
+}
+
|static bool kvm_is_device_pfn(unsigned long pfn)
|{
|	return !pfn_is_map_memory(pfn);
""",
            ),
        ),
    )
    host_h = _FileDiff(
        "arch/arm64/include/asm/kvm_host.h",
        (
            _hunk(
                1107,
                "int __init kvm_set_ipa_limit(void);",
                """
|
|#define __KVM_HAVE_ARCH_FLUSH_REMOTE_TLBS
|int kvm_arch_flush_remote_tlbs(struct kvm *kvm);
+#define __KVM_HAVE_ARCH_FLUSH_REMOTE_TLBS_RANGE
+int kvm_arch_flush_remote_tlbs_range(struct kvm *kvm, gfn_t gfn, u64 nr_pages);
|
|static inline bool kvm_vm_is_protected(struct kvm *kvm)
|{
""",
            ),
        ),
    )
    return [
        _Patch(
            "KVM: arm64: Add a range-based stage-2 TLB invalidation helper",
            "Unmapping a large range of stage-2 currently issues one TLBI per page,\n"
            "each followed by a DSB. On hosts implementing FEAT_TLBIRANGE this is\n"
            "needlessly slow, as a single range invalidation covers the whole block.\n\n"
            "Add __kvm_tlb_flush_vmid_range() to the hypervisor TLB code, falling\n"
            "back to a full VMID invalidation when the range is too large to be\n"
            "encoded in a single instruction.",
            (asm_h, nvhe_tlb, vhe_tlb) if v2 else (asm_h, nvhe_tlb),
            notes="v2: add the VHE implementation (Kenji)" if v2 else "",
        ),
        _Patch(
            "KVM: arm64: Defer TLB invalidation in stage2_unmap_walker()",
            "Now that a range-based invalidation is available, defer the TLB\n"
            "maintenance of stage2_unmap_walker() to the end of the walk and\n"
            "invalidate the whole range at once, instead of one page at a time.\n\n"
            "Table entries still need an immediate invalidation, as the walker\n"
            "frees the page-table pages they point to.",
            (pgtable,),
            notes=(
                "v2: introduce stage2_unmap_defer_tlb_flush() in this patch so that\n"
                "    the series bisects, and only defer with FEAT_TLBIRANGE + FWB (Olivia)"
            )
            if v2
            else "",
        ),
        _Patch(
            "KVM: arm64: Implement kvm_arch_flush_remote_tlbs_range()",
            "Let the generic MMU notifier code benefit from the range-based\n"
            "invalidation too, by providing kvm_arch_flush_remote_tlbs_range()\n"
            "on top of kvm_tlb_flush_vmid_range().",
            (host_h, mmu),
        ),
    ]


def _series_b(v3: bool) -> list[_Patch]:
    """vgic LPI translation cache lifetime fixes (b4-sent, threaded)."""
    its = "arch/arm64/kvm/vgic/vgic-its.c"
    p1 = _Patch(
        "KVM: arm64: vgic-its: Hold a reference on cached LPIs while injecting",
        "vgic_its_check_cache() returns an LPI found in the translation cache\n"
        "without taking a reference on it. If the guest unmaps the device on\n"
        "another vCPU at the same time, the LPI may be freed before the caller\n"
        "is done with it.\n\n"
        "Take a reference under the lpi_list_lock and drop it once the\n"
        "interrupt has been queued.",
        (
            _FileDiff(
                its,
                (
                    _hunk(
                        578,
                        "static struct vgic_irq *vgic_its_check_cache(struct kvm *kvm, "
                        "phys_addr_t db,",
                        """
|	raw_spin_lock_irqsave(&dist->lpi_list_lock, flags);
|
|	irq = __vgic_its_check_cache(dist, db, devid, eventid);
+	if (irq)
+		vgic_get_irq_kref(irq);
|
|	raw_spin_unlock_irqrestore(&dist->lpi_list_lock, flags);
|
""",
                    ),
                    _hunk(
                        759,
                        "int vgic_its_inject_cached_translation(struct kvm *kvm, "
                        "struct kvm_msi *msi)",
                        """
|	raw_spin_lock_irqsave(&irq->irq_lock, flags);
|	irq->pending_latch = true;
|	vgic_queue_irq_unlock(kvm, irq, flags);
+	vgic_put_irq(kvm, irq);
|
|	return 0;
|}
""",
                    ),
                ),
            ),
        ),
        trailers=("Reviewed-by: Olivia Upshaw <olivia.upshaw@example.com>",) if v3 else (),
    )
    p2 = _Patch(
        "KVM: arm64: vgic-its: Invalidate the translation cache on MAPD with V=0",
        "Unmapping a device frees its ITEs, but the translation cache may still\n"
        "hold entries pointing at the corresponding LPIs. Invalidate the cache\n"
        "when a device is unmapped, as we already do for DISCARD and MOVI.",
        (
            _FileDiff(
                its,
                (
                    _hunk(
                        1220,
                        "static int vgic_its_cmd_handle_mapd(struct kvm *kvm, "
                        "struct vgic_its *its,",
                        """
|	if (device)
|		vgic_its_free_device(kvm, device);
|
+	/* Stale translations may still point at the freed ITEs */
+	vgic_its_invalidate_cache(kvm);
+
|	/*
|	 * The spec does not say whether unmapping a not-mapped device
|	 * is an error, so we are done in any case.
""",
                    ),
                ),
            ),
        ),
        notes="v3: also invalidate when the device was never mapped" if v3 else "",
    )
    p3 = _Patch(
        "KVM: arm64: vgic: Free LPIs only after an RCU grace period",
        "Even with a reference held by the injection path, a vCPU walking its\n"
        "ap_list can observe an LPI whose last reference is being dropped.\n"
        "Defer the actual freeing with kfree_rcu() so that such lockless\n"
        "readers never touch freed memory.",
        (
            _FileDiff(
                "arch/arm64/kvm/vgic/vgic.c",
                (
                    _hunk(
                        130,
                        "void __vgic_put_lpi_locked(struct kvm *kvm, struct vgic_irq *irq)",
                        """
|		return;
|
|	list_del(&irq->lpi_list);
|	dist->lpi_list_count--;
|
-	kfree(irq);
+	kfree_rcu(irq, rcu);
|}
""",
                    ),
                ),
            ),
            _FileDiff(
                "include/kvm/arm_vgic.h",
                (
                    _hunk(
                        117,
                        "struct irq_ops {",
                        """
|
|struct vgic_irq {
|	raw_spinlock_t irq_lock;	/* Protects the content of the struct */
+	struct rcu_head rcu;
|	struct list_head lpi_list;	/* Used to link all LPIs together */
|	struct list_head ap_list;
|
""",
                    ),
                ),
            ),
        ),
    )
    p4 = _Patch(
        "KVM: selftests: arm64: Add a stress test for the LPI translation cache",
        "Add a test that injects MSIs from several threads while another one\n"
        "keeps remapping the device, which reliably triggered the use-after-free\n"
        "fixed earlier in this series within a few seconds.",
        (
            _FileDiff(
                "tools/testing/selftests/kvm/Makefile",
                (
                    _hunk(
                        152,
                        "TEST_GEN_PROGS_aarch64 += aarch64/smccc_filter",
                        """
|TEST_GEN_PROGS_aarch64 += aarch64/vcpu_width_config
|TEST_GEN_PROGS_aarch64 += aarch64/vgic_init
|TEST_GEN_PROGS_aarch64 += aarch64/vgic_irq
+TEST_GEN_PROGS_aarch64 += aarch64/vgic_lpi_stress
|TEST_GEN_PROGS_aarch64 += aarch64/vpmu_counter_access
|TEST_GEN_PROGS_aarch64 += access_tracking_perf_test
|TEST_GEN_PROGS_aarch64 += demand_paging_test
""",
                    ),
                ),
            ),
            _FileDiff(
                "tools/testing/selftests/kvm/aarch64/vgic_lpi_stress.c",
                (
                    _hunk(
                        0,
                        "",
                        """
+// SPDX-License-Identifier: GPL-2.0
+/*
+ * vgic_lpi_stress - Stress test for the LPI translation cache
+ *
+ * Injects MSIs from several threads while the ITS device is being
+ * remapped, to catch lifetime bugs in the translation cache.
+ */
+#include <pthread.h>
+
+#include "kvm_util.h"
+#include "vgic.h"
+
+#define NR_INJECTORS	4
+#define TEST_DURATION_S	10
+
+static void *injector(void *arg)
+{
+	struct kvm_vm *vm = arg;
+
+	while (!READ_ONCE(done))
+		vm_ioctl(vm, KVM_SIGNAL_MSI, &msi);
+
+	return NULL;
+}
""",
                    ),
                ),
                new_file=True,
            ),
        ),
    )
    return [p1, p2, p3, p4]


def _series_c(v3: bool) -> list[_Patch]:
    """PMCR_EL0.N made writable by userspace (unthreaded in v3)."""
    sys_regs = "arch/arm64/kvm/sys_regs.c"
    p1 = _Patch(
        "KVM: arm64: PMU: Set PMCR_EL0.N for vCPU based on the associated PMU",
        "The number of PMU event counters is indicated in PMCR_EL0.N. For a\n"
        "vCPU with PMUv3 configured, the value is set to the same value as the\n"
        "current PE on every vCPU reset, which is not consistent when the vCPU\n"
        "migrates between heterogeneous PEs.\n\n"
        "Track the value per VM, derived from the PMU associated with the VM.",
        (
            _FileDiff(
                "arch/arm64/kvm/pmu-emul.c",
                (
                    _hunk(
                        872,
                        "static void kvm_arm_set_pmu(struct kvm *kvm, struct arm_pmu *arm_pmu)",
                        """
|	lockdep_assert_held(&kvm->arch.config_lock);
|
|	kvm->arch.arm_pmu = arm_pmu;
+	kvm->arch.pmcr_n = kvm_arm_pmu_get_max_counters(kvm);
|}
|
|/**
""",
                    ),
                ),
            ),
            _FileDiff(
                "arch/arm64/include/asm/kvm_host.h",
                (
                    _hunk(
                        259,
                        "struct kvm_arch {",
                        """
|	/* The PMU associated with this VM */
|	struct arm_pmu *arm_pmu;
|
+	/* PMCR_EL0.N value for the guest */
+	u8 pmcr_n;
+
|	cpumask_var_t supported_cpus;
|
|	/* Maximum number of counters for the guest */
""",
                    ),
                ),
            ),
        ),
    )
    p2 = _Patch(
        "KVM: arm64: PMU: Allow userspace to limit PMCR_EL0.N for the guest",
        "KVM does not yet support userspace modifying PMCR_EL0.N (With the\n"
        "previous patch, KVM ignores what is written by userspace). Add support\n"
        "for userspace to limit PMCR_EL0.N.\n\n"
        "Disallow userspace to set PMCR_EL0.N to a value that is greater than\n"
        "the host value, as KVM doesn't support more event counters than what\n"
        "the host HW implements. Also, make this register immutable after the\n"
        "VM has started running.",
        (
            _FileDiff(
                sys_regs,
                (
                    _hunk(
                        1105,
                        "static int get_pmcr(struct kvm_vcpu *vcpu, const struct sys_reg_desc *r,",
                        """
|	return 0;
|}
|
+static int set_pmcr(struct kvm_vcpu *vcpu, const struct sys_reg_desc *r,
+		    u64 val)
+{
+	struct kvm *kvm = vcpu->kvm;
+	u64 new_n;
+
+	mutex_lock(&kvm->arch.config_lock);
+
+	/*
+	 * Make PMCR immutable once the VM has started running, but do
+	 * not return an error (-EBUSY) to meet the existing expectations.
+	 */
+	if (kvm_vm_has_ran_once(kvm)) {
+		mutex_unlock(&kvm->arch.config_lock);
+		return 0;
+	}
+
+	new_n = (val >> ARMV8_PMU_PMCR_N_SHIFT) & ARMV8_PMU_PMCR_N_MASK;
+	if (new_n <= kvm_arm_pmu_get_max_counters(kvm))
+		kvm->arch.pmcr_n = new_n;
+
+	mutex_unlock(&kvm->arch.config_lock);
+
+	return 0;
+}
+
|/* Silence warnings about hardware support for the AArch32 PMU */
|#define PMU_SYS_REG(name)						\\
|	SYS_DESC(SYS_##name), .reset = reset_pmu_reg,			\\
""",
                    ),
                    _hunk(
                        2170,
                        "static const struct sys_reg_desc sys_reg_descs[] = {",
                        """
|	{ SYS_DESC(SYS_CTR_EL0), access_ctr },
|	{ SYS_DESC(SYS_SVCR), undef_access },
|
-	{ PMU_SYS_REG(PMCR_EL0), .access = access_pmcr,
-	  .reset = reset_pmcr, .reg = PMCR_EL0, .get_user = get_pmcr },
+	{ PMU_SYS_REG(PMCR_EL0), .access = access_pmcr, .reset = reset_pmcr,
+	  .reg = PMCR_EL0, .get_user = get_pmcr, .set_user = set_pmcr },
|	{ PMU_SYS_REG(PMCNTENSET_EL0),
|	  .access = access_pmcnten, .reg = PMCNTENSET_EL0 },
|	{ PMU_SYS_REG(PMCNTENCLR_EL0),
""",
                    ),
                ),
            ),
        ),
        notes="v3: drop the -EINVAL for N greater than the limit, ignore it instead" if v3 else "",
    )
    p3 = _Patch(
        "KVM: arm64: Sanitize PM{C,I}NTEN{SET,CLR}, PMOVS{SET,CLR} before first run",
        "For unimplemented counters, the bits in PM{C,I}NTEN{SET,CLR} and\n"
        "PMOVS{SET,CLR} registers are expected to RAZ. To honor this, explicitly\n"
        "implement the {get,set}_user functions for them to mask out the\n"
        "unimplemented counters' bits, now that PMCR_EL0.N may be lowered.",
        (
            _FileDiff(
                sys_regs,
                (
                    _hunk(
                        1012,
                        "static int reset_pmu_reg(struct kvm_vcpu *vcpu, "
                        "const struct sys_reg_desc *r)",
                        """
|	return __vcpu_sys_reg(vcpu, r->reg);
|}
|
+static int set_pmreg(struct kvm_vcpu *vcpu, const struct sys_reg_desc *r, u64 val)
+{
+	bool set;
+
+	val &= kvm_pmu_valid_counter_mask(vcpu);
+	set = r->CRm & 0x2;
+
+	if (set)
+		__vcpu_sys_reg(vcpu, r->reg) |= val;
+	else
+		__vcpu_sys_reg(vcpu, r->reg) &= ~val;
+
+	return 0;
+}
+
|static int reset_pmevcntr(struct kvm_vcpu *vcpu, const struct sys_reg_desc *r)
|{
|	reset_pmu_reg(vcpu, r);
""",
                    ),
                ),
            ),
        ),
    )
    p4 = _Patch(
        "KVM: selftests: aarch64: Test that PMCR_EL0.N is honoured",
        "Add a test that creates a VM with a lower PMCR_EL0.N than the host's,\n"
        "and checks that the guest sees the limited number of counters and that\n"
        "accesses to the others are UNDEFINED.",
        (
            _FileDiff(
                "tools/testing/selftests/kvm/aarch64/vpmu_counter_access.c",
                (
                    _hunk(
                        410,
                        "static void run_test(uint64_t pmcr_n)",
                        """
|	vcpu_get_reg(vcpu, KVM_ARM64_SYS_REG(SYS_PMCR_EL0), &pmcr);
|	pmcr_orig = pmcr;
|
+	/* Setting a lower N must be reflected in the guest view */
+	pmcr &= ~(ARMV8_PMU_PMCR_N_MASK << ARMV8_PMU_PMCR_N_SHIFT);
+	pmcr |= (pmcr_n << ARMV8_PMU_PMCR_N_SHIFT);
+	vcpu_set_reg(vcpu, KVM_ARM64_SYS_REG(SYS_PMCR_EL0), pmcr);
+	vcpu_get_reg(vcpu, KVM_ARM64_SYS_REG(SYS_PMCR_EL0), &pmcr);
+	TEST_ASSERT(get_pmcr_n(pmcr) == pmcr_n,
+		    "Failed to update PMCR.N to %lu (received: %lu)",
+		    pmcr_n, get_pmcr_n(pmcr));
+
|	vcpu_args_set(vcpu, 1, pmcr_n);
|	vcpu_run(vcpu);
|	destroy_vpmu_vm();
""",
                    ),
                ),
            ),
        ),
    )
    return [p1, p2, p3, p4] if v3 else [p1, p2, p3]


def _series_rfc() -> list[_Patch]:
    uapi = _FileDiff(
        "include/uapi/linux/kvm.h",
        (
            _hunk(
                1155,
                "struct kvm_ppc_resize_hpt {",
                """
|#define KVM_CAP_ARM_EAGER_SPLIT_CHUNK_SIZE 228
|#define KVM_CAP_ARM_SUPPORTED_BLOCK_SIZES 229
|#define KVM_CAP_ARM_SUPPORTED_REG_MASK_RANGES 230
+#define KVM_CAP_ARM_PTP_KVM_V2 231
|
|#ifdef KVM_CAP_IRQ_ROUTING
|
""",
            ),
        ),
    )
    arm_c = _FileDiff(
        "arch/arm64/kvm/arm.c",
        (
            _hunk(
                240,
                "int kvm_vm_ioctl_check_extension(struct kvm *kvm, long ext)",
                """
|	case KVM_CAP_ARM_INJECT_EXT_DABT:
|	case KVM_CAP_SET_GUEST_DEBUG:
|	case KVM_CAP_VCPU_ATTRIBUTES:
|	case KVM_CAP_PTP_KVM:
+	case KVM_CAP_ARM_PTP_KVM_V2:
|	case KVM_CAP_ARM_SYSTEM_SUSPEND:
|	case KVM_CAP_IRQFD_RESAMPLE:
|	case KVM_CAP_COUNTER_OFFSET:
""",
            ),
        ),
    )
    hyp = _FileDiff(
        "arch/arm64/kvm/hypercalls.c",
        (
            _hunk(
                20,
                "",
                """
|	u64 cycles;
|
|	/*
-	 * system time and counter value must captured at the same
-	 * time to keep consistency and precision.
+	 * System time and counter value must be captured at the same
+	 * time to keep consistency and precision. v2 also returns the
+	 * offset applied to the guest's virtual counter.
|	 */
|	ktime_get_snapshot(&systime_snapshot);
|
""",
            ),
            _hunk(
                58,
                "static void kvm_ptp_get_time(struct kvm_vcpu *vcpu, u64 *val)",
                """
|	val[0] = upper_32_bits(systime_snapshot.real);
|	val[1] = lower_32_bits(systime_snapshot.real);
|	val[2] = upper_32_bits(cycles);
|	val[3] = lower_32_bits(cycles);
+	if (test_bit(KVM_ARCH_FLAG_PTP_KVM_V2, &vcpu->kvm->arch.flags))
+		val[4] = vcpu->kvm->arch.timer_data.voffset;
|}
|
|static bool kvm_smccc_default_allowed(u32 func_id)
""",
            ),
        ),
    )
    return [
        _Patch(
            "KVM: arm64: Add KVM_CAP_ARM_PTP_KVM_V2",
            "Advertise a second version of the PTP_KVM service, which userspace\n"
            "can enable to let guests recover the offset applied to their virtual\n"
            "counter. This is a prototype, the ABI is up for discussion.",
            (arm_c, uapi),
        ),
        _Patch(
            "KVM: arm64: Return the counter offset in the PTP_KVM v2 hypercall",
            "When the v2 capability is enabled, return the virtual counter offset\n"
            "in an extra register so that the guest can convert between the\n"
            "physical and virtual views without another trap.",
            (hyp,),
        ),
    ]


def _kvm_unit_test() -> _Patch:
    return _Patch(
        "arm64: timer: Check that CNTVOFF_EL2 is applied to the virtual counter",
        "When running at EL2, program a known offset in CNTVOFF_EL2 and check\n"
        "that the virtual counter observed at EL1 moves accordingly, both with\n"
        "and without HCR_EL2.E2H set.",
        (
            _FileDiff(
                "arm/timer.c",
                (
                    _hunk(
                        298,
                        "static void test_timers(bool ptimer_unsupported)",
                        """
|	test_timer(&ptimer_info);
|}
|
+static void test_cntvoff(void)
+{
+	u64 before, after, off = 1UL << 40;
+
+	if (current_level() != CurrentEL_EL2) {
+		report_skip("not running at EL2, skipping CNTVOFF_EL2 test");
+		return;
+	}
+
+	before = read_sysreg(cntvct_el0);
+	write_sysreg(off, cntvoff_el2);
+	isb();
+	after = read_sysreg(cntvct_el0);
+	report(before - after >= off - (after - before),
+	       "CNTVOFF_EL2 applied to the virtual counter");
+	write_sysreg(0, cntvoff_el2);
+}
+
|static void test_init(void)
|{
|	assert(TIMER_PTIMER_IRQ != -1);
""",
                    ),
                ),
            ),
        ),
        notes="v2: skip instead of failing when not running at EL2 (Alder)",
    )


def _kvmtool() -> list[_Patch]:
    return [
        _Patch(
            "arm64: Allow the SVE vector lengths to be configured",
            "KVM exposes all the vector lengths supported by the host to the guest\n"
            "by default. Read KVM_REG_ARM64_SVE_VLS before finalizing the vCPU and\n"
            "clear the lengths above the requested maximum.",
            (
                _FileDiff(
                    "arm/aarch64/kvm-cpu.c",
                    (
                        _hunk(
                            142,
                            "static int arm__vcpu_init_sve(struct kvm_cpu *vcpu)",
                            """
|	if (!kvm->cfg.arch.enable_sve)
|		return 0;
|
+	if (kvm->cfg.arch.sve_max_vq) {
+		err = sve_vls_limit(vcpu, kvm->cfg.arch.sve_max_vq);
+		if (err)
+			return err;
+	}
+
|	feature = KVM_ARM_VCPU_SVE;
|	return ioctl(vcpu->vcpu_fd, KVM_ARM_VCPU_FINALIZE, &feature);
|}
""",
                        ),
                    ),
                ),
            ),
        ),
        _Patch(
            "arm64: Add --sve-max-vq command line option",
            "Let the user pick the maximum SVE vector length, in quadwords, as\n"
            "QEMU does with its sve<N> CPU properties.",
            (
                _FileDiff(
                    "arm/aarch64/include/kvm/kvm-config-arch.h",
                    (
                        _hunk(
                            21,
                            "",
                            """
|			"Create PMUv3 device"),				\\
|	OPT_BOOLEAN('\\0', "disable-sve", &(cfg)->disable_sve,		\\
|			"Disable SVE"),					\\
+	OPT_U64('\\0', "sve-max-vq", &(cfg)->sve_max_vq,		\\
+			"Maximum SVE vector length, in quadwords"),	\\
|	OPT_BOOLEAN('\\0', "disable-ptrauth", &(cfg)->disable_ptrauth,	\\
|			"Disable pointer authentication"),		\\
|	OPT_BOOLEAN('\\0', "no-pvtime", &(cfg)->no_pvtime,		\\
""",
                        ),
                    ),
                ),
            ),
        ),
    ]


def _single_patch() -> _Patch:
    return _Patch(
        "KVM: arm64: Fix kernel-doc for kvm_pgtable_stage2_relax_perms()",
        "The kernel-doc comment still documents the long gone @level argument\n"
        "and misses @prot, which makes 'make htmldocs' complain. Fix it.",
        (
            _FileDiff(
                "arch/arm64/include/asm/kvm_pgtable.h",
                (
                    _hunk(
                        654,
                        "int kvm_pgtable_stage2_wrprotect(struct kvm_pgtable *pgt, u64 addr, u64 size);",
                        """
|/**
| * kvm_pgtable_stage2_relax_perms() - Relax the permissions enforced by a
| *				      page-table entry.
| * @pgt:	Page-table structure initialised by kvm_pgtable_stage2_init*().
| * @addr:	Intermediate physical address to identify the page-table entry.
- * @level:	Level of the page-table entry.
+ * @prot:	Additional permissions to grant for the mapping.
| *
| * The offset of @addr within a page is ignored.
| *
""",
                    ),
                ),
            ),
        ),
    )


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
_TLBI_INTRO = (
    "Unmapping a large range of guest memory (for example when a memslot is\n"
    "deleted, or on MMU notifier invalidation) currently invalidates the TLBs\n"
    "one page at a time. On a 64GB guest backed by 4kB pages, deleting a\n"
    "memslot takes more than a second on the machines I have access to.\n\n"
    "This series adds a range-based stage-2 TLB invalidation helper, built on\n"
    "FEAT_TLBIRANGE, and uses it in the unmap walker and for the generic\n"
    "kvm_arch_flush_remote_tlbs_range() hook. Memslot deletion time drops to\n"
    "about 40ms on the same machine."
)


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
        intro=_TLBI_INTRO,
        patches=v1_objs,
        to=[MAINTAINER, OLIVIA],
        cc=d.reviewers,
        kernel=d.kernel,
    )
    kenji = arch.reply(
        v1_patches[0],
        KENJI,
        d.at(-4, 1, 5, 30, "a1-kenji"),
        "This only adds the nVHE version. Doesn't the VHE side\n"
        "(arch/arm64/kvm/hyp/vhe/tlb.c) need the same helper, or will this\n"
        "fail to link with CONFIG_KVM on a VHE-only build?\n\nThanks,\nKenji",
        quoted=_snip(_first_paragraph(v1_patches[0].body), v1_objs[0].hunk_text(1, 0, 0, 8)),
    )
    arch.reply(
        kenji,
        GAVIN,
        d.at(-4, 1, 7, 2, "a1-gavin-kenji"),
        "Yes, I missed VHE. I'll add it in v2.\n\nThanks,\nGavin",
        quoted=_snip(
            "This only adds the nVHE version. Doesn't the VHE side\n"
            "(arch/arm64/kvm/hyp/vhe/tlb.c) need the same helper"
        ),
    )
    olivia = arch.reply(
        v1_patches[1],
        OLIVIA,
        d.at(-4, 1, 16, 44, "a1-olivia"),
        "stage2_unmap_defer_tlb_flush() doesn't exist at this point of the series,\n"
        "so this patch breaks the build and bisection. Please introduce the helper\n"
        "here.\n\n"
        "Also, deferring only makes sense if the range-based TLBIs are actually\n"
        "implemented: the fallback in patch 1 invalidates the whole VMID, which\n"
        "is worse than what we have today for small ranges. And with FWB absent\n"
        "the walker has to do CMOs anyway, so the optimization buys nothing.\n\n"
        "--\nThanks,\nOlivia",
        quoted=_snip(v1_objs[1].hunk_text(0, 0, 3, 9)),
    )
    arch.reply(
        olivia,
        GAVIN,
        d.at(-4, 2, 0, 15, "a1-gavin-olivia"),
        "Good point, will fix in v2.\n\nThanks,\nGavin",
        quoted="stage2_unmap_defer_tlb_flush() doesn't exist at this point of the series,\n"
        "so this patch breaks the build and bisection. Please introduce the helper\n"
        "here.",
    )

    # v2 is a new thread, with a changelog and a link to v1.
    v2_objs = _series_a(v2=True)
    v2_cover, v2_patches = _series(
        arch,
        author=GAVIN,
        when=d.at(0, 0, 0, 30, "a2"),
        prefix="PATCH v2",
        title=_TLBI_TITLE,
        intro=_TLBI_INTRO,
        patches=v2_objs,
        to=[MAINTAINER, OLIVIA],
        cc=d.reviewers,
        kernel=d.kernel,
        changelog=(
            "Changes since v1:\n"
            " - Add the VHE version of __kvm_tlb_flush_vmid_range() (Kenji)\n"
            " - Introduce stage2_unmap_defer_tlb_flush() in patch 2 so that the\n"
            "   series bisects, and only defer with FEAT_TLBIRANGE and FWB (Olivia)\n\n"
            f"v1: {arch.lore(v1_cover.message_id)}"
        ),
    )
    arch.reply(
        v2_patches[0],
        KENJI,
        d.at(0, 1, 6, 15, "a2-kenji"),
        f"Reviewed-by: {KENJI.plain}\n\nThanks,\nKenji",
        quoted=_snip(_first_paragraph(v2_patches[0].body)),
    )
    arch.reply(
        v2_cover,
        COSMIN,
        d.at(0, 1, 11, 0, "a2-cosmin"),
        f"For the arm64 TLB bits:\n\nAcked-by: {COSMIN.plain}",
        quoted=_first_paragraph(v2_cover.body),
    )
    arch.reply(
        v2_patches[1],
        OLIVIA,
        d.at(0, 1, 16, 40, "a2-olivia"),
        f"Thanks for reworking this.\n\nReviewed-by: {OLIVIA.plain}\n\n--\nThanks,\nOlivia",
        quoted=_snip(v2_objs[1].hunk_text(0, 0, 3, 15)),
    )
    arch.reply(
        v2_cover,
        MAINTAINER,
        d.at(0, 4, 11, 35, "a2-applied"),
        "Applied to next, thanks!\n\n"
        f"{_applied(v2_patches, d.seed)}\n\n"
        f"Cheers,\n\n\tM.\n{SIG}\nA TLB miss is just a cache hit that has not happened yet.",
        quoted=_snip(_first_paragraph(v2_cover.body)),
    )


_VGIC_TITLE = "KVM: arm64: vgic: Fix LPI translation cache races"
_VGIC_INTRO = (
    "The LPI translation cache lets KVM inject MSIs without walking the\n"
    "ITS tables, but the LPIs it returns are not reference counted, and\n"
    "unmapping a device does not invalidate it. Under a guest that remaps\n"
    "devices while they generate interrupts, this leads to use-after-free\n"
    "of struct vgic_irq.\n\n"
    "Patches 1-2 fix the reference counting and the invalidation, patch 3\n"
    "defers the freeing of LPIs to an RCU grace period, and patch 4 adds a\n"
    "selftest that reproduces the problem in a few seconds."
)


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
        intro=_VGIC_INTRO,
        patches=_series_b(v3=False),
        to=[MAINTAINER, OLIVIA, KENJI],
        cc=[JAMES, ARM_LIST, d.lst, LKML],
        kernel=d.kernel,
        changelog="Changes in v2:\n- Take the reference under lpi_list_lock (Mara)\n"
        "- Link to v1: https://lore.kernel.org/r/"
        f"{change_date:%Y%m%d}-vgic-lpi-cache-v1-0-{_hex(d.seed, 'b1')}@example.net",
        b4_slug="vgic-lpi-cache",
        b4_change_date=change_date,
    )
    arch.reply(
        v2_patches[0],
        OLIVIA,
        d.at(-5, 2, 18, 20, "b2-olivia"),
        f"Reviewed-by: {OLIVIA.plain}\n\n--\nThanks,\nOlivia",
        quoted=_first_paragraph(v2_patches[0].body),
    )
    maz = arch.reply(
        v2_patches[1],
        MAINTAINER,
        d.at(-5, 3, 8, 45, "b2-maz"),
        "This only covers the case where the device was mapped. A guest\n"
        "issuing MAPD with V=0 for a device that isn't mapped still leaves\n"
        "whatever is in the cache for that DevID. Please invalidate\n"
        "unconditionally.\n\n" + _mara_sig(),
        quoted=_snip(_first_paragraph(v2_patches[1].body), _series_b(False)[1].hunk_text(0, 0)),
    )
    arch.reply(
        maz,
        ZHANG,
        d.at(-5, 4, 1, 15, "b2-zhang"),
        "Indeed, I'll move the invalidation out of the if () in v3.\n\nThanks,\n张三",
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
        intro=_VGIC_INTRO,
        patches=v3_objs,
        to=[MAINTAINER, OLIVIA, KENJI],
        cc=[JAMES, ARM_LIST, d.lst, LKML],
        kernel=d.kernel,
        changelog="Changes in v3:\n- Invalidate the cache on every MAPD with V=0 (Mara)\n"
        "- Collect Olivia's Reviewed-by on patch 1\n"
        f"- Link to v2: https://lore.kernel.org/r/{v2_cover.message_id}",
        b4_slug="vgic-lpi-cache",
        b4_change_date=change_date,
    )
    arch.reply(
        v3_patches[1],
        KENJI,
        d.at(0, 2, 3, 30, "b3-kenji"),
        f"Reviewed-by: {KENJI.plain}\n\nThanks,\nKenji",
        quoted=_first_paragraph(v3_patches[1].body),
    )
    maz = arch.reply(
        v3_patches[2],
        MAINTAINER,
        d.at(0, 2, 14, 15, "b3-maz"),
        "kfree_rcu() is fine, but nothing in this series makes the lookups\n"
        "RCU readers. vgic_its_check_cache() and the ap_list walkers would\n"
        "need to be inside rcu_read_lock() for this to mean anything, otherwise\n"
        "we're just moving the problem around.\n\n" + _mara_sig(),
        quoted=_snip(v3_objs[2].hunk_text(0, 0)),
    )
    # The base64 body: a UTF-8 reply with Chinese text.
    arch.reply(
        maz,
        ZHANG,
        d.at(0, 3, 1, 40, "b3-zhang"),
        "You're right, the lookup isn't under rcu_read_lock() yet. I'll add it\n"
        "in v4, together with a comment explaining which readers the RCU\n"
        "protects (感谢指正).\n\nThanks,\n张三",
        quoted="kfree_rcu() is fine, but nothing in this series makes the lookups\nRCU readers.",
        cte="base64",
    )
    return v3_cover


_PMU_TITLE = "KVM: arm64: PMU: Allow userspace to limit PMCR_EL0.N"
_PMU_INTRO = (
    "The goal of this series is to allow userspace to limit the number\n"
    "of PMU event counters on the vCPU. We need this to support migration\n"
    "across systems that implement different numbers of counters.\n\n"
    "The number of PMU event counters is indicated in PMCR_EL0.N.\n"
    "For a vCPU with PMUv3 configured, its value will be the same as\n"
    "the current PE by default. Userspace can set PMCR_EL0.N for the\n"
    "vCPU to any value even with the current KVM, but the specified\n"
    "value will never be used by KVM (KVM will still use the default)."
)


def _pmu_story(d: _Demo) -> None:
    """Series C: v2 six weeks ago; v3 this week, unthreaded, questioned, no trailers."""
    arch = d.arch
    v2_cover, _ = _series(
        arch,
        author=RITA,
        when=d.at(-6, 1, 16, 5, "c2"),
        prefix="PATCH v2",
        title=_PMU_TITLE,
        intro=_PMU_INTRO,
        patches=_series_c(v3=False),
        to=[MAINTAINER, OLIVIA],
        cc=d.reviewers,
        kernel=d.kernel,
        changelog="v2:\n - Rebased on top of kvmarm/next\n - Use kvm->arch.config_lock (Olivia)",
    )
    question = arch.reply(
        v2_cover,
        OLIVIA,
        d.at(-6, 2, 17, 40, "c2-olivia"),
        "The series looks reasonable, but I'd like to see a selftest that\n"
        "checks the guest actually sees the limited number of counters, and\n"
        "that writes to PMCR_EL0 after the first KVM_RUN are ignored.\n\n"
        "--\nThanks,\nOlivia",
    )
    arch.reply(
        question,
        RITA,
        d.at(-6, 3, 15, 10, "c2-rita"),
        "Sure, I'll add a selftest in v3.\n\nThank you,\nRita",
    )

    # v3: cover and patches each a new thread, sent within a minute; the cover goes
    # out on Sunday evening in the author's zone, which is Monday in UTC.
    _, v3_patches = _series(
        arch,
        author=RITA,
        when=d.at(0, 0, 5, 40, "c3"),
        prefix="PATCH v3",
        title=_PMU_TITLE,
        intro=_PMU_INTRO,
        patches=_series_c(v3=True),
        to=[MAINTAINER, OLIVIA],
        cc=d.reviewers,
        kernel=d.kernel,
        changelog=(
            "v3:\n - Add a selftest (Olivia)\n"
            " - Ignore, rather than reject, an N above the host's\n\n"
            f"v2: {arch.lore(v2_cover.message_id)}"
        ),
        threaded=False,
        spacing=[14, 27, 41, 55],
    )
    question = arch.reply(
        v3_patches[1],
        OLIVIA,
        d.at(0, 1, 19, 5, "c3-olivia"),
        "A couple of questions:\n\n"
        " - Why silently ignore an N above the limit instead of returning\n"
        "   -EINVAL like v2 did? Userspace has no way to know its value was\n"
        "   dropped, short of reading the register back.\n\n"
        " - What happens to PMCR_EL0.N when userspace changes the PMU with\n"
        "   KVM_ARM_VCPU_PMU_V3_SET_PMU after having written PMCR_EL0? Is the\n"
        "   value reset to the new PMU's maximum?\n\n"
        "--\nThanks,\nOlivia",
        quoted=_snip(_series_c(True)[1].hunk_text(0, 0, 21, 26)),
    )
    arch.reply(
        question,
        RITA,
        d.at(0, 2, 16, 22, "c3-rita"),
        "It was changed after the discussion on v2 about VMMs that blindly\n"
        "restore a saved PMCR_EL0; but I agree reading back is awkward. I can\n"
        "go back to -EINVAL if you prefer.\n\n"
        "For SET_PMU: yes, kvm_arm_set_pmu() resets it to the new maximum, so\n"
        "userspace has to write PMCR_EL0 again afterwards. I'll document that.\n\n"
        "Thank you,\nRita",
        quoted=" - Why silently ignore an N above the limit instead of returning\n"
        "   -EINVAL like v2 did?",
    )


def _question_story(d: _Demo) -> None:
    """A discussion without patches; one answer has a body line starting with "From "."""
    arch = d.arch
    question = arch.post(
        author=DANIEL,
        when=d.at(0, 0, 13, 20, "question"),
        subject="KVM: arm64: question about CNTFRQ_EL0 after live migration?",
        to=[d.lst],
        cc=[MAINTAINER, OLIVIA, "qemu-arm@lists.example.org"],
        body=(
            "Hi,\n\n"
            "We have had a report from a user who live migrated a guest between\n"
            "two hosts whose system counters run at different frequencies (one\n"
            "at 25MHz, one at 1GHz, since the latter implements FEAT_ECV's fixed\n"
            "1GHz counter). After migration, time in the guest runs 40 times too\n"
            "fast, because the guest read CNTFRQ_EL0 once at boot.\n\n"
            "Is there any way for KVM to trap or virtualize CNTFRQ_EL0, or to\n"
            "scale the counter, so that libvirt could allow such migrations? Or\n"
            "should we simply refuse to migrate between hosts whose frequencies\n"
            "differ?\n\n" + _dpb_sig()
        ),
    )
    maz = arch.reply(
        question,
        MAINTAINER,
        d.at(0, 0, 15, 2, "q-maz"),
        "No, and there is no way to do it. CNTFRQ_EL0 isn't trappable, and\n"
        "even if it was, the counter itself is read directly by the guest at\n"
        "EL0 without any trap. Scaling is only possible with FEAT_CNTSC,\n"
        "which nobody implements.\n\n"
        "From the architecture's point of view, the frequency is a property\n"
        "of the system, not of the VM, so refusing the migration is the only\n"
        "correct answer.\n\n" + _mara_sig(),
    )
    jurgen = arch.reply(
        maz,
        JURGEN,
        d.at(0, 0, 17, 30, "q-jurgen"),
        "FWIW, we hit the same problem on our fleet and ended up grouping hosts\n"
        "by counter frequency in the scheduler. It is ugly, but it works, and\n"
        "libvirt could expose the frequency in the host capabilities to make\n"
        "this easier for management applications.\n\n"
        "Viele Grüße,\nJürgen",
        quoted="From the architecture's point of view, the frequency is a property\n"
        "of the system, not of the VM, so refusing the migration is the only\n"
        "correct answer.",
        cte="quoted-printable",
        charset="iso-8859-1",
    )
    arch.reply(
        jurgen,
        DANIEL,
        d.at(0, 1, 9, 30, "q-daniel"),
        "Thanks Mara and Jürgen, that's clear. We'll report the counter\n"
        "frequency in the host capabilities XML and make the migration\n"
        "compatibility check refuse a mismatch – much better than silently\n"
        "breaking guest time.\n\n" + _dpb_sig(),
        quoted="FWIW, we hit the same problem on our fleet and ended up grouping hosts\n"
        "by counter frequency in the scheduler.",
        cte="quoted-printable",
    )


def _syzbot_story(d: _Demo, fix_cover: _Built) -> None:
    """A syzbot report, answered with a pointer to the series that fixes it."""
    report = _syzbot(d.arch, d.kernel, d.at(0, 2, 7, 12, "syzbot"), d.lst)
    d.arch.reply(
        report,
        OLIVIA,
        d.at(0, 2, 17, 5, "syz-olivia"),
        "This looks like the LPI lifetime problem that 张三 is addressing in\n"
        "[1], patches 2 and 3 in particular: the LPI is freed from the MAPD\n"
        "path while still on a vCPU's ap_list.\n\n"
        f"[1] {d.arch.lore(fix_cover.message_id)}\n\n--\nThanks,\nOlivia",
        quoted="BUG: KASAN: slab-use-after-free in vgic_flush_lr_state "
        "arch/arm64/kvm/vgic/vgic.c:805 [inline]",
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
    arch.reply(
        kut,
        ALDER,
        d.at(0, 3, 19, 0, "kut-alder"),
        "Applied to arm/queue, thanks.\n\n"
        "https://gitlab.example.com/ajonsson/kvm-unit-tests/-/commits/arm/queue\n\n"
        "Thanks,\nAlder",
    )

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
    arch.reply(
        first,
        WILL,
        d.at(0, 3, 12, 30, "kvmtool-will"),
        "Applied to kvmtool (master), thanks!\n\n"
        f"[1/2] {kvmtool[0].title}\n"
        f"      https://git.example.org/will/kvmtool/c/{_hex(seed, 'kt1')}\n"
        f"[2/2] {kvmtool[1].title}\n"
        f"      https://git.example.org/will/kvmtool/c/{_hex(seed, 'kt2')}\n\n"
        f"Cheers,\n{SIG}\nWill\n\nhttps://git.example.org/will/kvmtool\n"
        "https://git.example.org/will/kvmtool/c/master",
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
        intro=(
            "Since KVM_ARM_SET_COUNTER_OFFSET, the guest's virtual counter can be\n"
            "offset from the physical one, but the PTP_KVM service only returns\n"
            "the physical counter, which confuses guests that use it for\n"
            "timekeeping across migration.\n\n"
            "This RFC adds a v2 of the service that also returns the offset. I'm\n"
            "mostly interested in feedback on the ABI before writing the guest\n"
            "side properly."
        ),
        patches=_series_rfc(),
        to=[MAINTAINER, OLIVIA],
        cc=[KENJI, d.lst],
        kernel=d.kernel,
    )
    maz = arch.reply(
        cover,
        MAINTAINER,
        d.at(0, 3, 15, 45, "rfc-maz"),
        "I'm not keen on growing the PTP_KVM ABI for this. The offset is\n"
        "something the VMM has set, so the VMM can tell the guest about it\n"
        "through any mechanism it likes, without KVM being involved.\n\n"
        "Also, what happens on a host with FEAT_ECV, where the guest can have\n"
        "its own CNTPOFF_EL2? Which offset are you returning then?\n\n" + _mara_sig(),
    )
    arch.reply(
        maz,
        JAMES,
        d.at(0, 4, 9, 0, "rfc-james"),
        "Fair point about the VMM. The reason I went for PTP_KVM is that the\n"
        "guest driver already exists, but I'll look at doing it from the VMM\n"
        "side instead and drop the RFC if that works out.\n\n"
        "For ECV, the offset would be the sum of both; I should have said so.\n\n"
        "Thanks,\nJames",
        quoted="I'm not keen on growing the PTP_KVM ABI for this.",
    )


def _pull_story(d: _Demo) -> None:
    """Two fixes pull requests to the KVM maintainer: take #1 in history, take #2 now."""
    pull1 = _pull_request(
        d.arch,
        d.kernel,
        take=1,
        when=d.at(-3, 4, 10, 5, "pull1"),
        base_rc=max(1, d.kernel.rc - 3),
        base_date=d.ws - timedelta(weeks=3, days=1) + timedelta(hours=20, minutes=22),
        blurb=(
            "Here's the first set of KVM/arm64 fixes for {v}, addressing a\n"
            "couple of issues with protected mode (PMU events and SME), as well\n"
            "as a use-after-free in the stage-2 page-table walker."
        ),
        shortlog=[
            (MAINTAINER, ["KVM: arm64: Don't defer TLB invalidation when zapping table entries"]),
            (
                OLIVIA,
                [
                    "KVM: arm64: Fix host-programmed guest events in nVHE",
                    "KVM: arm64: Ensure that SME controls are disabled in protected mode",
                ],
            ),
        ],
        stat=[
            ("arch/arm64/kvm/fpsimd.c", 3, 1),
            ("arch/arm64/kvm/hyp/nvhe/switch.c", 6, 2),
            ("arch/arm64/kvm/hyp/pgtable.c", 8, 3),
        ],
        summary=[
            "Don't defer TLB invalidation when zapping table entries, as the",
            "  walker may free the page-table pages they point to",
            "",
            "- Fix host-programmed guest events in nVHE",
            "",
            "- Disable SME in protected mode, as we don't support it yet",
        ],
    )
    d.arch.reply(pull1, PAOLO, d.at(-3, 5, 14, 20, "pull1-paolo"), "Pulled, thanks.\n\nPaolo")

    pull2 = _pull_request(
        d.arch,
        d.kernel,
        take=2,
        when=d.at(0, 3, 10, 20, "pull2"),
        base_rc=d.kernel.rc,
        base_date=d.ws - timedelta(days=1) + timedelta(hours=20, minutes=31),
        blurb=(
            "Here's the second set of KVM/arm64 fixes for {v}. The most important\n"
            "one fixes a vgic-v2 NULL dereference reachable from userspace, the\n"
            "rest is the usual assortment of smaller fixes."
        ),
        shortlog=[
            (OLIVIA, ["KVM: arm64: Fix the handling of PMSELR_EL0 on vcpu reset"]),
            (
                PRIYA,
                [
                    "KVM: arm64: vgic-v2: Check for non-NULL vCPU in vgic_v2_parse_attr()",
                    "KVM: arm64: vgic-v2: Use cpuid from userspace as vcpu_id",
                ],
            ),
        ],
        stat=[
            ("arch/arm64/kvm/sys_regs.c", 2, 1),
            ("arch/arm64/kvm/vgic/vgic-kvm-device.c", 7, 5),
        ],
        summary=[
            "Fix a NULL dereference in the vgic-v2 device attribute accessors",
            "  when the vcpu index provided by userspace is invalid",
            "",
            "- Use the cpuid provided by userspace as the vcpu_id, rather than",
            "  the vcpu index",
            "",
            "- Reset PMSELR_EL0 to a sane value on vcpu reset",
        ],
    )
    d.arch.reply(pull2, PAOLO, d.at(0, 4, 15, 50, "pull2-paolo"), "Pulled, thanks.\n\nPaolo")


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
        body=(
            f"On {format_datetime(ghost_when.astimezone(MAINTAINER.tz))},\n"
            "backports@example.net wrote:\n"
            f"> commit {_hex(seed, 'upstream-fix', n=40)} upstream.\n"
            ">\n"
            "> There is a potential UAF scenario in the case of an LPI translation\n"
            "> cache hit racing with an operation that invalidates the cache, such\n"
            "> as a DISCARD ITS command.\n\n"
            "This backport is fine, but it depends on the vgic_put_irq() rework\n"
            "that isn't in that branch. Please take both, or neither.\n\n"
            f"With that,\n\nAcked-by: {MAINTAINER.plain}\n\n" + _mara_sig()
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
    arch: _Archive,
    kernel: _Kernel,
    *,
    take: int,
    when: datetime,
    base_rc: int,
    base_date: datetime,
    blurb: str,
    shortlog: Sequence[tuple[_Person, Sequence[str]]],
    stat: Sequence[tuple[str, int, int]],
    summary: Sequence[str],
) -> _Built:
    """A "[GIT PULL]" in the format of git request-pull, as the maintainer sends them."""
    seed = arch.seed
    v = kernel.version
    base = _hex(seed, "pull-base", take, n=40)
    tip = _hex(seed, "pull-tip", take, n=40)
    last_subject = shortlog[-1][1][-1]
    tip_date = (when - timedelta(hours=3, minutes=17)).astimezone(MAINTAINER.tz)
    rc_date = base_date.astimezone(timezone(timedelta(hours=-7)))
    log = "\n\n".join(
        f"{who.name} ({len(subjects)}):\n" + "\n".join(f"      {s}" for s in subjects)
        for who, subjects in shortlog
    )
    body = (
        f"Paolo,\n\n{blurb.format(v=v)}\n\nPlease pull,\n\n\tM.\n\n"
        f"The following changes since commit {base}:\n\n"
        f"  Linux {v}-rc{base_rc} ({_git_date(rc_date)})\n\n"
        "are available in the Git repository at:\n\n"
        "  git://git.kernel.org/pub/scm/linux/kernel/git/kvmarm/kvmarm.git "
        f"tags/kvmarm-fixes-{v}-{take}\n\n"
        f"for you to fetch changes up to {tip}:\n\n"
        f"  {last_subject} ({_git_date(tip_date)})\n\n"
        f"{'-' * 64}\nKVM/arm64 fixes for {v}, take #{take}\n\n- "
        + "\n".join(summary)
        + f"\n\n{'-' * 64}\n{log}\n\n{_diffstat(stat)}\n"
    )
    utc = when.astimezone(UTC)
    return arch.post(
        author=MAINTAINER,
        when=when,
        subject=f"[GIT PULL] KVM/arm64 fixes for {v}, take #{take}",
        body=body,
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
    x = _hex(seed, "syz-log", n=16)
    cfg = _hex(seed, "syz-config", n=16)
    v = kernel.version
    bios = when - timedelta(days=16)
    body = f"""Hello,

syzbot found the following issue on:

HEAD commit:    {head} Merge tag 'kvmarm-fixes-{v}-1' of git://git.kernel.org/pub/scm/l..
git tree:       upstream
console output: https://syzkaller.appspot.com/x/log.txt?x={x}
kernel config:  https://syzkaller.appspot.com/x/.config?x={cfg}
dashboard link: https://syzkaller.appspot.com/bug?extid=abc123def
compiler:       Debian clang version 15.0.6, GNU ld (GNU Binutils for Debian) 2.40
userspace arch: arm64

Unfortunately, I don't have any reproducer for this issue yet.

IMPORTANT: if you fix the issue, please add the following tag to the commit:
Reported-by: syzbot+abc123def@syzkaller.appspotmail.com

==================================================================
BUG: KASAN: slab-use-after-free in vgic_flush_lr_state arch/arm64/kvm/vgic/vgic.c:805 [inline]
BUG: KASAN: slab-use-after-free in kvm_vgic_flush_hwstate+0x5c8/0x6b0 arch/arm64/kvm/vgic/vgic.c:912
Read of size 4 at addr ffff0000d6a4c8b4 by task syz-executor.2/6351

CPU: 0 PID: 6351 Comm: syz-executor.2 Not tainted {v}.0-rc{kernel.rc}-syzkaller-g{head} #0
Hardware name: Google Google Compute Engine/Google Compute Engine, BIOS Google {bios:%m/%d/%Y}
Call trace:
 dump_backtrace+0x1b8/0x1e4 arch/arm64/kernel/stacktrace.c:317
 show_stack+0x2c/0x3c arch/arm64/kernel/stacktrace.c:324
 __dump_stack lib/dump_stack.c:88 [inline]
 dump_stack_lvl+0xe4/0x150 lib/dump_stack.c:114
 print_address_description mm/kasan/report.c:377 [inline]
 print_report+0x178/0x518 mm/kasan/report.c:488
 kasan_report+0xd8/0x138 mm/kasan/report.c:601
 __asan_report_load4_noabort+0x20/0x2c mm/kasan/report_generic.c:380
 vgic_flush_lr_state arch/arm64/kvm/vgic/vgic.c:805 [inline]
 kvm_vgic_flush_hwstate+0x5c8/0x6b0 arch/arm64/kvm/vgic/vgic.c:912
 kvm_arch_vcpu_ioctl_run+0x8a4/0x1a40 arch/arm64/kvm/arm.c:1143
 kvm_vcpu_ioctl+0x660/0xf78 virt/kvm/kvm_main.c:4441
 vfs_ioctl fs/ioctl.c:51 [inline]
 __do_sys_ioctl fs/ioctl.c:904 [inline]
 __se_sys_ioctl fs/ioctl.c:890 [inline]
 __arm64_sys_ioctl+0x14c/0x1c8 fs/ioctl.c:890
 __invoke_syscall arch/arm64/kernel/syscall.c:34 [inline]
 invoke_syscall+0x98/0x2b8 arch/arm64/kernel/syscall.c:48
 el0_svc_common+0x130/0x23c arch/arm64/kernel/syscall.c:133
 do_el0_svc+0x48/0x58 arch/arm64/kernel/syscall.c:152
 el0_svc+0x54/0x168 arch/arm64/kernel/entry-common.c:712
 el0t_64_sync_handler+0x84/0xfc arch/arm64/kernel/entry-common.c:730
 el0t_64_sync+0x190/0x194 arch/arm64/kernel/entry.S:598

Allocated by task 6348:
 kasan_save_stack mm/kasan/common.c:47 [inline]
 kasan_save_track+0x40/0x78 mm/kasan/common.c:68
 kasan_save_alloc_info+0x40/0x50 mm/kasan/generic.c:565
 poison_kmalloc_redzone mm/kasan/common.c:370 [inline]
 __kasan_kmalloc+0xac/0xc4 mm/kasan/common.c:387
 kasan_kmalloc include/linux/kasan.h:211 [inline]
 kmalloc_trace+0x70/0x88 mm/slub.c:4000
 kmalloc include/linux/slab.h:628 [inline]
 kzalloc include/linux/slab.h:749 [inline]
 vgic_add_lpi+0x12c/0x6a8 arch/arm64/kvm/vgic/vgic-its.c:61
 vgic_its_cmd_handle_mapi+0x3b8/0x8d4 arch/arm64/kvm/vgic/vgic-its.c:1101

Freed by task 6353:
 kasan_save_stack mm/kasan/common.c:47 [inline]
 kasan_save_track+0x40/0x78 mm/kasan/common.c:68
 kasan_save_free_info+0x54/0x6c mm/kasan/generic.c:579
 poison_slab_object+0x124/0x18c mm/kasan/common.c:240
 __kasan_slab_free+0x3c/0x78 mm/kasan/common.c:256
 kasan_slab_free include/linux/kasan.h:184 [inline]
 slab_free_hook mm/slub.c:2106 [inline]
 slab_free mm/slub.c:4280 [inline]
 kfree+0x154/0x2d8 mm/slub.c:4390
 __vgic_put_lpi_locked+0x1a0/0x234 arch/arm64/kvm/vgic/vgic.c:136
 vgic_put_irq+0xa4/0x154 arch/arm64/kvm/vgic/vgic.c:150
 vgic_its_free_device+0x12c/0x2b0 arch/arm64/kvm/vgic/vgic-its.c:1006
 vgic_its_cmd_handle_mapd+0x210/0x5a0 arch/arm64/kvm/vgic/vgic-its.c:1220

The buggy address belongs to the object at ffff0000d6a4c880
 which belongs to the cache kmalloc-128 of size 128
The buggy address is located 52 bytes inside of
 freed 128-byte region [ffff0000d6a4c880, ffff0000d6a4c900)
==================================================================


---
This report is generated by a bot. It may contain errors.
See https://goo.gl/tpsmEJ for more information about syzbot.
syzbot engineers can be reached at syzkaller@googlegroups.com.

syzbot will keep track of this issue. See:
https://goo.gl/tpsmEJ#status for how to communicate with syzbot.

If the report is already addressed, let syzbot know by replying with:
#syz fix: exact-commit-title

If you want to overwrite report's subsystems, reply with:
#syz set subsystems: new-subsystem
(See the list of subsystem names on the web dashboard)

If the report is a duplicate of another one, reply with:
#syz dup: exact-subject-of-another-report

If you want to undo deduplication, reply with:
#syz undup
"""
    return arch.post(
        author=SYZBOT,
        when=when,
        subject="[syzbot] [kvmarm?] KASAN: slab-use-after-free Read in kvm_vgic_flush_hwstate",
        body=body,
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
