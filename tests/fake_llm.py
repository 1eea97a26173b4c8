"""A fake LLM service on 127.0.0.1 speaking the OpenAI and Anthropic chat shapes.

Tests talk to it over real sockets, so the clients' HTTP handling (headers, status
codes, Retry-After, timeouts, keep-alive) is exercised as in production without any
mock of httpx. Failures are scripted per request with `script()`.

    with FakeLLMServer("anthropic") as server:
        server.script("529", ("429", "2"))
        client = AnthropicClient(base_url=server.url, api_key="k", sleep=sleeps.append)
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OPENAI_PATH = "/v1/chat/completions"
ANTHROPIC_PATH = "/v1/messages"
DEFAULT_STALL = 2.0
# Requests for a model named so get the 404 of a model the server does not have.
MISSING_MODEL_PREFIX = "missing-"
BEHAVIOURS = frozenset({"429", "500", "529", "401", "timeout", "invalid_json", "bad_body"})

Behaviour = str | tuple[Any, ...]
Responder = Callable[[dict[str, Any]], str]

_LABEL = re.compile(r"\[(m\d+)\]")


def user_text(body: dict[str, Any]) -> str:
    """The user turn of a request in either shape (string or content blocks)."""
    parts: list[str] = []
    for message in body.get("messages", []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(b.get("text", "") for b in content if isinstance(b, dict))
    return "\n".join(parts)


def system_text(body: dict[str, Any]) -> str:
    """The system prompt of a request in either shape."""
    if isinstance(body.get("system"), str):
        return body["system"]
    return "\n".join(
        m.get("content", "") for m in body.get("messages", []) if m.get("role") == "system"
    )


def default_responder(body: dict[str, Any]) -> str:
    """A valid summary citing real labels: the first [mK] of the user message (and the last
    one for this week), so schema validation of the answer passes."""
    labels = _LABEL.findall(user_text(body)) or ["m1"]
    first, last = labels[0], labels[-1]
    summary = {
        "original": [{"text": "The series proposes a change.", "cites": [first]}],
        "history": [{"text": "Earlier review asked for changes.", "cites": [first]}],
        "this_week": [{"text": "Discussion continued this week.", "cites": [last]}],
    }
    return json.dumps(summary)


def count_tokens(text: str) -> int:
    """The fake's tokeniser: roughly four characters per token."""
    return len(text) // 4


