"""Benchmarks time lore-digest as installed: its modules' bytecode compiled.

`pip install` compiles a package's bytecode, and Python caches it on a module's first
import. An editable install run with PYTHONDONTWRITEBYTECODE set (this project's
sandbox sets it) compiles every module again in every process: ~0.2 s of start-up per
command that no installed copy pays. The benchmarks that time whole `lore-digest`
processes compile the package first (into its __pycache__, ignored by git).
"""

from __future__ import annotations

import compileall
from pathlib import Path

import lore_digest


def compile_package() -> None:
    """Write the bytecode of every lore_digest module (a no-op when it is current)."""
    compileall.compile_dir(Path(lore_digest.__file__).parent, quiet=1)
