"""LLM summaries on top of the facts: cached, concurrent, budgeted, loud when broken.

For each thread the prompt plan (facts JSON + labelled mail) goes to the model; the
answer must be the structured JSON of `schema.LLMSummary` citing real mail. Anything
else for one thread — invalid output twice, a timeout after retries, the run's token
budget spent — leaves the offline summary in place with a one-line note. A service that
cannot work at all (credentials refused, nothing listening, no such model: see
`clients.is_fatal`) is found by the first request, sent alone before the others: then
no more requests are made, and the report fails with one line (`LLMUnavailable`) unless
the settings chose the offline fallback, which is then said once (`notices`). Each
finished summary is cached in the store at once, so Ctrl-C or a crash loses nothing.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from typing import Self

from lore_digest.errors import LoreDigestError
from lore_digest.facts.model import MailFacts
from lore_digest.model import Summary, Thread
from lore_digest.store.db import Store
from lore_digest.summarize.base import BatchWait, Progress, ThreadMail
from lore_digest.summarize.batch import BatchPending, BatchRounds, batch_api, request_key
from lore_digest.summarize.clients import ChatClient, ChatRequest, LLMError, is_fatal
from lore_digest.summarize.guard import GuardFacts, failures, guard_facts, guard_summary
from lore_digest.summarize.offline import summarize_thread
from lore_digest.summarize.prompt import (
    PROMPT_VERSION,
    Prompt,
    PromptPlan,
    build_plan,
    history_plan,
    retry_prompt,
)
from lore_digest.summarize.schema import (
    LLMSummary,
    OutputError,
    parse_output,
    summary_json,
    to_summary,
)
from lore_digest.summarize.serialize import summary_from_dict, summary_to_dict

DEFAULT_CONCURRENCY = 4
DEFAULT_BUDGET_TOKENS = 12_000
MAX_OUTPUT_TOKENS = 1500
GUARD_LISTED = 8  # failed sentences quoted in the re-ask

Conversation = Generator[list[Prompt], list[str], Summary]
"""One thread's requests, step by step: yields a step's prompts, is sent their answers'
texts (in order), returns the summary."""

NOTES = {
    "zh": {
        "budget": "本次运行的 token 预算已用完，此处为事实摘要。",
        "invalid": "模型两次输出无效，此处为事实摘要。",
        "timeout": "模型请求超时，此处为事实摘要。",
        "rate_limited": "模型服务限流，此处为事实摘要。",
        "server": "模型服务出错，此处为事实摘要。",
        "auth": "模型服务认证失败，此处为事实摘要。",
        "client": "模型服务拒绝了请求，此处为事实摘要。",
        "invalid_response": "模型服务返回了无法解析的响应，此处为事实摘要。",
        "unreachable": "无法连接模型服务，此处为事实摘要。",
        "guard": "模型的句子均未通过事实核对，此处为事实摘要。",
    },
    "en": {
        "budget": "The token budget of this run was spent; facts-only summary shown.",
        "invalid": "The model answered with invalid output twice; facts-only summary shown.",
        "timeout": "The model timed out; facts-only summary shown.",
        "rate_limited": "The model service was rate-limited; facts-only summary shown.",
        "server": "The model service failed; facts-only summary shown.",
        "auth": "The model service refused the credentials; facts-only summary shown.",
        "client": "The model service rejected the request; facts-only summary shown.",
        "invalid_response": "The model service sent an unreadable response; facts-only summary shown.",
        "unreachable": "The model service could not be reached; facts-only summary shown.",
        "guard": "Every sentence of the model failed the fact check; facts-only summary shown.",
    },
}


@dataclass(frozen=True, slots=True)
class LLMSettings:
    """How to summarise: backend model, limits and concurrency."""

    model: str
    concurrency: int = DEFAULT_CONCURRENCY
    budget_tokens: int = DEFAULT_BUDGET_TOKENS
    max_tokens_run: int | None = None
    fallback: bool = False  # a service that cannot work: offline summaries, not an error
    batch: BatchWait | None = None  # ask through the provider's batch API (summarize.batch)


@dataclass(frozen=True, slots=True)
class _History:
    """A thread's earlier mail, to be summarised on its own first (prompt.history_plan):
    its plan, its cache key, and the week's plan that refines the answer."""

    plan: PromptPlan
    key: str
    week: Callable[[Summary], PromptPlan]


