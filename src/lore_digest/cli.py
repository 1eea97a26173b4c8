"""The `lore-digest` command: a thin Click layer over the library API; only this prints."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from lore_digest import __version__
from lore_digest.config import DB_ENV, config_path
from lore_digest.errors import LoreDigestError
from lore_digest.settings import Settings, effective_db_path, load_settings
from lore_digest.store.db import Store
from lore_digest.store.lock import store_lock

# Options several commands share, defined once.
_report_lang = click.option(
    "--lang",
    default="zh",
    show_default=True,
    type=click.Choice(["zh", "en"]),
    help="Report language.",
)

RUN_LOCK_WAIT_S = 60.0
WRITER_LOCK_WAIT_S = 30.0

err = Console(stderr=True)
out = Console()


class _Command(click.Group):
    """Turns typed errors into one clear line and Ctrl-C into a quiet exit."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LoreDigestError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            sys.exit(1)
        except KeyboardInterrupt:
            err.print("interrupted: work committed so far is kept; run the command again to resume")
            sys.exit(130)


@click.group(cls=_Command, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"SQLite store to use [default: ${DB_ENV}, else ~/.local/share/lore-digest/lore-digest.sqlite3].",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML config file [default: $LORE_DIGEST_CONFIG, else ~/.config/lore-digest/config.toml].",
)
@click.version_option(__version__, prog_name="lore-digest")
@click.pass_context
def cli(ctx: click.Context, db_path: Path | None, config_file: Path | None) -> None:
    """Weekly digests of a public-inbox mailing list (lore.kernel.org), e.g. kvmarm.

    \b
    Typical use:
      lore-digest sync --mirror https://lore.kernel.org/kvmarm
      lore-digest report --list kvmarm --week 2022-W19 --out reports/
    """
    ctx.obj = _Context(db_path, config_path(config_file), config_file is not None)


@dataclass
class _Context:
    """Global options; the config file is read once, when a command first needs it."""

    db_option: Path | None
    config: Path
    config_given: bool
    _settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config, required=self.config_given)
        return self._settings

    @property
    def db(self) -> Path:
        """--db, else $LORE_DIGEST_DB, else the config's `db`, else the XDG default."""
        return effective_db_path(self.db_option, self.settings)


def _open_store(ctx: click.Context) -> Store:
    return Store.open(ctx.obj.db)


@contextmanager
def _writing_store(ctx: click.Context) -> Iterator[Store]:
    """The store under the run lock: a second writer waits, then stops with one clear line."""
    with store_lock(ctx.obj.db, wait=WRITER_LOCK_WAIT_S), Store.open(ctx.obj.db) as store:
        yield store


@contextmanager
def _progress(label: str, enabled: bool) -> Iterator[Callable[[int, int | None], None]]:
    """A rich progress bar fed by the API's (done, total) callback; silent when disabled."""
    if not enabled:
        yield lambda done, total: None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        yield update


