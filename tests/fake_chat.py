"""Loopback fakes of the chat webhook APIs, checking what the real services check.

One HTTP server on 127.0.0.1 answers each kind's path the way the service does, and
refuses what it refuses: Feishu/Lark (signature in the body, checked here with the
algorithm written out independently of the product's code: 19021 when wrong), DingTalk
(signature as URL parameters: 310000), WeCom (markdown over 4,096 bytes: 40058),
Slack (Block Kit shape: 400 invalid_blocks), Matrix (bearer token, PUT with a
transaction id; a repeated id is answered with the first event and not stored again),
Telegram (bot token in the path, only Telegram's HTML tags, 4,096 characters) and a
generic webhook (HMAC of the body in a header). `script(path_prefix, behaviour...)`
makes the next requests to a path answer 429 (with Retry-After), 500, a refusal, or
late (a client timeout) first.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import re
import threading
import time
import urllib.parse
from collections import defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FEISHU_SECRET = "feishu-secret-0123456789"
DINGTALK_SECRET = "SECdingtalk0123456789abcdef"
WEBHOOK_SECRET = "webhook-secret-0123456789"
MATRIX_TOKEN = "syt_matrix_token_0123456789"
TELEGRAM_TOKEN = "123456:telegram-token-0123456789"
TELEGRAM_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre"}
_TAG = re.compile(r"</?([a-zA-Z][a-zA-Z0-9-]*)")


class FakeChatServer:
    """See the module docstring; `received[kind]` holds each accepted message body."""

    def __init__(self) -> None:
        self.received: dict[str, list[Any]] = defaultdict(list)
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request
        self.matrix_events: dict[str, str] = {}  # txn id -> event id
        self._script: dict[str, deque[tuple[str, str]]] = defaultdict(deque)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, prefix: str, *behaviours: tuple[str, str]) -> None:
        """Answer the next requests whose path starts with `prefix` so: ("429", seconds),
        ("500", ""), ("refuse", "") (a permanent 400), ("stall", seconds) (answer late:
        the client's timeout) or ("pass", "") (as usual)."""
        with self._lock:
            self._script[prefix].extend(behaviours)

    def scripted(self, path: str) -> tuple[str, str] | None:
        with self._lock:
            for prefix, queue in self._script.items():
                if path.startswith(prefix) and queue:
                    return queue.popleft()
        return None


def _feishu_sign(timestamp: str) -> str:
    key = (timestamp + "\n" + FEISHU_SECRET).encode("utf-8")
    return base64.b64encode(hmac.new(key, msg=b"", digestmod=hashlib.sha256).digest()).decode()


def _dingtalk_sign(timestamp: str) -> str:
    mac = hmac.new(
        DINGTALK_SECRET.encode("utf-8"),
        (timestamp + "\n" + DINGTALK_SECRET).encode("utf-8"),
        digestmod=hashlib.sha256,
    )
    return base64.b64encode(mac.digest()).decode()


def _handler(fake: FakeChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _answer(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(data)  # a client that timed out is gone

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PUT(self) -> None:
            self._serve("PUT")

        def _serve(self, method: str) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            split = urllib.parse.urlsplit(self.path)
            path, query = split.path, urllib.parse.parse_qs(split.query)
            with fake._lock:
                fake.requests.append((method, path))
            behaviour = fake.scripted(path)
            if behaviour is not None and behaviour[0] == "stall":
                time.sleep(float(behaviour[1]))  # the client times out meanwhile
                behaviour = None
            if behaviour is not None and behaviour[0] != "pass":
                kind, value = behaviour
                if kind == "429":
                    if path.startswith("/bot"):
                        body = {
                            "ok": False,
                            "error_code": 429,
                            "parameters": {"retry_after": int(value)},
                        }
                        self._answer(429, body)
                    else:
                        self._answer(429, {"error": "rate limited"}, {"Retry-After": value})
                    return
                if kind == "500":
                    self._answer(500, {"error": "oops"})
                    return
                self._answer(400, {"code": 400, "msg": "refused by script"})
                return
            body = json.loads(raw) if raw and path != "/webhook" else raw
            for prefix, check in (
                ("/feishu/", self._feishu),
                ("/dingtalk/", self._dingtalk),
                ("/wecom/", self._wecom),
                ("/slack/", self._slack),
                ("/_matrix/", self._matrix),
                ("/bot", self._telegram),
                ("/webhook", self._webhook),
            ):
                if path.startswith(prefix):
                    check(method, path, query, body)
                    return
            self._answer(404, {"error": "no such path"})

        def _keep(self, kind: str, body: Any) -> None:
            with fake._lock:
                fake.received[kind].append(body)

        def _feishu(self, method: str, path: str, query: Any, body: Any) -> None:
            # A bot with signing on ("-signed" in this fake's URL) checks every request.
            signed_ok = body.get("sign") == _feishu_sign(str(body.get("timestamp", "")))
            if path.endswith("-signed") and not signed_ok:
                self._answer(200, {"code": 19021, "msg": "sign match fail"})
                return
            if body.get("msg_type") != "interactive" or "elements" not in body.get("card", {}):
                self._answer(200, {"code": 19002, "msg": "params error"})
                return
            self._keep("feishu", body)
            self._answer(200, {"code": 0, "msg": "success", "data": {}})

        def _dingtalk(self, method: str, path: str, query: Any, body: Any) -> None:
            timestamp = query.get("timestamp", [""])[0]
            if query.get("sign", [""])[0] != _dingtalk_sign(timestamp):
                self._answer(200, {"errcode": 310000, "errmsg": "sign not match"})
                return
            markdown = body.get("markdown", {})
            if (
                body.get("msgtype") != "markdown"
                or not markdown.get("title")
                or not markdown.get("text")
            ):
                self._answer(200, {"errcode": 40035, "errmsg": "missing parameter"})
                return
            self._keep("dingtalk", body)
            self._answer(200, {"errcode": 0, "errmsg": "ok"})

        def _wecom(self, method: str, path: str, query: Any, body: Any) -> None:
            content = body.get("markdown", {}).get("content", "")
            if body.get("msgtype") != "markdown" or not content:
                self._answer(200, {"errcode": 40008, "errmsg": "invalid message type"})
                return
            if len(content.encode()) > 4096:
                self._answer(200, {"errcode": 40058, "errmsg": "content exceed max length"})
                return
            self._keep("wecom", body)
            self._answer(200, {"errcode": 0, "errmsg": "ok"})

        def _slack(self, method: str, path: str, query: Any, body: Any) -> None:
            blocks = body.get("blocks", [])
            bad = (
                not isinstance(body.get("text"), str)
                or len(blocks) > 50
                or any(b.get("type") == "section" and len(b["text"]["text"]) > 3000 for b in blocks)
                or any(b.get("type") == "header" and len(b["text"]["text"]) > 150 for b in blocks)
            )
            if bad:
                self._answer(400, "invalid_blocks")
                return
            self._keep("slack", body)
            self._answer(200, "ok")

        def _matrix(self, method: str, path: str, query: Any, body: Any) -> None:
            if self.headers.get("Authorization") != f"Bearer {MATRIX_TOKEN}":
                self._answer(401, {"errcode": "M_UNKNOWN_TOKEN", "error": "Invalid access token"})
                return
            match = re.fullmatch(
                r"/_matrix/client/v3/rooms/([^/]+)/send/m\.room\.message/([^/]+)", path
            )
            if method != "PUT" or match is None:
                self._answer(400, {"errcode": "M_UNRECOGNIZED", "error": "bad path"})
                return
            txn = match.group(2)
            with fake._lock:
                event = fake.matrix_events.get(txn)
                if event is None:
                    event = f"$event{len(fake.matrix_events)}"
                    fake.matrix_events[txn] = event
                    fake.received["matrix"].append(body)
            self._answer(200, {"event_id": event})

        def _telegram(self, method: str, path: str, query: Any, body: Any) -> None:
            if path != f"/bot{TELEGRAM_TOKEN}/sendMessage":
                self._answer(401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
                return
            text = body.get("text", "")
            tags = {t.lower() for t in _TAG.findall(text)}
            if body.get("parse_mode") != "HTML" or not tags <= TELEGRAM_TAGS or len(text) > 4096:
                self._answer(
                    400,
                    {
                        "ok": False,
                        "error_code": 400,
                        "description": "Bad Request: can't parse entities",
                    },
                )
                return
            self._keep("telegram", body)
            self._answer(
                200, {"ok": True, "result": {"message_id": len(fake.received["telegram"])}}
            )

        def _webhook(self, method: str, path: str, query: Any, body: Any) -> None:
            mac = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
            if self.headers.get("X-Lore-Digest-Signature") != f"sha256={mac}":
                self._answer(401, {"error": "bad signature"})
                return
            self._keep("webhook", json.loads(body))
            self._answer(204, "")

    return Handler
