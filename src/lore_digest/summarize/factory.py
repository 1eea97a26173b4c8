"""The one place a summariser is made from a backend name and its options."""

from __future__ import annotations

from urllib.parse import urlsplit

from lore_digest.errors import UsageError
from lore_digest.store.db import Store
from lore_digest.summarize.base import BatchWait, Summarizer
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
    fallback: bool = False,
    batch: BatchWait | None = None,
) -> Summarizer:
    """The summariser for `backend`: offline (facts only), or an LLM over its API.

    Raises UsageError for an unknown backend. An LLM backend that cannot work before
    any request (no key for a service that needs one) raises LLMUnavailable here, one
    line before any report is built, or with `fallback` gives the offline summariser
    with a notice saying why. `batch` sends the requests through the provider's batch
    API (summarize.batch).
    """
    if backend == "offline":
        return OfflineSummarizer()
    if backend not in BACKENDS:
        raise UsageError(f"unknown summarizer {backend!r} (choose from {', '.join(BACKENDS)})")
    from lore_digest.summarize.clients import LLMError, make_client
    from lore_digest.summarize.llm import LLMSettings, LLMSummarizer, LLMUnavailable, unusable_line

    try:
        client = make_client(backend, base_url=base_url, timeout=timeout)
        if backend == "openai" and not client.has_key and _needs_key(client.base_url):
            client.close()
            raise LLMError(
                "auth",
                f"openai: {client.base_url} needs an API key: set OPENAI_API_KEY in the "
                "environment (local servers need none: --llm-base-url)",
            )
    except LLMError as exc:
        if fallback:
            return OfflineSummarizer(notices=[unusable_line(exc, fell_back=True)])
        raise LLMUnavailable(unusable_line(exc, fell_back=False)) from None
    settings = LLMSettings(
        model=model or DEFAULT_MODELS[backend],
        concurrency=concurrency,
        budget_tokens=budget_tokens,
        max_tokens_run=max_tokens_run,
        fallback=fallback,
        batch=batch,
    )
    return LLMSummarizer(client, settings, store, list_id)


# Hosted OpenAI-compatible services that answer 401 to a request without a key; local
# servers (Ollama, vLLM, llama.cpp) and unknown hosts may need none.
_KEYED_HOSTS = (
    "api.openai.com",
    "api.deepseek.com",
    "dashscope.aliyuncs.com",
    "dashscope-intl.aliyuncs.com",
    "api.moonshot.cn",
    "open.bigmodel.cn",
    "api.groq.com",
    "openrouter.ai",
    "api.together.xyz",
    "api.mistral.ai",
)


def _needs_key(base_url: str) -> bool:
    host = urlsplit(base_url).hostname or ""
    return host in _KEYED_HOSTS
