"""`lore-digest run`: bring every configured list up to date in one unattended pass.

For each [lists.NAME] of the config: sync its source → write the Markdown and JSON
report of every complete ISO week (in the list's time zone) that has mail and no report
yet, and refresh the report of the week in progress → update the HTML site → mail the
newly completed week's digest to the list's recipients, once → post it to the list's
chat channels, once per channel (channels.notify).

What has been done is read from the output directory, not from the store: a week is
reported when its report files exist (delete them to have it rebuilt; a change of the
settings that shape reports rewrites them all, see `report_key`), and the weeks
already mailed (and posted) are kept in small JSON state files there. So the store stays a pure
cache of the mail, one store can feed several output trees, and a CI job that restores
only the output directory still never mails a week twice.

It is meant for a timer: one list failing (a mirror down, a bad mbox path) is recorded
in the summary and the next list still runs; nothing is printed here (the CLI does).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lore_digest.deliver import PartialDelivery, mark_in_progress, send_digest
from lore_digest.digest import Digest, DigestSettings
from lore_digest.errors import LoreDigestError, SourceError
from lore_digest.fsutil import write_atomic
from lore_digest.ingest import sync
from lore_digest.report.jsonout import render_json
from lore_digest.report.markdown import render_markdown
from lore_digest.report.model import Report
from lore_digest.report.write import write_report
from lore_digest.settings import (
    ChannelSettings,
    ListSettings,
    Settings,
    SmtpSettings,
)
from lore_digest.statefile import load_state_file, save_state_file
from lore_digest.store.db import Store
from lore_digest.store.lock import store_lock
from lore_digest.vocabulary import plural, report_stem

if TYPE_CHECKING:
    import ssl


STATE_FILE = ".lore-digest-state.json"
REPORTS_KEY_FILE = ".lore-digest-reports.json"  # report_key of the reports written
STATE_FORMAT = 1
IN_PROGRESS = ".in-progress"
FORMATS = ("md", "json")

Log = Callable[[str], None]
Progress = Callable[[str, int, int | None], None]
"""(label, done, total or None): e.g. ("kvmarm: sync", 2000, 18728), for a progress bar."""


@dataclass
class ListRun:
    """What one run did for one list (and what went wrong, step by step)."""

    name: str
    source: str
    synced: dict[str, Any] | None = None  # SyncResult.as_dict() of the sync step
    reported_weeks: list[str] = field(default_factory=list)  # complete weeks reported now
    current_week: str | None = None  # the in-progress week whose report was refreshed
    files: list[Path] = field(default_factory=list)  # report files written
    site_index: Path | None = None
    site_files_written: int = 0
    mailed_week: str | None = None
    message_id: str | None = None
    mail_note: str | None = None  # why nothing was mailed, when that is worth saying
    notified: list[str] = field(default_factory=list)  # "CHANNEL WEEK" posted now
    errors: list[str] = field(default_factory=list)  # "step: message"

    @property
    def ok(self) -> bool:
        """True when every step that ran succeeded."""
        return not self.errors

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict for `run --json`."""
        data = asdict(self)
        data["files"] = [str(p) for p in self.files]
        data["site_index"] = str(self.site_index) if self.site_index else None
        data["ok"] = self.ok
        return data


