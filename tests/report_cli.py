"""`lore-digest report` as a subprocess, the way the LLM and batch CLI tests run it.

kvmarm's 2022-W19 in English with the openai summarizer; each test adds its own
options and says in `env` which key and base URL the command sees.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def env_without_llm_keys() -> dict[str, str]:
    """This environment without OPENAI_* and ANTHROPIC_*: a developer's own key or base
    URL must not reach a test's command."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "ANTHROPIC_"))}


def run_report(
    db: Path, out: Path, env: dict[str, str], *extra: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the report command to its end; its exit code and output are the caller's."""
    return subprocess.run(
        [
            sys.executable, "-m", "lore_digest", "report", "--db", str(db),
            "--list", "kvmarm", "--week", "2022-W19", "--lang", "en",
            "--summarizer", "openai", "--out", str(out), *extra,
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=timeout,
    )  # fmt: skip
