"""A fake of the OpenAI and Anthropic batch APIs on 127.0.0.1, over real sockets.

It checks what the real services check and answers in their shapes:

- OpenAI: `POST /v1/files` (multipart, `purpose=batch`, a JSONL file whose lines carry
  a unique `custom_id`, `method: POST`, `url: /v1/chat/completions` and a chat body),
  `POST /v1/batches` (an uploaded file, that endpoint, `completion_window: 24h`),
  `GET /v1/batches/{id}` (validating → in_progress → completed, with
  `output_file_id` / `error_file_id`), `GET /v1/files/{id}/content` (JSONL answers);
- Anthropic: `POST /v1/messages/batches` (`requests` with custom ids of 1–64 characters
  of `[A-Za-z0-9_-]` and `params` with model, max_tokens and messages; `x-api-key` and
  `anthropic-version` headers), `GET /v1/messages/batches/{id}` (in_progress → ended,
  `results_url`), `GET /v1/messages/batches/{id}/results` (JSONL of succeeded /
  errored / expired results).

A batch ends after `polls_to_end` looks at it (0: at the first). `script_results()`
makes chosen requests fail inside an otherwise successful batch. The answers come from
the same responders as the direct fake (tests.fake_llm).
"""

from __future__ import annotations

import email.parser
import email.policy
import itertools
import json
import re
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler
from typing import Any

from fake_llm import (
    Responder,
    _anthropic_message,
    _openai_completion,
    _Server,
    count_tokens,
    default_responder,
    system_text,
    user_text,
)

CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
RESULTS = frozenset({"ok", "errored", "expired"})


class FakeBatchServer:
    """Both providers' batch endpoints; `url` is the base URL for the given flavour."""

    def __init__(
        self,
        flavour: str = "openai",
        responder: Responder | None = None,
        *,
        polls_to_end: int = 0,
        api_key: str = "sk-test",
    ) -> None:
        if flavour not in ("openai", "anthropic"):
            raise ValueError(f"unknown flavour {flavour!r}")
        self.flavour = flavour
        self.responder: Responder = responder or default_responder
        self.polls_to_end = polls_to_end
        self.api_key = api_key
        self.submitted: list[list[dict[str, Any]]] = []  # each batch's request bodies
        self.polls = 0
        self.fail_batch = ""  # OpenAI: a reason to fail every batch as a whole
        self.requests: list[tuple[str, str]] = []  # (method, path) of every call
        self.hosts_results_at = ""  # Anthropic: a results_url on another origin
        self.failing_polls = 0  # this many looks at a batch answer HTTP 500
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._files: dict[str, bytes] = {}
        self._batches: dict[str, dict[str, Any]] = {}
        self._results: deque[str] = deque()
        self._httpd = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self.root = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self.url = f"{self.root}/v1" if flavour == "openai" else self.root

    def __enter__(self) -> FakeBatchServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def script_results(self, *kinds: str) -> None:
        """How the next requests submitted end, one per request: "ok", "errored" (the
        provider's per-request error) or "expired" (never answered)."""
        for kind in kinds:
            if kind not in RESULTS:
                raise ValueError(f"unknown result {kind!r}")
        with self._lock:
            self._results.extend(kinds)

    @property
    def asked(self) -> int:
        """Requests submitted in all batches."""
        return sum(len(b) for b in self.submitted)

    # -- used by the handler --------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids):04d}"

    def _create(self, lines: list[dict[str, Any]], bodies: list[dict[str, Any]]) -> dict[str, Any]:
        """Answer every request at once; the batch only shows them when it has ended."""
        with self._lock:
            self.submitted.append(bodies)
            outcomes = [self._results.popleft() if self._results else "ok" for _ in lines]
        batch_id = self._new_id("batch_" if self.flavour == "openai" else "msgbatch_")
        answers = []
        for line, body, outcome in zip(lines, bodies, outcomes, strict=True):
            text = self.responder(body) if outcome == "ok" else ""
            answers.append((line["custom_id"], body, outcome, text))
        batch = {"id": batch_id, "answers": answers, "polls": 0}
        self._batches[batch_id] = batch
        return batch

    def _ended(self, batch: dict[str, Any]) -> bool:
        with self._lock:
            self.polls += 1
            batch["polls"] += 1
            return batch["polls"] > self.polls_to_end


def _check_openai_line(line: Any, seen: set[str]) -> str | None:
    if not isinstance(line, dict):
        return "each line must be a JSON object"
    custom_id = line.get("custom_id")
    if not isinstance(custom_id, str) or not custom_id or custom_id in seen:
        return f"custom_id missing or duplicated: {custom_id!r}"
    seen.add(custom_id)
    if line.get("method") != "POST" or line.get("url") != "/v1/chat/completions":
        return "method must be POST and url /v1/chat/completions"
    body = line.get("body")
    if not isinstance(body, dict) or not body.get("model") or not body.get("messages"):
        return "body must carry model and messages"
    return None


