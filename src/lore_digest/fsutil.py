"""Atomic file output: a reader never sees a half-written report, even after a crash.

A SIGKILL (OOM killer, timeout) between write and rename leaves the temp file behind, as
nothing of the killed process runs to remove it. Temp names carry the writer's pid, and
the first write into a directory in a process removes the temp files of dead writers.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from lore_digest.errors import OutputError

# ".NAME.PID.RANDOM.tmp": the pid tells a dead writer's leftover from a live one's file.
_TEMP = re.compile(r"^\..+\.(\d+)\.[A-Za-z0-9_]+\.tmp$")
_swept: set[Path] = set()  # directories already cleaned by this process


def write_atomic(path: Path, text: str) -> None:
    """Write `text` (UTF-8) to `path` via a temp file in the same dir, fsync, then rename.

    Raises OutputError (one line naming the path) when the file cannot be written.
    """
    try:
        _write_atomic(path, text)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from exc


def ensure_writable_dir(path: Path) -> Path:
    """Create `path` if needed and prove a file can be made in it, before long work starts.

    Raises OutputError saying why not (read-only, not a directory, a pseudo-filesystem).
    """
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".probe.{os.getpid()}.", suffix=".tmp", dir=path)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"cannot write into {path}: {exc.strerror or exc}") from exc
    return path


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.parent not in _swept:
        remove_stale_temps(path.parent)
        _swept.add(path.parent)
    prefix = f".{path.name}.{os.getpid()}."
    fd, tmp = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a report is for reading
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_stale_temps(directory: Path) -> list[Path]:
    """Delete the write_atomic temp files of dead writers in `directory`; returns them."""
    removed = []
    for path in directory.glob(".*.tmp"):
        match = _TEMP.match(path.name)
        if match is not None and not _alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    """Whether process `pid` exists (on this host: pids are per machine and namespace)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _umask() -> int:
    """The process umask (read by setting it, then restoring it)."""
    current = os.umask(0)
    os.umask(current)
    return current
