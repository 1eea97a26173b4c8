"""The `lore-digest` command: a thin Click layer over the library API; only this prints.

One grammar for every command:
- `--db PATH` and `--config PATH` may come before or after the command's name;
- `--list NAME` names the list, `--week` takes one or several ISO weeks (2022-W19,
  2022-W18,2022-W19, 2022-W10..2022-W19, or the option repeated), `--lang` one or several
  languages (zh,en), `--tz` the time zone (default: the list's in the config, else UTC),
  `--out` the output directory (default: the list's `output` in the config, else
  ./reports or ./site), `--json` a result for scripts on stdout;
- every error a user can meet is one line on stderr and exit status 1 (2 for a command
  line that does not parse), never a traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lore_digest.config import CONFIG_ENV, DB_ENV, config_path
from lore_digest.errors import LoreDigestError, StoreError, UsageError
from lore_digest.settings import Settings, effective_db_path, load_settings
from lore_digest.store.db import Store, check_store_path
from lore_digest.store.lock import store_lock
from lore_digest.version import __version__
from lore_digest.vocabulary import DEFAULT_LANGUAGE, parse_languages, plural, slugify

RUN_LOCK_WAIT_S = 60.0
WRITER_LOCK_WAIT_S = 30.0
DEBUG_ENV = "LORE_DIGEST_DEBUG"

# soft_wrap: output piped to a file or a pager keeps its lines whole (rich would wrap at 80).
err = Console(stderr=True, soft_wrap=True, highlight=False)
out = Console(soft_wrap=True, highlight=False)

if TYPE_CHECKING:
    from lore_digest.digest import Digest

F = TypeVar("F", bound=Callable[..., Any])


def _say(line: str) -> None:
    """One plain line on stdout (no markup: names from mail may contain brackets)."""
    out.print(escape(line))


def _warn(line: str) -> None:
    err.print(f"[yellow]warning:[/] {escape(line)}")


class _Command(click.Group):
    """Turns every error into one clear line: typed errors, a damaged store, I/O, bugs."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except LoreDigestError as exc:
            _fail_with(getattr(exc, "exit_code", 1), str(exc))
        except sqlite3.DatabaseError as exc:
            _fail(_damaged_store(ctx, exc))
        except KeyboardInterrupt:
            err.print("interrupted: work committed so far is kept; run the command again to resume")
            sys.exit(130)
        except OSError as exc:
            where = f" {exc.filename}" if exc.filename else ""
            _fail(f"cannot use{where}: {exc.strerror or exc}")
        except Exception as exc:  # a bug: still one line, the traceback on request
            if os.environ.get(DEBUG_ENV):
                raise
            _fail(
                f"internal error: {type(exc).__name__}: {exc} "
                f"(set {DEBUG_ENV}=1 for the traceback, and please report it)"
            )


def _fail(message: str) -> None:
    _fail_with(1, message)


def _damaged_store(ctx: click.Context, exc: sqlite3.DatabaseError) -> str:
    """The one line for SQLite refusing the store: busy, or damaged (and what to do)."""
    obj = ctx.find_object(_Context)
    where = str(obj.db) if obj is not None else "the store"
    if "locked" in str(exc) or "busy" in str(exc):
        return f"store {where} is busy ({exc}): try again when the other run has finished"
    return (
        f"store {where} is damaged ({exc}): run `lore-digest doctor` to check it, "
        "or sync into a new store (--db NEW)"
    )


@dataclass
class _Context:
    """Global options; the config file is read once, when a command first needs it."""

    db_option: Path | None
    config_option: Path | None
    _settings: Settings | None = None

    @property
    def config(self) -> Path:
        """--config, else $LORE_DIGEST_CONFIG, else the XDG default."""
        return config_path(self.config_option)

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            # A file named on the command line or in $LORE_DIGEST_CONFIG must exist; only
            # the default one may be missing (then every setting is its default).
            named = self.config_option is not None or bool(os.environ.get(CONFIG_ENV))
            self._settings = load_settings(self.config, required=named)
        return self._settings

    @property
    def db(self) -> Path:
        """--db, else $LORE_DIGEST_DB, else the config's `db`, else the XDG default."""
        return check_store_path(effective_db_path(self.db_option, self.settings))


