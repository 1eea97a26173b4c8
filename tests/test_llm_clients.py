"""The chat clients against a real HTTP server on loopback (tests/fake_llm.py).

No mock of httpx: status codes, headers, Retry-After, keep-alive and timeouts all go
through real sockets, so what passes here is what production does on the wire.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from email.utils import formatdate

import httpx
import pytest

from fake_llm import FakeLLMServer
from lore_digest.errors import LoreDigestError, UsageError
from lore_digest.summarize.clients import (
    ANTHROPIC_VERSION,
    DEFAULT_ANTHROPIC_BASE_URL,
    DEFAULT_OPENAI_BASE_URL,
    REASONING_HEADROOM,
    AnthropicClient,
    ChatRequest,
    LLMError,
    OpenAICompatibleClient,
    _classify,
    is_fatal,
    make_client,
)
from lore_digest.vocabulary import estimate_tokens

KEY = "sk-FAKE-7f3c9d2e-lore-digest-test-key"
ENV_VARS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")

REQUEST = ChatRequest(
    system="You summarise kernel threads. Answer in JSON.",
    user="[m1] From: Alice\nPATCH v2 0/3 KVM: arm64: fix\n[m2] From: Bob\nReviewed-by: Bob",
    model="test-model",
    max_output_tokens=321,
    temperature=0.1,
)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's real keys and endpoints must not leak into (or change) the tests."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def openai_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer("openai") as server:
        yield server


@pytest.fixture
def anthropic_server() -> Iterator[FakeLLMServer]:
    with FakeLLMServer("anthropic") as server:
        yield server


def _openai(server: FakeLLMServer, sleeps: list[float], **kw: object) -> OpenAICompatibleClient:
    kw.setdefault("api_key", KEY)
    return OpenAICompatibleClient(base_url=server.url, sleep=sleeps.append, **kw)  # type: ignore[arg-type]


def _anthropic(server: FakeLLMServer, sleeps: list[float], **kw: object) -> AnthropicClient:
    kw.setdefault("api_key", KEY)
    return AnthropicClient(base_url=server.url, sleep=sleeps.append, **kw)  # type: ignore[arg-type]


# -- request and response shapes ------------------------------------------------------


def test_openai_request_shape_and_usage(openai_server: FakeLLMServer) -> None:
    with _openai(openai_server, []) as client:
        response = client.complete(REQUEST)

    body = openai_server.requests[0]
    assert body["model"] == "test-model"
    assert body["messages"] == [
        {"role": "system", "content": REQUEST.system},
        {"role": "user", "content": REQUEST.user},
    ]
    assert body["max_tokens"] == 321
    assert body["temperature"] == 0.1
    assert body["response_format"] == {"type": "json_object"}
    headers = openai_server.headers[0]
    assert headers["authorization"] == f"Bearer {KEY}"
    assert "x-api-key" not in headers

    assert json.loads(response.text)["original"][0]["cites"] == ["m1"]
    assert response.model == "test-model"
    assert response.input_tokens == len(REQUEST.system + REQUEST.user) // 4
    assert response.output_tokens == len(response.text) // 4


@pytest.mark.parametrize("model", ["o1", "o3-mini", "o4-mini", "gpt-5-mini", "openai/o3"])
def test_openai_reasoning_models_get_max_completion_tokens(
    openai_server: FakeLLMServer, model: str
) -> None:
    """The fake answers max_tokens or a temperature with OpenAI's HTTP 400 for these."""
    with _openai(openai_server, []) as client:
        client.complete(replace(REQUEST, model=model))
    body = openai_server.requests[-1]
    assert "max_tokens" not in body and "temperature" not in body
    assert body["max_completion_tokens"] == 321 + REASONING_HEADROOM
    for other in ("gpt-4o-mini", "qwen2.5:7b", "deepseek-chat", "omni-7b"):
        with _openai(openai_server, []) as client:
            client.complete(replace(REQUEST, model=other))
        assert openai_server.requests[-1]["max_tokens"] == 321, other


def test_the_fake_refuses_what_openai_refuses(openai_server: FakeLLMServer) -> None:
    """The check above would pass against a fake that accepts anything: it does not."""
    response = httpx.post(
        f"{openai_server.url}/chat/completions",
        json={"model": "o3-mini", "messages": [], "max_tokens": 10},
    )
    assert response.status_code == 400
    assert "max_completion_tokens" in response.json()["error"]["message"]


