"""The one way to get a week of a list: `Digest(store, list_name, settings).week(label)`.

Every output — the Markdown and JSON reports, the HTML site, the mailed digest, `run`
and the demo — asks a Digest for its weeks and then only renders or delivers the
`Report` it gets. The Digest owns the three things that made outputs disagree when
each command wired the pipeline itself:

- the window rule: a week label means Monday 00:00 to Monday 00:00 in the list's time
  zone (default UTC), in every output;
- the summariser: made once from the settings, shared by every week it builds, closed
  once when the Digest is (it is a context manager);
- the facts: one report builder, whose revision index is built once per Digest.

    with Digest(store, "kvmarm", DigestSettings(tz="Asia/Shanghai")) as digest:
        report = digest.week("2022-W19", lang="en")
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Self

from lore_digest.errors import UsageError
from lore_digest.facts.maintainers_history import MaintainersHistory, source_identity
from lore_digest.facts.revisions import RevisionIndex
from lore_digest.facts.week import (
    Window,
    date_window,
    get_zone,
    iso_week_window,
    last_complete_week,
    week_of,
    week_window_of,
)
from lore_digest.report.build import ReportBuilder
from lore_digest.report.model import Report
from lore_digest.settings import BRIEF_OVER, Settings, SummarizerSettings
from lore_digest.store.db import ListInfo, Store
from lore_digest.summarize.base import BatchWait, Summarizer
from lore_digest.summarize.factory import make_summarizer
from lore_digest.vocabulary import DEFAULT_LANGUAGE, check_list_name

__all__ = ["Digest", "DigestSettings", "WeekSpec"]

# Reports a Digest keeps for the same week asked again (a week's languages, the current
# week, the newest complete one): `run` reports them, then the site shows them.
REPORTS_KEPT: Final = 8

WeekSpec = str | Window
"""An ISO week label ("2022-W19"), or a Window already made (explicit dates)."""


@dataclass(frozen=True, slots=True)
class DigestSettings:
    """How a list's weeks are made: its time zone, who writes the prose, the clock."""

    tz: str = "UTC"
    summarizer: SummarizerSettings = field(default_factory=SummarizerSettings)
    now: datetime | None = None  # fixes the clock (tests, `run`); None: the real time
    maintainers: Path | None = None  # MAINTAINERS file: who may apply (else learned)
    # Other projects' MAINTAINERS files by project ("kvm-unit-tests", "qemu"), in order.
    project_maintainers: tuple[tuple[str, Path], ...] = ()
    trees: tuple[str, ...] = ()  # maintainer trees where merges are confirmed
    tree_grace_days: int = 14  # "applied" in mail but in no tree after this: flagged
    stable_waits: bool = False  # stable/AUTOSEL postings may be "waiting for review"
    # Subsystem names by path patterns ({"VGIC": ("arch/arm64/kvm/vgic/",)}); empty:
    # the MAINTAINERS sections, else directories (facts.subsystems).
    path_groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    subsystems: tuple[str, ...] = ()  # only threads touching these (facts.subsystems.matches)
    people: tuple[str, ...] = ()  # addresses whose view of the week opens it (report.people)
    other_projects: tuple[str, ...] | None = None  # the list's other-project prefixes
    detail: str = "auto"  # "full" | "brief" | "auto": brief above brief_over mails a week
    brief_over: int = BRIEF_OVER

    def fact_inputs(self) -> list[Any]:
        """What, besides the mail and the code, decides what a week shows, as JSON
        values: a change of any of them makes the site and `run` render every week
        again (the MAINTAINERS file by its content too: an edit changes who may apply)."""
        projects = [[name, *_file_identity(path)] for name, path in self.project_maintainers]
        return [
            self.tz,
            *_file_identity(self.maintainers),
            # only when set: a list without other projects' files keeps its report key
            *([projects] if projects else []),
            list(self.trees),
            self.tree_grace_days,
            self.stable_waits,
            list(self.people),
            list(self.subsystems),
            {name: list(paths) for name, paths in sorted(self.path_groups.items())},
            None if self.other_projects is None else list(self.other_projects),
        ]

    @classmethod
    def for_list(
        cls,
        settings: Settings,
        list_name: str,
        *,
        tz: str | None = None,
        summarizer: Mapping[str, Any] | None = None,
        now: datetime | None = None,
        maintainers: Path | None = None,
        trees: Iterable[str] = (),
        subsystems: Iterable[str] = (),
        people: Iterable[str] = (),
        detail: str | None = None,
    ) -> DigestSettings:
        """The list's settings from the config file, with command-line overrides.

        `tz` None means the list's `timezone` (else UTC); `summarizer` holds the keys of
        [summarizer] given on the command line (None values are ignored); `maintainers`,
        `trees`, `subsystems` and `people` given on the command line replace the list's.
        """
        listed = settings.lists.get(list_name)
        zone = tz if tz is not None else (listed.timezone if listed is not None else "UTC")
        get_zone(zone)  # a typo is a one-line error here, not later
        chosen = settings.summarizer_for(list_name)
        overrides = {k: v for k, v in (summarizer or {}).items() if v is not None}
        if overrides:
            chosen = chosen.model_copy(update=overrides)
        given_trees = tuple(trees)
        given_subsystems = tuple(s for s in subsystems if s.strip())
        given_people = tuple(p for p in people if p.strip())
        return cls(
            tz=zone,
            summarizer=chosen,
            now=now,
            maintainers=maintainers or (listed.maintainers if listed is not None else None),
            project_maintainers=(
                tuple(listed.project_maintainers.items()) if listed is not None else ()
            ),
            trees=given_trees or (tuple(listed.trees) if listed is not None else ()),
            tree_grace_days=listed.tree_grace_days if listed is not None else 14,
            stable_waits=listed.stable_waits if listed is not None else False,
            path_groups=(
                {name: tuple(paths) for name, paths in listed.path_groups.items()}
                if listed is not None
                else {}
            ),
            subsystems=given_subsystems or (tuple(listed.subsystems) if listed is not None else ()),
            people=given_people or (tuple(listed.people) if listed is not None else ()),
            other_projects=(
                tuple(listed.other_projects)
                if listed is not None and listed.other_projects is not None
                else None
            ),
            detail=detail or (listed.detail if listed is not None else "auto"),
            brief_over=listed.brief_over if listed is not None else BRIEF_OVER,
        )