def _set_db(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.ensure_object(_Context).db_option = value


def _set_config(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        obj = ctx.ensure_object(_Context)
        obj.config_option, obj._settings = value, None


_DB_HELP = f"SQLite store [default: ${DB_ENV}, else the config's db, else ~/.local/share/lore-digest/lore-digest.sqlite3]."
_CONFIG_HELP = (
    "TOML config file [default: $LORE_DIGEST_CONFIG, else ~/.config/lore-digest/config.toml]."
)


def _store_options(command: F) -> F:
    """--db and --config after the command's name too (`report --db X` = `--db X report`)."""
    command = click.option(
        "--db",
        type=click.Path(dir_okay=False, path_type=Path),
        expose_value=False,
        callback=_set_db,
        is_eager=True,
        help=_DB_HELP,
    )(command)
    return click.option(
        "--config",
        type=click.Path(dir_okay=False, path_type=Path),
        expose_value=False,
        callback=_set_config,
        is_eager=True,
        help=_CONFIG_HELP,
    )(command)


@click.group(cls=_Command, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--db", "db_path", type=click.Path(dir_okay=False, path_type=Path), help=_DB_HELP)
@click.option(
    "--config", "config_file", type=click.Path(dir_okay=False, path_type=Path), help=_CONFIG_HELP
)
@click.version_option(__version__, prog_name="lore-digest")
@click.pass_context
def cli(ctx: click.Context, db_path: Path | None, config_file: Path | None) -> None:
    """Weekly digests of a public-inbox mailing list (lore.kernel.org), e.g. kvmarm.

    \b
    Typical use:
      lore-digest sync --mirror https://lore.kernel.org/kvmarm
      lore-digest report --list kvmarm --week 2022-W19 --lang zh,en
      lore-digest site --list kvmarm
    """
    ctx.obj = _Context(db_path, config_file)


def _obj(ctx: click.Context) -> _Context:
    return ctx.find_object(_Context) or ctx.ensure_object(_Context)


def _existing_store(ctx: click.Context, list_name: str | None = None) -> Path:
    """The store's path, which must exist: reading commands never create an empty store
    (a mistyped --db would otherwise look like an empty list and litter the disk)."""
    db = _obj(ctx).db
    if not db.exists():
        what = f"unknown list {list_name!r}: " if list_name else ""
        raise UsageError(f"{what}no store at {db} yet: run `lore-digest sync` first (or give --db)")
    return db


def _open_store(ctx: click.Context) -> Store:
    return Store.open(_existing_store(ctx))


@contextmanager
def _locked(db: Path) -> Iterator[None]:
    """The run lock: a second writer says at once that it waits, then waits
    (WRITER_LOCK_WAIT_S), then stops with one clear line."""
    with store_lock(db, wait=WRITER_LOCK_WAIT_S, on_wait=lambda line: err.print(escape(line))):
        yield


@contextmanager
def _writing_store(ctx: click.Context, list_name: str | None = None) -> Iterator[Store]:
    """An existing store, opened under the run lock."""
    db = _existing_store(ctx, list_name)
    with _locked(db), Store.open(db) as store:
        yield store


@contextmanager
def _progress(label: str, enabled: bool) -> Iterator[Callable[[int, int | None], None]]:
    """A rich progress bar fed by the API's (done, total) callback; silent when disabled.

    The bar appears with the first report of progress, so a command that fails while
    checking its input prints its one error line and no empty bar; one that fails later
    takes its bar away.
    """
    if not enabled:
        yield lambda done, total: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    bar = Progress(*columns, console=err, transient=False)
    task: list[Any] = []

    def update(done: int, total: int | None) -> None:
        if not task and done == 0 and total == 0:
            return  # nothing to do: no "0/0" bar
        if not task:
            bar.start()
            task.append(bar.add_task(label, total=None))
        bar.update(task[0], completed=done, total=total)

    try:
        yield update
    except BaseException:
        # A failing command leaves its one error line, not a half-full bar above it.
        bar.live.transient = True
        raise
    finally:
        if task:
            bar.stop()


# -- options several commands share, defined once ------------------------------------------


def _list_option(help_text: str) -> Callable[[F], F]:
    return click.option("--list", "list_name", required=True, metavar="NAME", help=help_text)


_lang_option = click.option(
    "--lang",
    "langs",
    metavar="LANGS",
    help="Language(s), comma-separated: zh, en or zh,en (one output each) [default: the "
    "list's languages in the config, else zh].",
)


def _languages(ctx: click.Context, langs: str | None, list_name: str | None) -> tuple[str, ...]:
    """--lang, else the list's configured languages (what `run` writes), else zh."""
    if langs is not None:
        return parse_languages(langs)
    listed = _obj(ctx).settings.lists.get(list_name) if list_name else None
    return tuple(listed.languages) if listed is not None else (DEFAULT_LANGUAGE,)


_tz_option = click.option(
    "--tz",
    metavar="ZONE",
    help="Time zone of the weeks (IANA name, e.g. Asia/Shanghai) [default: the list's "
    "timezone in the config, else UTC].",
)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")


def _week_options(command: F) -> F:
    for option in reversed(
        [
            click.option(
                "--week",
                "--weeks",
                "weeks",
                multiple=True,
                metavar="WEEKS",
                help="ISO week(s): 2022-W19, 2022-W18,2022-W19 or 2022-W10..2022-W19 (repeatable).",
            ),
            click.option("--since", metavar="YYYY-MM-DD", help="From this date (with --until)."),
            click.option("--until", metavar="YYYY-MM-DD", help="Up to this date, inclusive."),
        ]
    ):
        command = option(command)
    return command


def _summarizer_options(command: F) -> F:
    for option in reversed(
        [
            click.option(
                "--summarizer",
                type=click.Choice(["offline", "openai", "anthropic"]),
                help="Who writes the prose: offline (facts only, no key) or an LLM API "
                "[default: config, else offline].",
            ),
            click.option(
                "--model",
                help="Model name for the LLM backend (e.g. gpt-4o-mini, qwen2.5:14b, deepseek-chat).",
            ),
            click.option(
                "--llm-base-url",
                "base_url",
                metavar="URL",
                help="API base URL [default: $OPENAI_BASE_URL / $ANTHROPIC_BASE_URL]; e.g. "
                "http://localhost:11434/v1 for Ollama.",
            ),
            click.option(
                "--concurrency",
                type=click.IntRange(1, 64),
                help="Parallel LLM requests [default: 4].",
            ),
            click.option(
                "--token-budget",
                "budget_tokens",
                type=click.IntRange(1000),
                help="Input tokens per call before map-reduce [default: 12000].",
            ),
            click.option(
                "--max-tokens-run",
                type=click.IntRange(1),
                help="Stop calling the LLM after this many tokens in this run.",
            ),
            click.option(
                "--fallback",
                type=click.Choice(["none", "offline"]),
                help="When the LLM cannot work at all (no key, refused, unknown model): fail "
                "with one line (none), or write facts-only summaries and say so (offline) "
                "[default: config, else none].",
            ),
        ]
    ):
        command = option(command)
    return command


_SUMMARIZER_KEYS = (
    "summarizer",
    "model",
    "base_url",
    "concurrency",
    "budget_tokens",
    "max_tokens_run",
    "fallback",
    "batch",
    "batch_wait",
)


def _batch_options(command: F) -> F:
    """--batch, --batch-wait, --resume: a backfill through the provider's batch API."""
    for option in reversed(
        [
            click.option(
                "--batch",
                is_flag=True,
                default=None,
                help="Send the LLM requests through the provider's batch API (OpenAI "
                "/v1/batches, Anthropic message batches): half the price, answers within "
                "24 hours. For backfills; re-running never submits or pays twice.",
            ),
            click.option(
                "--batch-wait",
                type=click.FloatRange(0),
                metavar="SECONDS",
                help="With --batch: stop waiting after this long and say how to resume "
                "(exit 75) [default: 86400].",
            ),
            click.option(
                "--resume",
                is_flag=True,
                help="With --batch: collect the batches an earlier run submitted (an error "
                "if there are none) and go on from there.",
            ),
        ]
    ):
        command = option(command)
    return command


def _trust_options(command: F) -> F:
    """--maintainers and --tree: who may apply, and the trees that show what landed."""
    command = click.option(
        "--tree",
        "trees",
        multiple=True,
        metavar="URL_OR_PATH[@BRANCH]",
        help="A maintainer's git tree where merges are confirmed, e.g. https://git.kernel.org/"
        "pub/scm/linux/kernel/git/kvmarm/kvmarm.git@next (repeatable) [default: the list's "
        "trees in the config].",
    )(command)
    return click.option(
        "--maintainers",
        type=click.Path(path_type=Path),
        metavar="PATH",
        help="A file in the kernel's MAINTAINERS format: only the M: people of the files a "
        "series touches may apply or NAK it; or a git clone of the tree that holds it (a "
        "kernel clone): each week is judged by the MAINTAINERS of that week's end "
        "[default: the list's maintainers in the config, else appliers learned from the "
        "list's history].",
    )(command)


def _summarizer_overrides(options: dict[str, Any]) -> dict[str, Any]:
    """The [summarizer] keys given on the command line (pops them from `options`)."""
    values = {key: options.pop(key, None) for key in _SUMMARIZER_KEYS}
    values["backend"] = values.pop("summarizer")
    return values


def _parse_date(value: str | None) -> date | None:
    """YYYY-MM-DD → date; a typo is a usage error, not a traceback."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc


def _check_date_range(weeks: tuple[str, ...], since: str | None, until: str | None) -> None:
    """A window is either --week or a --since/--until pair, never both or half a pair."""
    if weeks and (since is not None or until is not None):
        raise click.UsageError("use either --week or --since/--until")
    if (since is None) != (until is None):
        raise click.UsageError("--since and --until go together")


def _week_labels(weeks: tuple[str, ...]) -> list[str]:
    from lore_digest.facts.week import week_labels

    labels: list[str] = []
    for spec in weeks:
        labels += week_labels(spec)
    return list(dict.fromkeys(labels))


def _ranged(weeks: tuple[str, ...]) -> set[str]:
    """The labels that come from a FIRST..LAST range (not named one by one)."""
    from lore_digest.facts.week import week_labels

    return {
        label
        for spec in weeks
        for part in spec.split(",")
        if ".." in part
        for label in week_labels(part)
    }


def _output_dir(ctx: click.Context, given: Path | None, list_name: str, kind: str) -> Path:
    """--out, else where `run` writes for this list (OUTPUT/reports, OUTPUT/site), else ./KIND."""
    from lore_digest.fsutil import ensure_writable_dir

    if given is None:
        listed = _obj(ctx).settings.lists.get(list_name)
        if listed is not None:
            given = listed.reports_dir if kind == "reports" else listed.site_dir
        else:
            given = Path(kind)
    return ensure_writable_dir(given)


def _check_zone(tz: str | None) -> None:
    """A mistyped --tz is said before anything else is looked at."""
    if tz is not None:
        from lore_digest.facts.week import get_zone

        get_zone(tz)


def _open_digest(
    ctx: click.Context,
    store: Store,
    list_name: str,
    tz: str | None,
    overrides: dict[str, Any],
    choices: dict[str, Any],
) -> Digest:
    from lore_digest.digest import Digest, DigestSettings

    settings = DigestSettings.for_list(
        _obj(ctx).settings,
        list_name,
        tz=tz,
        summarizer=overrides,
        maintainers=choices.get("maintainers"),
        trees=choices.get("trees") or (),
        subsystems=choices.get("subsystems") or (),
        people=choices.get("people") or (),
        detail=choices.get("detail"),
    )
    return Digest(store, list_name, settings)


def _subsystem_suffix(options: dict[str, Any]) -> str:
    """ "-vgic-pmu" for `--subsystem VGIC --subsystem PMU`: a filtered report never
    overwrites the list's whole one; "" without the option (a list's configured
    subsystems make its reports what they are, under their usual names)."""
    names = [n.strip() for n in options.get("subsystems") or () if n.strip()]
    if not names:
        return ""
    joined = "-".join(slugify(n) for n in names).strip("-")
    if not joined or not all(re.search(r"[a-z0-9]", n.lower()) for n in names):
        # A name without a letter a-z or digit ("虚拟化"): a short hash, never "".
        short = hashlib.sha1("\0".join(names).encode()).hexdigest()[:8]
        joined = (joined + "-" if joined else "") + short
    return f"-{joined}"


def _check_batch(digest: Digest, resume: bool, *, quiet: bool) -> None:
    """A batched report needs an LLM backend; --resume needs a batch to collect."""
    conf = digest.settings.summarizer
    if conf.backend == "offline":
        raise click.UsageError("--batch needs an LLM summarizer (--summarizer openai|anthropic)")
    if resume and not digest.store.open_llm_batches(conf.backend, digest.info.id):
        raise UsageError(
            f"no {conf.backend} batch of {digest.list_name} is waiting to be collected: "
            "run without --resume to submit one"
        )
    digest.batch_resume = resume
    if not quiet:
        digest.say = lambda line: err.print(escape(line))  # beside the progress bar


def _warn_fallbacks(digest: Digest) -> None:
    """An LLM that could not write a summary is said here, not only inside the report.

    So is a configured tree that could not be fetched."""
    for line in dict.fromkeys(digest.warnings):
        _warn(line)
    for note, count in digest.fallbacks.most_common():
        _warn(f"{plural(count, 'summary', 'summaries')} fell back to the offline summary: {note}")


def _warn_empty(digest: Digest, label: str) -> None:
    """An empty window is worth a line: the user may have mistyped the week or the zone."""
    span = digest.date_range()
    if span is None:
        _warn(f"{digest.list_name} has no mail at all yet: run `lore-digest sync` first")
        return
    first, last = (d.date().isoformat() for d in span)
    _warn(
        f"{digest.list_name} has no mail in {label} ({digest.tz}); "
        f"the store has its mail from {first} to {last}"
    )


# -- sync -------------------------------------------------------------------------------


def _source_options(command: F) -> F:
    """One option per kind of source in the registry: --mirror, --mbox, --lore."""
    from lore_digest.sources.registry import SOURCES

    for kind in reversed(list(SOURCES.values())):
        command = click.option(f"--{kind.key}", kind.key, metavar=kind.metavar, help=kind.help)(
            command
        )
    return command


@cli.command()
@_source_options
@click.option(
    "--since",
    metavar="YYYY-MM-DD",
    help="With --lore: fetch mail received since this date [default: resume, else 4 weeks].",
)
@click.option(
    "--until", metavar="YYYY-MM-DD", help="With --lore: up to this date (00:00 UTC, not included)."
)
@click.option(
    "--delay",
    type=click.FloatRange(0),
    help="With --lore: seconds between requests (be polite) [default: 1].",
)
@click.option(
    "--list",
    "list_name",
    metavar="NAME",
    help="List name [default: the inbox's directory name; required with --mbox].",
)
@click.option(
    "--url-base",
    metavar="URL",
    help="Archive URL of the list [default: https://lore.kernel.org/NAME/].",
)
@_json_option
@_store_options
@click.pass_context
def sync(
    ctx: click.Context,
    since: str | None,
    until: str | None,
    delay: float | None,
    list_name: str | None,
    url_base: str | None,
    as_json: bool,
    **locations: str | None,
) -> None:
    """Ingest new mail into the store (incremental, idempotent, safe to interrupt).

    Exactly one of --mirror, --mbox or --lore. Re-running fetches/reads only what is new;
    every mail is either stored, or counted as a duplicate/unparsable (see `doctor`).
    A source that is not what it claims (a git repository that is no public-inbox, a
    file that is no mbox) is refused before any list is created.
    """
    from lore_digest.ingest import sync as ingest
    from lore_digest.sources.registry import SOURCES, make_source

    given = [(kind, value) for kind, value in locations.items() if value is not None]
    if len(given) != 1:
        names = ", ".join(f"--{k}" for k in SOURCES)
        raise click.UsageError(f"give exactly one of {names.replace(', --lore', ' or --lore')}")
    kind, location = given[0]
    if SOURCES[kind].needs_list and not list_name:
        raise click.UsageError(f"--{kind} needs --list NAME")
    source = make_source(
        kind,
        location or "",
        list_name,
        url_base=url_base,
        since=_parse_date(since),
        until=_parse_date(until),
        delay=delay,
        on_retry=(
            (lambda reason, wait: err.print(escape(f"lore: {reason}; retrying in {wait:.0f} s")))
            if kind == "lore"
            else None
        ),
    )
    db = _obj(ctx).db  # a --db that can be no store is said first
    source.check()  # a typo leaves nothing behind: no store, no lock file
    with _locked(db):
        source.prepare()  # may clone or fetch; a refused source creates no store
        with Store.open(db) as store, _progress("ingesting", not as_json) as progress:
            result = ingest(store, source, progress=progress)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    for note in result.notes:
        _say(f"{result.list_name}: {note}")
    _say(
        f"{result.list_name}: {result.new} new, {result.duplicate} duplicate, "
        f"{result.unparsable} unparsable, {result.known} already stored"
        + (f", {result.repaired} repaired" if result.repaired else "")
        + (f", {result.deleted} deleted upstream" if result.deleted else "")
    )


# -- report, site, mail: weeks from one Digest ------------------------------------------------


@cli.command()
@_list_option("List to report on.")
@_week_options
@_tz_option
@_lang_option
@click.option(
    "--format",
    "formats",
    default="md,json",
    show_default=True,
    help="Comma-separated: md, json, txt (plain text for mutt: 72 columns, links as footnotes).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Output directory [default: the list's output/reports in the config, else ./reports].",
)
@click.option(
    "--subsystem",
    "subsystems",
    multiple=True,
    metavar="NAME",
    help="Only threads touching this subsystem (repeatable; any case, part of a name is "
    "enough: 'KVM/arm64', 'vgic'); names come from the list's path_groups, else the "
    "MAINTAINERS file, else directories ('arch/arm64/kvm'). Files get a -NAME suffix "
    "[default: the list's subsystems in the config, else every thread].",
)
@click.option(
    "--person",
    "people",
    multiple=True,
    metavar="EMAIL",
    help="Open the report with this person's view of the week (repeatable): their series "
    "and each one's state, open series of others touching their files (M:/R: of "
    "--maintainers, else the list's learned appliers) without a word from them yet, "
    "and the review trailers they gave [default: the list's people in the config].",
)
@click.option(
    "--detail",
    type=click.Choice(["auto", "full", "brief"]),
    help="How much each thread shows in md/txt: brief is one line and its summary, full "
    "adds trailers, revisions and the reply tree; auto is brief for weeks of more than "
    "the list's brief_over mails (500) [default: the list's detail in the config, auto].",
)
@_summarizer_options
@_batch_options
@_trust_options
@_json_option
@_store_options
@click.pass_context
def report(
    ctx: click.Context,
    list_name: str,
    weeks: tuple[str, ...],
    since: str | None,
    until: str | None,
    tz: str | None,
    langs: str | None,
    formats: str,
    out_dir: Path | None,
    as_json: bool,
    resume: bool,
    **options: Any,
) -> None:
    """Write the report of one or several weeks (Markdown and/or JSON) from the store.

    Mail is placed in a week by its Date header, in the time zone. Earlier mail of the
    same threads comes along as history; all statistics count in-window mail only.
    Facts are always computed from the mail; with --summarizer openai|anthropic an LLM
    writes the prose on top of them (keys from OPENAI_API_KEY / ANTHROPIC_API_KEY),
    cached in the store so re-runs cost nothing. Without a key the report is complete,
    from facts. Default week: the last complete one.

    A backfill of many weeks can go through the provider's batch API (--batch): the
    run waits for each round of answers (--batch-wait), and when it stops first, the
    same command with --resume collects what was submitted.
    """
    from lore_digest.report.write import parse_formats, write_report

    chosen = parse_formats(formats)
    languages = _languages(ctx, langs, list_name)
    _check_date_range(weeks, since, until)
    _check_zone(tz)
    labels = _week_labels(weeks) if weeks else []
    overrides = _summarizer_overrides(options)
    written: list[dict[str, Any]] = []
    with (
        _writing_store(ctx, list_name) as store,
        _open_digest(ctx, store, list_name, tz, overrides, options) as digest,
    ):
        if resume and not digest.settings.summarizer.batch:
            raise click.UsageError("--resume goes with --batch (or batch = true in the config)")
        if digest.settings.summarizer.batch:
            _check_batch(digest, resume, quiet=as_json)
        target = _output_dir(ctx, out_dir, list_name, "reports")
        if since is not None and until is not None:
            windows = [digest.dates(since, until)]
        elif labels:
            windows = [digest.window(label) for label in labels]
        else:
            windows = [digest.last_complete_week()]
        if any(".." in spec for spec in weeks):
            # A range is a way to say "the weeks in between": its empty weeks are skipped.
            ranged = _ranged(weeks)
            kept = [w for w in windows if w.label not in ranged or digest.has_mail(w)]
            if len(kept) < len(windows):
                _warn(
                    f"{plural(len(windows) - len(kept), 'week')} of the range without mail skipped"
                )
            windows = kept
        llm = digest.settings.summarizer.backend != "offline"
        for window in windows:
            if not digest.has_mail(window):
                _warn_empty(digest, window.label)
            for lang in languages:
                label = f"{digest.list_name} {window.label} ({lang}): summarising"
                with _progress(label, llm and not as_json) as progress:
                    built = digest.week(window, lang=lang, progress=progress)
                if digest.settings.subsystems and not built.threads and digest.has_mail(window):
                    _warn(
                        f"{window.label}: no thread touches "
                        f"{', '.join(digest.settings.subsystems)} (names: --help of --subsystem)"
                    )
                paths = write_report(built, target, chosen, suffix=_subsystem_suffix(options))
                written.append(
                    {
                        "week": built.label,
                        "lang": lang,
                        "messages": built.stats.messages,
                        "threads": built.stats.threads,
                        "files": [str(p) for p in paths],
                    }
                )
                if not as_json:
                    _say(
                        f"{built.list_name} {built.label} ({lang}): "
                        f"{plural(built.stats.messages, 'mail')} in "
                        f"{plural(built.stats.threads, 'thread')}"
                    )
                    for path in paths:
                        _say(f"  wrote {path}")
        _warn_fallbacks(digest)
    if as_json:
        files = [f for item in written for f in item["files"]]
        click.echo(json.dumps({"list": list_name, "files": files, "reports": written}, indent=2))


@cli.command()
@_list_option("List to publish.")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Site directory [default: the list's output/site in the config, else ./site].",
)
@_lang_option
@_week_options
@_tz_option
@click.option("--force", is_flag=True, help="Rebuild every requested week even if unchanged.")
@_summarizer_options
@_trust_options
@_json_option
@_store_options
@click.pass_context
def site(
    ctx: click.Context,
    list_name: str,
    out_dir: Path | None,
    langs: str | None,
    weeks: tuple[str, ...],
    since: str | None,
    until: str | None,
    tz: str | None,
    force: bool,
    as_json: bool,
    **options: Any,
) -> None:
    """Build or update the static HTML site: weekly pages (and their JSON), archive,
    series pages, feed, search.

    The weeks are the same as `report`'s: ISO weeks in --tz. Incremental: only weeks
    whose content changed are re-rendered. Open DIR/index.html from disk or preview with
    `lore-digest serve DIR`. Default: every week with mail.
    """
    from lore_digest.facts.week import weeks_between
    from lore_digest.site.build import build_site

    languages = _languages(ctx, langs, list_name)
    _check_date_range(weeks, since, until)
    _check_zone(tz)
    selected = _week_labels(weeks) if weeks else None
    if since is not None and until is not None:
        selected = weeks_between(since, until)
    overrides = _summarizer_overrides(options)
    with (
        _writing_store(ctx, list_name) as store,
        _open_digest(ctx, store, list_name, tz, overrides, options) as digest,
    ):
        target = _output_dir(ctx, out_dir, list_name, "site")
        with _progress("rendering weeks", not as_json) as progress:
            result = build_site(
                digest, target, langs=languages, weeks=selected, force=force, progress=progress
            )
        _warn_fallbacks(digest)
    ranged = _ranged(weeks)
    named_empty = [label for label in result.empty_weeks if label not in ranged]
    for label in named_empty:
        _warn(f"{list_name} has no mail in {label}: the site leaves that week out")
    if len(named_empty) < len(result.empty_weeks):
        skipped = len(result.empty_weeks) - len(named_empty)
        _warn(f"{plural(skipped, 'week')} of the range without mail skipped")
    if as_json:
        click.echo(
            json.dumps(
                {
                    "index": str(result.index),
                    "written": [str(p) for p in result.written],
                    "skipped_unchanged": result.skipped_unchanged,
                    "weeks_rebuilt": result.weeks_rebuilt,
                    "empty_weeks": result.empty_weeks,
                },
                indent=2,
            )
        )
        return
    _say(
        f"{plural(len(result.written), 'file')} written, "
        f"{plural(result.skipped_unchanged, 'page')} unchanged"
    )
    _say(f"open {result.index}")


@cli.command()
@_list_option("List whose digest to send.")
@click.option(
    "--week",
    "weeks",
    multiple=True,
    required=True,
    metavar="WEEKS",
    help="ISO week(s) to send, e.g. 2022-W19 (one mail per week and language).",
)
@click.option(
    "--to", "to", multiple=True, required=True, metavar="ADDR", help="Recipient (repeatable)."
)
@_tz_option
@click.option(
    "--lang",
    "langs",
    metavar="LANGS",
    help="Language(s), comma-separated [default: the list's first in the config, else zh].",
)
@_summarizer_options
@_trust_options
@_json_option
@_store_options
@click.pass_context
def mail(
    ctx: click.Context,
    list_name: str,
    weeks: tuple[str, ...],
    to: tuple[str, ...],
    tz: str | None,
    langs: str | None,
    as_json: bool,
    **options: Any,
) -> None:
    """Send the digest of one or several weeks by SMTP (multipart: plain text + HTML).

    The SMTP server comes from the config's [smtp] table; the password only from
    $LORE_DIGEST_SMTP_PASSWORD. A week that has not ended is sent marked in progress.
    """
    from lore_digest.deliver import mail_week

    settings = _obj(ctx).settings
    if settings.smtp is None:
        raise UsageError(f"`mail` needs an [smtp] table in the config ({_obj(ctx).config})")
    listed = settings.lists.get(list_name)
    languages = parse_languages(langs or (listed.languages[0] if listed else DEFAULT_LANGUAGE))
    labels = _week_labels(weeks)
    ranged = _ranged(weeks)
    _check_zone(tz)
    overrides = _summarizer_overrides(options)
    sent: list[dict[str, str]] = []
    with (
        _writing_store(ctx, list_name) as store,
        _open_digest(ctx, store, list_name, tz, overrides, options) as digest,
    ):
        empty = [label for label in labels if not digest.has_mail(digest.window(label))]
        skipped = [label for label in empty if label in ranged]  # a range's empty weeks
        if skipped:
            _warn(f"{plural(len(skipped), 'week')} of the range without mail skipped")
        named = [label for label in empty if label not in ranged]  # never an empty digest
        labels = [label for label in labels if label not in empty]
        if named or not labels:
            empty = named or skipped
            span = digest.date_range()
            known = f"; its mail runs from {span[0].date()} to {span[1].date()}" if span else ""
            raise UsageError(
                f"no mail of {list_name} in {', '.join(empty)} ({digest.tz}): nothing to send{known}"
            )
        for label in labels:
            for lang in languages:
                message_id = mail_week(digest, label, list(to), settings.smtp, lang=lang)
                sent.append({"week": label, "lang": lang, "message_id": message_id})
                if not as_json:
                    _say(
                        f"sent {list_name} {label} ({lang}) to {', '.join(to)} "
                        f"(Message-ID {message_id})"
                    )
        _warn_fallbacks(digest)
    if as_json:
        click.echo(json.dumps({"list": list_name, "to": list(to), "sent": sent}, indent=2))


@cli.command()
@_list_option("List whose week to post.")
@click.option("--week", required=True, metavar="WEEK", help="ISO week to post, e.g. 2022-W19.")
@click.option(
    "--channel",
    "names",
    multiple=True,
    metavar="NAME",
    help="A [channels.NAME] of the config (repeatable) [default: the list's `channels`].",
)
@click.option(
    "--dry-run", is_flag=True, help="Print the exact requests (secrets redacted); send nothing."
)
@click.option("--again", is_flag=True, help="Send every part even if it was sent before.")
@_tz_option
@_summarizer_options
@_trust_options
@_json_option
@_store_options
@click.pass_context
def notify(
    ctx: click.Context,
    list_name: str,
    week: str,
    names: tuple[str, ...],
    dry_run: bool,
    again: bool,
    tz: str | None,
    as_json: bool,
    **options: Any,
) -> None:
    """Post a week's TL;DR and highlights to chat channels (Feishu/Lark, DingTalk, WeCom,
    Slack, Matrix, Telegram, or a JSON webhook), with a link to the full report.

    Channels are [channels.NAME] tables of the config; secrets come from the
    environment variables they name. Each part of a week goes to a channel once: what
    was sent is remembered in the list's output directory, so a second run (or `run`)
    posts nothing again and an interrupted one sends only what is missing.
    """
    from lore_digest.channels.notify import notify_week

    settings = _obj(ctx).settings
    listed = settings.lists.get(list_name)
    chosen = list(names) or (listed.channels if listed else [])
    if not chosen:
        raise UsageError(
            f"no channel to post to: pass --channel NAME or set lists.{list_name}.channels "
            f"in the config ({_obj(ctx).config})"
        )
    unknown = [n for n in chosen if n not in settings.channels]
    if unknown:
        known = ", ".join(settings.channels) or "none: add a [channels.NAME] table"
        raise UsageError(f"no channel {', '.join(unknown)} in the config (known: {known})")
    label = _week_labels((week,))[0]
    output = listed.output if listed else Path.cwd()  # where what was sent is remembered
    _check_zone(tz)
    overrides = _summarizer_overrides(options)
    with (
        _writing_store(ctx, list_name) as store,
        _open_digest(ctx, store, list_name, tz, overrides, options) as digest,
    ):
        window = digest.window(label)
        if not digest.has_mail(window):
            raise UsageError(f"no mail of {list_name} in {label} ({digest.tz}): nothing to post")
        if window.end > digest.now():
            # Posted now, it would count as sent, and the finished week never would be.
            raise UsageError(
                f"{label} ends {window.end:%Y-%m-%d %H:%M} ({digest.tz}): post it once it has ended"
            )
        outcomes = notify_week(
            digest,
            label,
            {n: settings.channels[n] for n in chosen},
            output,
            default_lang=listed.languages[0] if listed else DEFAULT_LANGUAGE,
            dry_run=dry_run,
            again=again,
        )
        _warn_fallbacks(digest)
    if as_json:
        click.echo(json.dumps([asdict(o) for o in outcomes], ensure_ascii=False, indent=2))
    else:
        for o in outcomes:
            if dry_run:
                for n, request in enumerate(o.dry_run, 1):
                    _say(
                        f"channel {o.channel} part {n}/{o.parts}: {request['method']} {request['url']}"
                    )
                    click.echo(json.dumps(request["body"], ensure_ascii=False, indent=2))
            elif o.error:
                err.print(f"[red]error:[/] {escape(o.error)}")
            else:
                done = f", {o.already} sent before" if o.already else ""
                _say(
                    f"posted {list_name} {label} to {o.channel}: {o.sent} of {o.parts} part(s){done}"
                )
    if any(o.error for o in outcomes):
        sys.exit(1)


# -- the rest -----------------------------------------------------------------------------


@cli.command()
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--port",
    default=8000,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port on 127.0.0.1.",
)
def serve(directory: Path, port: int) -> None:
    """Preview a built site on http://127.0.0.1:PORT/ (Ctrl-C to stop)."""
    from lore_digest.site.serve import make_server, run_server

    server = make_server(directory, port)  # checks the site and the port first
    _say(f"serving {directory} on http://127.0.0.1:{server.server_address[1]}/ (Ctrl-C to stop)")
    run_server(server)


@cli.command()
@click.option(
    "--list", "only", multiple=True, metavar="NAME", help="Only this configured list (repeatable)."
)
@click.option(
    "--jobs",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Lists of different stores (lists.NAME.db) run in this many processes at once.",
)
@click.option(
    "--llm-limit",
    type=click.IntRange(1, 256),
    help="LLM requests in flight at once across all lists [default: [summarizer] concurrency].",
)
@_trust_options
@_json_option
@_store_options
@click.pass_context
def run(
    ctx: click.Context,
    only: tuple[str, ...],
    jobs: int,
    llm_limit: int | None,
    maintainers: Path | None,
    trees: tuple[str, ...],
    as_json: bool,
) -> None:
    """Do everything for every configured list: sync, reports, site, mail.

    For each list of the config file: sync its source; write reports for every complete
    week not yet reported (and the current week, refreshed); update the site; mail the
    newly completed week to its recipients once. Weeks are in the list's time zone in
    every output. This is what cron, a systemd timer or CI calls (see docs/deploy/).
    Exits 1 if any list had an error; the others still run.
    """
    from lore_digest.runner import run_all

    obj = _obj(ctx)
    settings = obj.settings
    if not settings.lists:
        raise LoreDigestError(f"no [lists.NAME] tables in {obj.config}: nothing to run")
    summary = run_all(
        settings,
        obj.db,
        lists=list(only) or None,
        log=None if as_json else (lambda line: err.print(escape(line))),
        maintainers=maintainers,
        trees=trees,
        jobs=jobs,
        llm_limit=llm_limit,
        lock_wait=RUN_LOCK_WAIT_S,  # each store's run lock, taken as its lists start
        on_lock_wait=lambda line: err.print(escape(line)),
    )
    if as_json:
        click.echo(json.dumps(summary.as_dict(), indent=2, ensure_ascii=False))
    else:
        for item in summary.lists:
            state = "ok" if not item.errors else "errors: " + "; ".join(item.errors)
            _say(f"{item.name}: {state}")
    sys.exit(0 if summary.ok else 1)


@cli.command("lists")
@click.option(
    "--remove", "remove", metavar="NAME", help="Delete this list and all its mail from the store."
)
@_json_option
@_store_options
@click.pass_context
def lists_command(ctx: click.Context, remove: str | None, as_json: bool) -> None:
    """Show the lists in the store, their mail count and date range (or remove one)."""
    if remove is not None:
        with _writing_store(ctx) as store:
            info = store.get_list(remove)
            if info is None:
                known = ", ".join(i.name for i in store.lists()) or "none"
                raise UsageError(f"unknown list {remove!r} (known: {known})")
            count = store.remove_list(info.id)
        if as_json:
            click.echo(json.dumps({"removed": remove, "messages": count}, indent=2))
        else:
            _say(f"removed {remove} ({plural(count, 'mail')})")
        return
    rows: list[dict[str, Any]] = []
    db = _obj(ctx).db
    if not db.exists():  # nothing to list, and nothing to create
        if as_json:
            click.echo("[]")
        else:
            _say(f"no store at {db} yet: run `lore-digest sync --mirror …` first")
        return
    with _open_store(ctx) as store:
        for info in store.lists():
            span = store.date_range(info.id)
            rows.append(
                {
                    "name": info.name,
                    "messages": store.count_messages(info.id),
                    "first": _day(span[0]) if span else None,
                    "last": _day(span[1]) if span else None,
                    "url_base": info.url_base,
                    "source": info.source,
                }
            )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        _say("the store is empty: run `lore-digest sync --mirror …` first")
    for row in rows:
        _say(
            f"{row['name']}: {plural(row['messages'], 'mail')}, "
            f"{row['first']} → {row['last']} ({row['source']})"
        )


def _day(utc: int) -> str:
    return datetime.fromtimestamp(utc, UTC).date().isoformat()


@cli.command()
@click.option("--list", "list_name", metavar="NAME", help="List to check [default: every list].")
@_json_option
@_store_options
@click.pass_context
def doctor(ctx: click.Context, list_name: str | None, as_json: bool) -> None:
    """Check the store, and list the mail that was not stored as-is: duplicates,
    unparsable, repaired."""
    with _open_store(ctx) as store:
        problems = store.integrity_problems()
        if problems:
            raise StoreError(
                f"store {store.path} is damaged: {'; '.join(problems)}; "
                "sync the lists into a new store (--db NEW) and remove this one"
            )
        infos = store.lists()
        if list_name is not None:
            known = ", ".join(i.name for i in infos) or "none"
            infos = [i for i in infos if i.name == list_name]
            if not infos:
                raise UsageError(f"unknown list {list_name!r} (known: {known})")
        logged = [entry for info in infos for entry in store.ingest_log(info.id)]
        repaired = [entry for info in infos for entry in store.repaired(info.id)]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "rejected": [
                        {"kind": k, "message_id": m, "source": s, "reason": r}
                        for k, m, s, r in logged
                    ],
                    "repaired": [{"message_id": m, "repairs": r} for m, r in repaired],
                },
                indent=2,
            )
        )
        return
    _say(
        f"store ok; {plural(len(logged), 'mail')} not stored as messages, "
        f"{len(repaired)} stored with repairs"
    )
    for kind, mid, source, reason in logged:
        _say(f"  {kind}: {mid or '-'} ({source}): {reason}")
    for mid, reasons in repaired[:200]:
        _say(f"  repaired: {mid}: {reasons}")


