"""Compiled Jinja templates kept between runs, so a report does not compile them again.

Compiling the report's Markdown template takes about a tenth of a second, a twentieth
of a weekly report; Jinja can keep the compiled code in files instead. The files live
in the user's cache directory ($XDG_CACHE_HOME/lore-digest/templates), are checked
against the template's source and the Python version before use (Jinja's bucket
checksum and magic), and are best effort: a cache that cannot be written (a read-only
home, a full disk) only means compiling again, never an error.
"""

from __future__ import annotations

import contextlib
import os
import pickle
from functools import cache

from jinja2.bccache import Bucket, BytecodeCache, FileSystemBytecodeCache

from lore_digest.config import cache_dir

__all__ = ["template_cache"]

_DISABLE_ENV = "LORE_DIGEST_NO_TEMPLATE_CACHE"


class _QuietCache(FileSystemBytecodeCache):
    """Jinja's file cache, with reading and writing failures ignored."""

    def load_bytecode(self, bucket: Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except (OSError, ValueError, EOFError, TypeError, pickle.UnpicklingError):
            # unreadable or truncated (a crash while another run wrote it): compile again
            bucket.reset()

    def dump_bytecode(self, bucket: Bucket) -> None:
        with contextlib.suppress(OSError):  # not written: compiled again next time
            super().dump_bytecode(bucket)


@cache
def template_cache() -> BytecodeCache | None:
    """The shared compiled-template cache, None when its directory cannot be made
    (or $LORE_DIGEST_NO_TEMPLATE_CACHE is set)."""
    if os.environ.get(_DISABLE_ENV):
        return None
    folder = cache_dir() / "templates"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return _QuietCache(str(folder))