def _file_identity(path: Path | None) -> list[str | None]:
    """A MAINTAINERS source's path and content hash (None, None without one): an edit,
    or a new commit of a repository read for its history, changes facts."""
    return source_identity(path) if path is not None else [None, None]


class Digest:
    """One list of one store, its weeks made the same way for every output."""

    def __init__(
        self, store: Store, list_name: str, settings: DigestSettings | None = None
    ) -> None:
        self.settings = settings or DigestSettings()
        get_zone(self.settings.tz)
        self.store = store
        maintainers = (
            MaintainersHistory.load(self.settings.maintainers)
            if self.settings.maintainers
            else None
        )
        projects = {
            name: MaintainersHistory.load(path) for name, path in self.settings.project_maintainers
        }
        self._builder = ReportBuilder(  # UsageError for an unknown list
            store,
            list_name,
            maintainers,
            projects=projects,
            stable_waits=self.settings.stable_waits,
            grace_days=self.settings.tree_grace_days,
            path_groups=self.settings.path_groups,
            other_projects=self.settings.other_projects,
        )
        self.warnings: list[str] = []  # said at the terminal: a tree that could not be fetched
        self._trees_ready = not self.settings.trees
        try:
            check_list_name(list_name)
        except ValueError as exc:
            raise UsageError(f"{exc}; remove it with `lore-digest lists --remove`") from None
        self._summarizer: Summarizer | None = None
        self._closed = False
        self.fallbacks: Counter[str] = Counter()  # why summaries fell back to the offline one
        self.say: Callable[[str], None] = lambda _line: None  # progress lines (batches)
        self.batch_resume = False  # --resume: collect recorded batches, submit none first
        # Reports made, by (window, language, the list's mail state): see `week`.
        self._made: OrderedDict[tuple[Window, str, tuple[int, int]], Report] = OrderedDict()

    # -- lifetime ---------------------------------------------------------------------

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the summariser (an LLM client's connections), once."""
        if self._summarizer is not None and not self._closed:
            self._summarizer.close()
        self._closed = True

    # -- what it is -------------------------------------------------------------------

    @property
    def info(self) -> ListInfo:
        """The list as the store knows it (id, name, archive URL, source)."""
        return self._builder.info

    @property
    def list_name(self) -> str:
        """The list's name."""
        return self._builder.info.name

    @property
    def tz(self) -> str:
        """The IANA time zone every window of this Digest is in."""
        return self.settings.tz

    @property
    def summarizer(self) -> Summarizer:
        """The summariser, made on first use from the settings (not after `close`)."""
        if self._closed:
            raise RuntimeError("this Digest is closed: open a new one")
        if self._summarizer is None:
            conf = self.settings.summarizer
            self._summarizer = make_summarizer(
                conf.backend,
                store=self.store,
                list_id=self.info.id,
                model=conf.model,
                base_url=conf.base_url,
                timeout=conf.timeout,
                concurrency=conf.concurrency,
                budget_tokens=conf.budget_tokens,
                max_tokens_run=conf.max_tokens_run,
                fallback=conf.fallback == "offline",
                batch=BatchWait(
                    conf.batch_wait,
                    conf.batch_poll,
                    say=lambda line: self.say(line),
                    resume=self.batch_resume,
                )
                if conf.batch
                else None,
            )
        return self._summarizer

    @property
    def revisions(self) -> RevisionIndex:
        """The list's revision index (built once per Digest)."""
        return self._builder.revisions

    def now(self) -> datetime:
        """The clock the Digest reasons with (fixed by the settings, else the real time)."""
        return (self.settings.now or datetime.now(UTC)).astimezone(UTC)

    # -- windows: the one rule ---------------------------------------------------------

    def window(self, spec: WeekSpec) -> Window:
        """The window of a week label, in the Digest's time zone (a Window is kept)."""
        return spec if isinstance(spec, Window) else iso_week_window(spec, self.tz)

    def dates(self, since: str, until: str) -> Window:
        """The window of two dates (inclusive), in the Digest's time zone."""
        return date_window(since, until, self.tz)

    def week_of(self, moment: datetime | int) -> str:
        """The ISO week label of a moment (a datetime or a Unix time) in the time zone."""
        if isinstance(moment, int):
            moment = datetime.fromtimestamp(moment, UTC)
        return week_of(moment, self.tz)

    def week_start_utc(self, utc: int) -> int:
        """Unix time of the Monday 00:00 (in the time zone) that starts utc's week."""
        return week_window_of(datetime.fromtimestamp(utc, UTC), self.tz).start_utc

    def last_complete_week(self) -> Window:
        """The most recent week that has ended at `now`."""
        return last_complete_week(self.now(), self.tz)

    def current_week(self) -> Window:
        """The week in progress at `now`."""
        return week_window_of(self.now(), self.tz)

    def weeks_with_mail(self) -> list[str]:
        """Every week (in the time zone) with at least one mail, oldest first: one index
        probe per week from the first mail's to the last's, not a read of every date."""
        span = self.store.date_range(self.info.id)
        if span is None:
            return []
        weeks: list[str] = []
        window = week_window_of(datetime.fromtimestamp(span[0], UTC), self.tz)
        while window.start_utc <= span[1]:
            if self.store.has_mail_between(self.info.id, window.start_utc, window.end_utc):
                weeks.append(window.label)
            window = week_window_of(datetime.fromtimestamp(window.end_utc, UTC), self.tz)
        return weeks

    def has_mail(self, window: Window) -> bool:
        """Whether any mail of the list is dated inside `window`."""
        return self.store.count_between(self.info.id, window.start_utc, window.end_utc) > 0

    def date_range(self) -> tuple[datetime, datetime] | None:
        """First and last mail of the list (by Date), in the time zone; None when empty."""
        span = self.store.date_range(self.info.id)
        if span is None:
            return None
        zone = get_zone(self.tz)
        return datetime.fromtimestamp(span[0], zone), datetime.fromtimestamp(span[1], zone)

    # -- reports ------------------------------------------------------------------------

    def _prepare_trees(self) -> None:
        """Fetch the configured trees once per Digest and index their new commits.

        A tree that cannot be fetched (offline, a typo) is a warning, not a failed
        report: what was fetched before is used, or the tree is left out.
        """
        if self._trees_ready:
            return
        self._trees_ready = True
        from lore_digest.config import cache_dir
        from lore_digest.trees.matcher import TreeMatcher

        span = self.store.date_range(self.info.id)
        matcher = TreeMatcher(
            self.store,
            cache_dir(),
            self.settings.trees,
            since_utc=span[0] - 365 * 86400 if span else None,
        )
        self.warnings.extend(matcher.update_each())
        if matcher.trees:
            self._builder.matcher = matcher

    def tree_tips(self) -> dict[str, str]:
        """The configured trees' tips after this Digest fetched them (label → commit).

        What a site keys its pages on: a tree that moved may have merged any week's series.
        """
        self._prepare_trees()
        matcher = self._builder.matcher
        return matcher.tips() if matcher is not None else {}

    def week(
        self,
        spec: WeekSpec,
        *,
        lang: str = DEFAULT_LANGUAGE,
        progress: Callable[[int, int], None] | None = None,
    ) -> Report:
        """The report of one week (or window): facts, then the summariser's prose.

        A report made before in this Digest's life is returned again while the list's
        mail has not changed (no new mail, no thread move): `run` reports a week and
        then puts the same week on the site, and builds it once (REPORTS_KEPT kept).
        """
        window = self.window(spec)
        list_id = self.info.id
        # New mail reaches reports once threaded (sync threads what it stored).
        state = (self.store.threaded_pk(list_id), self.store.last_move(list_id))
        key = (window, lang, state)
        kept = self._made.get(key)
        if kept is not None:
            self._made.move_to_end(key)
            return kept
        report = self._build(window, lang, progress)
        self._made[key] = report
        while len(self._made) > REPORTS_KEPT:
            self._made.popitem(last=False)
        return report

    def _build(
        self, window: Window, lang: str, progress: Callable[[int, int], None] | None
    ) -> Report:
        self._prepare_trees()
        report = self._builder.build(
            window,
            lang=lang,
            now=self.now(),
            summarizer=self.summarizer,
            progress=progress,
            subsystems=self.settings.subsystems,
            people=self.settings.people,
        )
        detail = self.settings.detail
        if detail == "auto":
            detail = "brief" if report.stats.messages > self.settings.brief_over else "full"
        report.detail = detail
        for thread in report.threads:
            if thread.summary is not None and thread.summary.note:
                self.fallbacks[thread.summary.note] += 1
        for line in self.summarizer.notices:
            if line not in self.warnings:
                self.warnings.append(line)
        return report

    def weeks(self, specs: Iterable[WeekSpec], langs: Iterable[str]) -> Iterator[Report]:
        """Reports of several weeks, each in every language, week by week."""
        chosen = tuple(langs)
        for spec in specs:
            for lang in chosen:
                yield self.week(spec, lang=lang)