@cli.command()
@click.option("--list", "list_name", metavar="NAME", help="List to re-index [default: every list].")
@_json_option
@_store_options
@click.pass_context
def reindex(ctx: click.Context, list_name: str | None, as_json: bool) -> None:
    """Rebuild the posting index of the stored mail (subjects' parses, pull requests'
    shortlogs) from the raw mail.

    Sync keeps the index as mail arrives, and a sync or report after an upgrade whose
    rules changed rebuilds what is stale by itself (each list's index is stamped with
    the rules it was made under); this command does it now, for every posting.
    """
    from lore_digest.store.postings import PostingRecords

    with _writing_store(ctx, list_name) as store:
        infos = store.lists()
        if list_name is not None:
            known = ", ".join(i.name for i in infos) or "none"
            infos = [i for i in infos if i.name == list_name]
            if not infos:
                raise UsageError(f"unknown list {list_name!r} (known: {known})")
        records = PostingRecords(store)
        done: dict[str, int] = {}
        for info in infos:
            with _progress(f"re-indexing {info.name}", not as_json) as bar:
                done[info.name] = records.update(info.id, rebuild=True, progress=bar)
    if as_json:
        click.echo(json.dumps([{"list": n, "postings": c} for n, c in done.items()], indent=2))
        return
    for name, count in done.items():
        _say(f"{name}: {plural(count, 'posting')} indexed again")


