"""`git patch-id --stable` of posted mails: all of them through one git process.

git patch-id reads many patches from one stream, each starting with a `commit <40 hex>`
line, and prints "<patch-id> <that id>" for each one that holds a diff. Each mail's
diff gets a made-up id (the SHA-1 of its Message-ID) so the output maps back to it; a
mail without a diff prints nothing and gets ''. `--stable` makes the id independent of
file order and whitespace, as it is for the commits of the trees.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from lore_digest.sources.git import run_git_bytes


def diff_hash(diff: str) -> str:
    """What a cached patch-id was computed from, to recompute it if the diff changes."""
    return hashlib.sha1(diff.encode("utf-8", "replace")).hexdigest()


def mail_patch_ids(diffs: Mapping[str, str]) -> dict[str, str]:
    """Message-ID → patch-id of its diff ('' for a mail without one), in one process."""
    result = dict.fromkeys(diffs, "")
    fake: dict[str, str] = {}
    stream: list[bytes] = []
    for message_id, diff in diffs.items():
        if not diff.strip():
            continue
        commit = hashlib.sha1(message_id.encode("utf-8", "replace")).hexdigest()
        fake[commit] = message_id
        text = diff if diff.endswith("\n") else diff + "\n"
        stream.append(f"commit {commit}\n".encode() + text.encode("utf-8", "replace"))
    if not stream:
        return result
    out = run_git_bytes(
        ["patch-id", "--stable"], input=b"".join(stream), what="git patch-id failed"
    )
    for line in out.decode("ascii", "replace").splitlines():
        patch_id, _, commit = line.partition(" ")
        if commit.strip() in fake:
            result[fake[commit.strip()]] = patch_id
    return result