def test_openai_without_key_sends_no_authorization(openai_server: FakeLLMServer) -> None:
    """Local servers (Ollama, vLLM, llama.cpp) need no key; an empty bearer can be rejected."""
    with _openai(openai_server, [], api_key=None) as client:
        client.complete(REQUEST)
    assert "authorization" not in openai_server.headers[0]


def test_openai_plain_text_request_and_json_word_guard(openai_server: FakeLLMServer) -> None:
    """json_object mode is a 400 unless some message says "JSON": the client adds it."""
    with _openai(openai_server, []) as client:
        client.complete(ChatRequest(system="Summarise.", user="[m1] hi", model="m"))
        client.complete(ChatRequest(system="Summarise.", user="hi", model="m", json_output=False))
    with_json, plain = openai_server.requests
    assert "json" in with_json["messages"][0]["content"].lower()
    assert "response_format" not in plain
    assert plain["messages"][0]["content"] == "Summarise."


def test_anthropic_request_shape_and_usage(anthropic_server: FakeLLMServer) -> None:
    with _anthropic(anthropic_server, []) as client:
        response = client.complete(REQUEST)

    body = anthropic_server.requests[0]
    assert body["model"] == "test-model"
    assert body["max_tokens"] == 321
    assert body["temperature"] == 0.1
    assert body["system"].startswith(REQUEST.system)
    assert "JSON object only" in body["system"]  # no JSON mode: the system prompt asks
    assert body["messages"] == [{"role": "user", "content": REQUEST.user}]
    assert "response_format" not in body
    headers = anthropic_server.headers[0]
    assert headers["x-api-key"] == KEY
    assert headers["anthropic-version"] == ANTHROPIC_VERSION
    assert "authorization" not in headers

    assert json.loads(response.text)["this_week"][0]["cites"] == ["m2"]
    assert response.input_tokens == len(body["system"] + REQUEST.user) // 4
    assert response.output_tokens == len(response.text) // 4


def test_anthropic_parse_joins_text_blocks_and_counts_cached_input() -> None:
    client = AnthropicClient(api_key=KEY)
    body = {
        "model": "claude-x",
        "content": [
            {"type": "thinking", "thinking": "hmm"},
            {"type": "text", "text": '{"a":'},
            {"type": "text", "text": " 1}"},
        ],
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 90, "output_tokens": 7},
    }
    response = client.parse_body(body, REQUEST)
    client.close()
    assert (response.text, response.input_tokens, response.output_tokens) == ('{"a": 1}', 100, 7)
    assert response.model == "claude-x"


def test_missing_usage_is_estimated() -> None:
    client = OpenAICompatibleClient(api_key=None)
    body = {"choices": [{"message": {"content": "x" * 40}}]}
    response = client.parse_body(body, REQUEST)
    client.close()
    assert response.output_tokens == 10
    assert response.input_tokens == estimate_tokens(REQUEST.system + REQUEST.user) > 0
    assert response.model == "test-model"
    assert estimate_tokens("中文摘要") == 4  # CJK: about one token per character


def test_model_text_that_is_not_json_is_passed_through(openai_server: FakeLLMServer) -> None:
    """Validating the model's JSON is the summariser's job (it retries with the error)."""
    openai_server.script("invalid_json")
    with _openai(openai_server, []) as client:
        assert client.complete(REQUEST).text.startswith("Sure!")


@pytest.mark.parametrize("flavour", ["openai", "anthropic"])
def test_bad_body_is_invalid_response(flavour: str) -> None:
    with FakeLLMServer(flavour) as server:
        server.script("bad_body")
        make = _openai if flavour == "openai" else _anthropic
        with make(server, []) as client, pytest.raises(LLMError) as info:
            client.complete(REQUEST)
    assert info.value.kind == "invalid_response"
    assert server.count == 1  # a malformed answer is not retried


# -- retries ------------------------------------------------------------------------


def test_429_then_success_honours_retry_after(openai_server: FakeLLMServer) -> None:
    openai_server.script("429")
    sleeps: list[float] = []
    with _openai(openai_server, sleeps) as client:
        response = client.complete(REQUEST)
    assert json.loads(response.text)
    assert sleeps == [1.0]
    assert openai_server.count == 2


