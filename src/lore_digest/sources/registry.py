"""Every kind of source, listed once: the CLI's options, the config's keys and `run`
all read this table, so a new source is one class here and one entry below.

    make_source("mirror", "https://lore.kernel.org/kvmarm")
    make_source("mbox", "kvmarm.mbox", "kvmarm")
    make_source("lore", "https://lore.kernel.org/kvmarm", since=date(2026, 11, 1))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from lore_digest.errors import UsageError
from lore_digest.sources.base import Source
from lore_digest.vocabulary import check_list_name

# The kinds' modules are imported when a source is made: reading the config (which only
# needs the keys) must not load an HTTP client.

__all__ = ["SOURCES", "SourceKind", "make_source"]


@dataclass(frozen=True, slots=True)
class SourceKind:
    """One kind of source: its key (CLI option and config key), help, what it accepts."""

    key: str
    metavar: str
    help: str
    needs_list: bool  # the list name cannot be told from the location
    options: frozenset[str]  # keyword options beyond location/list/url_base it takes
    make: Callable[..., Source]


def _mirror(location: str, list_name: str | None, url_base: str | None, **_: Any) -> Source:
    from lore_digest.sources.publicinbox import MirrorSource

    return MirrorSource(location, list_name, url_base=url_base)


def _mbox(location: str, list_name: str | None, url_base: str | None, **_: Any) -> Source:
    from lore_digest.sources.mbox import MboxSource

    if not list_name:
        raise UsageError("an mbox source needs a list name (--list NAME)")
    return MboxSource(Path(location), list_name, url_base=url_base)


def _lore(location: str, list_name: str | None, url_base: str | None, **options: Any) -> Source:
    from lore_digest.sources.lore import LoreSource

    return LoreSource(location, list_name, url_base=url_base, **options)


SOURCES: dict[str, SourceKind] = {
    kind.key: kind
    for kind in (
        SourceKind(
            "mirror",
            "PATH_OR_URL",
            "A public-inbox mirror: a v2 inbox dir, one epoch .git, or a git URL to "
            "clone/fetch (https://lore.kernel.org/kvmarm).",
            needs_list=False,
            options=frozenset(),
            make=_mirror,
        ),
        SourceKind(
            "mbox",
            "FILE_OR_MAILDIR",
            "An mbox file or a maildir (needs --list NAME).",
            needs_list=True,
            options=frozenset(),
            make=_mbox,
        ),
        SourceKind(
            "lore",
            "URL",
            "lore over HTTP (https://lore.kernel.org/kvmarm): search + thread mboxes, "
            "no mirror needed.",
            needs_list=False,
            options=frozenset({"since", "until", "first_since", "delay", "on_retry"}),
            make=_lore,
        ),
    )
}


def make_source(
    kind: str,
    location: str | Path,
    list_name: str | None = None,
    *,
    url_base: str | None = None,
    since: date | None = None,
    until: date | None = None,
    first_since: date | None = None,
    delay: float | None = None,
    on_retry: Callable[[str, float], None] | None = None,
) -> Source:
    """The source of `kind` at `location`; options a kind does not take are refused
    (None means not given)."""
    found = SOURCES.get(kind)
    if found is None:
        raise UsageError(f"unknown source {kind!r} (choose from {', '.join(SOURCES)})")

    given = {
        name: value
        for name, value in {
            "since": since,
            "until": until,
            "first_since": first_since,
            "delay": delay,
            "on_retry": on_retry,
        }.items()
        if value is not None
    }
    wrong = sorted(set(given) - found.options)
    if wrong:
        takers = [k.key for k in SOURCES.values() if wrong[0] in k.options]
        raise UsageError(
            f"--{wrong[0].replace('_', '-')} goes with " + " or ".join(f"--{k}" for k in takers)
        )
    source = found.make(str(location), list_name, url_base, **given)
    try:
        check_list_name(source.list_name)  # given or told from the location: before a clone
    except ValueError as exc:
        raise UsageError(f"{exc}: choose another with --list NAME") from None
    return source
