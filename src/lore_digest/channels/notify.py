"""Post one week of one list to its chat channels, once, resuming after a crash.

What each channel was sent is remembered in the list's output directory
(`.lore-digest-channels.json`, written after every part), like the mail state: a week is
posted once per channel, and a run that stopped half-way sends only the missing parts.
A channel that fails is one line in the outcome and never stops the others.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lore_digest.channels.formats import Part, render_parts
from lore_digest.channels.message import chat_digest
from lore_digest.channels.send import ChannelError, Endpoint, Poster, Request, part_hash
from lore_digest.digest import Digest
from lore_digest.errors import UsageError
from lore_digest.report.jsonout import render_json
from lore_digest.report.model import Report
from lore_digest.settings import ChannelSettings
from lore_digest.statefile import load_state_file, save_state_file

__all__ = ["STATE_FILE", "Outcome", "endpoint", "notify_week", "planned_parts"]

STATE_FILE = ".lore-digest-channels.json"
STATE_FORMAT = 1


@dataclass
class Outcome:
    """What happened on one channel for one week."""

    channel: str
    week: str
    parts: int = 0
    sent: int = 0
    already: int = 0  # parts a previous run had sent
    error: str | None = None
    dry_run: list[dict[str, Any]] = field(default_factory=list)  # the requests, redacted

    @property
    def ok(self) -> bool:
        return self.error is None


def endpoint(name: str, conf: ChannelSettings, env: Mapping[str, str] | None = None) -> Endpoint:
    """The channel's endpoint with its secrets read from the environment (a variable
    the config names but the environment lacks is a usage error naming both)."""
    environ = os.environ if env is None else env

    def read(key: str, variable: str | None) -> str:
        if variable is None:
            return ""
        value = environ.get(variable, "")
        if not value:
            raise UsageError(f"channels.{name}.{key}: ${variable} is not set in the environment")
        return value

    return Endpoint(
        name=name,
        kind=conf.kind,
        url=conf.url or "",
        homeserver=conf.homeserver or "",
        room=conf.room or "",
        api_url=conf.api_url or "https://api.telegram.org",
        chat_id=conf.chat_id or "",
        secret=read("secret_env", conf.secret_env),
        token=read("token_env", conf.token_env),
    )


def planned_parts(kind: str, report: Report, site_url: str) -> tuple[list[Part], str]:
    """The parts a channel of `kind` gets for a report, and the report JSON a webhook
    posts (its one part's payload is that JSON)."""
    if kind == "webhook":
        text = render_json(report)
        digest = hashlib.sha256(text.encode()).hexdigest()  # what the part says
        return [Part(1, 1, {"report_sha256": digest})], text
    return render_parts(kind, chat_digest(report, site_url)), ""


def load_channel_state(output: Path, list_name: str) -> dict[str, Any]:
    """What was sent, per channel and week (statefile: unreadable is an error)."""
    return load_state_file(output / STATE_FILE, list_name, "sent", STATE_FORMAT)


def notify_week(
    digest: Digest,
    label: str,
    channels: Mapping[str, ChannelSettings],
    output: Path,
    *,
    default_lang: str,
    dry_run: bool = False,
    again: bool = False,
    env: Mapping[str, str] | None = None,
    poster: Callable[[Endpoint], Poster] = Poster,
    now: datetime | None = None,
) -> list[Outcome]:
    """Post week `label` to each channel (see the module docstring); `again` sends every
    part even if sent before, `dry_run` only builds the requests (redacted)."""
    state = load_channel_state(output, digest.list_name)
    reports: dict[str, Report] = {}
    outcomes: list[Outcome] = []
    stamp = (now or datetime.now(UTC)).isoformat()
    for name, conf in channels.items():
        outcome = Outcome(name, label)
        outcomes.append(outcome)
        sender: Poster | None = None
        try:
            sender = poster(endpoint(name, conf, env))
            lang = conf.lang or default_lang
            if lang not in reports:
                reports[lang] = digest.week(label, lang=lang)
            parts, report_json = planned_parts(conf.kind, reports[lang], conf.site_url or "")
            outcome.parts = len(parts)
            if dry_run:
                for part in parts:
                    request = sender.request(part, digest.list_name, label, report_json)
                    outcome.dry_run.append(_redacted(sender, request))
                continue
            record = state["sent"].get(name, {}).get(label, {})
            # A part was sent when its content was (the split may differ after a change
            # of code or site_url: what is new goes out, nothing sent is lost).
            sent = set() if again else set(record.get("hashes", []))
            fresh = stamp if again else ""
            for part in parts:
                key = part_hash(part)
                if key in sent:
                    outcome.already += 1
                    continue
                sender.send(part, digest.list_name, label, report_json, fresh)
                sent.add(key)
                outcome.sent += 1
                state["sent"].setdefault(name, {})[label] = {
                    "parts": len(parts),
                    "done": [p.number for p in parts if part_hash(p) in sent],
                    "hashes": sorted(sent),
                    "at": stamp,
                }
                save_state_file(output / STATE_FILE, state)  # a crash resumes with the rest
        except (ChannelError, UsageError) as exc:
            outcome.error = str(exc)
        except Exception as exc:
            reason = f"channel {name}: {type(exc).__name__}: {exc}"
            outcome.error = sender.redact(reason) if sender is not None else reason
        finally:
            if sender is not None:
                sender.close()
    return outcomes


def _redacted(sender: Poster, request: Request) -> dict[str, Any]:
    """A request as `--dry-run` prints it: secrets, tokens in URLs and signatures out."""
    method, url, body = request.method, request.url, request.body
    data = json.loads(body) if body else {}
    if isinstance(data, dict) and "sign" in data:
        data["sign"] = "[redacted]"
    text = sender.redact(json.dumps(data, ensure_ascii=False))
    shown = sender.redact(url)
    if "sign=" in shown:
        shown = shown.split("sign=", 1)[0] + "sign=[redacted]"
    return {"method": method, "url": shown, "body": json.loads(text)}


def is_sent(output: Path, list_name: str, channel: str, label: str) -> bool:
    """Whether every part of a week went to a channel."""
    record = load_channel_state(output, list_name)["sent"].get(channel, {}).get(label)
    return bool(record) and len(record.get("done", [])) >= int(record.get("parts", 1))
