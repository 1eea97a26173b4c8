"""The one place a summariser is made from a backend name and its options."""

from __future__ import annotations

from lore_digest.errors import UsageError
from lore_digest.store.db import Store
from lore_digest.summarize.base import Summarizer
from lore_digest.summarize.offline import OfflineSummarizer

BACKENDS = ("offline", "openai", "anthropic")
DEFAULT_MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-3-5-haiku-latest"}


def make_summarizer(
    backend: str,
    *,
    store: Store,
    list_id: int,
    model: str | None = None,
    base_url: str | None = None,
    timeout: float = 120.0,
    concurrency: int = 4,
    budget_tokens: int = 12_000,
    max_tokens_run: int | None = None,
) -> Summarizer:
    """The summariser for `backend`: offline (facts only), or an LLM over its API.

    Raises UsageError for an unknown backend; an LLM client that lacks its key raises
    its own one-line error here, before any report is built.
    """
    if backend == "offline":
        return OfflineSummarizer()
    if backend not in BACKENDS:
        raise UsageError(f"unknown summarizer {backend!r} (choose from {', '.join(BACKENDS)})")
    from lore_digest.summarize.clients import make_client
    from lore_digest.summarize.llm import LLMSettings, LLMSummarizer

    client = make_client(backend, base_url=base_url, timeout=timeout)
    settings = LLMSettings(
        model=model or DEFAULT_MODELS[backend],
        concurrency=concurrency,
        budget_tokens=budget_tokens,
        max_tokens_run=max_tokens_run,
    )
    return LLMSummarizer(client, settings, store, list_id)
