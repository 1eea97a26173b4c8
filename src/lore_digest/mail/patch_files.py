"""The files a patch mail touches, read from its diff and its diffstat.

Who should review a patch depends on the files it changes (MAINTAINERS is keyed by
path), so a digest needs them; the mail names them in three places:

- the diff: "diff --git a/X b/Y" names both sides (a rename touches both), "rename
  from/to" and "copy from/to" give the same names unabbreviated; names git quoted
  (in double quotes with C escapes, for unusual characters) are unquoted. A copy does
  not touch its source, so only "copy to" counts. Hunk lengths are counted as git
  apply does, so a removed line "-- x" (written "--- x") or an added "diff --git"
  line inside a hunk is content;
- a diff without git's header (quilt, "diff -urN", Andrew Morton's scripts): the
  "+++ " side, or the "--- " side of a deletion; never /dev/null. The a/ and b/
  prefixes are dropped, and so is a first directory that differs between the two
  sides ("linux.orig/..." against "linux/..."); a backup suffix on the old side
  ("mmu.c~patch-name") is why the new side is the one read;
- the diffstat (" path | 12 ++--", " create mode 100644 path", " rename ... (70%)"),
  which a cover letter or a pull request has without any diff: renames "a => b" and
  "dir/{old => new}/f.c" give both names (an empty side, "dir/{ => sub}/f.c", means
  the directory itself). Names git shortened to fit the width (".../kvm/arm.c") are
  resolved against the full paths of the diff (and those a caller knows, e.g. the
  patches of a series for its cover letter), or dropped: a guessed path is worse than
  none.

Only the mail's own diff and diffstat segments count (body.split_body's): a quoted
patch in a review is the patch of another mail.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from lore_digest.mail.body import Segment, split_body

__all__ = ["touched_files", "touched_files_in_text"]

_DEV_NULL: Final = "/dev/null"
_HUNK = re.compile(r"@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_CONTEXT_HEADS: Final = frozenset({" ", "", "\xa0"})  # as body.py: mailers strip spaces
_HEADER_NAME = re.compile(r"(rename|copy) (from|to) (.+?)\s*$")
# "diff --git a/x b/x index 0123..4567 100644": the next line joined by a mailer.
_JOINED_INDEX = re.compile(r"\s+index [0-9a-f]+\.\.[0-9a-f]+(?: [0-7]+)?$")

_STAT_LINE = re.compile(r"[ \t]*(\S.*?)\s+\|\s+(?:\d+ ?\+*-*|Bin\b.*)\s*$")
_STAT_MODE = re.compile(
    r"[ \t]+(?:(?:create|delete) mode \d+ (?P<created>.+?)"
    r"|mode change \d+ => \d+ (?P<mode>.+?)"
    r"|(?:rename|copy) (?P<renamed>.+?) \(\d+%\))\s*$"
)
_BRACES = re.compile(r"(.*)\{(.*) => (.*)\}(.*)")
_TRUNCATED: Final = "..."
_OCTAL = re.compile(r"\\([0-7]{3})|\\(.)")
_C_ESCAPES: Final = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13}


def touched_files(segments: Sequence[Segment], *, known: Iterable[str] = ()) -> tuple[str, ...]:
    """Paths a mail's diff and diffstat touch, sorted and unique (rules: module docstring).

    known: full paths that shortened diffstat names (".../kvm/arm.c") may resolve to,
    besides the mail's own diff (e.g. every patch's files, for a cover letter).
    """
    paths: set[str] = set()
    stat_names: list[str] = []
    for segment in segments:
        if segment.kind == "diff":
            paths.update(_diff_paths(segment.text))
        elif segment.kind == "diffstat":
            stat_names.extend(_diffstat_names(segment.text))
    candidates = paths | set(known)
    for name in stat_names:
        if not name.startswith(_TRUNCATED):
            paths.add(name)
            continue
        suffix = name[len(_TRUNCATED) :]
        paths.update(path for path in candidates if path.endswith(suffix))
    return tuple(sorted(paths))


def touched_files_in_text(text: str, *, known: Iterable[str] = ()) -> tuple[str, ...]:
    """touched_files of a body not yet split."""
    return touched_files(split_body(text), known=known)


# --- the diff ------------------------------------------------------------------------


@dataclass(slots=True)
class _FileBlock:
    """The header of one file of a git diff: from "diff --git" to its first hunk."""

    old: str | None = None
    new: str | None = None
    copied: bool = False
    names: set[str] = field(default_factory=set)  # from rename/copy lines

    def paths(self) -> set[str]:
        found = set(self.names)
        if self.new:
            found.add(self.new)
        if self.old and not self.copied:
            found.add(self.old)
        return found


def _diff_paths(text: str) -> set[str]:
    """Paths of one diff segment, its hunks skipped by their counted lengths."""
    paths: set[str] = set()
    block: _FileBlock | None = None  # the current git file block, until its hunks
    minus: str | None = None  # a "--- " line waiting for its "+++ "
    old_left = new_left = 0
    for line in text.split("\n"):
        if old_left > 0 or new_left > 0:
            head = line[:1]
            if head in _CONTEXT_HEADS:
                old_left -= 1
                new_left -= 1
                continue
            if head == "-":
                old_left -= 1
                continue
            if head == "+":
                new_left -= 1
                continue
            if head == "\\":
                continue
            old_left = new_left = 0  # a miscounted hunk: read this line as a header
        if hunk := _HUNK.match(line):
            old_left = int(hunk.group(1) or 1)
            new_left = int(hunk.group(2) or 1)
            minus = None
            if block is not None:  # the header is over: a "--- " below is another file
                paths |= block.paths()
                block = None
        elif line.startswith("diff --git "):
            if block is not None:
                paths |= block.paths()
            block = _git_block(line[len("diff --git ") :])
        elif block is not None and (named := _HEADER_NAME.match(line)):
            name = _unquote(named.group(3))
            block.names.add(name)
            if named.group(1) == "copy":
                block.copied = True
                if named.group(2) == "from":
                    block.names.discard(name)
        elif line.startswith("--- "):
            minus = _header_path(line[4:])
        elif line.startswith("+++ ") and minus is not None:
            if block is None or block.new is None:  # no (readable) git header
                plus = _header_path(line[4:])
                if (path := _plain_path(minus, plus)) is not None:
                    paths.add(path)
            minus = None
        elif line.startswith(("diff -", "Index: ")) and block is not None:
            paths |= block.paths()  # a non-git diff follows a git one
            block = None
    if block is not None:
        paths |= block.paths()
    return paths


def _git_block(rest: str) -> _FileBlock:
    """The two sides of "diff --git a/X b/Y", prefixes dropped (none when unreadable).

    Unquoted names may hold spaces, so "a/x y b/x y" is split where both sides name
    the same file (git's own rule for a non-rename); a rename's names are checked by
    its "rename from/to" lines anyway.
    """
    sides = _split_sides(_JOINED_INDEX.sub("", rest.rstrip()))
    if sides is None:
        return _FileBlock()  # e.g. wrapped by a mailer: "--- "/"+++ " still name the file
    old, new = (_strip_prefix(side) for side in sides)
    return _FileBlock(old=old, new=new)


def _split_sides(rest: str) -> tuple[str, str] | None:
    """The two names after "diff --git ", quoted or not; None without a second name."""
    if rest.startswith('"'):
        end = _quoted_end(rest, 0)
        if end < 0 or end + 1 >= len(rest) or rest[end + 1] != " ":
            return None
        second = rest[end + 2 :]
        return _unquote(rest[: end + 1]), _unquote(second)
    if rest.endswith('"') and ' "' in rest:
        cut = rest.rindex(' "')
        return rest[:cut], _unquote(rest[cut + 1 :])
    middle = len(rest) // 2
    if len(rest) % 2 == 1 and rest[middle] == " ":
        old, new = rest[:middle], rest[middle + 1 :]
        if _strip_prefix(old) == _strip_prefix(new):
            return old, new
    for marker in (" b/", " "):
        if marker in rest:
            cut = rest.index(marker)
            return rest[:cut], rest[cut + 1 :]
    return None


def _strip_prefix(side: str) -> str:
    """git's a/, b/ (or mnemonic i/, w/, c/, o/) prefix off a "diff --git" side."""
    _, slash, rest = side.partition("/")
    return rest if slash and rest else side


def _header_path(value: str) -> str:
    """The name of a "--- "/"+++ " line: unquoted, without diff's tab and timestamp."""
    value = value.rstrip()
    if value.startswith('"'):
        end = _quoted_end(value, 0)
        if end > 0:
            return _unquote(value[: end + 1])
    return value.split("\t", 1)[0].rstrip()


def _plain_path(minus: str, plus: str) -> str | None:
    """The file a "--- "/"+++ " pair without git header names (module docstring)."""
    if plus != _DEV_NULL:
        chosen, other = plus, minus
    elif minus != _DEV_NULL:
        chosen, other = minus, plus
    else:
        return None
    first, slash, rest = chosen.partition("/")
    if not (slash and rest):
        return chosen
    if first in ("a", "b"):
        return rest
    if other != _DEV_NULL and other.partition("/")[0] != first:
        return rest  # "linux.orig/x" against "linux/x": patch -p1
    return chosen


# --- the diffstat --------------------------------------------------------------------


def _diffstat_names(text: str) -> list[str]:
    """Every name a diffstat block gives, renames expanded; shortened ones kept as is."""
    names: list[str] = []
    for line in text.split("\n"):
        mode = _STAT_MODE.match(line)
        if mode:
            names.extend(_expand(mode.group("created") or mode.group("mode") or ""))
            names.extend(_expand(mode.group("renamed") or ""))
            continue
        stat = _STAT_LINE.match(line)
        if stat:
            names.extend(_expand(stat.group(1)))
    return [name for name in names if name]


def _expand(name: str) -> list[str]:
    """ "dir/{a => b}/f.c" -> both paths; "a => b" -> both; a quoted name unquoted."""
    name = name.strip()
    if not name:
        return []
    if len(name) > 1 and name.startswith('"') and name.endswith('"'):
        return [_unquote(name)]
    if name.startswith(_TRUNCATED) and "}" in name and "{" not in name:
        return _expand_shortened_rename(name)
    braces = _BRACES.fullmatch(name)
    if braces:
        before, old, new, after = braces.groups()
        return [_join(before, old, after), _join(before, new, after)]
    if " => " in name:
        old, new = name.split(" => ", 1)
        return [old.strip(), new.strip()]
    return [name]


def _expand_shortened_rename(name: str) -> list[str]:
    """ ".../kvm/arm => arch/arm64/kvm}/hyp/x.c": git cut the "{" off; both are suffixes.

    The old path ends with what is left of its side plus the part after "}"; the new
    path ends with its side plus that part. Both stay shortened ("..."), to be resolved.
    """
    visible, after = name[len(_TRUNCATED) :].rsplit("}", 1)
    if " => " not in visible:
        return [_TRUNCATED + visible + after]  # cut inside the new side
    old_tail, new_inside = visible.split(" => ", 1)
    return [_TRUNCATED + old_tail + after, _TRUNCATED + new_inside + after]


def _join(before: str, middle: str, after: str) -> str:
    """before + middle + after with the "//" of an empty middle collapsed."""
    path = before + middle + after
    return path.replace("//", "/") if not middle else path


# --- git's quoting -------------------------------------------------------------------


def _quoted_end(text: str, start: int) -> int:
    """Index of the closing quote of the C-style string opening at start; -1 if none."""
    index = start + 1
    while index < len(text):
        if text[index] == "\\":
            index += 2
            continue
        if text[index] == '"':
            return index
        index += 1
    return -1


def _unquote(name: str) -> str:
    """Undo git's C-style quoting of an unusual name (octal escapes are UTF-8 bytes)."""
    if not (len(name) > 1 and name.startswith('"') and name.endswith('"')):
        return name
    data = bytearray()
    body = name[1:-1]
    position = 0
    for match in _OCTAL.finditer(body):
        data += body[position : match.start()].encode("utf-8", "surrogateescape")
        if match.group(1):
            data.append(int(match.group(1), 8))
        else:
            char = match.group(2)
            data += bytes([_C_ESCAPES[char]]) if char in _C_ESCAPES else char.encode()
        position = match.end()
    data += body[position:].encode("utf-8", "surrogateescape")
    return data.decode("utf-8", "replace")
