"""Real git trees built from real patch mails, for the tests and the benchmark of
lore_digest.trees ("merges confirmed in git").

A patch mail holds only hunks, not the files it changes; each file's *pre-image* is
rebuilt from them: every hunk's context and removed lines placed at the hunk's old
start line, the gaps filled with filler lines, a new file absent. Committed as a base
commit, the pre-image takes the mail's diff as `git apply` would (a hunk's lines are
where it says), and `git log -p` of the applied commit shows the mail's hunks again,
so its `git patch-id` is the mail's. Patches git cannot apply that way (binary,
mode changes, quoted paths, -U0 hunks, mangled mail) are skipped.

Three kinds of applied commit, one per matching rule:

- "link": the mail's subject and message plus a `Link:` trailer naming its Message-ID
  (lore.kernel.org/r/, lore.kernel.org/<list>/, patch.msgid.link/ in turn);
- "patch-id": no Link, the subject reworded by the maintainer: only the diff tells;
- "subject": no Link, the diff edited when applied (a line added): only the author
  and the subject tell.

Two ways to build: `WorkTree` (a repository with a work tree: base commit, `git apply
--index`, `git commit`, a few processes a patch, for the tests) and `write_bulk_tree`
(the same commits computed in Python and written with one `git fast-import`, for a
10,000-commit benchmark tree; `tests/test_trees.py` checks both give the same
patch-ids). This parser of mails is independent of lore_digest.mail on purpose.
"""

from __future__ import annotations

import email
import email.message
import os
import random
import re
import subprocess
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Literal
from urllib.parse import quote

Kind = Literal["link", "patch-id", "subject"]
KINDS: tuple[Kind, ...] = ("link", "patch-id", "subject")

_HUNK = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_MAINTAINER = ("Tree Maintainer", "maintainer@example.invalid")
_EDIT_LINE = "/* edited when applied */"
_LINK_FORMS = (
    "https://lore.kernel.org/r/{}",
    "https://lore.kernel.org/kvmarm/{}/",
    "https://patch.msgid.link/{}",
)


@dataclass(frozen=True)
class Hunk:
    """One hunk: where it starts in the old file, and its lines as (tag, text)."""

    old_start: int
    lines: tuple[tuple[str, str], ...]  # tag is " ", "-" or "+"
    old_no_newline: bool  # "\ No newline at end of file" after its last old line
    new_no_newline: bool


@dataclass(frozen=True)
class FilePatch:
    """The change of one file: None as a path means created (old) or deleted (new)."""

    old_path: str | None
    new_path: str | None
    hunks: tuple[Hunk, ...]
    text: str  # this file's part of the diff, as mailed


@dataclass(frozen=True)
class MailPatch:
    """A patch mail of the corpus, read as `git am` would."""

    message_id: str
    author_name: str
    author_email: str
    date_utc: int
    title: str
    message: str  # the commit message below the subject, trailers included
    files: tuple[FilePatch, ...]
    body: str = field(repr=False)  # the decoded body, for git's own patch-id of it
    raw: bytes = field(repr=False)  # the mail as archived

    @property
    def diff(self) -> str:
        """The mailed diff, for `git apply`."""
        return "".join(f.text for f in self.files)


# -- reading mails ----------------------------------------------------------------------


