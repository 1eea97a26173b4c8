"""The Linux kernel's MAINTAINERS file: who maintains, reviews and takes which files.

A digest says "waiting for Marc or Oliver to apply it" only if it knows who applies
patches to the files a series touches; the kernel writes that down in MAINTAINERS,
one section per subsystem:

    KERNEL VIRTUAL MACHINE FOR ARM64 (KVM/arm64)
    M:	Marc Zyngier <maz@kernel.org>
    R:	James Morse <james.morse@arm.com>
    L:	kvmarm@lists.linux.dev
    S:	Maintained
    T:	git git://git.kernel.org/pub/scm/linux/kernel/git/kvmarm/kvmarm.git
    F:	arch/arm64/kvm/
    X:	arch/arm64/kvm/hyp/nvhe/

A section is a title line followed directly by "X:<tab>value" lines (a space after
the colon is tolerated); a blank line ends it. Everything before the first section is
the file's own description (its indented "M: *Mail* patches to..." lines included)
and is skipped. The letters, as the file's header describes them:

- M: a maintainer, R: a designated reviewer, "Name <address>" (addresses lowercased);
- L: a mailing list, "address (note)", the note saying "moderated for
  non-subscribers", "subscribers-only" or "deprecated";
- S: the status (Supported, Maintained, Odd Fixes, Orphan, Obsolete, Buried);
- T: a tree ("git git://... branch"), kept as written;
- F: a file pattern, X: a pattern excluded from the section, N: a regular
  expression searched in a path, K: a regular expression over a patch's content
  (kept, not used here: a digest matches by path); W, Q, B, C, P (web page,
  patchwork, bug tracker, chat, profile) and unknown letters kept raw.

Patterns match paths relative to the top of the tree ("arch/arm64/kvm/arm.c"):

- "drivers/net/": every file in drivers/net and below it;
- "drivers/net/*": the files in drivers/net, not below it ("*", "?" and "[ch]"
  never cross a "/"; other characters are literal);
- "*/net/*": the files of net/ in any top-level directory;
- "drivers/net/foo.c": that file; and since nobody can tell a directory from a file
  without the tree, a pattern without wildcard and without trailing slash also
  matches below it ("arch/arm64/kvm" is "arch/arm64/kvm/"), as get_maintainer.pl
  does when the directory exists;
- X: a path a section's X: pattern matches is not that section's, whatever its F:
  or N: say (exclusions are tested first, as the header says);
- N: a Python regular expression searched anywhere in the path ("[^a-z]tegra");
  one that does not compile is skipped and reported in Maintainers.problems.

Where we choose, and why: a section whose patterns match everything ("F: *" and
"F: */" of THE REST, Linus Torvalds's) counts for a path only when no other section
does, so the rest really is the rest and not a maintainer of every patch; sections
are returned most specific first (the depth of the matching pattern, as
get_maintainer.pl ranks them), then in file order. Patterns are indexed by their
literal directory, so a path is tested against the few patterns that can match it,
and a wildcard one is compiled once, the first time it is needed: a file the size of
the real one (~28,000 lines, ~2,800 sections) parses and matches 1,000 paths in a
fraction of a second (tests/test_maintainers.py measures it).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from lore_digest.errors import UsageError

__all__ = ["MailingList", "Maintainers", "MaintainersError", "Person", "Section"]


class MaintainersError(UsageError):
    """A MAINTAINERS file that cannot be read or holds no section (one line: "PATH: ...")."""


@dataclass(frozen=True, slots=True)
class Person:
    """A maintainer or reviewer: "Marc Zyngier <maz@kernel.org>"; email lowercased."""

    name: str
    email: str

    @classmethod
    def parse(cls, value: str) -> Person | None:
        """The person of an M:/R: value; None without an address ("M: Orphan")."""
        match = _ANGLE.search(value) or _BARE.search(value)
        if match is None:
            return None
        email = match.group(1).strip().lower()
        name = value[: match.start()].strip().strip("\"'").strip()
        return cls(name=name, email=email)


@dataclass(frozen=True, slots=True)
class MailingList:
    """An L: entry: "kvmarm@lists.linux.dev", its note "moderated for non-subscribers"."""

    address: str
    note: str = ""

    @property
    def name(self) -> str:
        """The list's local part ("kvmarm"), by which lore names its inbox."""
        return self.address.partition("@")[0]

    @property
    def moderated(self) -> bool:
        """Whether posting needs a subscription or a moderator."""
        return "moderated" in self.note.lower() or "subscribers-only" in self.note.lower()

    @property
    def deprecated(self) -> bool:
        """An old address kept for the archive (kvmarm@lists.cs.columbia.edu)."""
        return "deprecated" in self.note.lower()

    @classmethod
    def parse(cls, value: str) -> MailingList:
        """ "address (note)" -> MailingList; the address lowercased."""
        address, _, note = value.strip().partition(" ")
        return cls(address=address.lower(), note=note.strip().strip("()").strip())


