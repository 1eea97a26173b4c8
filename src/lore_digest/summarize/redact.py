"""Secrets out of every error text: before it is cut short, logged or raised.

Servers and proxies echo API keys in their error bodies ("Incorrect API key provided:
sk-..."), whole or in part, in JSON or plain text, at any offset. A message cut to 200
characters first and redacted afterwards keeps the part of a key before the cut, so
text is redacted here while it is still whole: every occurrence of a known secret, every
long fragment of one (an echo that was itself cut or masked in the middle), and anything
shaped like a credential even when the key is not ours (a gateway's own token).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

__all__ = ["MASK", "redact"]

MASK: Final = "[redacted]"
# A run this long shared with a secret is part of it, not chance: English words and
# hex ids in error text do not match 8 characters of a random key.
FRAGMENT: Final = 8
_MIN_SECRET: Final = 4  # shorter "keys" ("none", "x") would blank ordinary words

# Credentials by shape: provider keys, bearer tokens, JWTs, and key=value pairs naming one.
_SHAPES: Final = re.compile(
    r"\bsk-[A-Za-z0-9_\-*]{12,}"  # OpenAI (sk-, sk-proj-), Anthropic (sk-ant-api03-), DeepSeek
    r"|\b(?:Bearer|Basic|Token)\s+(?=[A-Za-z._~+/=\-]*\d)[A-Za-z0-9._~+/=\-]{16,}"
    r"|\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"  # a JWT
    r"|\b(?:AIza[0-9A-Za-z_\-]{20,}|xai-[0-9A-Za-z]{20,}|gsk_[0-9A-Za-z]{20,})"  # Google, xAI, Groq
    r"|(?i:\b(?:api[_-]?key|key|x-api-key|access[_-]?token|auth[_-]?token|token|secret"
    r"|password|authorization)\b[\"']?\s*[:=]\s*[\"']?)"
    r"(?-i:(?!\[redacted\])(?=[^\s\"',;}&]*\d)(?=[^\s\"',;}&]*[A-Za-z])[^\s\"',;}&]{12,})",
)


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """`text` with each secret, each long fragment of one, and credential shapes masked."""
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET:
            text = _mask_fragments(text.replace(secret, MASK), secret)
    return _SHAPES.sub(_mask_shape, text)


def _mask_shape(match: re.Match[str]) -> str:
    """Keep the label of a key=value pair ("api_key: "), mask the value."""
    found = match.group(0)
    label = re.match(r"(?i)[a-z_\-]+[\"']?\s*[:=]\s*[\"']?", found)
    shaped = ("sk-", "bearer", "basic", "token ", "eyj", "aiza", "xai-", "gsk_")
    if label is not None and not found.lower().startswith(shaped):
        return found[: label.end()] + MASK
    if found.lower().startswith(("bearer ", "basic ", "token ")):
        return found.split(None, 1)[0] + " " + MASK
    return MASK


def _mask_fragments(text: str, secret: str) -> str:
    """Mask every run of at least FRAGMENT characters that also occurs in `secret`."""
    if len(secret) < FRAGMENT or len(text) < FRAGMENT:
        return text
    seeds = {secret[i : i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1)}
    pieces: list[str] = []
    kept = position = 0
    while position <= len(text) - FRAGMENT:
        if text[position : position + FRAGMENT] not in seeds:
            position += 1
            continue
        end = position + FRAGMENT
        while (
            end < len(text) and end - position < len(secret) and text[position : end + 1] in secret
        ):
            end += 1
        pieces += [text[kept:position], MASK]
        kept = position = end
    pieces.append(text[kept:])
    return "".join(pieces)