def _check_anthropic_request(item: Any, seen: set[str]) -> str | None:
    if not isinstance(item, dict):
        return "each request must be an object"
    custom_id = item.get("custom_id")
    if not isinstance(custom_id, str) or not CUSTOM_ID.match(custom_id) or custom_id in seen:
        return f"custom_id invalid or duplicated: {custom_id!r}"
    seen.add(custom_id)
    params = item.get("params")
    if not isinstance(params, dict):
        return "params must be an object"
    for field in ("model", "max_tokens", "messages"):
        if field not in params:
            return f"params.{field}: Field required"
    return None


def _multipart(content_type: str, raw: bytes) -> dict[str, tuple[str | None, bytes]]:
    """The parts of a multipart/form-data body: name → (filename, content)."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + raw
    )
    parts: dict[str, tuple[str | None, bytes]] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            parts[name] = (part.get_filename(), payload)
    return parts


def _handler_for(server: FakeBatchServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

        # -- routing ------------------------------------------------------------------

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            server.requests.append(("POST", self.path))
            if not self._authorised():
                return
            if self.path == "/v1/files":
                self._upload(raw)
            elif self.path == "/v1/batches":
                self._openai_create(raw)
            elif self.path == "/v1/messages/batches":
                self._anthropic_create(raw)
            else:
                self._error(404, f"no route {self.path}")

        def do_GET(self) -> None:
            server.requests.append(("GET", self.path))
            if not self._authorised():
                return
            if server.failing_polls > 0:
                server.failing_polls -= 1
                self._json(500, {"error": {"type": "api_error", "message": "Internal error"}})
                return
            parts = self.path.strip("/").split("/")
            if parts[:2] == ["v1", "batches"] and len(parts) == 3:
                self._openai_batch(parts[2])
            elif parts[:2] == ["v1", "files"] and len(parts) == 4 and parts[3] == "content":
                self._openai_file(parts[2])
            elif parts[:3] == ["v1", "messages", "batches"] and len(parts) == 4:
                self._anthropic_batch(parts[3])
            elif parts[:3] == ["v1", "messages", "batches"] and parts[4:] == ["results"]:
                self._anthropic_results(parts[3])
            else:
                self._error(404, f"no route {self.path}")

        def _authorised(self) -> bool:
            if self.path.startswith("/v1/messages"):
                ok = self.headers.get("x-api-key") == server.api_key and bool(
                    self.headers.get("anthropic-version")
                )
            else:
                ok = self.headers.get("authorization") == f"Bearer {server.api_key}"
            if not ok:
                self._error(401, "invalid x-api-key or bearer token")
            return ok

        # -- OpenAI ---------------------------------------------------------------------

        def _upload(self, raw: bytes) -> None:
            kind = self.headers.get("content-type", "")
            if not kind.startswith("multipart/form-data"):
                self._error(400, "files must be uploaded as multipart/form-data")
                return
            parts = _multipart(kind, raw)
            if parts.get("purpose", (None, b""))[1] != b"batch" or "file" not in parts:
                self._error(400, "purpose must be 'batch' and a file part is required")
                return
            filename, content = parts["file"]
            seen: set[str] = set()
            for text in content.decode().splitlines():
                problem = _check_openai_line(json.loads(text), seen)
                if problem:
                    self._error(400, f"invalid batch line: {problem}")
                    return
            file_id = server._new_id("file-")
            server._files[file_id] = content
            self._json(
                200,
                {
                    "id": file_id,
                    "object": "file",
                    "bytes": len(content),
                    "filename": filename,
                    "purpose": "batch",
                },
            )

        def _openai_create(self, raw: bytes) -> None:
            body = json.loads(raw)
            content = server._files.get(str(body.get("input_file_id")))
            if content is None:
                self._error(400, "input_file_id: no such file")
                return
            if body.get("endpoint") != "/v1/chat/completions":
                self._error(400, "endpoint must be /v1/chat/completions")
                return
            if body.get("completion_window") != "24h":
                self._error(400, "completion_window must be 24h")
                return
            lines = [json.loads(t) for t in content.decode().splitlines()]
            batch = server._create(lines, [line["body"] for line in lines])
            self._json(200, self._openai_view(batch, "validating"))

        def _openai_batch(self, batch_id: str) -> None:
            batch = server._batches.get(batch_id)
            if batch is None:
                self._error(404, f"no batch {batch_id}")
                return
            if server.fail_batch:
                view = self._openai_view(batch, "failed")
                view["errors"] = {"object": "list", "data": [{"message": server.fail_batch}]}
                self._json(200, view)
                return
            ended = server._ended(batch)
            self._json(200, self._openai_view(batch, "completed" if ended else "in_progress"))

        def _openai_view(self, batch: dict[str, Any], status: str) -> dict[str, Any]:
            answers = batch["answers"]
            done = status == "completed"
            ok = sum(1 for a in answers if a[2] == "ok")
            failed = sum(1 for a in answers if a[2] == "errored")
            if done and "output" not in batch:
                batch["output"] = server._new_id("file-")
                batch["errors"] = server._new_id("file-")
                out, err = [], []
                for custom_id, body, outcome, text in answers:
                    if outcome == "ok":
                        prompt = count_tokens(system_text(body) + user_text(body))
                        completion = _openai_completion(
                            body["model"], text, prompt, count_tokens(text)
                        )
                        response = {"status_code": 200, "request_id": "req", "body": completion}
                        out.append({"id": "r", "custom_id": custom_id, "response": response})
                    elif outcome == "errored":
                        error = {"error": {"message": "The server had an error", "type": "server"}}
                        response = {"status_code": 500, "request_id": "req", "body": error}
                        err.append({"id": "r", "custom_id": custom_id, "response": response})
                    # expired: in neither file
                server._files[batch["output"]] = "".join(json.dumps(x) + "\n" for x in out).encode()
                server._files[batch["errors"]] = "".join(json.dumps(x) + "\n" for x in err).encode()
            return {
                "id": batch["id"],
                "object": "batch",
                "endpoint": "/v1/chat/completions",
                "status": status,
                "output_file_id": batch.get("output") if done else None,
                "error_file_id": batch.get("errors") if done else None,
                "request_counts": {
                    "total": len(answers),
                    "completed": ok if done else 0,
                    "failed": failed if done else 0,
                },
            }

        def _openai_file(self, file_id: str) -> None:
            content = server._files.get(file_id)
            if content is None:
                self._error(404, f"no file {file_id}")
                return
            self._bytes(200, content, "application/octet-stream")

        # -- Anthropic ------------------------------------------------------------------

        def _anthropic_create(self, raw: bytes) -> None:
            body = json.loads(raw)
            items = body.get("requests")
            if not isinstance(items, list) or not items:
                self._error(400, "requests: Field required")
                return
            seen: set[str] = set()
            for item in items:
                problem = _check_anthropic_request(item, seen)
                if problem:
                    self._error(400, problem)
                    return
            batch = server._create(items, [item["params"] for item in items])
            self._json(200, self._anthropic_view(batch, ended=False))

        def _anthropic_batch(self, batch_id: str) -> None:
            batch = server._batches.get(batch_id)
            if batch is None:
                self._error(404, f"no batch {batch_id}")
                return
            self._json(200, self._anthropic_view(batch, ended=server._ended(batch)))

        def _anthropic_view(self, batch: dict[str, Any], *, ended: bool) -> dict[str, Any]:
            answers = batch["answers"]
            counts = {"processing": 0 if ended else len(answers)}
            for kind, outcome in (
                ("succeeded", "ok"),
                ("errored", "errored"),
                ("expired", "expired"),
            ):
                counts[kind] = sum(1 for a in answers if a[2] == outcome) if ended else 0
            counts["canceled"] = 0
            origin = server.hosts_results_at or server.root
            return {
                "id": batch["id"],
                "type": "message_batch",
                "processing_status": "ended" if ended else "in_progress",
                "request_counts": counts,
                "results_url": f"{origin}/v1/messages/batches/{batch['id']}/results"
                if ended
                else None,
            }

        def _anthropic_results(self, batch_id: str) -> None:
            batch = server._batches.get(batch_id)
            if batch is None:
                self._error(404, f"no batch {batch_id}")
                return
            lines = []
            for custom_id, body, outcome, text in batch["answers"]:
                if outcome == "ok":
                    prompt = count_tokens(system_text(body) + user_text(body))
                    message = _anthropic_message(body["model"], text, prompt, count_tokens(text))
                    result: dict[str, Any] = {"type": "succeeded", "message": message}
                elif outcome == "errored":
                    error = {"type": "invalid_request_error", "message": "prompt is too long"}
                    result = {"type": "errored", "error": {"type": "error", "error": error}}
                else:
                    result = {"type": "expired"}
                lines.append(json.dumps({"custom_id": custom_id, "result": result}) + "\n")
            self._bytes(200, "".join(lines).encode(), "application/binary")

        # -- answers --------------------------------------------------------------------

        def _error(self, status: int, message: str) -> None:
            self._json(status, {"error": {"type": "invalid_request_error", "message": message}})

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            self._bytes(status, json.dumps(payload).encode(), "application/json")

        def _bytes(self, status: int, data: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