@dataclass(frozen=True, slots=True)
class Section:
    """One subsystem of MAINTAINERS, its entries in file order, values as written.

    files / excludes / regexes: the F:, X: and N: patterns; content_regexes: K:;
    other: (letter, value) of W, Q, B, C, P and unknown letters, and of M:/R: lines
    without an address; line: where the title is (1-based).
    """

    title: str
    maintainers: tuple[Person, ...] = ()
    reviewers: tuple[Person, ...] = ()
    lists: tuple[MailingList, ...] = ()
    status: str = ""
    trees: tuple[str, ...] = ()
    files: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()
    regexes: tuple[str, ...] = ()
    content_regexes: tuple[str, ...] = ()
    other: tuple[tuple[str, str], ...] = ()
    line: int = 0


_ANGLE = re.compile(r"<\s*([^<>\s@]+@[^<>\s]+?)\s*>")
_BARE = re.compile(r"([\w.+=-]+@[\w-]+(?:\.[\w-]+)+)")
_FIELD = re.compile(r"([A-Z]):[ \t]*(.*?)\s*$")
_WILDCARDS: Final = frozenset("*?[")


class _Glob:
    """An F:/X: pattern as a test on paths.

    Most patterns of the real file are plain names ("arch/arm64/kvm/"), tested with
    string operations; a wildcard one is compiled to a regular expression the first
    time a path reaches it through the index (compiling all of them up front would
    cost most of the time a parse takes).
    """

    __slots__ = ("_below", "_regex", "pattern")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._regex: re.Pattern[str] | None = None
        # A literal name matches itself and below it; a trailing "/" only below it.
        self._below = pattern if pattern.endswith("/") else pattern + "/"

    def matches(self, path: str) -> bool:
        """Whether path is covered by the pattern (module docstring for the rules)."""
        if not _WILDCARDS.intersection(self.pattern):
            return path.startswith(self._below) or path == self.pattern
        if self._regex is None:
            self._regex = _glob(self.pattern)
        return self._regex.fullmatch(path) is not None


@dataclass(frozen=True, slots=True)
class _Pattern:
    """An F: pattern of a section, with how specific a match by it is."""

    section: int
    glob: _Glob
    depth: int
    catch_all: bool


@dataclass(slots=True)
class _Index:
    """Patterns keyed by their literal directory; per-section excludes and regexes."""

    files: dict[str, list[_Pattern]] = field(default_factory=dict)
    excludes: dict[int, list[_Glob]] = field(default_factory=dict)
    regexes: list[tuple[int, re.Pattern[str]]] = field(default_factory=list)
    lists: dict[str, list[int]] = field(default_factory=dict)


def person_name(name: str) -> str:
    """A display name to compare: casefolded, spaces collapsed, "" for no full name
    (one word, as "Marc" or an address local part, names nobody for sure)."""
    words = name.replace('"', " ").split()
    return " ".join(words).casefold() if len(words) >= 2 else ""


