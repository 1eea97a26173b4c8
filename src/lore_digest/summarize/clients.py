"""Chat backends the summariser calls: OpenAI-compatible and Anthropic, over plain httpx.

No vendor SDK: two small JSON APIs do not justify two large dependencies, and one code
path for retries and errors keeps the behaviour identical across backends. Local servers
(Ollama, vLLM, llama.cpp, SGLang) speak the OpenAI shape, so they need no extra code.

What the rest of the program may rely on:
- every failure is an `LLMError` whose `kind` says what went wrong and whose text is one
  short line safe to print (no API key, no whole response body, no traceback);
- transient failures (timeouts, dropped connections, 429, 5xx, Anthropic's 529) are
  retried with capped exponential backoff and full jitter, honouring `Retry-After`;
- a client is safe to share between threads (one `httpx.Client`, itself thread-safe);
- every request passes the process's request gate (`set_request_gate`): `run --jobs N`
  sets one semaphore shared by its worker processes, so the lists digested at once
  never have more requests in flight together than the one limit allows.
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Literal, Protocol, Self

import httpx

from lore_digest.errors import LoreDigestError, UsageError
from lore_digest.summarize.redact import redact
from lore_digest.vocabulary import estimate_tokens, retry_after_from_headers

log = logging.getLogger(__name__)

LLMErrorKind = Literal[
    "timeout", "rate_limited", "server", "client", "auth", "invalid_response", "unreachable"
]

DEFAULT_OPENAI_BASE_URL = "https://api.openai.com/v1"
DEFAULT_ANTHROPIC_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
USER_AGENT = "lore-digest"
BODY_EXCERPT_CHARS = 200
MESSAGE_MAX_CHARS = 300

# Appended to the system prompt when JSON is wanted: Anthropic has no JSON mode, and
# OpenAI's json_object mode rejects (HTTP 400) a request whose messages never say "JSON".
JSON_INSTRUCTION = (
    "Respond with a single JSON object only: no prose before or after it, no code fences."
)

# Held around each HTTP request (one attempt, not its retries' waits); see set_request_gate.
_gate: AbstractContextManager[object] = nullcontext()


def set_request_gate(gate: AbstractContextManager[object] | None) -> None:
    """Make every request of this process hold `gate` while it is in flight (a semaphore
    shared with other processes: one limit for all of them); None: no gate."""
    global _gate
    _gate = nullcontext() if gate is None else gate


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """One system + user turn; the summariser never needs a multi-turn conversation."""

    system: str
    user: str
    model: str
    max_output_tokens: int = 1500
    temperature: float = 0.2
    json_output: bool = True


@dataclass(frozen=True, slots=True)
class ChatResponse:
    """The model's text and what it cost, so the run budget can be settled."""

    text: str
    input_tokens: int
    output_tokens: int
    model: str


class LLMError(LoreDigestError):
    """A chat call that failed for good; `kind` picks the user-facing note.

    The message is forced onto one line and cut short at construction, so no caller
    can leak a multi-kilobyte HTML error page or a traceback into a report; anything
    shaped like a credential is masked before the cut (see summarize.redact).
    """

    def __init__(self, kind: LLMErrorKind, message: str, *, status: int | None = None) -> None:
        super().__init__(_one_line(redact(message), MESSAGE_MAX_CHARS))
        self.kind: LLMErrorKind = kind
        self.status = status


class UnknownBackendError(LLMError, UsageError):
    """`make_client` got a backend name it does not know: a usage error, caught as either."""