@dataclass(frozen=True, slots=True)
class _Job:
    """One thread still to ask: its plan (sent as is when there is no history step),
    the cache key of its summary, the offline fallback and the guard's facts."""

    thread: Thread
    plan: PromptPlan
    key: str
    fallback: Summary
    guard: GuardFacts
    history: _History | None = None


class LLMUnavailable(LoreDigestError):
    """The summariser cannot work at all and no fallback was chosen: one line, exit 1."""


def unusable_line(error: LLMError, *, fell_back: bool) -> str:
    """The one line that says a summariser cannot work, and what happens instead."""
    if fell_back:
        return f"{error}; every summary is the offline one (fallback = offline)"
    return (
        f"{error}; no report written (pass --fallback offline, or set fallback = "
        '"offline" under [summarizer], for facts-only summaries instead)'
    )


class _BudgetSpent(Exception):
    """The run's token budget would be exceeded by the next call."""


class RunBudget:
    """Tokens spent by this run, shared by the worker threads."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.used = 0
        self.calls = 0
        self._lock = threading.Lock()

    def reserve(self, tokens: int) -> None:
        """Account for a call before making it; raise when it would overrun the limit."""
        with self._lock:
            if self.limit is not None and self.used + tokens > self.limit:
                raise _BudgetSpent
            self.used += tokens
            self.calls += 1

    def settle(self, reserved: int, actual: int) -> None:
        """Replace a reservation by what the API reported."""
        with self._lock:
            self.used += actual - reserved


def cache_key(plan: PromptPlan, model: str, backend: str, lang: str) -> str:
    """Hash of everything that shapes the answer: prompts (mail ids, content, facts), model,
    prompt version and language. Identical input → identical key → zero calls."""
    prompts = [plan.single] if plan.single is not None else list(plan.parts)
    material = {
        "version": PROMPT_VERSION,
        "model": model,
        "backend": backend,
        "lang": lang,
        "prompts": [[p.system, p.user, sorted(p.labels.items())] for p in prompts if p is not None],
    }
    return hashlib.sha256(
        json.dumps(material, ensure_ascii=False, sort_keys=True).encode()
    ).hexdigest()


class LLMSummarizer:
    """Summarises report threads with one chat client; see the module docstring.

    A `summarize.base.Summarizer`: the offline summary of each thread is computed first,
    as the fallback for a thread the model cannot do.
    """

    def __init__(
        self, client: ChatClient, settings: LLMSettings, store: Store, list_id: int
    ) -> None:
        self.client = client
        self.settings = settings
        self.name = settings.model
        self.store = store
        self.list_id = list_id
        self.budget = RunBudget(settings.max_tokens_run)
        self.cache_hits = 0
        self.notices: list[str] = []  # said once at the terminal (the fallback chosen)
        self.unusable: LLMError | None = None  # set by the first fatal error
        self._store_lock = threading.Lock()
        self._closed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the client's connection pool, once."""
        if not self._closed:
            self._closed = True
            self.client.close()

    def summarize(
        self,
        threads: Sequence[ThreadMail],
        *,
        lang: str,
        window_start_utc: int,
        progress: Progress | None = None,
    ) -> dict[str, Summary]:
        """LLM summary (or the offline one with a note) per thread id."""
        jobs: list[_Job] = []
        results: dict[str, Summary] = {}
        for thread, mails in threads:
            job = self._job(thread, mails, lang, window_start_utc)
            cached = self.store.cached_summary(job.key)
            if cached is not None:
                self.cache_hits += 1
                results[thread.id] = summary_from_dict(json.loads(cached))
            else:
                jobs.append(job)
        done = len(results)
        total = len(threads)
        if progress:
            progress(done, total)
        if self.settings.batch is not None:
            results.update(self._summarize_batch(jobs, lang, self.settings.batch, progress, total))
            self._check_usable()
            return results
        if jobs and self.unusable is None:
            # The first request goes alone: a service that cannot work is known in the
            # time of one call, not after every worker has waited out its own.
            job = jobs.pop(0)
            results[job.thread.id] = self._summarize_one(job, lang)
            done += 1
            if progress:
                progress(done, total)
        self._check_usable()
        with ThreadPoolExecutor(max_workers=max(1, self.settings.concurrency)) as pool:
            futures = {pool.submit(self._summarize_one, job, lang): job.thread for job in jobs}
            try:
                for future in as_completed(futures):
                    thread = futures[future]
                    results[thread.id] = future.result()
                    done += 1
                    if progress:
                        progress(done, total)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        self._check_usable()
        return results

    def _check_usable(self) -> None:
        """Raise LLMUnavailable once a fatal error was met, unless falling back (said once)."""
        if self.unusable is None:
            return
        if not self.settings.fallback:
            raise LLMUnavailable(unusable_line(self.unusable, fell_back=False))
        line = unusable_line(self.unusable, fell_back=True)
        if line not in self.notices:
            self.notices.append(line)

    def remember(
        self, label: str, lang: str, end_utc: int, summaries: Mapping[str, Summary]
    ) -> None:
        """Keep this report's LLM summaries as next week's starting point."""
        rows = [
            (root, json.dumps(summary_to_dict(s), ensure_ascii=False))
            for root, s in sorted(summaries.items())
            if s.source == "llm"
        ]
        if rows:
            with self._store_lock:
                self.store.save_report_summaries(self.list_id, label, lang, end_utc, rows)

    def _previous(self, root: str, lang: str, before_utc: int) -> Summary | None:
        text = self.store.previous_summary(self.list_id, root, lang, before_utc)
        return summary_from_dict(json.loads(text)) if text else None

    def _job(
        self, thread: Thread, mails: Sequence[MailFacts], lang: str, window_start_utc: int
    ) -> _Job:
        """What one thread's summary takes: with last week's summary, one plan that
        refines it; without one, and with much earlier mail, a summary of the earlier
        mail first (cached on its own, so it is asked once), which the week's plan then
        refines the same way. The summary's cache key is that of the plan carrying the
        earlier mail itself: a deterministic function of the input either way."""
        fallback = summarize_thread(thread, mails, lang)
        guard = guard_facts(thread, mails)
        budget = self.settings.budget_tokens
        previous = self._previous(thread.id, lang, window_start_utc)
        plan = build_plan(thread, mails, lang=lang, previous=previous, budget_tokens=budget)
        key = cache_key(plan, self.settings.model, self.client.name, lang)
        past = (
            history_plan(thread, mails, lang=lang, budget_tokens=budget)
            if previous is None
            else None
        )
        if past is None:
            return _Job(thread, plan, key, fallback, guard)

        def week(earlier: Summary) -> PromptPlan:
            return build_plan(thread, mails, lang=lang, previous=earlier, budget_tokens=budget)

        history_key = cache_key(past, self.settings.model, self.client.name, lang)
        cached = self.store.cached_summary(history_key)
        if cached is not None:
            return _Job(thread, week(summary_from_dict(json.loads(cached))), key, fallback, guard)
        return _Job(thread, plan, key, fallback, guard, _History(past, history_key, week))

    def _job_conversation(self, job: _Job, lang: str) -> Conversation:
        """The job's requests: the earlier mail's summary first when it has one to ask
        (cached as soon as it is checked), then the week's plan refining it. An earlier
        summary that cannot be had (invalid twice, every sentence dropped) leaves the
        earlier mail in the week's prompt, as without this step."""
        plan = job.plan
        if job.history is not None:
            try:
                earlier = yield from self.conversation(job.history.plan, lang, job.guard)
            except OutputError:
                earlier = None
            if earlier is not None and (earlier.original or earlier.history or earlier.this_week):
                self._cache(job.history.key, earlier)
                plan = job.history.week(earlier)
        return (yield from self.conversation(plan, lang, job.guard))

    def _summarize_one(self, job: _Job, lang: str) -> Summary:
        broken = self.unusable
        if broken is not None:  # no request can succeed: do not make one
            return replace(job.fallback, note=NOTES[lang].get(broken.kind, NOTES[lang]["server"]))
        try:
            summary = self._run(self._job_conversation(job, lang))
        except (_BudgetSpent, OutputError, LLMError) as exc:
            return self._fell_back(exc, lang, job.fallback)
        return self._accept(summary, job.key, lang, job.fallback)

    def _fell_back(self, exc: Exception, lang: str, fallback: Summary) -> Summary:
        """The offline summary, with the note that says why the model's is missing."""
        if isinstance(exc, _BudgetSpent):
            return replace(fallback, note=NOTES[lang]["budget"])
        if isinstance(exc, LLMError):
            if is_fatal(exc) and self.unusable is None:
                self.unusable = exc
            return replace(fallback, note=NOTES[lang].get(exc.kind, NOTES[lang]["server"]))
        return replace(fallback, note=NOTES[lang]["invalid"])

    def _accept(self, summary: Summary, key: str, lang: str, fallback: Summary) -> Summary:
        """A checked summary, cached at once; one the guard emptied is the offline one."""
        if not (summary.original or summary.history or summary.this_week):
            return replace(fallback, note=NOTES[lang]["guard"], checks=summary.checks)
        self._cache(key, summary)
        return summary

    def _cache(self, key: str, summary: Summary) -> None:
        with self._store_lock:
            self.store.cache_summary(
                key,
                self.settings.model,
                int(time.time()),
                json.dumps(summary_to_dict(summary), ensure_ascii=False),
            )

    def _summarize_batch(
        self,
        jobs: Sequence[_Job],
        lang: str,
        wait: BatchWait,
        progress: Progress | None,
        total: int,
    ) -> dict[str, Summary]:
        """Every job's conversation through the batch API, round after round (see
        summarize.batch): replayed from the stored answers, the unanswered requests
        of all threads sent as one batch per round."""
        results: dict[str, Summary] = {}
        if not jobs:
            return results
        rounds = BatchRounds(
            batch_api(self.client), self.store, self.list_id, self.settings.model, wait
        )
        started = total - len(jobs)
        active: dict[str, tuple[Conversation, list[Prompt]]] = {}
        finish = {job.thread.id: (job.key, job.fallback) for job in jobs}
        for job in jobs:
            conversation = self._job_conversation(job, lang)
            active[job.thread.id] = (conversation, next(conversation))
        while active:
            asked: dict[str, ChatRequest] = {}
            for thread_id in list(active):
                outcome = self._replay(active, thread_id, rounds, asked)
                if outcome is None:
                    continue
                key, fallback = finish[thread_id]
                if isinstance(outcome, Summary):
                    results[thread_id] = self._accept(outcome, key, lang, fallback)
                else:
                    results[thread_id] = self._fell_back(outcome, lang, fallback)
            if progress:
                progress(started + len(results), total)
            if not asked:
                break
            try:
                rounds.run(
                    asked,
                    lambda n: progress(started + len(results), total) if progress else None,
                )
            except LLMError as exc:
                if not is_fatal(exc):  # a blip: what was submitted is recorded, try later
                    raise BatchPending(
                        f"{exc}; the batches submitted so far are recorded: run the same "
                        "command again (with --resume) to go on"
                    ) from None
                for thread_id, (conversation, _prompt) in active.items():  # key refused...
                    conversation.close()
                    results[thread_id] = self._fell_back(exc, lang, finish[thread_id][1])
                break
        return results

    def _replay(
        self,
        active: dict[str, tuple[Conversation, list[Prompt]]],
        thread_id: str,
        rounds: BatchRounds,
        asked: dict[str, ChatRequest],
    ) -> Summary | Exception | None:
        """Advance one conversation through the answers known; the requests of its step
        still to ask go into `asked`. The summary or the error that ends it, or None."""
        conversation, prompts = active[thread_id]
        try:
            while True:
                answers: list[str] = []
                missing: dict[str, tuple[ChatRequest, Prompt]] = {}
                for prompt in prompts:
                    request = self.request(prompt)
                    key = request_key(self.client.name, self.client.payload(request))
                    answer = rounds.answer(key)
                    if isinstance(answer, LLMError):
                        raise answer
                    if answer is None:
                        missing[key] = (request, prompt)
                    else:
                        answers.append(answer.text)
                if missing:
                    fresh = [p for k, (_r, p) in missing.items() if k not in asked]
                    # The step's requests together: all of them are asked, or none.
                    self.budget.reserve(sum(p.input_tokens + MAX_OUTPUT_TOKENS for p in fresh))
                    for key, (request, _prompt) in missing.items():
                        asked[key] = request
                    active[thread_id] = (conversation, prompts)
                    return None
                prompts = conversation.send(answers)
        except StopIteration as finished:
            del active[thread_id]
            summary: Summary = finished.value
            return summary
        except (_BudgetSpent, OutputError, LLMError) as exc:
            del active[thread_id]
            conversation.close()
            return exc

    def _run(self, conversation: Conversation) -> Summary:
        """Answer a conversation one synchronous call at a time."""
        try:
            prompts = next(conversation)
            while True:
                prompts = conversation.send([self._call(prompt) for prompt in prompts])
        except StopIteration as finished:
            summary: Summary = finished.value
            return summary
        finally:
            conversation.close()

    def conversation(self, plan: PromptPlan, lang: str, guard: GuardFacts) -> Conversation:
        """The requests one thread's summary takes, as a generator: it yields the prompts
        of one step (those that do not wait for each other: a big thread's map parts) and
        is sent the model's texts back in order, and returns the checked summary.

        One conversation serves both ways of asking: `_run` answers each prompt at
        once, `summarize.batch` collects the steps of every thread into one batch per
        round. Map parts, the reduce, the retry of an invalid answer and the fact guard's
        re-ask are its steps.
        """
        if plan.single is not None:
            return (yield from self._checked(plan.single, lang, guard))
        partials = yield from self._asked(plan.parts)
        return (yield from self._checked(plan.reduce(partials), lang, guard))

    def _checked(self, prompt: Prompt, lang: str, guard: GuardFacts) -> Conversation:
        """The final answer, through the fact guard: sentences that fail a check are
        re-asked once with the failures listed, then those still failing are dropped."""
        (parsed,) = yield from self._asked((prompt,))
        summary = to_summary(parsed, prompt.labels, lang, self.settings.model)
        failed = failures(summary, guard)
        if not failed:
            return summary
        listed = "; ".join(f'"{c.sentence}" ({c.check}: {c.reason})' for c in failed[:GUARD_LISTED])
        why = OutputError(
            f"{len(failed)} sentence(s) contradict the facts or the mails: {listed}. "
            "Rewrite or leave out these sentences; keep the others."
        )
        again = retry_prompt(prompt, summary_json(parsed), why)
        (text,) = yield [again]
        answer = parse_output(text, again.labels, history_required=again.history_required)
        return guard_summary(to_summary(answer, again.labels, lang, self.settings.model), guard)

    def _asked(
        self, prompts: Sequence[Prompt]
    ) -> Generator[list[Prompt], list[str], list[LLMSummary]]:
        """Answers to prompts asked together, validated; each invalid one retried once
        with its validation error (the retries together), then given up."""
        texts = yield list(prompts)
        answers: list[LLMSummary | None] = []
        retries: list[tuple[int, Prompt]] = []
        for index, (prompt, text) in enumerate(zip(prompts, texts, strict=True)):
            try:
                answers.append(
                    parse_output(text, prompt.labels, history_required=prompt.history_required)
                )
            except OutputError as first:
                answers.append(None)
                retries.append((index, retry_prompt(prompt, text, first)))
        if retries:
            again = yield [retry for _index, retry in retries]
            for (index, retry), text in zip(retries, again, strict=True):
                answers[index] = parse_output(
                    text, retry.labels, history_required=retry.history_required
                )
        return [answer for answer in answers if answer is not None]

    def request(self, prompt: Prompt) -> ChatRequest:
        """The chat request of one prompt (the same for a direct call and a batch)."""
        return ChatRequest(
            system=prompt.system,
            user=prompt.user,
            model=self.settings.model,
            max_output_tokens=MAX_OUTPUT_TOKENS,
        )

    def _call(self, prompt: Prompt) -> str:
        reserved = prompt.input_tokens + MAX_OUTPUT_TOKENS
        self.budget.reserve(reserved)
        response = self.client.complete(self.request(prompt))
        self.budget.settle(reserved, response.input_tokens + response.output_tokens)
        return response.text