class Maintainers:
    """A parsed MAINTAINERS file and its matcher (rules: the module docstring).

    sections: in file order; source: the path (or name) messages cite; problems: what
    was skipped, one line each ("SOURCE:LINE: TITLE: N: '...' skipped: ...").
    """

    def __init__(self, sections: Sequence[Section], source: str = "MAINTAINERS") -> None:
        """Index sections for matching (each pattern compiled once, when first needed)."""
        self.sections: tuple[Section, ...] = tuple(sections)
        self.source = source
        self._index = _Index()
        problems: list[str] = []
        for number, section in enumerate(self.sections):
            self._add(number, section, problems)
        self.problems: tuple[str, ...] = tuple(problems)

    # --- reading ----------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str, source: str = "MAINTAINERS") -> Maintainers:
        """Parse MAINTAINERS text; MaintainersError ("SOURCE: ...") if it has no section."""
        if not text.strip():
            raise MaintainersError(f"{source}: the MAINTAINERS file is empty")
        sections = _parse_sections(text.splitlines())
        if not sections:
            raise MaintainersError(
                f"{source}: no MAINTAINERS section found "
                "(a title line followed by 'M:', 'L:', 'F:' ... lines)"
            )
        return cls(sections, source)

    @classmethod
    def load(cls, path: str | Path) -> Maintainers:
        """Read and parse a MAINTAINERS file; MaintainersError ("PATH: ...") if unusable."""
        try:
            data = Path(path).read_bytes()
        except OSError as error:
            reason = error.strerror or str(error)
            raise MaintainersError(f"{path}: cannot read the MAINTAINERS file: {reason}") from None
        return cls.parse(data.decode("utf-8", "replace"), source=str(path))

    def __len__(self) -> int:
        return len(self.sections)

    def __repr__(self) -> str:
        return f"Maintainers({self.source!r}, {len(self.sections)} sections)"

    # --- matching ---------------------------------------------------------------------

    def sections_for_files(self, paths: Iterable[str], *, catch_all: bool = True) -> list[Section]:
        """Sections that cover any of paths, most specific first, then in file order
        (without a catch-all such as THE REST when `catch_all` is False)."""
        best: dict[int, int] = {}
        for path in paths:
            for number, depth in self._matches(_normalise(path), catch_all=catch_all).items():
                if depth > best.get(number, -2):
                    best[number] = depth
        return [self.sections[n] for n in sorted(best, key=lambda n: (-best[n], n))]

    def covers(self, paths: Iterable[str]) -> bool:
        """Whether a section other than a catch-all (THE REST) covers any of paths.

        Another project's files (kvm-unit-tests' arm/selftest.c) match only THE REST:
        the kernel's file says nothing about who maintains them.
        """
        return any(self._matches(_normalise(path), catch_all=False) for path in paths)

    def sections_for_list(self, list_name_or_address: str) -> list[Section]:
        """Sections with an L: entry for a list: its address, or its name ("kvmarm").

        A name matches the local part of every address the list had
        (kvmarm@lists.cs.columbia.edu and kvmarm@lists.linux.dev alike).
        """
        key = list_name_or_address.strip().lower()
        return [self.sections[n] for n in self._index.lists.get(key, ())]

    def appliers(self, paths: Iterable[str], list_name: str | None = None) -> frozenset[str]:
        """Addresses of the M: people who may apply a patch to paths sent to list_name."""
        return frozenset(
            person.email
            for section in self._covering(paths, list_name)
            for person in section.maintainers
        )

    def names_of(self, emails: Iterable[str]) -> frozenset[str]:
        """The names (casefolded, spaces collapsed) the M: entries give these addresses."""
        wanted = {e.lower() for e in emails}
        return frozenset(
            person_name(person.name)
            for section in self.sections
            for person in section.maintainers
            if person.email in wanted and person_name(person.name)
        )

    def reviewers(self, paths: Iterable[str], list_name: str | None = None) -> frozenset[str]:
        """Addresses of the R: people of the same sections as appliers."""
        return frozenset(
            person.email
            for section in self._covering(paths, list_name)
            for person in section.reviewers
        )

    def _covering(self, paths: Iterable[str], list_name: str | None) -> list[Section]:
        sections = self.sections_for_files(paths)
        if list_name:
            sections.extend(self.sections_for_list(list_name))
        return sections

    def _matches(self, path: str, *, catch_all: bool = True) -> dict[int, int]:
        """Section number -> depth of its best pattern matching one path (catch-alls last,
        none when `catch_all` is False)."""
        if not path:
            return {}
        index = self._index
        found: dict[int, int] = {}
        catch_alls: dict[int, int] = {}
        for key in _keys(path):
            for pattern in index.files.get(key, ()):
                if not pattern.glob.matches(path):
                    continue
                into = catch_alls if pattern.catch_all else found
                if pattern.depth > into.get(pattern.section, -2):
                    into[pattern.section] = pattern.depth
        for number, regex in index.regexes:
            if number not in found and regex.search(path):
                found[number] = 0
        for result in (found, catch_alls):
            for number in [n for n in result if n in index.excludes]:
                if any(x.matches(path) for x in index.excludes[number]):
                    del result[number]
        return found or (catch_alls if catch_all else {})

    def _add(self, number: int, section: Section, problems: list[str]) -> None:
        index = self._index
        for pattern in section.files:
            if not (pattern := _normalise(pattern)):
                continue
            compiled = _Pattern(
                section=number,
                glob=_Glob(pattern),
                depth=_depth(pattern),
                catch_all=set(pattern) <= {"*", "/"},
            )
            index.files.setdefault(_literal_directory(pattern), []).append(compiled)
        for pattern in section.excludes:
            if pattern := _normalise(pattern):
                index.excludes.setdefault(number, []).append(_Glob(pattern))
        for value in section.regexes:
            try:
                index.regexes.append((number, re.compile(value)))
            except re.error as error:
                problems.append(
                    f"{self.source}:{section.line}: {section.title}: N: {value!r} skipped: {error}"
                )
        for mailing_list in section.lists:
            for key in {mailing_list.address, mailing_list.name}:
                numbers = index.lists.setdefault(key, [])
                if not numbers or numbers[-1] != number:
                    numbers.append(number)


