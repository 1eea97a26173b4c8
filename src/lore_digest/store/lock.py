"""One writer at a time: an exclusive run lock beside the store (`<db>.lock`).

SQLite alone keeps the database file consistent, but two `sync` runs on one store would
both plan the same commits and fight over the write lock (one of them eventually failing
with "database is locked" after its busy timeout), and two `site` runs would interleave
pages and manifests of different builds. So commands that write take this lock first,
and a second run either waits for it or stops with one clear line naming the holder.

`fcntl.flock` is used because the kernel drops the lock when its holder dies, even by
SIGKILL: a crashed run never leaves a stale lock that a person has to delete. The lock
file itself is never removed (unlinking a flock file lets two processes lock two
different inodes); it only holds the current holder's pid and command, for the message.
flock is per open file, so a process that takes the lock twice blocks itself: take it
once per command, around everything the command writes.
"""

from __future__ import annotations

import fcntl
import os
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from lore_digest.errors import StoreError

__all__ = ["StoreLocked", "lock_path", "read_holder", "store_lock"]

_POLL = 0.05  # seconds between attempts while waiting (flock has no timeout of its own)
_MAX_POLL = 0.5
_MAX_COMMAND = 200  # characters of the holder's command kept in the message


class StoreLocked(StoreError):
    """Another lore-digest run holds the store's lock (the message names its pid)."""

    def __init__(self, message: str, holder_pid: int | None) -> None:
        super().__init__(message)
        self.holder_pid = holder_pid


def lock_path(db_path: Path) -> Path:
    """The lock file of a store: `<db>.lock` beside it."""
    return db_path.with_name(db_path.name + ".lock")


def read_holder(db_path: Path) -> tuple[int | None, str]:
    """(pid, command) written by the current or last holder; (None, "") when unknown."""
    try:
        text = lock_path(db_path).read_text("utf-8", errors="replace")
    except OSError:
        return None, ""
    pid_text, _, command = text.strip().partition(" ")
    return (int(pid_text) if pid_text.isdigit() else None), command


def _command_line() -> str:
    """This process's command, on one line and not too long (it ends up in a message)."""
    argv = list(sys.argv)
    if argv and argv[0].endswith(("__main__.py", "lore-digest")):
        argv[0] = "lore-digest"
    text = " ".join(shlex.quote(a) for a in argv) or "python"
    text = " ".join(text.split())  # no newline can break the one-line message
    return text if len(text) <= _MAX_COMMAND else text[: _MAX_COMMAND - 1] + "…"


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _holder_text(db_path: Path) -> str:
    """ "lore-digest run (pid 4242)": who holds the lock, as far as the lock file says."""
    pid, command = read_holder(db_path)
    if pid is None:
        return "another lore-digest run (pid unknown)"
    return f"{command or 'another lore-digest run'} (pid {pid})"


def _locked_error(db_path: Path, wait: float | None) -> StoreLocked:
    pid, command = read_holder(db_path)
    holder = "pid unknown" if pid is None else f"pid {pid}: {command}" if command else f"pid {pid}"
    waited = f" (still, after waiting {wait:g} s)" if wait else ""
    return StoreLocked(
        f"store {db_path} is in use by another lore-digest run ({holder}){waited}; "
        "run again when it has finished",
        pid,
    )


@contextmanager
def store_lock(
    db_path: Path,
    *,
    wait: float | None,
    on_wait: Callable[[str], None] | None = None,
) -> Iterator[None]:
    """Hold the store's exclusive run lock for the duration of the block.

    `wait` is how many seconds to wait for a running holder (None or 0: fail at once).
    `on_wait` is told at once, in one line naming the holder's pid, that we are waiting
    (a silent pause looks like a hang). Raises StoreLocked (a StoreError, so the CLI
    prints one line and exits 1) naming the holder's pid and command. The lock is
    released when the block ends, and by the kernel if this process dies.
    """
    path = lock_path(db_path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise StoreError(f"cannot create the lock file {path}: {exc}") from exc
    try:
        deadline = None if not wait else time.monotonic() + wait
        delay = _POLL
        told = False
        while not _try_lock(fd):
            if deadline is None or time.monotonic() >= deadline:
                raise _locked_error(db_path, wait)
            if on_wait is not None and not told:
                on_wait(
                    f"waiting up to {wait:g} s for {_holder_text(db_path)} to finish with {db_path}"
                )
                told = True
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(delay * 2, _MAX_POLL)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {_command_line()}\n".encode(), 0)
        try:
            yield
        finally:
            # Emptied while still held, so nobody reads a finished run as the holder.
            os.ftruncate(fd, 0)
    finally:
        os.close(fd)  # closing the only descriptor releases the flock