def corpus_mails(git_dir: Path, count: int | None = None) -> Iterator[bytes]:
    """The raw mails of a public-inbox epoch, oldest first (the first `count` only)."""
    revs = subprocess.run(
        ["git", "--git-dir", str(git_dir), "rev-list", "--reverse", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[:count]
    proc = subprocess.Popen(
        ["git", "--git-dir", str(git_dir), "cat-file", "--batch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    stdin = proc.stdin

    def feed() -> None:  # cat-file stops reading while its output pipe is full
        stdin.write("".join(f"{rev}:m\n" for rev in revs).encode())
        stdin.close()

    threading.Thread(target=feed, daemon=True).start()
    try:
        for _ in revs:
            header = proc.stdout.readline().split()
            if len(header) < 3:
                continue
            data = proc.stdout.read(int(header[2]))
            proc.stdout.read(1)
            yield data
    finally:
        proc.kill()
        proc.wait()


_SUBJECT_PREFIX = re.compile(r"^(?:\s*\[[^\]]*\])+\s*")


def parse_mail_patch(raw: bytes) -> MailPatch | None:
    """The patch a mail posts, or None: a reply, a cover letter, no diff, or a diff this
    builder cannot turn into files (see the module docstring)."""
    try:
        msg = email.message_from_bytes(raw)  # compat32: 5x faster than policy.default
        subject = " ".join(_header(msg, "subject").split())
        body = _plain_text(msg)
        message_id = _header(msg, "message-id").strip().strip("<>")
        date = parsedate_to_datetime(_header(msg, "date"))
        (name, address), *_ = getaddresses([_header(msg, "from")])
    except Exception:  # hostile mail: whatever the stdlib parser chokes on is skipped
        return None
    if not subject.startswith("[") or "PATCH" not in subject.split("]")[0].upper():
        return None
    if re.search(r"\b0+/\d+\]", subject) or not message_id or not body:
        return None
    title = _SUBJECT_PREFIX.sub("", subject)
    lines = body.replace("\r\n", "\n").split("\n")
    # In-body From:/Subject: lines name the real author (git am's rule).
    while lines and re.match(r"(?i)(from|subject|date):", lines[0]):
        field_name, _, value = lines.pop(0).partition(":")
        if field_name.lower() == "from":
            (name, address), *_ = getaddresses([value])
        elif field_name.lower() == "subject":
            title = _SUBJECT_PREFIX.sub("", " ".join(value.split()))
    message_lines: list[str] = []
    for line in lines:
        if line == "---" or line.startswith("diff --git "):
            break
        message_lines.append(line)
    files = _parse_diff(lines)
    if not files or not title or not address:
        return None
    return MailPatch(
        message_id=message_id,
        author_name=(name or address).replace("<", "").replace(">", "").strip(),
        author_email=address.lower(),
        date_utc=int(date.timestamp()),
        title=title,
        message="\n".join(message_lines).strip() + "\n",
        files=tuple(files),
        body=body,
        raw=raw,
    )


def _header(msg: email.message.Message, name: str) -> str:
    value = msg.get(name)
    return "" if value is None else str(make_header(decode_header(str(value))))


def _plain_text(msg: email.message.Message) -> str:
    """The first text/plain part, decoded (base64, quoted-printable, its charset)."""
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                charset = part.get_content_charset() or "utf-8"
                return payload.decode(charset, "replace").replace("\r\n", "\n")
    return ""


def _parse_diff(lines: list[str]) -> list[FilePatch] | None:
    """Every `diff --git` section with its hunks; None for what this builder cannot use."""
    files: list[FilePatch] = []
    index = 0
    while index < len(lines):
        if not lines[index].startswith("diff --git "):
            index += 1
            continue
        parsed = _parse_file(lines, index)
        if parsed is None:
            return None
        file_patch, index = parsed
        files.append(file_patch)
    paths = [p for f in files for p in {f.old_path, f.new_path} if p]
    if len(paths) != len(set(paths)):
        return None  # one file changed twice, or a swap of names
    return files


def _parse_file(lines: list[str], start: int) -> tuple[FilePatch, int] | None:
    header = lines[start]
    match = re.fullmatch(r"diff --git a/(\S+) b/(\S+)", header)
    if match is None:
        return None  # quoted names or names with spaces
    old_path: str | None = match.group(1)
    new_path: str | None = match.group(2)
    index = start + 1
    while index < len(lines) and not lines[index].startswith(("@@ ", "diff --git ")):
        line = lines[index]
        if line.startswith(("old mode", "new mode", "GIT binary patch", "Binary files", "copy ")):
            return None
        if line.startswith("new file mode"):
            old_path = None
        elif line.startswith("deleted file mode"):
            new_path = None
        elif line.startswith(("--- ", "+++ ", "index ", "similarity index", "rename ")):
            pass
        elif line.startswith("dissimilarity index"):
            return None
        else:
            break  # the end of a rename without hunks, or the mail goes on
        index += 1
    hunks: list[Hunk] = []
    while index < len(lines) and lines[index].startswith("@@ "):
        parsed = _parse_hunk(lines, index)
        if parsed is None:
            return None
        hunk, index = parsed
        hunks.append(hunk)
    if not hunks and (old_path is None or new_path is None or old_path == new_path):
        return None  # an empty file created or deleted, or nothing we can rebuild
    if old_path is not None and any(h.old_start == 0 for h in hunks):
        return None
    text = "\n".join(lines[start:index]) + "\n"
    return FilePatch(old_path, new_path, tuple(hunks), text), index


def _parse_hunk(lines: list[str], start: int) -> tuple[Hunk, int] | None:
    match = _HUNK.match(lines[start])
    if match is None:
        return None
    old_left = int(match.group(2) or 1)
    new_left = int(match.group(4) or 1)
    body: list[tuple[str, str]] = []
    old_no_newline = new_no_newline = False
    index = start + 1
    while (old_left or new_left) and index < len(lines):
        line = lines[index]
        tag, text = (line[:1] or " "), line[1:]
        if tag == " " and old_left and new_left:
            old_left, new_left = old_left - 1, new_left - 1
        elif tag == "-" and old_left:
            old_left -= 1
        elif tag == "+" and new_left:
            new_left -= 1
        else:
            return None  # counts that do not add up: a mangled mail
        body.append((tag, text))
        index += 1
        if index < len(lines) and lines[index].startswith("\\ "):
            old_no_newline |= tag in " -" and not old_left
            new_no_newline |= tag in " +" and not new_left
            index += 1
    if old_left or new_left:
        return None
    old_start = int(match.group(1))
    return Hunk(old_start, tuple(body), old_no_newline, new_no_newline), index


def read_patches(git_dir: Path, count: int | None = None) -> Iterator[MailPatch]:
    """The patch mails among the first `count` mails of an epoch that this builder can use."""
    for raw in corpus_mails(git_dir, count):
        patch = parse_mail_patch(raw)
        if patch is not None:
            yield patch


# -- pre- and post-images ---------------------------------------------------------------


def pre_image(file_patch: FilePatch) -> bytes | None:
    """The old file rebuilt from the hunks (None: the patch creates it)."""
    if file_patch.old_path is None:
        return None
    out: list[str] = []
    no_newline = False
    for hunk in file_patch.hunks:
        first = hunk.old_start - 1
        if len(out) > first:
            raise ValueError("overlapping hunks")
        out.extend(f"filler line {n + 1}" for n in range(len(out), first))
        out.extend(text for tag, text in hunk.lines if tag != "+")
        no_newline = hunk.old_no_newline
    if not file_patch.hunks:  # a pure rename: any content moves
        out = [f"renamed file {file_patch.old_path}"]
    return _join(out, no_newline)


def post_image(file_patch: FilePatch, *, edited: bool = False) -> bytes | None:
    """The new file: the hunks applied to the pre-image (None: the patch deletes it)."""
    if file_patch.new_path is None:
        return None
    old = [] if file_patch.old_path is None else _lines(pre_image(file_patch) or b"")
    if not file_patch.hunks:
        new = old
        no_newline = False
    else:
        new = []
        position = 0
        for hunk in file_patch.hunks:
            first = max(hunk.old_start - 1, 0)
            new.extend(old[position:first])
            new.extend(text for tag, text in hunk.lines if tag != "-")
            position = first + sum(1 for tag, _ in hunk.lines if tag != "+")
        new.extend(old[position:])
        no_newline = file_patch.hunks[-1].new_no_newline and position >= len(old)
    if edited:
        new = [*new, _EDIT_LINE]
        no_newline = False
    return _join(new, no_newline)


def _join(lines: list[str], no_newline: bool) -> bytes:
    text = "\n".join(lines)
    if lines and not no_newline:
        text += "\n"
    return text.encode("utf-8", "surrogateescape")


def _lines(data: bytes) -> list[str]:
    text = data.decode("utf-8", "surrogateescape")
    return text[:-1].split("\n") if text.endswith("\n") else text.split("\n") if text else []


def commit_message(patch: MailPatch, kind: Kind, number: int = 0) -> str:
    """The applied commit's message for one kind (see the module docstring)."""
    if kind == "patch-id":
        return f"{patch.title} (reworded)\n\n{patch.message}"
    if kind == "subject":
        return f"{patch.title}\n\n{patch.message}"
    url = _LINK_FORMS[number % len(_LINK_FORMS)].format(quote(patch.message_id, safe="@$+=-_.!"))
    return f"{patch.title}\n\n{patch.message}Link: {url}\n"


def link_url(patch: MailPatch, number: int = 0) -> str:
    """The Link: URL `commit_message` writes for the `number`-th link commit."""
    return commit_message(patch, "link", number).rsplit("Link: ", 1)[1].strip()


# -- a work tree: git apply and git commit ----------------------------------------------


def git(
    *args: str, cwd: Path, env: dict[str, str] | None = None, input: bytes | None = None
) -> str:
    """Run git in `cwd`; its stdout (CalledProcessError when it fails)."""
    proc = subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **_CLEAN_ENV, **(env or {})},
        input=input,
        capture_output=True,
        check=True,
    )
    return proc.stdout.decode("utf-8", "replace")


_CLEAN_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_COMMITTER_NAME": _MAINTAINER[0],
    "GIT_COMMITTER_EMAIL": _MAINTAINER[1],
    "GIT_AUTHOR_NAME": _MAINTAINER[0],
    "GIT_AUTHOR_EMAIL": _MAINTAINER[1],
}


def _author_env(patch: MailPatch) -> dict[str, str]:
    return {
        "GIT_AUTHOR_NAME": patch.author_name,
        "GIT_AUTHOR_EMAIL": patch.author_email,
        "GIT_AUTHOR_DATE": f"{patch.date_utc} +0000",
        "GIT_COMMITTER_DATE": f"{patch.date_utc + 86400} +0000",
    }


class WorkTree:
    """A git repository with a work tree on one branch, built patch by patch."""

    def __init__(self, path: Path, branch: str = "next") -> None:
        self.path = path
        self.branch = branch
        path.mkdir(parents=True, exist_ok=True)
        git("init", "--quiet", f"--initial-branch={branch}", cwd=path)
        self.commit_files({"README": b"a tree built from patch mails\n"}, "Initial commit")

    def head(self) -> str:
        """The commit the branch points to."""
        return git("rev-parse", "HEAD", cwd=self.path).strip()

    def commit_files(
        self,
        files: dict[str, bytes | None],
        message: str,
        *,
        env: dict[str, str] | None = None,
    ) -> str:
        """Write (None: delete) files and commit them all; the new commit."""
        for name, data in files.items():
            target = self.path / name
            if data is None:
                target.unlink(missing_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        git("add", "-A", cwd=self.path)
        git(
            "commit",
            "--quiet",
            "--allow-empty",
            "-F",
            "-",
            cwd=self.path,
            env=env,
            input=message.encode(),
        )
        return self.head()

    def add_patch(
        self, patch: MailPatch, kind: Kind, number: int = 0, *, edit: bool | None = None
    ) -> str | None:
        """Base commit with the pre-images, then the mail applied with `git apply` and
        committed as the mail's author; the applied commit, or None when git refuses it.

        `edit` (default: for the "subject" kind) adds a line to the applied diff."""
        base: dict[str, bytes | None] = {}
        for file_patch in patch.files:
            if file_patch.old_path is not None:
                base[file_patch.old_path] = pre_image(file_patch)
            if file_patch.new_path is not None and file_patch.new_path != file_patch.old_path:
                base[file_patch.new_path] = None
        self.commit_files(base, f"Base for {patch.message_id}")
        try:
            git(
                "apply",
                "--index",
                "-",
                cwd=self.path,
                input=patch.diff.encode("utf-8", "surrogateescape"),
            )
        except subprocess.CalledProcessError:
            return None  # git apply changes nothing when it fails
        edits: dict[str, bytes | None] = {}
        if kind == "subject" if edit is None else edit:
            target = next(f.new_path for f in patch.files if f.new_path is not None)
            data = (self.path / target).read_bytes()
            data += b"\n" if data and not data.endswith(b"\n") else b""
            edits[target] = data + f"{_EDIT_LINE}\n".encode()
        return self.commit_files(edits, commit_message(patch, kind, number), env=_author_env(patch))

    def push(self, remote: Path) -> None:
        """Publish the branch to a bare repository, replacing what it had (a forced push)."""
        if not remote.exists():
            git(
                "init",
                "--quiet",
                "--bare",
                f"--initial-branch={self.branch}",
                str(remote),
                cwd=self.path,
            )
        git(
            "push",
            "--quiet",
            "--force",
            str(remote),
            "HEAD:refs/heads/" + self.branch,
            cwd=self.path,
        )

    def same_patch_id_as_mail(self, commit: str, patch: MailPatch) -> bool:
        """Whether git's patch-id of `commit` is git's patch-id of the mail's body."""
        shown = git("show", "--format=commit %H", commit, cwd=self.path).encode()
        of_commit = git("patch-id", "--stable", cwd=self.path, input=shown).split()
        mailed = f"commit {'0' * 40}\n{patch.body}".encode("utf-8", "surrogateescape")
        of_mail = git("patch-id", "--stable", cwd=self.path, input=mailed).split()
        return bool(of_commit) and bool(of_mail) and of_commit[0] == of_mail[0]


def work_tree_from_patches(
    path: Path, patches: Iterable[tuple[MailPatch, Kind]], branch: str = "next"
) -> tuple[WorkTree, dict[str, str]]:
    """A work tree with these patches applied in order; Message-ID → applied commit."""
    tree = WorkTree(path, branch)
    applied: dict[str, str] = {}
    for number, (patch, kind) in enumerate(patches):
        commit = tree.add_patch(patch, kind, number)
        if commit is not None:
            applied[patch.message_id] = commit
    return tree, applied


# -- a bulk tree: one git fast-import ---------------------------------------------------


class _FastImport:
    """A `git fast-import` into a new bare repository, fed commit after commit (one
    branch): streamed, since a 10,000-commit tree of pre-images is gigabytes of text."""

    def __init__(self, git_dir: Path, branch: str) -> None:
        env = {**os.environ, **_CLEAN_ENV}
        init = ["git", "init", "--quiet", "--bare", f"--initial-branch={branch}", str(git_dir)]
        subprocess.run(init, check=True, env=env)
        self.branch = branch
        self.marks = 0
        self.time = 1_300_000_000
        self._marks_file = git_dir / "builder.marks"
        self._proc = subprocess.Popen(
            [
                "git",
                "--git-dir",
                str(git_dir),
                "fast-import",
                "--quiet",
                f"--export-marks={self._marks_file}",
            ],
            stdin=subprocess.PIPE,
            env=env,
        )
        assert self._proc.stdin is not None
        self._out = self._proc.stdin

    def commit(
        self,
        files: dict[str, bytes | None],
        message: str,
        author: tuple[str, str, int] | None = None,
    ) -> int:
        """Write one commit on top of the previous one; its mark."""
        self.marks += 1
        self.time = max(self.time + 60, (author[2] + 86400) if author else 0)
        name, address, when = author or (*_MAINTAINER, self.time)
        data = message.encode("utf-8", "surrogateescape")
        write = self._out.write
        write(
            f"commit refs/heads/{self.branch}\nmark :{self.marks}\n"
            f"author {_safe(name)} <{address}> {when} +0000\n"
            f"committer {_MAINTAINER[0]} <{_MAINTAINER[1]}> {self.time} +0000\n"
            f"data {len(data)}\n".encode()
            + data
            + b"\n"
        )
        for path, content in sorted(files.items()):
            if content is None:
                write(f"D {path}\n".encode())
            else:
                write(f"M 100644 inline {path}\ndata {len(content)}\n".encode() + content + b"\n")
        write(b"\n")
        return self.marks

    def finish(self) -> dict[int, str]:
        """End the stream; mark → commit id."""
        self._out.close()
        if self._proc.wait() != 0:
            raise RuntimeError("git fast-import failed")
        found: dict[int, str] = {}
        for line in self._marks_file.read_text().splitlines():
            mark, _, sha = line.partition(" ")
            found[int(mark.lstrip(":"))] = sha
        self._marks_file.unlink()
        return found


def _safe(name: str) -> str:
    return re.sub(r"[<>\n]", "", name).strip() or "Unknown"


def write_bulk_tree(
    git_dir: Path,
    patches: Sequence[MailPatch],
    *,
    total: int,
    branch: str = "next",
    seed: int = 1,
) -> tuple[dict[str, tuple[str, Kind]], int]:
    """A bare repository whose branch has `total` commits: the patches (kinds in turn:
    link, patch-id, subject), each group of patches on distinct files after one base
    commit of their pre-images, topped up with generated commits (some with Link:
    trailers to mails that do not exist). Message-ID → (commit, kind), and how many
    patches did not fit in `total`."""
    stream = _FastImport(git_dir, branch)
    stream.commit({"README": b"a tree built from patch mails\n"}, "Initial commit\n")
    placed: dict[str, tuple[int, Kind]] = {}
    group: list[MailPatch] = []
    group_files: set[str] = set()
    left_out = 0

    def flush() -> None:
        if not group:
            return
        base: dict[str, bytes | None] = {}
        for patch in group:
            for fp in patch.files:
                if fp.old_path is not None:
                    base[fp.old_path] = pre_image(fp)
                if fp.new_path is not None and fp.new_path != fp.old_path:
                    base[fp.new_path] = None
        stream.commit(base, f"Base for {len(group)} patches\n")
        for patch in group:
            kind = KINDS[len(placed) % len(KINDS)]
            files: dict[str, bytes | None] = {}
            edited = kind == "subject"
            for fp in patch.files:
                if fp.old_path is not None and fp.old_path != fp.new_path:
                    files[fp.old_path] = None
                if fp.new_path is not None:
                    files[fp.new_path] = post_image(fp, edited=edited)
                    edited = False
            author = (patch.author_name, patch.author_email, patch.date_utc)
            mark = stream.commit(files, commit_message(patch, kind, len(placed)), author)
            placed[patch.message_id] = (mark, kind)
        group.clear()
        group_files.clear()

    seen: set[str] = set()
    for patch in patches:
        paths = {p for f in patch.files for p in (f.old_path, f.new_path) if p}
        if patch.message_id in seen:
            continue
        seen.add(patch.message_id)
        if stream.marks + len(group) + 3 > total:
            left_out += 1
            continue
        if paths & group_files:
            flush()
        group.append(patch)
        group_files.update(paths)
    flush()
    rng = random.Random(seed)
    number = 0
    while stream.marks < total:
        number += 1
        path = f"generated/file-{number % 97}.c"
        body = "".join(
            f"int generated_{number}_{i} = {rng.randrange(1 << 30)};\n" for i in range(3)
        )
        trailer = (
            f"\nLink: https://lore.kernel.org/r/generated-{number}@example.invalid\n"
            if number % 4 == 0
            else ""
        )
        stream.commit(
            {path: body.encode()},
            f"generated: change {number}\n\nA commit no mail posted.\n{trailer}",
            (
                f"Generated Developer {number % 13}",
                f"dev{number % 13}@example.invalid",
                stream.time,
            ),
        )
    marks = stream.finish()
    return {mid: (marks[mark], kind) for mid, (mark, kind) in placed.items()}, left_out