# --- parsing ----------------------------------------------------------------------------


def _parse_sections(lines: list[str]) -> list[Section]:
    """Sections of the file: a title line directly followed by field lines."""
    fields = [_FIELD.match(line) for line in lines]
    fields.append(None)  # so that the last line has a "following" one
    sections: list[Section] = []
    index = 0
    count = len(lines)
    while index < count:
        if fields[index] is not None or fields[index + 1] is None or not lines[index].strip():
            index += 1  # header text, blank lines, stray lines between sections
            continue
        end = index + 1
        while fields[end] is not None:
            end += 1
        found = [(m.group(1), m.group(2)) for m in fields[index + 1 : end] if m is not None]
        sections.append(_section(lines[index].strip(), found, index + 1))
        index = end
    return sections


def _section(title: str, entries: list[tuple[str, str]], line_number: int) -> Section:
    """One section from its title and (letter, value) entries."""
    fields: dict[str, list[str]] = {}
    other: list[tuple[str, str]] = []
    for letter, value in entries:
        if not value:
            continue
        fields.setdefault(letter, []).append(value)
        if letter not in "MRLSTFXNK":
            other.append((letter, value))
    maintainers = _people(fields.get("M", ()), "M", other)
    reviewers = _people(fields.get("R", ()), "R", other)
    return Section(
        title=title,
        maintainers=maintainers,
        reviewers=reviewers,
        lists=tuple(MailingList.parse(value) for value in fields.get("L", ())),
        status=(fields.get("S") or [""])[0],
        trees=tuple(fields.get("T", ())),
        files=tuple(fields.get("F", ())),
        excludes=tuple(fields.get("X", ())),
        regexes=tuple(fields.get("N", ())),
        content_regexes=tuple(fields.get("K", ())),
        other=tuple(other),
        line=line_number,
    )


def _people(values: Iterable[str], letter: str, other: list[tuple[str, str]]) -> tuple[Person, ...]:
    people: list[Person] = []
    for value in values:
        person = Person.parse(value)
        if person is None:
            other.append((letter, value))
        elif person not in people:
            people.append(person)
    return tuple(people)


# --- patterns ---------------------------------------------------------------------------


def _normalise(path: str) -> str:
    """A path or pattern relative to the tree's top: no "./" or leading "/"."""
    path = path.strip()
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def _glob(pattern: str) -> re.Pattern[str]:
    """The regular expression (for fullmatch) of an F:/X: pattern."""
    parts = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        close = pattern.find("]", index + 2) if char == "[" else -1
        if char == "*":
            parts.append("[^/]*")
        elif char == "?":
            parts.append("[^/]")
        elif close > 0 and "/" not in pattern[index:close]:
            members = pattern[index + 1 : close]
            negate = members[:1] in ("!", "^")
            members = members[1:] if negate else members
            parts.append(f"[{'^/' if negate else ''}{members.replace(chr(92), chr(92) * 2)}]")
            index = close
        else:
            parts.append(re.escape(char))
        index += 1
    regex = "".join(parts)
    if pattern.endswith("/"):
        regex += ".*"  # in and below the directory
    elif not _WILDCARDS.intersection(pattern):
        regex += "(?:/.*)?"  # a file, or a directory named without its slash
    return re.compile(regex, re.DOTALL)


def _literal_directory(pattern: str) -> str:
    """The index key of a pattern: the directory before its first wildcard.

    A path is tested only against patterns keyed by one of its directories ("",
    "arch", "arch/arm64", ...) or by itself (a file, or a directory without slash).
    """
    wild = min((pattern.index(c) for c in _WILDCARDS if c in pattern), default=-1)
    if wild < 0:
        return pattern.rstrip("/")
    return pattern[:wild].rpartition("/")[0]


def _keys(path: str) -> list[str]:
    """The keys a path's patterns can be indexed by (see _literal_directory)."""
    keys = [""]
    position = path.find("/")
    while position >= 0:
        keys.append(path[:position])
        position = path.find("/", position + 1)
    keys.append(path.rstrip("/"))
    return keys


def _depth(pattern: str) -> int:
    """How specific a pattern is, as get_maintainer.pl ranks it.

    The number of its directory levels ("arch/arm64/kvm/" is 3, "arch/arm64/kvm/arm.c"
    4); -1 for one starting with a wildcard ("*/net/*"): it names no place.
    """
    if pattern[:1] in _WILDCARDS:
        return -1
    return pattern.count("/") + (0 if pattern.endswith("/") else 1)