class FakeLLMServer:
    """Threaded HTTP server answering chat requests; see the module docstring.

    `flavour` only picks `url` (where the client's base URL points); both API paths are
    served, each in its own shape.
    """

    def __init__(self, flavour: str = "openai", responder: Responder | None = None) -> None:
        if flavour not in ("openai", "anthropic"):
            raise ValueError(f"unknown flavour {flavour!r}")
        self.flavour = flavour
        self.responder: Responder = responder or default_responder
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._lock = threading.Lock()
        self._queue: deque[Behaviour] = deque()
        self._stop = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        port = self._httpd.server_address[1]
        root = f"http://127.0.0.1:{port}"
        self.url = f"{root}/v1" if flavour == "openai" else root

    def __enter__(self) -> FakeLLMServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Serve in a daemon thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving; stalled handlers wake up and drop their connection."""
        self._stop.set()
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()

    def script(self, *behaviours: Behaviour) -> None:
        """Queue behaviours, one consumed per request before normal answers resume.

        "429" (Retry-After: 1) or ("429", "<Retry-After value>" | None for no header),
        "500", "529", "401", or ("401" | "500", (offset, "json" | "text")) to echo the
        key after `offset` characters of text, "timeout" or ("timeout", seconds) to stall past the client's
        timeout, "invalid_json" (answer text that is not JSON), "bad_body" (HTTP 200
        whose JSON is not the API's shape).
        """
        for behaviour in behaviours:
            if _split(behaviour)[0] not in BEHAVIOURS:
                raise ValueError(f"unknown scripted behaviour {behaviour!r}")
        with self._lock:
            self._queue.extend(behaviours)

    @property
    def count(self) -> int:
        """Requests received so far."""
        with self._lock:
            return len(self.requests)

    # -- used by the handler --------------------------------------------------------

    def _record(self, body: dict[str, Any], headers: dict[str, str]) -> Behaviour | None:
        with self._lock:
            self.requests.append(body)
            self.headers.append(headers)
            return self._queue.popleft() if self._queue else None

    def _stall(self, seconds: float) -> None:
        self._stop.wait(seconds)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Keep-alive handler threads block on reading the next request; do not wait for them.
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that time out hang up mid-answer; that is expected, stay quiet."""


def _handler_for(server: FakeLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real APIs

        def log_message(self, format: str, *args: Any) -> None:
            """Silence the per-request log on stderr."""

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length)
            try:
                body = json.loads(raw)
            except ValueError:
                self._send(400, _error_body(self.path, "invalid_request_error", "bad JSON"))
                return
            headers = {k.lower(): v for k, v in self.headers.items()}
            behaviour = server._record(body, headers)
            if self.path not in (OPENAI_PATH, ANTHROPIC_PATH):
                self._send(404, {"error": {"message": f"no route {self.path}"}})
                return
            if str(body.get("model", "")).startswith(MISSING_MODEL_PREFIX):
                # As OpenAI (and Ollama, vLLM) answer a model they do not serve.
                message = (
                    f"The model `{body['model']}` does not exist or you do not have access to it."
                )
                self._send(404, _error_body(self.path, "not_found_error", message))
                return
            refusal = _reasoning_refusal(self.path, body)
            if refusal is not None:
                self._send(400, _error_body(self.path, "invalid_request_error", refusal))
                return
            self._behave(behaviour, body, headers)

        def _behave(
            self, behaviour: Behaviour | None, body: dict[str, Any], headers: dict[str, str]
        ) -> None:
            name, arg = _split(behaviour)
            if name == "429":
                retry_after = "1" if arg is None and isinstance(behaviour, str) else arg
                extra = {"retry-after": str(retry_after)} if retry_after is not None else {}
                err = _error_body(self.path, "rate_limit_error", "Rate limit reached")
                self._send(429, err, extra)
            elif name == "500" and arg is not None:
                self._echo_key(500, arg, headers)  # a proxy's error page that quotes it
            elif name == "500":
                self._send(500, _error_body(self.path, "api_error", "Internal server error"))
            elif name == "529":
                self._send(529, _error_body(self.path, "overloaded_error", "Overloaded"))
            elif name == "401":
                # Echo the key, as some proxies do: the client must redact it. With an
                # argument (offset, "json" | "text"), after `offset` characters of other
                # text, in the API's JSON error or as a plain-text page.
                self._echo_key(401, arg if arg is not None else (0, "json"), headers)
            elif name == "timeout":
                server._stall(float(arg) if arg is not None else DEFAULT_STALL)
                self._answer(body, server.responder(body))
            elif name == "invalid_json":
                self._answer(body, "Sure! Here is a summary of the thread, in prose.")
            elif name == "bad_body":
                self._send(200, {"status": "ok", "result": "not a chat completion"})
            elif name is None:
                self._answer(body, server.responder(body))
            else:  # script() validates names; keep the client informed anyway
                self._send(500, {"error": {"message": f"bad behaviour {behaviour!r}"}})

        def _answer(self, body: dict[str, Any], text: str) -> None:
            prompt = count_tokens(system_text(body) + user_text(body))
            out = count_tokens(text)
            model = body.get("model", "fake-model")
            if self.path == OPENAI_PATH:
                self._send(200, _openai_completion(model, text, prompt, out))
            else:
                self._send(200, _anthropic_message(model, text, prompt, out))

        def _echo_key(self, status: int, arg: tuple[int, str], headers: dict[str, str]) -> None:
            key = headers.get("x-api-key") or headers.get("authorization", "")
            offset, form = arg
            filler = ("The gateway rejected this request. " * (offset // 35 + 1))[:offset]
            message = f"{filler}Incorrect API key provided: {key}. See the docs."
            if form == "text":
                self._send_text(status, message)
            else:
                kind = "authentication_error" if status == 401 else "api_error"
                self._send(status, _error_body(self.path, kind, message))

        def _send(
            self, status: int, payload: dict[str, Any], extra: dict[str, str] | None = None
        ) -> None:
            self._send_bytes(status, json.dumps(payload).encode(), "application/json", extra)

        def _send_text(self, status: int, text: str) -> None:
            self._send_bytes(status, text.encode(), "text/plain; charset=utf-8")

        def _send_bytes(
            self, status: int, data: bytes, kind: str, extra: dict[str, str] | None = None
        ) -> None:
            try:
                self.send_response(status)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(data)))
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)
                self.wfile.flush()
            except OSError:
                self.close_connection = True  # the client hung up (timed out)

    return Handler


# OpenAI's reasoning models (o1, o3, o4-mini, gpt-5...) answer these two with HTTP 400.
_REASONING_MODEL = re.compile(r"^(?:[\w.-]+/)?(?:o\d+(?:-|$)|gpt-5)", re.IGNORECASE)


def _reasoning_refusal(path: str, body: dict[str, Any]) -> str | None:
    """OpenAI's 400 message for a reasoning model sent `max_tokens` or a temperature."""
    if path != OPENAI_PATH or not _REASONING_MODEL.match(str(body.get("model", ""))):
        return None
    if "max_tokens" in body:
        return (
            "Unsupported parameter: 'max_tokens' is not supported with this model."
            " Use 'max_completion_tokens' instead."
        )
    if body.get("temperature", 1) != 1:
        return (
            "Unsupported value: 'temperature' does not support "
            f"{body['temperature']} with this model. Only the default (1) value is supported."
        )
    return None


def _split(behaviour: Behaviour | None) -> tuple[str | None, Any]:
    if behaviour is None:
        return None, None
    if isinstance(behaviour, str):
        return behaviour, None
    return str(behaviour[0]), behaviour[1] if len(behaviour) > 1 else None


def _error_body(path: str, kind: str, message: str) -> dict[str, Any]:
    if path == ANTHROPIC_PATH:
        return {"type": "error", "error": {"type": kind, "message": message}}
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _openai_completion(model: str, text: str, prompt: int, out: int) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": prompt, "completion_tokens": out, "total_tokens": prompt + out},
    }


def _anthropic_message(model: str, text: str, prompt: int, out: int) -> dict[str, Any]:
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [{"type": "text", "text": text}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": prompt, "output_tokens": out},
    }
