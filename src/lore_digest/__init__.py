"""lore-digest: weekly digests of public-inbox mailing lists (lore.kernel.org).

The library's face, for scripts (the `lore-digest` command is a thin layer over it):

    from lore_digest import Digest, DigestSettings, Store, make_source, sync

    with Store.open(Path("kvmarm.sqlite3")) as store:
        sync(store, make_source("mirror", "https://lore.kernel.org/kvmarm"))
        with Digest(store, "kvmarm", DigestSettings(tz="Asia/Shanghai")) as digest:
            report = digest.week("2022-W19", lang="en")

docs/design.md describes the pipeline behind these names.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from lore_digest.version import __version__

# Loaded on first use: `import lore_digest` (and every `lore-digest --help`) stays cheap.
_FACE = {
    "Digest": "lore_digest.digest",
    "DigestSettings": "lore_digest.digest",
    "Report": "lore_digest.report.model",
    "Store": "lore_digest.store.db",
    "SyncResult": "lore_digest.ingest",
    "make_source": "lore_digest.sources.registry",
    "sync": "lore_digest.ingest",
}

__all__ = ["__version__", *_FACE]


def __getattr__(name: str) -> Any:
    module = _FACE.get(name)
    if module is None:
        raise AttributeError(f"module 'lore_digest' has no attribute {name!r}")
    return getattr(import_module(module), name)
