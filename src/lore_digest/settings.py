"""The TOML config file, validated once; every bad key is named in the error.

    [summarizer]
    backend = "openai"            # offline | openai | anthropic
    model = "qwen2.5:14b"
    base_url = "http://localhost:11434/v1"
    concurrency = 4
    budget_tokens = 12000         # input tokens per call before map-reduce
    max_tokens_run = 2000000      # stop calling the model past this many tokens per run

Command-line options override the file; API keys only ever come from the environment.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lore_digest.errors import UsageError

DEFAULT_MODELS = {"openai": "gpt-4o-mini", "anthropic": "claude-3-5-haiku-latest"}


class SummarizerSettings(BaseModel):
    """The [summarizer] table."""

    model_config = ConfigDict(extra="forbid")

    backend: Literal["offline", "openai", "anthropic"] = "offline"
    model: str | None = None
    base_url: str | None = None
    concurrency: int = Field(default=4, ge=1, le=64)
    budget_tokens: int = Field(default=12_000, ge=1_000)
    max_tokens_run: int | None = Field(default=None, ge=1)
    timeout: float = Field(default=120.0, gt=0)


class Settings(BaseModel):
    """The whole file."""

    model_config = ConfigDict(extra="forbid")

    summarizer: SummarizerSettings = SummarizerSettings()


def load_settings(path: Path, *, required: bool = False) -> Settings:
    """Read and validate the config file; a missing default file means defaults."""
    if not path.exists():
        if required:
            raise UsageError(f"config file {path} does not exist")
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read config {path}: {exc}") from exc
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise UsageError(f"invalid config {path}: {problems}") from exc