def test_retry_after_is_capped_and_accepts_http_dates(anthropic_server: FakeLLMServer) -> None:
    anthropic_server.script(
        ("429", "3600"), ("429", formatdate(time.time() + 3, usegmt=True)), ("429", "soon")
    )
    sleeps: list[float] = []
    with _anthropic(anthropic_server, sleeps, backoff_base=0.5, backoff_max=5.0) as client:
        client.complete(REQUEST)
    assert sleeps[0] == 5.0  # capped at backoff_max
    assert 1.0 < sleeps[1] <= 3.0  # an HTTP-date, second resolution
    assert 0.0 <= sleeps[2] <= 0.5 * 4  # unparsable: jittered backoff (third attempt)


def test_backoff_is_exponential_with_full_jitter(openai_server: FakeLLMServer) -> None:
    openai_server.script(*[("429", None)] * 6)
    sleeps: list[float] = []
    with _openai(openai_server, sleeps, max_retries=6, backoff_base=1.0, backoff_max=8.0) as c:
        c.complete(REQUEST)
    assert len(sleeps) == 6
    for attempt, delay in enumerate(sleeps):
        assert 0.0 <= delay <= min(8.0, 2.0**attempt)


def test_anthropic_overloaded_529_is_retried(anthropic_server: FakeLLMServer) -> None:
    anthropic_server.script("529", "500")
    sleeps: list[float] = []
    with _anthropic(anthropic_server, sleeps) as client:
        client.complete(REQUEST)
    assert anthropic_server.count == 3
    assert len(sleeps) == 2


def test_permanent_500_gives_up_after_max_retries(openai_server: FakeLLMServer) -> None:
    openai_server.script(*["500"] * 10)
    sleeps: list[float] = []
    with _openai(openai_server, sleeps, max_retries=3) as client, pytest.raises(LLMError) as info:
        client.complete(REQUEST)
    assert info.value.kind == "server"
    assert info.value.status == 500
    assert openai_server.count == 4
    assert len(sleeps) == 3
    assert "after 4 attempts" in str(info.value)
    assert "Internal server error" in str(info.value)


def test_timeout_is_retried_then_reported(openai_server: FakeLLMServer) -> None:
    openai_server.script(("timeout", 1.0), ("timeout", 1.0))
    sleeps: list[float] = []
    start = time.monotonic()
    with (
        _openai(openai_server, sleeps, timeout=0.3, max_retries=1) as client,
        pytest.raises(LLMError) as info,
    ):
        client.complete(REQUEST)
    assert info.value.kind == "timeout"
    assert openai_server.count == 2
    assert time.monotonic() - start < 1.5  # did not wait for the stalled server
    assert "\n" not in str(info.value)


def test_timeout_then_success(anthropic_server: FakeLLMServer) -> None:
    anthropic_server.script(("timeout", 1.0))
    with _anthropic(anthropic_server, [], timeout=0.3) as client:
        assert json.loads(client.complete(REQUEST).text)