@dataclass
class RunSummary:
    """Every list's outcome, in config order."""

    now: datetime  # the clock the run reasoned with (weeks complete, in progress)
    started_at: datetime  # wall clock, like finished_at
    finished_at: datetime | None = None
    lists: list[ListRun] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no list had an error (the CLI's exit status)."""
        return all(item.ok for item in self.lists)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict for `run --json`."""
        return {
            "now": self.now.isoformat(),
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "ok": self.ok,
            "lists": [item.as_dict() for item in self.lists],
        }


# -- file names and state -----------------------------------------------------------------


def report_file_stem(list_name: str, label: str, lang: str, *, in_progress: bool = False) -> str:
    """`kvmarm-2022-W19` (zh) / `kvmarm-2022-W19.en`, as `report.write.report_stem` names
    them; the week in progress gets `.in-progress` so that its file never counts as the
    finished week's report."""
    marker = IN_PROGRESS if in_progress else ""
    return report_stem(list_name, label + marker, lang)


def is_reported(reports_dir: Path, list_name: str, label: str, lang: str) -> bool:
    """Whether every format of a finished week's report exists in `reports_dir`."""
    stem = report_file_stem(list_name, label, lang)
    return all((reports_dir / f"{stem}.{fmt}").is_file() for fmt in FORMATS)


def load_state(output: Path, list_name: str) -> dict[str, Any]:
    """Weeks already mailed (statefile: an unreadable file is an error, never "none")."""
    return load_state_file(output / STATE_FILE, list_name, "mailed", STATE_FORMAT)


def save_state(output: Path, state: dict[str, Any]) -> None:
    """Atomically: a crash mid-write must not forget which weeks were already mailed."""
    save_state_file(output / STATE_FILE, state)


def report_key(settings: DigestSettings) -> str:
    """A hash of what shapes a finished week's report besides the mail (the facts'
    inputs, and how much each thread shows): a change makes `run` write every week
    again (the code's own changes do not: delete the files)."""
    data = [settings.fact_inputs(), settings.detail, settings.brief_over]
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def _read_key(output: Path) -> str | None:
    """The report key of the last run that wrote every week (None: none recorded; an
    unreadable file counts as a change, so the reports are written again)."""
    try:
        data = json.loads((output / REPORTS_KEY_FILE).read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return ""
    return str(data.get("key", "")) if isinstance(data, dict) else ""


def write_in_progress(report: Report, reports_dir: Path, now: datetime) -> list[Path]:
    """The report of an unfinished week, marked as such in both formats."""
    stem = report_file_stem(report.list_name, report.label, report.lang, in_progress=True)
    markdown = mark_in_progress(render_markdown(report), report, now)
    files = {
        reports_dir / f"{stem}.md": markdown,
        reports_dir / f"{stem}.json": render_json(report, as_of=now),
    }
    for path, text in files.items():
        write_atomic(path, text)
    return list(files)


def remove_stale_in_progress(reports_dir: Path, list_name: str, current: str) -> None:
    """Delete in-progress files of weeks other than `current` (their week has ended)."""
    pattern = re.compile(rf"{re.escape(list_name)}-(\d{{4}}-W\d{{2}}){re.escape(IN_PROGRESS)}\.")
    for old in reports_dir.glob(f"{list_name}-*{IN_PROGRESS}.*"):
        match = pattern.match(old.name)
        if match and match.group(1) != current and old.is_file():
            old.unlink()


# -- steps ----------------------------------------------------------------------------------


def sync_list(
    store: Store,
    name: str,
    conf: ListSettings,
    progress: Callable[[int, int | None], None] | None = None,
) -> dict[str, Any]:
    """Ingest what is new from the list's one source; returns the sync counts.

    A source error names the config key it comes from (lists.NAME.mbox: …).
    """
    try:
        return sync(store, conf.source(name), progress=progress).as_dict()
    except SourceError as exc:
        raise SourceError(f"lists.{name}.{conf.source_kind}: {exc}") from exc


def _first_week(conf: ListSettings) -> str | None:
    """The ISO week of `since` (a calendar day is in the same ISO week in every zone)."""
    if conf.since is None:
        return None
    year, number, _ = conf.since.isocalendar()
    return f"{year}-W{number:02d}"


class _ListJob:
    """One list's run: every week comes from one Digest (one zone, one summariser)."""

    def __init__(self, digest: Digest, conf: ListSettings, log: Log) -> None:
        self.digest = digest
        self.name = digest.list_name
        self.conf = conf
        self.now = digest.now()
        self.log = log
        self.built: dict[tuple[str, str], Report] = {}  # the last complete week, built now

    def complete_weeks(self) -> list[str]:
        """Weeks with mail that ended before `now`, from `since` on."""
        first = _first_week(self.conf)
        return [
            label
            for label in self.digest.weeks_with_mail()
            if self.digest.window(label).end <= self.now and (first is None or label >= first)
        ]

    def write_complete(self, result: ListRun) -> None:
        """Report every finished week (and language) that has no report file yet; every
        one of them again when the settings that shape a report changed since the last
        run (`report_key`: people, subsystems, trust rules, time zone...)."""
        reports = self.conf.reports_dir
        last = self.digest.last_complete_week().label
        key = report_key(self.digest.settings)
        known = _read_key(self.conf.output)
        again = known not in (None, key)
        if again:
            self.log(f"{self.name}: report settings changed: every week is written again")
        for label in self.complete_weeks():
            todo = [
                lang
                for lang in self.conf.languages
                if again or not is_reported(reports, self.name, label, lang)
            ]
            for lang in todo:
                report = self.digest.week(label, lang=lang)
                result.files += write_report(report, reports, FORMATS)
                if label == last:
                    self.built[(label, lang)] = report
            if todo:
                result.reported_weeks.append(label)
                self.log(f"{self.name}: reported {label} ({', '.join(todo)})")
        if known != key:  # only once every week is written
            write_atomic(self.conf.output / REPORTS_KEY_FILE, json.dumps({"key": key}) + "\n")

    def write_current(self, result: ListRun) -> None:
        """Refresh the week in progress under its own name; drop older in-progress files."""
        current = self.digest.current_week()
        first = _first_week(self.conf)
        if first is None or current.label >= first:
            for lang in self.conf.languages:
                report = self.digest.week(current, lang=lang)
                result.files += write_in_progress(report, self.conf.reports_dir, self.now)
            result.current_week = current.label
        remove_stale_in_progress(self.conf.reports_dir, self.name, current.label)

    def site(self, result: ListRun) -> None:
        """Update the HTML site: the same weeks, in the same zone, as the reports."""
        from lore_digest.site.build import build_site

        if self.digest.date_range() is None:
            return  # no mail yet: no site
        first = _first_week(self.conf)  # `since`: the site starts where the reports do
        weeks = None if first is None else [w for w in self.digest.weeks_with_mail() if w >= first]
        if weeks == []:
            return  # no mail since `since` yet
        built = build_site(self.digest, self.conf.site_dir, langs=self.conf.languages, weeks=weeks)
        result.site_index = built.index
        result.site_files_written = len(built.written)

    def mail(
        self,
        result: ListRun,
        smtp: SmtpSettings,
        password: str | None,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        """Mail the newly completed week once, in the list's first language."""
        window = self.digest.last_complete_week()
        label = window.label
        state = load_state(self.conf.output, self.name)
        if label in state["mailed"]:
            return
        first = _first_week(self.conf)
        if first is not None and label < first:
            return
        if not self.digest.has_mail(window):
            result.mail_note = f"{label} has no mail: nothing to send"
            return
        lang = self.conf.languages[0]
        report = self.built.get((label, lang)) or self.digest.week(window, lang=lang)
        partial: PartialDelivery | None = None
        try:
            message_id = send_digest(
                report,
                to=self.conf.recipients,
                smtp=smtp,
                password=password,
                now=self.now,
                ssl_context=ssl_context,
            )
        except PartialDelivery as exc:  # sent to some: sending again would duplicate it
            partial, message_id = exc, exc.message_id
        state["mailed"][label] = {
            "message_id": message_id,
            "to": list(self.conf.recipients),
            "sent_at": self.now.isoformat(),
        }
        save_state(self.conf.output, state)
        result.mailed_week, result.message_id = label, message_id
        self.log(f"{self.name}: mailed {label} to {', '.join(self.conf.recipients)}")
        if partial is not None:
            raise partial

    def notify(self, result: ListRun, channels: Mapping[str, ChannelSettings]) -> None:
        """Post the newly completed week to each of the list's channels, once (each
        channel's failure is its own error line; the others still get the week)."""
        from lore_digest.channels.notify import is_sent, notify_week

        window = self.digest.last_complete_week()
        label = window.label
        first = _first_week(self.conf)
        if (first is not None and label < first) or not self.digest.has_mail(window):
            return
        todo = {
            name: channels[name]
            for name in self.conf.channels
            if not is_sent(self.conf.output, self.name, name, label)
        }
        if not todo:
            return
        outcomes = notify_week(
            self.digest,
            label,
            todo,
            self.conf.output,
            default_lang=self.conf.languages[0],
            now=self.now,
        )
        for outcome in outcomes:
            if outcome.error is not None:
                result.errors.append(f"notify: {outcome.error}")
                self.log(f"{self.name}: notify failed: {outcome.error}")
            else:
                result.notified.append(f"{outcome.channel} {label}")
                self.log(f"{self.name}: posted {label} to {outcome.channel}")


def _error_text(exc: Exception) -> str:
    """User errors as their message; anything else with its type (it is a bug)."""
    if isinstance(exc, LoreDigestError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def run_list(
    store: Store,
    name: str,
    conf: ListSettings,
    settings: Settings,
    *,
    now: datetime,
    log: Log,
    password: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    progress: Progress | None = None,
) -> ListRun:
    """One list: sync → reports → site → mail → chat channels. A failed sync or report step ends the list
    (reports from half-synced mail would be frozen as final); site and mail are independent."""
    result = ListRun(name=name, source=conf.source_kind)

    def failed(step: str, exc: Exception) -> None:
        result.errors.append(f"{step}: {_error_text(exc)}")
        log(f"{name}: {step} failed: {_error_text(exc)}")

    try:
        report_sync = (lambda d, t: progress(f"{name}: sync", d, t)) if progress else None
        result.synced = sync_list(store, name, conf, report_sync)
        log(f"{name}: {plural(int(result.synced.get('new', 0) or 0), 'new mail')}")
    except Exception as exc:
        failed("sync", exc)
        return result
    try:
        with Digest(store, name, DigestSettings.for_list(settings, name, now=now)) as digest:
            job = _ListJob(digest, conf, log)
            try:
                job.write_complete(result)
                job.write_current(result)
            except Exception as exc:
                failed("report", exc)
                return result
            try:
                job.site(result)
            except Exception as exc:
                failed("site", exc)
            for line in dict.fromkeys(digest.warnings):
                log(f"{name}: {line}")
            if conf.recipients and settings.smtp is not None:
                try:
                    job.mail(result, settings.smtp, password, ssl_context)
                except Exception as exc:
                    failed("mail", exc)
            if conf.channels:
                try:
                    job.notify(result, settings.channels)
                except Exception as exc:
                    failed("notify", exc)
    except Exception as exc:
        failed("report", exc)
    return result


def _run_lists(
    store: Store,
    chosen: dict[str, ListSettings],
    settings: Settings,
    now: datetime,
    log: Log,
    password: str | None,
    ssl_context: ssl.SSLContext | None,
    progress: Progress | None,
) -> list[ListRun]:
    return [
        run_list(
            store,
            name,
            conf,
            settings,
            now=now,
            log=log,
            password=password,
            ssl_context=ssl_context,
            progress=progress,
        )
        for name, conf in chosen.items()
    ]


def store_groups(chosen: Mapping[str, ListSettings], shared: Path) -> dict[Path, list[str]]:
    """The lists of each store, in config order: a list's own `db`, else the shared one."""
    groups: dict[Path, list[str]] = {}
    for name, conf in chosen.items():
        groups.setdefault(conf.db if conf.db is not None else shared, []).append(name)
    return groups


def _run_group(
    path: Path,
    chosen: dict[str, ListSettings],
    settings: Settings,
    now: datetime,
    log: Log,
    password: str | None,
    ssl_context: ssl.SSLContext | None,
    progress: Progress | None,
    lock_wait: float | None,
    on_lock_wait: Log | None = None,
) -> list[ListRun]:
    """The lists of one store, one after the other, under the store's run lock (a lock
    held elsewhere, or a store that cannot be opened, fails these lists only)."""
    try:
        with contextlib.ExitStack() as stack:
            if lock_wait is not None:
                stack.enter_context(store_lock(path, wait=lock_wait, on_wait=on_lock_wait or log))
            store = stack.enter_context(Store.open(path))
            return _run_lists(store, chosen, settings, now, log, password, ssl_context, progress)
    except LoreDigestError as exc:
        for name in chosen:
            log(f"{name}: store failed: {exc}")
        return [
            ListRun(name=name, source=conf.source_kind, errors=[f"store: {exc}"])
            for name, conf in chosen.items()
        ]


def _with_trust(settings: Settings, maintainers: Path | None, trees: tuple[str, ...]) -> Settings:
    """The settings with every list's MAINTAINERS file and trees replaced, when given."""
    update: dict[str, Any] = {}
    if maintainers is not None:
        update["maintainers"] = maintainers.resolve()
    if trees:
        update["trees"] = list(trees)
    if not update:
        return settings
    lists = {name: conf.model_copy(update=update) for name, conf in settings.lists.items()}
    return settings.model_copy(update={"lists": lists})


def _group_task(
    path: Path,
    chosen: dict[str, ListSettings],
    settings: Settings,
    now: datetime,
    password: str | None,
    lock_wait: float | None,
    with_progress: bool,
) -> list[ListRun]:
    """One store's lists in a worker process of `run --jobs N` (lines go to the parent)."""
    from lore_digest.jobs import worker_log, worker_progress

    progress = worker_progress if with_progress else None
    return _run_group(path, chosen, settings, now, worker_log, password, None, progress, lock_wait)


def _failed_group(args: tuple[object, ...], reason: str) -> list[ListRun]:
    """Every list of a task whose worker process failed, with the reason."""
    chosen: dict[str, ListSettings] = args[1]  # type: ignore[assignment]
    return [
        ListRun(name=name, source=conf.source_kind, errors=[f"run: {reason}"])
        for name, conf in chosen.items()
    ]


def run_all(
    settings: Settings,
    store: Store | Path,
    *,
    now: datetime | None = None,
    lists: Iterable[str] | None = None,
    log: Log | None = None,
    password: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    progress: Progress | None = None,
    maintainers: Path | None = None,
    trees: Sequence[str] = (),
    jobs: int = 1,
    llm_limit: int | None = None,
    lock_wait: float | None = None,
    on_lock_wait: Log | None = None,
) -> RunSummary:
    """Run every configured list (or only `lists`); see the module docstring.

    `store` is an open Store (every list in it, one after the other) or the path of the
    shared store: each list then uses its own `db` if configured, else that one, each
    store opened here and, with `lock_wait` (seconds), held under its run lock
    (`on_lock_wait` hears at once whom it waits for). With `jobs` > 1 the stores' lists
    run in up to `jobs` worker processes at once (lists of one store in sequence, in
    one process), all LLM requests together at most `llm_limit` in flight (default:
    the [summarizer] concurrency); `ssl_context` is not passed to them (system CAs).
    `now` fixes the clock (tests; default: the current time). `log` receives one line
    per event, `progress` the sync's advance (label, done, total).
    `password`/`ssl_context` are for SMTP (default: $LORE_DIGEST_SMTP_PASSWORD, system CAs).
    `maintainers`/`trees` (the command line's) replace every list's configured ones.
    Raises only for a usage error before any list ran (an unknown name in `lists`).
    """
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    emit: Log = log or (lambda line: None)
    settings = _with_trust(settings, maintainers, tuple(trees))
    chosen = settings.select(tuple(lists) if lists is not None else None)
    summary = RunSummary(now=moment, started_at=datetime.now(UTC))
    if not chosen:
        emit("no [lists.NAME] table in the config: nothing to do")
    if isinstance(store, Store):
        runs = _run_lists(store, chosen, settings, moment, emit, password, ssl_context, progress)
    else:
        groups = [
            (path, {n: chosen[n] for n in names})
            for path, names in store_groups(chosen, store).items()
        ]
        if jobs > 1 and len(groups) > 1:
            from lore_digest.jobs import run_in_processes

            calls: list[tuple[object, ...]] = [
                (path, mine, settings, moment, password, lock_wait, progress is not None)
                for path, mine in groups
            ]
            done = run_in_processes(
                _group_task,
                calls,
                jobs=jobs,
                llm_limit=llm_limit or settings.summarizer.concurrency,
                failed=_failed_group,
                log=emit,
                progress=progress,
            )
        else:
            done = [
                _run_group(
                    path,
                    mine,
                    settings,
                    moment,
                    emit,
                    password,
                    ssl_context,
                    progress,
                    lock_wait,
                    on_lock_wait or emit,
                )
                for path, mine in groups
            ]
        order = list(chosen)
        runs = sorted((r for group in done for r in group), key=lambda r: order.index(r.name))
    summary.lists = runs
    summary.finished_at = datetime.now(UTC)
    return summary
