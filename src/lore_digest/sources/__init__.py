"""Where mail comes from: public-inbox git mirrors, mbox files and maildirs, lore over HTTP.

Each kind is a `Source` (sources/base.py): it checks itself, then yields batches of raw
mail, each with the checkpoint it reaches; `registry.SOURCES` lists the kinds for the
CLI, the config and `run`. Only this package runs git or talks to the network for mail.
"""

from lore_digest.sources.base import Batch, EpochCheckpoint, LoreCheckpoint, RawMail, Source
from lore_digest.sources.registry import SOURCES, SourceKind, make_source

__all__ = [
    "SOURCES",
    "Batch",
    "EpochCheckpoint",
    "LoreCheckpoint",
    "RawMail",
    "Source",
    "SourceKind",
    "make_source",
]
