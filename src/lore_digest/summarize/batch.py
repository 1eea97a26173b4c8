"""Backfills at batch prices: the summaries' requests through the providers' batch APIs.

OpenAI (`/v1/files` + `/v1/batches`) and Anthropic (`/v1/messages/batches`) take many
requests at once and answer within 24 hours for half the price of direct calls: the
right way to summarise months of a list. A thread's summary may take several requests
in turn (map-reduce parts then the reduce, the retry of an invalid answer, the fact
guard's re-ask), so a batched run goes in rounds:

1. every thread's conversation (`LLMSummarizer.conversation`) is replayed as far as the
   answers already in the store (`llm_responses`, keyed by the request's content) take
   it; the requests still unanswered make this round;
2. those an earlier run already submitted (`llm_batches`) are waited for, the others go
   in one new batch, recorded in the store before any waiting;
3. answers are stored as each batch ends, and the next round starts with what the
   conversations ask next.

Waiting stops when every batch has ended, or after the settings' `wait`: then
`BatchPending` says which batch runs and how to collect it (`report --batch --resume`).
Because answers are keyed by what was asked, a resumed or repeated run replays every
conversation from the store, submits nothing twice and pays for nothing twice. A request
the batch could not answer leaves that thread's offline summary with a note, as a failed
direct call does; a later run asks it again.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit

from lore_digest.errors import LoreDigestError, UsageError
from lore_digest.store.db import Store
from lore_digest.summarize.base import BatchWait
from lore_digest.summarize.clients import (
    AnthropicClient,
    ChatClient,
    ChatRequest,
    ChatResponse,
    LLMError,
    MalformedResponse,
    OpenAICompatibleClient,
)
from lore_digest.vocabulary import plural

OPENAI_CHAT_PATH = "/v1/chat/completions"  # the `url` of each line and the batch's endpoint
COMPLETION_WINDOW = "24h"  # the only window OpenAI offers

BatchStatus = Literal["running", "ended", "failed"]


class BatchPending(LoreDigestError):
    """A batch is still running when the wait ends: the line says how to collect it."""

    exit_code = 75  # EX_TEMPFAIL: try again later


@dataclass(frozen=True, slots=True)
class BatchState:
    """What a poll says: running or ended, and how many requests have been answered."""

    status: BatchStatus
    answered: int
    total: int
    reason: str = ""  # why a batch failed as a whole
    detail: Mapping[str, Any] = field(default_factory=dict)  # the provider's batch object


Answer = ChatResponse | LLMError


class BatchAPI(Protocol):
    """One provider's batch endpoints, over the chat client's transport and retries."""

    name: str

    def submit(self, requests: Mapping[str, ChatRequest]) -> str:
        """Send the requests (custom id → request) as one batch; its id."""
        ...

    def poll(self, batch_id: str) -> BatchState:
        """The batch's state now."""
        ...

    def results(self, state: BatchState, requests: Mapping[str, ChatRequest]) -> dict[str, Answer]:
        """Each request's answer or error, for an ended batch (custom id → answer)."""
        ...


