"""The small JSON files that say what was already delivered (mailed weeks, chat posts).

They live in a list's output directory, so the store stays a cache of the mail and a
CI job that restores only the output never delivers a week twice. A missing file means
nothing was delivered; an unreadable one is an error, never "nothing" (that would send
every week again). Writes are atomic: a crash never forgets what went out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lore_digest.errors import LoreDigestError
from lore_digest.fsutil import write_atomic

__all__ = ["load_state_file", "save_state_file"]


def load_state_file(path: Path, list_name: str, table: str, version: int) -> dict[str, Any]:
    """The state in `path`, or an empty one ({"format", "list", table: {}})."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        data = None
    except (OSError, ValueError) as exc:
        raise LoreDigestError(f"cannot read {path}: {exc}") from exc
    if data is None:
        return {"format": version, "list": list_name, table: {}}
    records = data.get(table) if isinstance(data, dict) else None
    if not isinstance(records, dict) or not all(isinstance(r, dict) for r in records.values()):
        # Not ours, or damaged: "nothing sent" would deliver every week again.
        raise LoreDigestError(
            f"cannot read {path}: not a lore-digest state file (no {table!r} table)"
        )
    return data


def save_state_file(path: Path, state: dict[str, Any]) -> None:
    """Write the state atomically (the directory is created if needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(state, ensure_ascii=False, indent=2) + "\n")