@cli.command()
@click.option(
    "--mirror",
    metavar="PATH_OR_URL",
    help="public-inbox v2 inbox dir, one epoch .git, or a git URL to clone/fetch.",
)
@click.option("--mbox", type=click.Path(path_type=Path), help="An mbox file or a maildir.")
@click.option(
    "--lore",
    metavar="URL",
    help="lore over HTTP (e.g. https://lore.kernel.org/kvmarm): search + thread mboxes, no mirror needed.",
)
@click.option(
    "--since",
    metavar="YYYY-MM-DD",
    help="With --lore: fetch mail received since this date [default: resume, else 4 weeks].",
)
@click.option("--until", metavar="YYYY-MM-DD", help="With --lore: up to this date.")
@click.option(
    "--delay",
    default=1.0,
    show_default=True,
    type=click.FloatRange(0),
    help="With --lore: seconds between requests (be polite).",
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
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON on stdout.")
@click.pass_context
def sync(
    ctx: click.Context,
    mirror: str | None,
    mbox: Path | None,
    lore: str | None,
    since: str | None,
    until: str | None,
    delay: float,
    list_name: str | None,
    url_base: str | None,
    as_json: bool,
) -> None:
    """Ingest new mail into the store (incremental, idempotent, safe to interrupt).

    Exactly one of --mirror, --mbox or --lore. Re-running fetches/reads only what is new;
    every mail is either stored, or counted as a duplicate/unparsable (see `doctor`).
    """
    from lore_digest.sync import sync_mbox, sync_mirror

    if sum(x is not None for x in (mirror, mbox, lore)) != 1:
        raise click.UsageError("give exactly one of --mirror, --mbox or --lore")
    if mbox is not None and not list_name:
        raise click.UsageError("--mbox needs --list NAME")
    if (since or until) and lore is None:
        raise click.UsageError("--since/--until go with --lore")
    with _writing_store(ctx) as store, _progress("ingesting", not as_json) as progress:
        if mirror is not None:
            result = sync_mirror(store, mirror, list_name, url_base=url_base, progress=progress)
        elif lore is not None:
            from lore_digest.sync_lore import sync_lore

            result = sync_lore(
                store,
                lore,
                list_name,
                since=_parse_date(since),
                until=_parse_date(until),
                url_base=url_base,
                progress=progress,
                delay=delay,
                on_retry=lambda reason, wait: err.print(
                    f"lore: {reason}; retrying in {wait:.0f} s", highlight=False
                ),
            )
        else:
            assert mbox is not None and list_name is not None
            result = sync_mbox(store, mbox, list_name, url_base=url_base, progress=progress)
    if as_json:
        click.echo(json.dumps(result.as_dict(), indent=2))
        return
    out.print(
        f"[bold]{result.list_name}[/]: {result.new} new, {result.duplicate} duplicate, "
        f"{result.unparsable} unparsable, {result.known} already stored"
        + (f", {result.repaired} repaired" if result.repaired else "")
        + (f", {result.deleted} deleted upstream" if result.deleted else ""),
        highlight=False,
    )


def _check_date_range(option: str, value: str | None, since: str | None, until: str | None) -> None:
    """A window is either `option` or a --since/--until pair, never both or half a pair."""
    if value and (since or until):
        raise click.UsageError(f"use either {option} or --since/--until")
    if bool(since) != bool(until):
        raise click.UsageError("--since and --until go together")


def _parse_date(value: str | None) -> date | None:
    """YYYY-MM-DD → date; a typo is a usage error, not a traceback."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from exc


@cli.command()
@click.option("--list", "list_name", required=True, metavar="NAME", help="List to report on.")
@click.option(
    "--week", metavar="YYYY-Www", help="ISO week, e.g. 2022-W19 [default: the last complete week]."
)
@click.option("--since", metavar="YYYY-MM-DD", help="Start date (with --until) instead of --week.")
@click.option("--until", metavar="YYYY-MM-DD", help="End date, inclusive.")
@click.option(
    "--tz",
    default="UTC",
    show_default=True,
    help="Report time zone (IANA name, e.g. Asia/Shanghai).",
)
@_report_lang
@click.option(
    "--format", "formats", default="md,json", show_default=True, help="Comma-separated: md, json."
)
@click.option(
    "--out",
    "out_dir",
    default=".",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output directory.",
)
@click.option(
    "--summarizer",
    type=click.Choice(["offline", "openai", "anthropic"]),
    help="Who writes the prose: offline (facts only, no key) or an LLM API [default: config, else offline].",
)
@click.option(
    "--model", help="Model name for the LLM backend (e.g. gpt-4o-mini, qwen2.5:14b, deepseek-chat)."
)
@click.option(
    "--llm-base-url",
    metavar="URL",
    help="API base URL [default: $OPENAI_BASE_URL / $ANTHROPIC_BASE_URL]; e.g. http://localhost:11434/v1 for Ollama.",
)
@click.option(
    "--concurrency", type=click.IntRange(1, 64), help="Parallel LLM requests [default: 4]."
)
@click.option(
    "--token-budget",
    type=click.IntRange(1000),
    help="Input tokens per call before map-reduce [default: 12000].",
)
@click.option(
    "--max-tokens-run",
    type=click.IntRange(1),
    help="Stop calling the LLM after this many tokens in this run.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the written paths and stats as JSON.")
@click.pass_context
def report(
    ctx: click.Context,
    list_name: str,
    week: str | None,
    since: str | None,
    until: str | None,
    tz: str,
    lang: str,
    formats: str,
    out_dir: Path,
    summarizer: str | None,
    model: str | None,
    llm_base_url: str | None,
    concurrency: int | None,
    token_budget: int | None,
    max_tokens_run: int | None,
    as_json: bool,
) -> None:
    """Write one window's report (Markdown and/or JSON) from the store.

    Mail is placed in the window by its Date header, in --tz. Earlier mail of the same
    threads comes along as history; all statistics count in-window mail only. Facts are
    always computed from the mail; with --summarizer openai|anthropic an LLM writes the
    prose on top of them (keys from OPENAI_API_KEY / ANTHROPIC_API_KEY), cached in the
    store so re-runs cost nothing. Without a key the report is complete, from facts.
    """
    from lore_digest.facts.week import date_window, iso_week_window, last_complete_week
    from lore_digest.report.build import build_report
    from lore_digest.report.write import parse_formats, write_report
    from lore_digest.runner import make_summarizer

    chosen = parse_formats(formats)
    _check_date_range("--week", week, since, until)
    if week:
        window = iso_week_window(week, tz)
    elif since and until:
        window = date_window(since, until, tz)
    else:
        window = last_complete_week(datetime.now(UTC), tz)
    settings = ctx.obj.settings.summarizer_for(list_name)
    overrides = {
        "backend": summarizer,
        "model": model,
        "base_url": llm_base_url,
        "concurrency": concurrency,
        "budget_tokens": token_budget,
        "max_tokens_run": max_tokens_run,
    }
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    with _writing_store(ctx) as store:
        llm = make_summarizer(store, list_name, settings)
        with _progress("summarising", llm.name != "offline" and not as_json) as progress:
            built = build_report(
                store, list_name, window, lang=lang, summarizer=llm, progress=progress
            )
        llm.close()
    paths = write_report(built, out_dir, chosen)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "list": built.list_name,
                    "week": built.label,
                    "files": [str(p) for p in paths],
                    "messages": built.stats.messages,
                    "threads": built.stats.threads,
                },
                indent=2,
            )
        )
        return
    out.print(
        f"{built.list_name} {built.label}: {built.stats.messages} mails in "
        f"{built.stats.threads} threads",
        highlight=False,
    )
    for path in paths:
        out.print(f"  wrote {path}", highlight=False)


@cli.command()
@click.option("--list", "list_name", required=True, metavar="NAME", help="List to publish.")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Site directory.",
)
@click.option(
    "--lang",
    "langs",
    default="zh",
    show_default=True,
    help="Languages, comma-separated: zh, en or zh,en.",
)
@click.option(
    "--weeks",
    metavar="W1,W2",
    help="Only these ISO weeks (e.g. 2022-W18,2022-W19) [default: every week with mail].",
)
@click.option("--since", metavar="YYYY-MM-DD", help="Only weeks from this date (with --until).")
@click.option("--until", metavar="YYYY-MM-DD", help="Only weeks up to this date.")
@click.option("--force", is_flag=True, help="Rebuild every requested week even if unchanged.")
@click.option("--json", "as_json", is_flag=True, help="Print what was written as JSON.")
@click.pass_context
def site(
    ctx: click.Context,
    list_name: str,
    out_dir: Path,
    langs: str,
    weeks: str | None,
    since: str | None,
    until: str | None,
    force: bool,
    as_json: bool,
) -> None:
    """Build or update the static HTML site: weekly pages, archive, series pages, feed, search.

    Incremental: only weeks whose content changed are re-rendered. Open DIR/index.html
    from disk or preview with `lore-digest serve DIR`.
    """
    from lore_digest.facts.week import weeks_between
    from lore_digest.site.build import build_site

    chosen_langs = [lang.strip() for lang in langs.split(",") if lang.strip()]
    _check_date_range("--weeks", weeks, since, until)
    selected = [w.strip() for w in weeks.split(",") if w.strip()] if weeks else None
    if since and until:
        selected = weeks_between(since, until)
    with _writing_store(ctx) as store, _progress("rendering weeks", not as_json) as progress:
        result = build_site(
            store,
            list_name,
            out_dir,
            langs=chosen_langs,
            weeks=selected,
            force=force,
            progress=progress,
        )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "index": str(result.index),
                    "written": [str(p) for p in result.written],
                    "skipped_unchanged": result.skipped_unchanged,
                },
                indent=2,
            )
        )
        return
    out.print(
        f"{len(result.written)} files written, {result.skipped_unchanged} pages unchanged",
        highlight=False,
    )
    out.print(f"open {result.index}", highlight=False)


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
    from lore_digest.site.serve import serve as serve_site

    out.print(f"serving {directory} on http://127.0.0.1:{port}/ (Ctrl-C to stop)", highlight=False)
    serve_site(directory, port)


@cli.command()
@click.option(
    "--list", "only", multiple=True, metavar="NAME", help="Only this configured list (repeatable)."
)
@click.option("--json", "as_json", is_flag=True, help="Print what happened per list as JSON.")
@click.pass_context
def run(ctx: click.Context, only: tuple[str, ...], as_json: bool) -> None:
    """Do everything for every configured list: sync, reports, site, mail.

    For each list of the config file: sync its source; write reports for every complete
    week not yet reported (and the current week, refreshed); update the site; mail the
    newly completed week to its recipients once. This is what cron, a systemd timer or
    CI calls (see docs/deploy/). Exits 1 if any list had an error; the others still run.
    """
    from lore_digest.runner import run_all

    settings = ctx.obj.settings
    if not settings.lists:
        raise LoreDigestError(f"no [lists.NAME] tables in {ctx.obj.config}: nothing to run")
    with store_lock(ctx.obj.db, wait=RUN_LOCK_WAIT_S):
        summary = run_all(
            settings,
            ctx.obj.db,
            lists=list(only) or None,
            log=None if as_json else (lambda line: err.print(line, highlight=False)),
        )
    if as_json:
        click.echo(json.dumps(summary.as_dict(), indent=2, ensure_ascii=False))
    else:
        for item in summary.lists:
            state = "ok" if not item.errors else "errors: " + "; ".join(item.errors)
            out.print(f"{item.name}: {state}", highlight=False)
    sys.exit(0 if summary.ok else 1)


@cli.command()
@click.option(
    "--list", "list_name", required=True, metavar="NAME", help="List whose digest to send."
)
@click.option("--week", required=True, metavar="YYYY-Www", help="ISO week to send.")
@click.option(
    "--to", "to", multiple=True, required=True, metavar="ADDR", help="Recipient (repeatable)."
)
@click.option("--tz", help="Report time zone [default: the list's in the config, else UTC].")
@click.option(
    "--lang", type=click.Choice(["zh", "en"]), help="Language [default: the list's first, else zh]."
)
@click.pass_context
def mail(
    ctx: click.Context,
    list_name: str,
    week: str,
    to: tuple[str, ...],
    tz: str | None,
    lang: str | None,
) -> None:
    """Send one week's digest by SMTP (multipart: plain text + HTML).

    The SMTP server comes from the config's [smtp] table; the password only from
    $LORE_DIGEST_SMTP_PASSWORD.
    """
    from lore_digest.deliver import mail_week
    from lore_digest.errors import UsageError
    from lore_digest.runner import make_summarizer

    settings = ctx.obj.settings
    if settings.smtp is None:
        raise UsageError(f"`mail` needs an [smtp] table in the config ({ctx.obj.config})")
    conf = settings.lists.get(list_name)
    with _open_store(ctx) as store:
        llm = make_summarizer(store, list_name, settings.summarizer_for(list_name))
        try:
            message_id = mail_week(
                store,
                list_name,
                week,
                list(to),
                settings.smtp,
                tz=tz or (conf.timezone if conf else "UTC"),
                lang=lang or (conf.languages[0] if conf else "zh"),
                summarizer=llm,
            )
        finally:
            llm.close()
    out.print(
        f"sent {list_name} {week} to {', '.join(to)} (Message-ID {message_id})", highlight=False
    )


@cli.command("lists")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.pass_context
def lists_command(ctx: click.Context, as_json: bool) -> None:
    """Show the lists in the store, their mail count and date range."""
    rows = []
    with _open_store(ctx) as store:
        for info in store.lists():
            span = store.date_range(info.id)
            rows.append(
                {
                    "name": info.name,
                    "messages": store.count_messages(info.id),
                    "first": datetime.fromtimestamp(span[0], UTC).date().isoformat()
                    if span
                    else None,
                    "last": datetime.fromtimestamp(span[1], UTC).date().isoformat()
                    if span
                    else None,
                    "url_base": info.url_base,
                    "source": info.source,
                }
            )
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        out.print("the store is empty: run `lore-digest sync --mirror …` first")
    for row in rows:
        out.print(
            f"{row['name']}: {row['messages']} mails, {row['first']} → {row['last']} ({row['source']})",
            highlight=False,
        )


@cli.command()
@click.option("--list", "list_name", required=True, metavar="NAME", help="List to check.")
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@click.pass_context
def doctor(ctx: click.Context, list_name: str, as_json: bool) -> None:
    """List the mail that was not stored as-is: duplicates, unparsable, repaired."""
    from lore_digest.errors import UsageError

    with _open_store(ctx) as store:
        info = store.get_list(list_name)
        if info is None:
            raise UsageError(f"unknown list {list_name!r}")
        logged = store.ingest_log(info.id)
        repaired = store.repaired(info.id)
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
    out.print(f"{len(logged)} mails not stored as messages, {len(repaired)} stored with repairs")
    for kind, mid, source, reason in logged:
        out.print(f"  {kind}: {mid or '-'} ({source}): {reason}", highlight=False)
    for mid, reasons in repaired[:200]:
        out.print(f"  repaired: {mid}: {reasons}", highlight=False)


@cli.command()
@click.option(
    "--out",
    "out_dir",
    default="demo-report",
    show_default=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Where to write the demo report.",
)
@_report_lang
def demo(out_dir: Path, lang: str) -> None:
    """Generate a small realistic list, sync it into a throwaway store, write its report and site.

    Works offline with no data: a quick look at what lore-digest produces.
    """
    from lore_digest.demo.run import run_demo

    *reports, index = run_demo(out_dir, lang=lang)
    out.print("demo report written:")
    for path in reports:
        out.print(f"  {path}", highlight=False)
    out.print(f"demo site: {index}", highlight=False)


def main() -> None:
    """Console-script entry point."""
    cli()