class ChatClient(Protocol):
    """What the summariser needs from a backend."""

    name: str
    base_url: str

    @property
    def has_key(self) -> bool:
        """Whether an API key was given or found in the environment."""
        ...

    def complete(self, request: ChatRequest) -> ChatResponse:
        """Send one request (retrying transient failures); raise `LLMError` on failure."""
        ...

    def payload(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body this backend sends for `request` (a batch sends the same)."""
        ...

    def close(self) -> None:
        """Release the connection pool."""
        ...


def make_client(
    kind: str,
    *,
    base_url: str | None = None,
    api_key: str | None = None,
    timeout: float = 120.0,
) -> ChatClient:
    """The client for a backend name from the CLI or config ("openai" | "anthropic")."""
    if kind == "openai":
        return OpenAICompatibleClient(base_url=base_url, api_key=api_key, timeout=timeout)
    if kind == "anthropic":
        return AnthropicClient(base_url=base_url, api_key=api_key, timeout=timeout)
    raise UnknownBackendError(
        "client", f"unknown LLM backend {kind!r}: expected 'openai' or 'anthropic'"
    )


_UNKNOWN_MODEL = re.compile(
    r"\bmodel\b.*\b(?:not\s+(?:exist|found)|does\s+not\s+exist|unknown|invalid)"
    r"|\b(?:unknown|invalid)\s+model\b",
    re.IGNORECASE,
)


def is_fatal(error: LLMError) -> bool:
    """Whether no later request can succeed either: credentials refused, nothing listening,
    a model or endpoint that does not exist. A timeout, a rate limit or one thread's
    prompt the server rejected say nothing about the next request."""
    if error.kind in ("auth", "unreachable"):
        return True
    if error.kind != "client":
        return False
    return error.status == 404 or (error.status == 400 and bool(_UNKNOWN_MODEL.search(str(error))))


@dataclass(frozen=True, slots=True)
class _Failure:
    """One failed attempt, classified: whether to retry and for how long to wait."""

    kind: LLMErrorKind
    message: str
    retryable: bool
    retry_after: float | None = None
    status: int | None = None


class _HTTPChatClient:
    """Transport, retries and error mapping shared by both API shapes.

    Subclasses only say where to POST, which headers to send, how to build the
    payload and how to read a successful answer.
    """

    name: str = "llm"
    key_env: str = ""
    base_url_env: str = ""
    default_base_url: str = ""
    key_required = False  # local OpenAI-compatible servers need none; Anthropic always does

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 4,
        backoff_base: float = 1.0,
        backoff_max: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = (base_url or _env(self.base_url_env) or self.default_base_url).rstrip("/")
        self._api_key = api_key or _env(self.key_env)
        if self.key_required and not self._api_key:
            # Fail at construction, so a missing key is one clear line before any work.
            raise LLMError(
                "auth",
                f"the {self.name} backend needs an API key: set {self.key_env} in the environment",
            )
        self.timeout = timeout
        self.max_retries = max(0, max_retries)
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._sleep = sleep
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"user-agent": USER_AGENT},
            follow_redirects=False,
        )

    # -- subclass hooks -------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """Absolute URL of the chat endpoint."""
        raise NotImplementedError

    def headers(self) -> dict[str, str]:
        raise NotImplementedError

    def payload(self, request: ChatRequest) -> dict[str, Any]:
        raise NotImplementedError

    def parse_body(self, body: Any, request: ChatRequest) -> ChatResponse:
        """Read a 2xx JSON body; raise `MalformedResponse` when it is not the API's shape."""
        raise NotImplementedError

    # -- public API -----------------------------------------------------------------

    def complete(self, request: ChatRequest) -> ChatResponse:
        """Send the request, retrying transient failures; see the module docstring."""
        response = self.send("POST", self.endpoint, json=self.payload(request))
        return self._read(response, request)

    def send(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        files: Any = None,
        data: Any = None,
        retry: bool = True,
    ) -> httpx.Response:
        """One API call with this client's headers, retrying transient failures: the 2xx
        response, else `LLMError`. The batch APIs (summarize.batch) use it too; they
        create a batch with `retry=False`, since a create that timed out may exist."""
        headers = self.headers()
        if files is not None:
            headers.pop("content-type", None)  # httpx sets the multipart boundary
        attempts = self.max_retries + 1 if retry else 1
        for attempt in range(attempts):
            result = self._send(method, url, headers, json=json, files=files, data=data)
            if isinstance(result, httpx.Response):
                failure = _classify(result, self._redact)
                if failure is None:
                    return result
            else:
                failure = result
            if not failure.retryable or attempt + 1 >= attempts:
                raise self._error(failure, attempt + 1)
            delay = self._delay(attempt, failure.retry_after)
            log.info(
                "%s: %s; retry %d/%d in %.1f s",
                self.name,
                self._redact(failure.message),
                attempt + 1,
                self.max_retries,
                delay,
            )
            self._sleep(delay)
        raise AssertionError("unreachable: the loop returns or raises")  # pragma: no cover

    def decode(self, response: httpx.Response) -> Any:
        """The JSON of a 2xx answer; a body that is not JSON is `invalid_response`."""
        try:
            return response.json()
        except ValueError:
            raise self._error(
                _Failure(
                    "invalid_response",
                    f"HTTP {response.status_code} with a non-JSON body: "
                    f"{_excerpt(self._redact(response.text))}",
                    False,
                    status=response.status_code,
                ),
                1,
            ) from None

    def malformed(self, what: str, response: httpx.Response) -> LLMError:
        """The error for a 2xx JSON answer that is not in the API's shape."""
        return self._error(
            _Failure(
                "invalid_response",
                f"unexpected response ({what}): {_excerpt(self._redact(response.text))}",
                False,
                status=response.status_code,
            ),
            1,
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def has_key(self) -> bool:
        """Whether an API key was given or found in the environment (never the key)."""
        return bool(self._api_key)

    def __repr__(self) -> str:
        # Never the key: repr() ends up in logs and tracebacks.
        key = "set" if self._api_key else "none"
        return f"{type(self).__name__}(base_url={_public_url(self.base_url)!r}, api_key={key})"

    # -- internals ------------------------------------------------------------------

    def _send(
        self, method: str, url: str, headers: dict[str, str], **content: Any
    ) -> httpx.Response | _Failure:
        """One request; transport exceptions become a classified failure."""
        try:
            with _gate:
                return self._http.request(method, url, headers=headers, **content)
        except httpx.TimeoutException as exc:
            return _Failure(
                "timeout", f"no answer within {self.timeout:g} s ({_exc_text(exc)})", True
            )
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL) as exc:
            return _Failure("client", f"bad request to {_public_url(url)}: {_exc_text(exc)}", False)
        except httpx.ConnectError as exc:
            # Refused or no such host: nothing listens there, waiting will not help.
            return _Failure(
                "unreachable",
                f"cannot connect to {_public_url(url)}: {_exc_text(exc)}",
                False,
            )
        except httpx.TransportError as exc:
            return _Failure("server", f"cannot reach {_public_url(url)}: {_exc_text(exc)}", True)

    def _read(self, response: httpx.Response, request: ChatRequest) -> ChatResponse:
        """Decode a 2xx answer; anything not in the API's shape is `invalid_response`."""
        body = self.decode(response)
        try:
            return self.parse_body(body, request)
        except MalformedResponse as exc:
            raise self.malformed(str(exc), response) from None

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before the next attempt.

        The server's Retry-After wins (it knows when the window reopens), capped so a
        hostile or confused server cannot park a worker for an hour. Otherwise full
        jitter: concurrent workers that failed together do not retry together.
        """
        if retry_after is not None:
            return max(0.0, min(retry_after, self.backoff_max))
        ceiling = min(self.backoff_max, self.backoff_base * (2**attempt))
        return random.uniform(0.0, max(0.0, ceiling))

    def _error(self, failure: _Failure, attempts: int) -> LLMError:
        suffix = f" (gave up after {attempts} attempts)" if attempts > 1 else ""
        hint = f"; check {self.key_env}" if failure.kind == "auth" and self.key_env else ""
        message = f"{self.name}: {failure.message}{hint}{suffix}"
        return LLMError(failure.kind, self._redact(message), status=failure.status)

    def _redact(self, text: str) -> str:
        """Some proxies echo the key in their error text, whole or in part: never pass
        it on. Called on whole texts, before any excerpt is cut from them."""
        return redact(text, (self._api_key,))


# OpenAI's reasoning models by name ("o1", "o3-mini", "o4-mini", "gpt-5", "openai/o3"
# behind a router): they take max_completion_tokens and no temperature.
_REASONING_MODEL = re.compile(r"^(?:[\w.-]+/)?(?:o\d+(?:-|$)|gpt-5)", re.IGNORECASE)
# Reasoning tokens are hidden but count against max_completion_tokens: without room for
# them the answer comes back empty.
REASONING_HEADROOM = 4096


def is_reasoning_model(model: str) -> bool:
    """Whether `model` is one of OpenAI's reasoning models (see _REASONING_MODEL)."""
    return _REASONING_MODEL.match(model) is not None


class OpenAICompatibleClient(_HTTPChatClient):
    """POST {base_url}/chat/completions: OpenAI and every server that mimics it.

    The key is optional because local servers need none; without one no Authorization
    header is sent at all (some servers reject an empty bearer token).
    """

    name = "openai"
    key_env = "OPENAI_API_KEY"
    base_url_env = "OPENAI_BASE_URL"
    default_base_url = DEFAULT_OPENAI_BASE_URL

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/chat/completions"

    def headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if self._api_key:
            headers["authorization"] = f"Bearer {self._api_key}"
        return headers

    def payload(self, request: ChatRequest) -> dict[str, Any]:
        system = request.system
        if request.json_output and "json" not in (system + request.user).lower():
            system = _join(system, JSON_INSTRUCTION)
        payload: dict[str, Any] = {
            "model": request.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": request.user},
            ],
        }
        if is_reasoning_model(request.model):
            # These refuse max_tokens and any temperature but the default, and spend
            # hidden reasoning tokens from the same allowance as the answer.
            payload["max_completion_tokens"] = request.max_output_tokens + REASONING_HEADROOM
        else:
            payload["max_tokens"] = request.max_output_tokens
            payload["temperature"] = request.temperature
        if request.json_output:
            payload["response_format"] = {"type": "json_object"}
        return payload

    def parse_body(self, body: Any, request: ChatRequest) -> ChatResponse:
        choices = _field(body, "choices", list)
        if not choices:
            raise MalformedResponse("no choices")
        message = _field(choices[0], "message", dict)
        content = message.get("content")
        if isinstance(content, list):  # some servers send content parts
            content = "".join(part.get("text", "") for part in content if isinstance(part, dict))
        if not isinstance(content, str):
            refusal = message.get("refusal")
            raise MalformedResponse(
                f"refused: {refusal}" if isinstance(refusal, str) else "no message content"
            )
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        return ChatResponse(
            text=content,
            input_tokens=_int(usage.get("prompt_tokens"))
            or estimate_tokens(request.system + request.user),
            output_tokens=_int(usage.get("completion_tokens")) or estimate_tokens(content),
            model=body.get("model") if isinstance(body.get("model"), str) else request.model,
        )


