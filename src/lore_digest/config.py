"""Where things live: store path and cache dirs, resolved once from options, env and XDG."""

from __future__ import annotations

import os
from pathlib import Path

DB_ENV = "LORE_DIGEST_DB"


def _xdg_dir(env: str, fallback: str) -> Path:
    value = os.environ.get(env)
    # XDG says relative paths in these variables are invalid and must be ignored.
    if value and os.path.isabs(value):
        return Path(value)
    return Path.home() / fallback


def data_dir() -> Path:
    """Directory for the default store ($XDG_DATA_HOME/lore-digest)."""
    return _xdg_dir("XDG_DATA_HOME", ".local/share") / "lore-digest"


def cache_dir() -> Path:
    """Directory for cloned mirrors ($XDG_CACHE_HOME/lore-digest): safe to delete."""
    return _xdg_dir("XDG_CACHE_HOME", ".cache") / "lore-digest"


def resolve_db_path(option: str | os.PathLike[str] | None) -> Path:
    """The store path: --db, else $LORE_DIGEST_DB, else the XDG data dir."""
    if option:
        return Path(option).expanduser()
    env = os.environ.get(DB_ENV)
    if env:
        return Path(env).expanduser()
    return data_dir() / "lore-digest.sqlite3"


CONFIG_ENV = "LORE_DIGEST_CONFIG"


def config_path(option: str | os.PathLike[str] | None) -> Path:
    """The config file: --config, else $LORE_DIGEST_CONFIG, else $XDG_CONFIG_HOME/lore-digest/config.toml."""
    if option:
        return Path(option).expanduser()
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    return _xdg_dir("XDG_CONFIG_HOME", ".config") / "lore-digest" / "config.toml"