def request_key(backend: str, payload: Mapping[str, Any]) -> str:
    """The store key and custom id of a request: a hash of exactly what is sent.

    64 hex characters, which is what both providers allow a custom id to be."""
    material = json.dumps([backend, payload], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(material.encode()).hexdigest()


def batch_api(client: ChatClient) -> BatchAPI:
    """The batch API behind a chat client."""
    if isinstance(client, AnthropicClient):
        return AnthropicBatches(client)
    if isinstance(client, OpenAICompatibleClient):
        return OpenAIBatches(client)
    raise LLMError("client", f"{client.name}: no batch API for this backend")


class OpenAIBatches:
    """OpenAI's Batch API: a JSONL file of chat requests, uploaded, then a batch over it."""

    name = "openai"

    def __init__(self, client: OpenAICompatibleClient) -> None:
        self.client = client

    def submit(self, requests: Mapping[str, ChatRequest]) -> str:
        lines = [
            json.dumps(
                {
                    "custom_id": key,
                    "method": "POST",
                    "url": OPENAI_CHAT_PATH,
                    "body": self.client.payload(request),
                },
                ensure_ascii=False,
            )
            for key, request in requests.items()
        ]
        data = ("\n".join(lines) + "\n").encode()
        uploaded = _object(
            self.client,
            "POST",
            f"{self.client.base_url}/files",
            files={"file": ("lore-digest-batch.jsonl", data, "application/jsonl")},
            data={"purpose": "batch"},
        )
        created = _object(
            self.client,
            "POST",
            f"{self.client.base_url}/batches",
            retry=False,
            json={
                "input_file_id": _text(uploaded, "id"),
                "endpoint": OPENAI_CHAT_PATH,
                "completion_window": COMPLETION_WINDOW,
                "metadata": {"source": "lore-digest"},
            },
        )
        return _text(created, "id")

    def poll(self, batch_id: str) -> BatchState:
        body = self._batch(batch_id)
        counts = _mapping(body, "request_counts")
        answered = _count(counts.get("completed")) + _count(counts.get("failed"))
        total = _count(counts.get("total"))
        status = body.get("status")
        if status in ("completed", "expired", "cancelled"):
            return BatchState("ended", answered, total, detail=body)
        if status == "failed":  # the input file was refused: nothing will be answered
            return BatchState("failed", 0, total, _openai_errors(body), detail=body)
        return BatchState("running", answered, total, detail=body)

    def results(self, state: BatchState, requests: Mapping[str, ChatRequest]) -> dict[str, Answer]:
        body = state.detail
        answers: dict[str, Answer] = {}
        for name in ("output_file_id", "error_file_id"):
            file_id = body.get(name)
            if not isinstance(file_id, str) or not file_id:
                continue
            content = self.client.send("GET", f"{self.client.base_url}/files/{file_id}/content")
            for line in _jsonl(content.text):
                key = line.get("custom_id")
                if isinstance(key, str) and key in requests:
                    answers[key] = self._answer(line, requests[key])
        return answers

    def _answer(self, line: Mapping[str, Any], request: ChatRequest) -> Answer:
        response = line.get("response")
        if isinstance(response, dict) and response.get("status_code") == 200:
            try:
                return self.client.parse_body(response.get("body"), request)
            except MalformedResponse as exc:
                return LLMError("invalid_response", f"openai batch: unexpected answer ({exc})")
        error = line.get("error")
        if isinstance(response, dict) and isinstance(response.get("body"), dict):
            error = response["body"].get("error") or error
        message = error.get("message") if isinstance(error, dict) else None
        status = response.get("status_code") if isinstance(response, dict) else None
        return LLMError(
            "server" if not isinstance(status, int) or status >= 500 else "client",
            f"openai batch: {message or 'request failed'}",
            status=status if isinstance(status, int) else None,
        )

    def _batch(self, batch_id: str) -> dict[str, Any]:
        return _object(self.client, "GET", f"{self.client.base_url}/batches/{batch_id}")


class AnthropicBatches:
    """Anthropic's Message Batches API: the requests in one POST, results as JSONL."""

    name = "anthropic"

    def __init__(self, client: AnthropicClient) -> None:
        self.client = client

    def submit(self, requests: Mapping[str, ChatRequest]) -> str:
        body = {
            "requests": [
                {"custom_id": key, "params": self.client.payload(request)}
                for key, request in requests.items()
            ]
        }
        created = _object(self.client, "POST", self._url(), json=body, retry=False)
        return _text(created, "id")

    def poll(self, batch_id: str) -> BatchState:
        body = _object(self.client, "GET", self._url(batch_id))
        counts = _mapping(body, "request_counts")
        done = sum(_count(counts.get(k)) for k in ("succeeded", "errored", "canceled", "expired"))
        total = done + _count(counts.get("processing"))
        if body.get("processing_status") == "ended":
            return BatchState("ended", done, total, detail=body)
        return BatchState("running", done, total, detail=body)

    def results(self, state: BatchState, requests: Mapping[str, ChatRequest]) -> dict[str, Answer]:
        batch_id = str(state.detail.get("id", ""))
        url = state.detail.get("results_url")
        if not isinstance(url, str) or not url:
            url = self._url(batch_id, "results")
        elif not _same_origin(url, self.client.base_url):
            # The key goes with the request: never to a host the user did not configure.
            # The results are also at the documented path under the configured base.
            url = self._url(batch_id, "results")
        content = self.client.send("GET", url)
        answers: dict[str, Answer] = {}
        for line in _jsonl(content.text):
            key = line.get("custom_id")
            if isinstance(key, str) and key in requests:
                answers[key] = self._answer(line.get("result"), requests[key])
        return answers

    def _answer(self, result: Any, request: ChatRequest) -> Answer:
        kind = result.get("type") if isinstance(result, dict) else None
        if kind == "succeeded" and isinstance(result, dict):
            try:
                return self.client.parse_body(result.get("message"), request)
            except MalformedResponse as exc:
                return LLMError("invalid_response", f"anthropic batch: unexpected answer ({exc})")
        if kind == "errored" and isinstance(result, dict):
            outer = _mapping(result, "error")
            inner = _mapping(outer, "error") or outer
            error_type = str(inner.get("type", ""))
            message = inner.get("message") or error_type or "request failed"
            client_side = error_type in ("invalid_request_error", "not_found_error")
            return LLMError("client" if client_side else "server", f"anthropic batch: {message}")
        return LLMError("timeout", f"anthropic batch: request {kind or 'not answered'}")

    def _url(self, *parts: str) -> str:
        return "/".join([f"{self.client.base_url}/v1/messages/batches", *parts])


class BatchRounds:
    """Submit, wait for and collect the batches of one round; see the module docstring.

    The caller replays the conversations; this class turns one round's unanswered
    requests into answers in the store (or errors, kept for this run only).
    """

    def __init__(
        self,
        api: BatchAPI,
        store: Store,
        list_id: int,
        model: str,
        wait: BatchWait,
    ) -> None:
        self.api = api
        self.store = store
        self.list_id = list_id
        self.model = model
        self.wait = wait
        self.say = wait.say
        self.errors: dict[str, LLMError] = {}  # requests a batch answered with an error
        self.lost = False  # a recorded batch the provider no longer has: asked again
        self._resumed = False
        self._deadline: float | None = None
        self._submitted: set[str] = set()

    def answer(self, key: str) -> ChatResponse | LLMError | None:
        """The stored answer of a request, its error in this run, or None (not yet asked)."""
        if key in self.errors:
            return self.errors[key]
        row = self.store.llm_response(key)
        if row is None:
            return None
        text, input_tokens, output_tokens = row
        return ChatResponse(text, input_tokens, output_tokens, self.model)

    def run(self, asked: Mapping[str, ChatRequest], progress: Callable[[int], None]) -> None:
        """Get every request of `asked` answered (into the store) or errored (`errors`).

        A batch an earlier run submitted is collected whole, also the answers this run
        does not ask for (they were paid for; a later run will want them). With
        `wait.resume`, a first round that no recorded batch covers is refused: a
        mistyped week must not start a new paid backfill. `progress` is told how many
        of the requests waited for have been answered.
        """
        recorded = self.store.open_llm_batches(self.api.name, self.list_id)
        waiting = {b: keys for b, _created, keys in recorded if set(keys) & asked.keys()}
        covered = {k for keys in waiting.values() for k in keys}
        new = {k: r for k, r in asked.items() if k not in covered}
        if self.wait.resume and not self._resumed:
            self._resumed = True
            if not waiting:
                raise UsageError(
                    f"the {self.api.name} batches waiting to be collected are for other "
                    "requests (another week, language or model?): run without --resume "
                    "to submit these"
                )
        for batch_id in waiting:
            self.say(f"{self.api.name} batch {batch_id}: submitted earlier, collecting it")
        if new:
            # Not retried: a create that timed out may exist on the server, and sending
            # it again would pay twice for it. The run stops and says to run again.
            batch_id = self.api.submit(new)
            self.store.add_llm_batch(
                self.api.name, batch_id, self.list_id, int(time.time()), new.keys()
            )
            waiting[batch_id] = list(new)
            self._submitted.add(batch_id)
            self.say(f"{self.api.name} batch {batch_id}: {plural(len(new), 'request')} submitted")
        self._wait_for(waiting, asked, progress)

    def _wait_for(
        self,
        waiting: dict[str, list[str]],
        asked: Mapping[str, ChatRequest],
        progress: Callable[[int], None],
    ) -> None:
        if self._deadline is None:  # one wait for the whole run, not one per round
            self._deadline = self.wait.clock() + self.wait.wait_s
        answered: dict[str, int] = dict.fromkeys(waiting, 0)
        while True:
            for batch_id in list(waiting):
                try:
                    state = self.api.poll(batch_id)
                except LLMError as exc:
                    if exc.status != 404 or batch_id in self._submitted:
                        raise  # one submitted in this run that is "gone": something is wrong
                    # The provider no longer has it (purged, or another account):
                    # its requests are unanswered and are asked again.
                    self.say(f"{self.api.name} batch {batch_id}: gone ({exc}); asking again")
                    waiting.pop(batch_id)
                    self.store.collect_llm_batch(self.api.name, batch_id, int(time.time()))
                    self.lost = True
                    continue
                answered[batch_id] = state.answered
                if state.status == "running":
                    continue
                keys = waiting.pop(batch_id)
                self._collect(batch_id, state, keys, asked)
                answered[batch_id] = len(keys)
            progress(sum(answered.get(b, 0) for b in answered))
            if not waiting:
                return
            if self.wait.clock() >= self._deadline:
                raise BatchPending(_pending_line(self.api.name, waiting, answered))
            self.wait.sleep(self.wait.poll_s)

    def _collect(
        self,
        batch_id: str,
        state: BatchState,
        keys: Sequence[str],
        asked: Mapping[str, ChatRequest],
    ) -> None:
        if state.status == "failed":
            answers: dict[str, Answer] = {}
            reason = f"{self.api.name} batch {batch_id} failed: {state.reason or 'no reason given'}"
        else:
            # Every request of the batch, asked now or not: the request only serves to
            # estimate tokens where an answer reports none.
            requests = {k: asked.get(k) or ChatRequest("", "", self.model) for k in keys}
            answers = self.api.results(state, requests)
            reason = f"{self.api.name} batch {batch_id} ended without answering this request"
        now = int(time.time())
        self.store.save_llm_responses(
            self.model,
            now,
            (
                (key, a.text, a.input_tokens, a.output_tokens)
                for key, a in answers.items()
                if isinstance(a, ChatResponse)
            ),
        )
        for key in keys:
            if key not in asked:
                continue
            got = answers.get(key)
            if isinstance(got, LLMError):
                self.errors[key] = got
            elif got is None:
                self.errors[key] = LLMError("timeout", reason)
        self.store.collect_llm_batch(self.api.name, batch_id, now)


def _object(
    client: OpenAICompatibleClient | AnthropicClient, method: str, url: str, **send: Any
) -> dict[str, Any]:
    """One call to a batch endpoint (`client.send`), whose answer must be a JSON object:
    anything else is the client's `invalid_response`, excerpted and redacted as for a
    chat call. Both providers' batch classes use it."""
    response = client.send(method, url, **send)
    body = client.decode(response)
    if not isinstance(body, dict):
        raise client.malformed("not a JSON object", response)
    return body


def _pending_line(
    backend: str, waiting: Mapping[str, list[str]], answered: Mapping[str, int]
) -> str:
    total = sum(len(keys) for keys in waiting.values())
    done = sum(answered.get(b, 0) for b in waiting)
    ids = ", ".join(waiting)
    return (
        f"{backend} batch {ids} still running ({done} of {plural(total, 'request')} answered; "
        "batches end within 24 hours): run the same command with --resume to collect it"
        " (`run` collects it by itself next time)"
    )


def _same_origin(url: str, base_url: str) -> bool:
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def _jsonl(text: str) -> list[dict[str, Any]]:
    """The JSON objects of a JSONL body; a line that is not one is skipped (its request
    then counts as unanswered)."""
    lines: list[dict[str, Any]] = []
    for raw in text.splitlines():
        try:
            value = json.loads(raw)
        except ValueError:
            continue
        if isinstance(value, dict):
            lines.append(value)
    return lines


def _openai_errors(body: Mapping[str, Any]) -> str:
    errors = body.get("errors")
    data = errors.get("data") if isinstance(errors, dict) else None
    if isinstance(data, list):
        messages = [str(e.get("message")) for e in data if isinstance(e, dict) and e.get("message")]
        return "; ".join(messages[:3])
    return ""


def _text(body: Mapping[str, Any], name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise LLMError("invalid_response", f"batch API answer without {name!r}")
    return value


def _mapping(body: Mapping[str, Any], name: str) -> dict[str, Any]:
    """A JSON object field, or {} when absent or not an object."""
    value = body.get(name)
    return value if isinstance(value, dict) else {}


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


__all__ = [
    "BatchAPI",
    "BatchPending",
    "BatchRounds",
    "BatchState",
    "BatchWait",
    "batch_api",
    "request_key",
]
