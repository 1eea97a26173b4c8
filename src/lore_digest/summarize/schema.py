"""The structured answer expected from the model, and its strict validation.

The model writes prose only; everything it says must point at mail through the labels
the prompt gave (m1, m2, ...). An answer is accepted only when it is exactly the JSON
object of `LLMSummary`, every sentence cites at least one known label and every part
the prompt asked for is there. Anything else raises `OutputError` with a one-line
reason precise enough to send back to the model for one corrected answer (and short
enough to print as a note in the report when that fails too).
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from lore_digest.model import Summary, SummaryItem

__all__ = [
    "PARTS",
    "CitedSentence",
    "LLMSummary",
    "OutputError",
    "parse_output",
    "summary_json",
    "to_summary",
]

PARTS = ("original", "history", "this_week")

_NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
_LABEL = re.compile(r"^\[?\s*(m\d+)\s*\]?$", re.IGNORECASE)
_FENCE = re.compile(r"```[A-Za-z0-9_-]*[ \t]*\n?(.*?)```", re.DOTALL)
_SHOWN_ANSWER = 60  # characters of a bad answer quoted in a reason
_MAX_STARTS = 20  # "{" positions tried before giving up on finding the object


class CitedSentence(BaseModel):
    """One sentence of prose and the labels (mK) of the mails it rests on."""

    model_config = ConfigDict(extra="forbid")

    text: _NonEmpty
    cites: list[str] = Field(default_factory=list)


class LLMSummary(BaseModel):
    """The three parts readers of the digest expect; each a list of cited sentences."""

    model_config = ConfigDict(extra="forbid")

    original: list[CitedSentence]
    history: list[CitedSentence]
    this_week: list[CitedSentence]


class OutputError(ValueError):
    """The model's answer is unusable; `reason` says why in one line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = " ".join(reason.split())


def _json_text(text: str) -> str:
    """The JSON part of an answer: inside a ``` fence if there is one, from the first "{"."""
    for match in _FENCE.finditer(text):
        if "{" in match.group(1):
            text = match.group(1)
            break
    start = text.find("{")
    if start < 0:
        stripped = text.strip()
        if stripped.startswith("["):
            raise OutputError("the answer is a JSON array; expected one JSON object")
        shown = " ".join(stripped.split())[:_SHOWN_ANSWER]
        raise OutputError(f"no JSON object found in the answer (it starts with {shown!r})")
    return text[start:]


def _decode(body: str) -> dict[str, Any]:
    """The first "{" that starts a JSON object ("{" may also occur in prose before it)."""
    decoder = json.JSONDecoder()
    first_error: json.JSONDecodeError | None = None
    start = 0
    for _ in range(_MAX_STARTS):
        try:
            data, _end = decoder.raw_decode(body, start)
        except json.JSONDecodeError as exc:
            first_error = first_error or exc
        else:
            if isinstance(data, dict):
                return data
        start = body.find("{", start + 1)
        if start < 0:
            break
    assert first_error is not None  # the first "{" decoded to a dict otherwise
    raise OutputError(
        f"invalid JSON: {first_error.msg} at line {first_error.lineno} column {first_error.colno}"
    )


def _where(loc: tuple[int | str, ...]) -> str:
    """pydantic's error location as a path: ("this_week", 0, "text") -> this_week[0].text."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "the answer"


def _reason(error: ValidationError) -> str:
    """The first validation error, worded for the model."""
    first = error.errors(include_url=False)[0]
    where = _where(tuple(first["loc"]))
    kind = first["type"]
    if kind == "missing":
        return f"missing key {where!r}: the object needs original, history and this_week"
    if kind == "extra_forbidden":
        return f"unexpected key {where!r}: only original, history, this_week (and text, cites) are allowed"
    if kind == "string_too_short":
        return f"{where} is empty"
    if kind == "model_type":
        return f'{where} must be an object {{"text": ..., "cites": [...]}}'
    return f"{where}: {first['msg']}"


def _label_span(labels: Collection[str]) -> str:
    """ "m1–m14" for the usual dense labels, else the sorted list."""
    numbers = sorted(int(label[1:]) for label in labels if _LABEL.match(label))
    if numbers and numbers == list(range(numbers[0], numbers[-1] + 1)):
        return f"m{numbers[0]}–m{numbers[-1]}" if len(numbers) > 1 else f"m{numbers[0]}"
    return ", ".join(f"m{n}" for n in numbers) or "none"


def parse_output(
    text: str, labels: Collection[str], *, history_required: bool = True
) -> LLMSummary:
    """Accept the model's text or raise OutputError saying precisely what is wrong.

    Tolerated: a ```json fence or prose around the object, text after it, and cites
    written "[m3]" or "M3" (normalised to "m3", duplicates removed). Not tolerated:
    invalid JSON, missing or extra keys, empty sentences, a sentence citing nothing,
    labels the prompt did not give, an empty original/this_week, and an empty history
    when the prompt had earlier mail (`history_required`).
    """
    data = _decode(_json_text(text))
    try:
        parsed = LLMSummary.model_validate(data)
    except ValidationError as exc:
        raise OutputError(_reason(exc)) from None
    known = set(labels)
    for part in PARTS:
        sentences: list[CitedSentence] = getattr(parsed, part)
        if not sentences and (part != "history" or history_required):
            why = (
                "there is earlier discussion to summarise"
                if part == "history"
                else "it needs at least one sentence"
            )
            raise OutputError(f"{part!r} is empty: {why}")
        for index, sentence in enumerate(sentences):
            sentence.cites = _normalised(sentence.cites, known, f"{part}[{index}]")
    return parsed


def _normalised(cites: list[str], known: set[str], where: str) -> list[str]:
    out: list[str] = []
    for cite in cites:
        match = _LABEL.match(cite.strip())
        label = match.group(1).lower() if match else cite.strip()
        if label not in known:
            raise OutputError(
                f"unknown label {cite!r} in {where}.cites: cite only the mail labels "
                f"given in the prompt ({_label_span(known)})"
            )
        if label not in out:
            out.append(label)
    if not out:
        raise OutputError(f"{where}.cites is empty: every sentence must cite at least one mail")
    return out


def to_summary(parsed: LLMSummary, labels: Mapping[str, str], lang: str, model: str) -> Summary:
    """The report's Summary: labels turned back into message ids (duplicates removed)."""

    def items(sentences: list[CitedSentence]) -> tuple[SummaryItem, ...]:
        return tuple(
            SummaryItem(s.text, tuple(dict.fromkeys(labels[c] for c in s.cites))) for s in sentences
        )

    return Summary(
        lang=lang,
        original=items(parsed.original),
        history=items(parsed.history),
        this_week=items(parsed.this_week),
        source="llm",
        model=model,
    )


def summary_json(summary: LLMSummary) -> str:
    """Compact, deterministic JSON of an answer (partials and retries quote it)."""
    data: dict[str, Any] = summary.model_dump()
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))
