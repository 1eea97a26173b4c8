"""Typed errors a user can meet; the CLI turns each into one clear line (never a traceback)."""

from __future__ import annotations


class LoreDigestError(Exception):
    """Base class of every error the CLI reports to the user as a one-line message."""


class SourceError(LoreDigestError):
    """A mirror, mbox or URL could not be read (missing path, not a git repo, git failed)."""


class StoreError(LoreDigestError):
    """The SQLite store cannot be opened or is newer than this version understands."""


class UsageError(LoreDigestError):
    """Arguments that parse but make no sense together (bad week, unknown list, bad tz)."""


class OutputError(LoreDigestError):
    """An output file or directory cannot be written (read-only, missing, not a directory)."""