def test_connection_refused_is_unreachable_and_not_retried() -> None:
    """Nothing listens there: waiting will not help, and the run must fail within seconds
    (a dropped connection mid-answer stays a retried server error)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleeps: list[float] = []
    client = OpenAICompatibleClient(
        base_url=f"http://127.0.0.1:{port}/v1", max_retries=2, sleep=sleeps.append
    )
    with client, pytest.raises(LLMError) as info:
        client.complete(REQUEST)
    assert info.value.kind == "unreachable" and is_fatal(info.value)
    assert sleeps == [] and "cannot connect to" in str(info.value)


# -- errors that are not retried, and the key -------------------------------------------


@pytest.mark.parametrize("flavour", ["openai", "anthropic"])
def test_401_is_auth_without_retry_and_never_shows_the_key(flavour: str) -> None:
    """The fake echoes the key in its error text, as some proxies do."""
    with FakeLLMServer(flavour) as server:
        server.script("401")
        sleeps: list[float] = []
        make = _openai if flavour == "openai" else _anthropic
        with make(server, sleeps) as client, pytest.raises(LLMError) as info:
            client.complete(REQUEST)
        assert server.count == 1
        assert sleeps == []
        assert info.value.kind == "auth"
        message = str(info.value)
        assert KEY not in message
        assert KEY not in repr(info.value)
        assert KEY not in repr(client)
        assert "Incorrect API key" in message
        assert ("OPENAI_API_KEY" if flavour == "openai" else "ANTHROPIC_API_KEY") in message


def test_other_4xx_is_client_without_retry(openai_server: FakeLLMServer) -> None:
    """A wrong base URL (missing /v1) gives a 404: retrying cannot help."""
    sleeps: list[float] = []
    root = openai_server.url.removesuffix("/v1")
    client = OpenAICompatibleClient(base_url=root, api_key=KEY, sleep=sleeps.append)
    with client, pytest.raises(LLMError) as info:
        client.complete(REQUEST)
    assert info.value.kind == "client"
    assert info.value.status == 404
    assert sleeps == []


def test_repr_hides_key_and_url_credentials() -> None:
    client = OpenAICompatibleClient(base_url="http://user:hunter2@localhost:8000/v1/", api_key=KEY)
    text = repr(client)
    client.close()
    assert KEY not in text
    assert "hunter2" not in text
    assert "api_key=set" in text
    assert client.base_url == "http://user:hunter2@localhost:8000/v1"  # trailing slash dropped


def test_error_text_is_one_short_line() -> None:
    page = "<html>\n" + "Bad gateway " * 500 + "\n</html>"
    failure = _classify(httpx.Response(502, text=page), str)
    assert failure is not None and failure.kind == "server" and failure.retryable
    assert len(failure.message) < 230
    error = LLMError("server", "line one\nline two\n" * 100)
    assert "\n" not in str(error)
    assert len(str(error)) <= 300
    assert isinstance(error, LoreDigestError)


def test_spent_quota_is_not_retried() -> None:
    """OpenAI answers 429 "insufficient_quota" when the account is out of credit."""
    body = {"error": {"message": "You exceeded your current quota", "code": "insufficient_quota"}}
    failure = _classify(httpx.Response(429, json=body), str)
    assert failure is not None
    assert (failure.kind, failure.retryable) == ("rate_limited", False)


# -- configuration ------------------------------------------------------------------


def test_openai_env_defaults(openai_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    assert OpenAICompatibleClient().base_url == DEFAULT_OPENAI_BASE_URL
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server.url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with OpenAICompatibleClient(sleep=lambda _: None) as client:
        client.complete(REQUEST)
        assert KEY not in repr(client)
    assert openai_server.headers[0]["authorization"] == f"Bearer {KEY}"
    with OpenAICompatibleClient(api_key="explicit") as client:  # arguments win
        client.complete(REQUEST)
    assert openai_server.headers[1]["authorization"] == "Bearer explicit"


def test_anthropic_env_defaults(
    anthropic_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(LLMError) as info:
        AnthropicClient()
    assert info.value.kind == "auth"
    assert "ANTHROPIC_API_KEY" in str(info.value)

    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    with AnthropicClient() as client:
        assert client.base_url == DEFAULT_ANTHROPIC_BASE_URL
    monkeypatch.setenv("ANTHROPIC_BASE_URL", anthropic_server.url + "/")
    with AnthropicClient() as client:
        client.complete(REQUEST)
    assert anthropic_server.headers[0]["x-api-key"] == KEY


def test_make_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    openai = make_client("openai", base_url="http://127.0.0.1:1/v1", timeout=5.0)
    anthropic = make_client("anthropic")
    assert isinstance(openai, OpenAICompatibleClient) and openai.name == "openai"
    assert openai.timeout == 5.0
    assert isinstance(anthropic, AnthropicClient) and anthropic.name == "anthropic"
    openai.close()
    anthropic.close()
    with pytest.raises(UsageError) as info:
        make_client("gemini")
    assert isinstance(info.value, LLMError)
    assert "gemini" in str(info.value)


# -- concurrency ----------------------------------------------------------------------


def test_one_client_serves_many_threads(openai_server: FakeLLMServer) -> None:
    openai_server.script("429", "500", "529")
    with _openai(openai_server, [], backoff_base=0.0) as client:
        requests = [
            ChatRequest(system="JSON please.", user=f"[m{i}] mail {i}", model="m")
            for i in range(16)
        ]
        with ThreadPoolExecutor(max_workers=8) as pool:
            responses = list(pool.map(client.complete, requests))
    for i, response in enumerate(responses):
        assert json.loads(response.text)["original"][0]["cites"] == [f"m{i}"]
    assert openai_server.count == 19


# Keys of several providers' formats; servers echo them whole at any offset.
KEY_FORMATS = {
    "openai-project": "sk-proj-" + "Zx81_qLm-3vBn7Rt" * 10,  # 168 characters
    "anthropic": "sk-ant-api03-" + "Q2w9E4r7T1y6U3i8" * 6 + "-AAAA",
    "hex": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJsb3JlLWRpZ2VzdCJ9.c2lnbmF0dXJlLWJ5dGVz",
}


def _fragments(key: str, size: int = 8) -> set[str]:
    return {key[i : i + size] for i in range(len(key) - size + 1)}


def _leaks(text: str, key: str) -> list[str]:
    return sorted(f for f in _fragments(key) if f in text)


@pytest.mark.parametrize("flavour", ["openai", "anthropic"])
@pytest.mark.parametrize("form", ["json", "text"])
@pytest.mark.parametrize("offset", [0, 150, 190, 5000])
@pytest.mark.parametrize("key_name", sorted(KEY_FORMATS))
def test_no_fragment_of_an_echoed_key_survives(
    flavour: str, form: str, offset: int, key_name: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Redacted before the message is cut short: an echo straddling the cut (offset 190
    of a 200-character excerpt) used to keep 159 of 168 characters. Checked in the
    exception and in the retry log, for JSON errors and plain-text pages."""
    key = KEY_FORMATS[key_name]
    make = _openai if flavour == "openai" else _anthropic
    caplog.set_level(logging.INFO, logger="lore_digest")
    with FakeLLMServer(flavour) as server:
        server.script(("500", (offset, form)), ("401", (offset, form)))
        with make(server, [], api_key=key) as client, pytest.raises(LLMError) as info:
            client.complete(REQUEST)
    assert info.value.kind == "auth" and server.count == 2
    for text in (str(info.value), repr(info.value), caplog.text):
        assert _leaks(text, key) == [], text
    assert "retry 1/" in caplog.text
    if offset == 0:
        assert re.search(r"Incorrect API key provided: (?:Bearer )?\[redacted\]", str(info.value))


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Incorrect API key provided: sk-proj-abc***************xyz1.", "Incorrect API key"),
        ("401: Bearer 0123abcd4567efgh rejected", "401: Bearer [redacted] rejected"),
        ('{"api_key": "hunter2hunter2"}', '{"api_key": "[redacted]"}'),
        ("commit 0123456789abcdef fixed it; token: none", "commit 0123456789abcdef"),
        ("Basic authentication required", "Basic authentication required"),
        ("Bearer authentication failed", "Bearer authentication failed"),
        ("'token': expected integer", "'token': expected integer"),
        ("?key=AIzaSyA1234567890abcdefghijkl&alt=json", "?key=[redacted]&alt=json"),
        ("Authorization: Token abcdef1234567890xyz", "Authorization: Token [redacted]"),
    ],
)
def test_credential_shapes_are_masked_without_the_key(text: str, kept: str) -> None:
    """A gateway may echo a token that is not ours: masked by its shape, ordinary text
    (a commit id, "token: none") left alone."""
    from lore_digest.summarize.redact import redact

    cleaned = redact(text)
    assert kept in cleaned
    for secret in ("abc***", "hunter2", "0123abcd", "AIzaSy", "abcdef1234"):
        assert secret not in cleaned