class AnthropicClient(_HTTPChatClient):
    """POST {base_url}/v1/messages: Anthropic's Messages API.

    The key is required; a missing one fails at construction so the CLI reports it
    before any work starts, rather than as a note on every thread.
    """

    name = "anthropic"
    key_env = "ANTHROPIC_API_KEY"
    base_url_env = "ANTHROPIC_BASE_URL"
    default_base_url = DEFAULT_ANTHROPIC_BASE_URL
    key_required = True

    @property
    def endpoint(self) -> str:
        return f"{self.base_url}/v1/messages"

    def headers(self) -> dict[str, str]:
        return {
            "content-type": "application/json",
            "x-api-key": self._api_key or "",
            "anthropic-version": ANTHROPIC_VERSION,
        }

    def payload(self, request: ChatRequest) -> dict[str, Any]:
        system = _join(request.system, JSON_INSTRUCTION) if request.json_output else request.system
        return {
            "model": request.model,
            "max_tokens": request.max_output_tokens,
            "temperature": request.temperature,
            "system": system,
            "messages": [{"role": "user", "content": request.user}],
        }

    def parse_body(self, body: Any, request: ChatRequest) -> ChatResponse:
        blocks = _field(body, "content", list)
        texts = [
            b["text"]
            for b in blocks
            if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
        ]
        if not texts:
            raise MalformedResponse("no text content")
        text = "".join(texts)
        usage = body.get("usage") if isinstance(body.get("usage"), dict) else {}
        # Cached prompt tokens are reported apart from input_tokens but still count.
        input_tokens = sum(
            _int(usage.get(k))
            for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
        )
        return ChatResponse(
            text=text,
            input_tokens=input_tokens or estimate_tokens(request.system + request.user),
            output_tokens=_int(usage.get("output_tokens")) or estimate_tokens(text),
            model=body.get("model") if isinstance(body.get("model"), str) else request.model,
        )


