"""A real public-inbox v2 inbox, served by the real `public-inbox-httpd` on 127.0.0.1.

lore.kernel.org is not reachable from the test machine, and a hand-written fake would only
test our reading of the protocol against itself. So the tests build an inbox from a prefix
of the shared kvmarm corpus (a genuine public-inbox epoch) and serve it with the same
software lore runs:

    inbox = Inbox.create(corpus_git, tmp / "pi", "kvmarm", count=1200)
    with serve(inbox) as server:
        server.url        # http://127.0.0.1:PORT/kvmarm
        inbox.grow(1500)  # append the corpus' next 300 messages and re-index

Building: `public-inbox-init -V2 -L medium` makes the empty inbox (medium: Xapian without
positions, enough for `rt:` and `dt:` ranges), its `git/0.git` gets the corpus' master
rewound to the Nth commit (git objects are shared with the corpus, so this is instant),
and `public-inbox-index` indexes those commits (~6 s for 1,200 messages). The daemon gets
its listening socket by systemd-style socket activation (LISTEN_FDS), so the free port is
chosen by the kernel without a race. Everything lives in a temporary directory with its
own PI_CONFIG and HOME; nothing touches ~/.public-inbox.

Run `scripts/install-test-deps.sh` to install public-inbox (Debian); without it the tests
skip, naming that script.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

TOOLS = ("public-inbox-init", "public-inbox-index", "public-inbox-httpd")
INSTALL_HINT = "run scripts/install-test-deps.sh (Debian package public-inbox)"


def missing_tools() -> str | None:
    """Why the server cannot run here (None when public-inbox is installed)."""
    absent = [tool for tool in TOOLS if shutil.which(tool) is None]
    if absent:
        return f"{', '.join(absent)} not installed: {INSTALL_HINT}"
    probe = "eval { require Search::Xapian; 1 } or require Xapian"
    if subprocess.run(["perl", "-e", probe], capture_output=True, check=False).returncode:
        return f"Perl Xapian bindings (needed for search) not installed: {INSTALL_HINT}"
    return None


def _run(args: list[str], env: dict[str, str], cwd: Path | None = None) -> str:
    proc = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def corpus_commits(corpus_git: Path) -> list[str]:
    """Commits of the corpus epoch, oldest first (one message each)."""
    out = subprocess.run(
        ["git", "--git-dir", str(corpus_git), "rev-list", "--reverse", "HEAD"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.split()


@dataclass(frozen=True, slots=True)
class OverRow:
    """public-inbox's own view of one message: its Received time and its thread."""

    num: int
    message_id: str
    ts: int  # what rt: searches (Received header, else Date)
    tid: int  # public-inbox's thread id