@pytest.mark.parametrize(
    ("kind", "status", "message", "fatal"),
    [
        ("auth", 401, "Incorrect API key provided", True),
        ("unreachable", None, "cannot connect to http://127.0.0.1:1/v1", True),
        ("client", 404, "The model `gpt-9` does not exist", True),
        ("client", 404, "no route /chat/completions", True),  # a wrong base URL
        ("client", 400, "model 'qwen9' not found, try pulling it first", True),  # Ollama
        ("client", 400, "Invalid model: claude-9", True),
        ("client", 400, "This model's maximum context length is 8192 tokens", False),
        ("client", 413, "request too large", False),
        ("rate_limited", 429, "Rate limit reached", False),
        ("timeout", None, "no answer within 120 s", False),
        ("server", 500, "Internal server error", False),
    ],
)
def test_which_errors_mean_no_request_can_succeed(
    kind: str, status: int | None, message: str, fatal: bool
) -> None:
    """One thread's prompt too long says nothing about the next; a refused key does."""
    assert is_fatal(LLMError(kind, message, status=status)) is fatal  # type: ignore[arg-type]


def test_redaction_is_linear_in_the_body() -> None:
    """A 900 KB error page repeating a fragment of the key: well under a second."""
    from lore_digest.summarize.redact import redact

    key = "sk-" + "Zx81qLm3vBn7Rt2k" * 3
    start = time.perf_counter()
    cleaned = redact((key[5:13] + " ") * 100_000, [key])
    assert time.perf_counter() - start < 3.0
    assert key[5:13] not in cleaned