@cli.command()
@click.option(
    "--out",
    "out_dir",
    default="demo-report",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write the demo report and site.",
)
@_lang_option
def demo(out_dir: Path, langs: str) -> None:
    """Generate a small realistic list, sync it into a throwaway store, write its report and site.

    Works offline with no data: a quick look at what lore-digest produces.
    """
    from lore_digest.demo.run import run_demo
    from lore_digest.fsutil import ensure_writable_dir

    languages = parse_languages(langs) if langs else (DEFAULT_LANGUAGE,)  # before any file
    *reports, index = run_demo(ensure_writable_dir(out_dir), langs=languages)
    _say("demo report written:")
    for path in reports:
        _say(f"  {path}")
    _say(f"demo site: {index}")


def main() -> None:
    """Console-script entry point: a command line that does not parse is one line too."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:  # what click makes of Ctrl-C (or EOF at a prompt)
        err.print("interrupted")
        sys.exit(130)
    except click.ClickException as exc:
        hint = ""
        if isinstance(exc, click.UsageError) and exc.ctx is not None:
            hint = f" (see `{exc.ctx.command_path} --help`)"
        _fail_with(exc.exit_code, exc.format_message() + hint)


def _fail_with(code: int, message: str) -> None:
    err.print(f"[bold red]error:[/] {escape(' '.join(message.split()))}")
    sys.exit(code)