class MalformedResponse(Exception):
    """A 2xx body that is JSON but not the API's shape."""


def _classify(response: httpx.Response, clean: Callable[[str], str]) -> _Failure | None:
    """None for success; otherwise what the status code means for retrying.

    `clean` redacts secrets from the server's text before it is cut to an excerpt.
    """
    status = response.status_code
    if 200 <= status < 300:
        return None
    detail = _error_detail(response, clean)
    message = f"HTTP {status}: {detail}" if detail else f"HTTP {status}"
    if status in (401, 403):
        return _Failure("auth", message, False, status=status)
    if status == 429:
        # A spent quota is not a rate limit: waiting will not bring it back.
        retryable = "insufficient_quota" not in response.text
        return _Failure(
            "rate_limited", message, retryable, retry_after_from_headers(response.headers), status
        )
    if status == 408:
        return _Failure(
            "timeout", message, True, retry_after_from_headers(response.headers), status
        )
    if status >= 500:  # includes Anthropic's 529 "overloaded"
        return _Failure("server", message, True, retry_after_from_headers(response.headers), status)
    return _Failure("client", message, False, status=status)


def _error_detail(response: httpx.Response, clean: Callable[[str], str]) -> str:
    """The API's own error message when it sent one, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        return _excerpt(clean(response.text))
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return _excerpt(clean(error["message"]))
        if isinstance(error, str):
            return _excerpt(clean(error))
        if isinstance(body.get("message"), str):
            return _excerpt(clean(body["message"]))
    return _excerpt(clean(response.text))


def _field(body: Any, name: str, kind: type) -> Any:
    if not isinstance(body, dict) or not isinstance(body.get(name), kind):
        raise MalformedResponse(f"no {name!r} {kind.__name__}")
    return body[name]


def _int(value: object) -> int:
    """A usage count, or 0 when absent or not a non-negative integer."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return 0


def _join(system: str, instruction: str) -> str:
    return f"{system.rstrip()}\n\n{instruction}" if system.strip() else instruction


def _env(name: str) -> str | None:
    """An environment variable, with empty meaning unset (as `VAR= cmd` intends)."""
    value = os.environ.get(name, "").strip() if name else ""
    return value or None


_WS = re.compile(r"\s+")


def _one_line(text: str, limit: int) -> str:
    text = _WS.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _excerpt(text: str) -> str:
    """At most ~200 characters of a response body, on one line."""
    return _one_line(text, BODY_EXCERPT_CHARS)


def _exc_text(exc: Exception) -> str:
    return _one_line(str(exc) or type(exc).__name__, BODY_EXCERPT_CHARS)


def _public_url(url: str) -> str:
    """The URL without user:password, which may carry credentials."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "<invalid url>"
    if parsed.userinfo:
        parsed = parsed.copy_with(username=None, password=None)
    return str(parsed)