@dataclass
class Inbox:
    """A v2 inbox holding the first `count` messages of the corpus."""

    root: Path
    name: str
    corpus: Path
    commits: list[str]
    count: int = 0
    address: str = field(default="")

    @property
    def path(self) -> Path:
        """The inbox directory (with git/0.git, xap15/, msgmap.sqlite3)."""
        return self.root / self.name

    @property
    def env(self) -> dict[str, str]:
        """Environment for public-inbox commands: a private config and home."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PI_", "LISTEN_"))}
        env.update(PI_CONFIG=str(self.root / "config"), HOME=str(self.root), TZ="UTC")
        return env

    @classmethod
    def create(cls, corpus_git: Path, root: Path, name: str, count: int) -> Inbox:
        """Initialise the inbox and index the first `count` corpus messages."""
        root.mkdir(parents=True, exist_ok=True)
        inbox = cls(root, name, corpus_git, corpus_commits(corpus_git))
        inbox.address = f"{name}@example.org"
        _run(
            [
                "public-inbox-init",
                "-V2",
                "-L",
                "medium",
                "-j1",
                name,
                str(inbox.path),
                f"http://127.0.0.1/{name}",
                inbox.address,
            ],
            inbox.env,
        )
        inbox.grow(count)
        return inbox

    def grow(self, count: int) -> None:
        """Append corpus messages up to the `count`-th, as new mail arriving, and index them."""
        if not 0 < count <= len(self.commits) or count < self.count:
            raise ValueError(f"cannot grow from {self.count} to {count} messages")
        tip = self.commits[count - 1]
        epoch = self.path / "git" / "0.git"
        _run(
            ["git", "--git-dir", str(epoch), "fetch", "--quiet", str(self.corpus), tip],
            self.env,
        )
        _run(["git", "--git-dir", str(epoch), "update-ref", "refs/heads/master", tip], self.env)
        _run(["public-inbox-index", "--no-fsync", "-j0", str(self.path)], self.env)
        self.count = count

    def copy(self, root: Path) -> Inbox:
        """An independent copy (own config, own files) to change without affecting this one."""
        root.mkdir(parents=True, exist_ok=True)
        shutil.copytree(self.path, root / self.name, symlinks=True)
        copy = Inbox(root, self.name, self.corpus, self.commits, self.count, self.address)
        (root / "config").write_text(
            f'[publicinbox "{self.name}"]\n'
            f"\tinboxdir = {copy.path}\n"
            f"\turl = http://127.0.0.1/{self.name}\n"
            f"\taddress = {self.address}\n"
            "\tindexlevel = medium\n",
            encoding="utf-8",
        )
        return copy

    def over(self) -> list[OverRow]:
        """Every message as public-inbox indexed it (from its over.sqlite3)."""
        conn = sqlite3.connect(f"file:{self.path / 'xap15' / 'over.sqlite3'}?mode=ro", uri=True)
        try:
            rows = conn.execute(
                "SELECT o.num, m.mid, o.ts, o.tid FROM over o"
                " JOIN id2num i ON i.num = o.num JOIN msgid m ON m.id = i.id"
                " WHERE o.num > 0 ORDER BY o.num"
            ).fetchall()
        finally:
            conn.close()
        return [OverRow(int(n), str(mid), int(ts), int(tid)) for n, mid, ts, tid in rows]


@dataclass
class Server:
    """A running public-inbox-httpd serving one inbox."""

    inbox: Inbox
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The inbox URL, like https://lore.kernel.org/kvmarm."""
        return f"{self.origin}/{self.inbox.name}"

    def reload(self, timeout: float = 30.0) -> None:
        """Make the daemon see a re-indexed inbox now (it reopens Xapian lazily otherwise).

        SIGHUP reloads the configuration, i.e. fresh inbox objects; we then wait until a
        search finds the newest message.
        """
        self.process.send_signal(signal.SIGHUP)
        newest = self.inbox.over()[-1].message_id
        deadline = time.monotonic() + timeout
        while True:
            response = httpx.post(
                f"{self.url}/", params={"x": "m", "q": f"mid:{newest}"}, content=b"", timeout=5
            )
            if response.status_code == 200:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"public-inbox-httpd still lacks <{newest}> after SIGHUP")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the daemon (the process we started, by its id)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(inbox: Inbox) -> Server:
    """Start public-inbox-httpd on a kernel-chosen port of 127.0.0.1 and wait until it answers."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.setblocking(False)  # what the daemon wants of an inherited socket
    port = listener.getsockname()[1]
    log = inbox.root / f"httpd-{port}.log"
    # Socket activation: the daemon takes the socket from fd 3 when LISTEN_PID is its pid;
    # `exec` keeps the shell's pid, so $$ is the daemon's. The socket arrives as stdin
    # (dash only redirects single-digit fds) and moves to fd 3.
    script = 'LISTEN_PID=$$ LISTEN_FDS=1; export LISTEN_PID LISTEN_FDS; exec "$@" 3<&0 </dev/null'
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["sh", "-c", script, "sh", "public-inbox-httpd", "-W0"],
            env=inbox.env,
            stdin=listener.fileno(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    listener.close()  # the daemon holds its own copy
    server = Server(inbox, port, process, log)
    try:
        _wait_ready(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: Server, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"public-inbox-httpd exited ({server.process.returncode}): "
                f"{server.log.read_text(errors='replace').strip()}"
            )
        try:
            response = httpx.get(f"{server.url}/", timeout=5)
            if response.status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"public-inbox-httpd did not answer within {timeout:.0f} s")
        time.sleep(0.1)


@contextmanager
def serve(inbox: Inbox) -> Iterator[Server]:
    """Run public-inbox-httpd for the duration of a `with` block."""
    server = start(inbox)
    try:
        yield server
    finally:
        server.stop()


# -- fault injection ------------------------------------------------------------------------


@dataclass
class SeenRequest:
    """One request as the proxy received it."""

    method: str
    target: str  # path and query
    user_agent: str
    fault: str | None


class FaultProxy:
    """A loopback HTTP proxy in front of public-inbox-httpd that misbehaves on demand.

    Faults are consumed one per request, in order (`queue`), or applied to every request
    (`always`); other requests are forwarded unchanged. Kinds:

    * ``"429:N"`` / ``"503:N"``: that status with ``Retry-After: N``
    * ``"500"`` (any other number): that status, no body
    * ``"truncate"``: the real answer cut in half, with a matching Content-Length, so only
      the gzip stream can tell
    * ``"drop"``: the real Content-Length, half the body, then the connection closes
    * ``"stall:S"``: no answer for S seconds (beyond the client's timeout), then a 500
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.queue: list[str] = []
        self.always: str | None = None
        self.seen: list[SeenRequest] = []
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=60)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def url(self, inbox: str) -> str:
        """The inbox URL through the proxy."""
        return f"{self.origin}/{inbox}"

    def faults_seen(self) -> list[str]:
        """The faults injected so far, in order."""
        return [r.fault for r in self.seen if r.fault is not None]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._http.close()

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next_fault(self) -> str | None:
        with self._lock:
            if self.queue:
                return self.queue.pop(0)
            return self.always

    def _forward(self, method: str, target: str, body: bytes) -> httpx.Response:
        return self._http.request(method, self.upstream + target, content=body or None)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet test output

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                fault = proxy._next_fault()
                with proxy._lock:
                    proxy.seen.append(
                        SeenRequest(method, self.path, self.headers.get("User-Agent", ""), fault)
                    )
                # The client may have given up (a stall beyond its timeout).
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self._answer(method, body, fault)

            def _answer(self, method: str, body: bytes, fault: str | None) -> None:
                kind, _, arg = (fault or "").partition(":")
                if kind == "stall":
                    time.sleep(float(arg or 5))
                    self._send(500, b"", {})
                    return
                if kind.isdigit():
                    headers = {"Retry-After": arg} if arg else {}
                    self._send(int(kind), b"", headers)
                    return
                upstream = proxy._forward(method, self.path, body)
                content = upstream.content
                headers = {
                    k: v
                    for k, v in upstream.headers.items()
                    if k.lower() in {"content-type", "content-disposition", "retry-after"}
                }
                if kind == "truncate":
                    self._send(upstream.status_code, content[: len(content) // 2], headers)
                elif kind == "drop":
                    self.send_response(upstream.status_code)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(content)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(content[: len(content) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                else:
                    self._send(upstream.status_code, content, headers)

            def _send(self, status: int, content: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

        return Handler
