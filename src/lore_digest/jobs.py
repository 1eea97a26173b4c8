"""Tasks in worker processes, at most N at once, with one limit on LLM requests for all.

`run --jobs N` digests lists side by side. Each task (one store's lists) runs in a
process of its own, started fresh ("spawn": no SQLite connection, lock or thread is
inherited), so a list that crashes its process fails that task only: the others go on,
and the task's lists are reported failed with the reason. The processes share one
semaphore that every LLM request holds while in flight (summarize.clients'
request gate): N lists at once never have more requests open together than one run
would. Their log lines and progress come back through a queue, in the order sent.
"""

from __future__ import annotations

import multiprocessing
import queue
from collections.abc import Callable, Sequence
from multiprocessing.context import SpawnProcess
from typing import Any, TypeVar

from lore_digest.summarize.clients import set_request_gate

__all__ = ["run_in_processes", "worker_log", "worker_progress"]

T = TypeVar("T")
_POLL_S = 0.2

# In a worker: where its log lines and progress go (the parent's queue).
_events: Any = None


def worker_log(line: str) -> None:
    """A task's log line, sent to the parent (which prints it in order)."""
    _events.put(("log", line))


def worker_progress(label: str, done: int, total: int | None) -> None:
    """A task's progress, sent to the parent's progress callback."""
    _events.put(("progress", label, done, total))


def _child(
    task: Callable[..., object], index: int, args: tuple[object, ...], gate: Any, events: Any
) -> None:
    global _events
    _events = events
    set_request_gate(gate)
    try:
        events.put(("result", index, task(*args)))
    except BaseException as exc:  # the parent reports it for the task's lists
        events.put(("failed", index, f"{type(exc).__name__}: {exc}"))


def run_in_processes(
    task: Callable[..., T],
    calls: Sequence[tuple[object, ...]],
    *,
    jobs: int,
    llm_limit: int,
    failed: Callable[[tuple[object, ...], str], T],
    log: Callable[[str], None],
    progress: Callable[[str, int, int | None], None] | None = None,
) -> list[T]:
    """`task(*args)` for each of `calls`, in up to `jobs` processes at once; results in
    the order of `calls`. `task` must be a module-level function and its arguments and
    result picklable. A task that raises, or whose process dies, gives `failed(args,
    reason)` instead. At most `llm_limit` LLM requests are in flight across all of them.
    """
    context = multiprocessing.get_context("spawn")
    gate = context.BoundedSemaphore(max(1, llm_limit))
    events = context.Queue()
    results: dict[int, T] = {}
    waiting = list(enumerate(calls))
    running: dict[int, SpawnProcess] = {}

    def handle(event: tuple[Any, ...]) -> None:
        kind = event[0]
        if kind == "log":
            log(event[1])
        elif kind == "progress":
            if progress is not None:
                progress(event[1], event[2], event[3])
        elif kind == "result":
            results[event[1]] = event[2]
        else:
            results[event[1]] = failed(calls[event[1]], str(event[2]))

    def drain(timeout: float) -> None:
        try:
            handle(events.get(timeout=timeout))
            while True:
                handle(events.get_nowait())
        except queue.Empty:
            return

    try:
        while waiting or running:
            while waiting and len(running) < max(1, jobs):
                index, args = waiting.pop(0)
                process = context.Process(
                    target=_child, args=(task, index, args, gate, events), daemon=True
                )
                process.start()
                running[index] = process
            drain(_POLL_S)
            for index, process in list(running.items()):
                if index in results:
                    process.join()
                elif not process.is_alive():
                    drain(_POLL_S)  # what it sent before it ended
                    if index not in results:
                        code = process.exitcode
                        results[index] = failed(
                            calls[index], f"worker process ended with exit code {code}"
                        )
                else:
                    continue
                del running[index]
    finally:
        for process in running.values():  # interrupted: no orphan keeps a store locked
            process.terminate()
        events.close()
    return [results[index] for index in range(len(calls))]
