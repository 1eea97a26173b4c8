"""Compiled templates are kept between runs, checked against their source, best effort."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from jinja2 import DictLoader, Environment

from lore_digest import templatecache
from lore_digest.templatecache import template_cache


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("LORE_DIGEST_NO_TEMPLATE_CACHE", raising=False)
    template_cache.cache_clear()
    yield tmp_path / "cache" / "lore-digest" / "templates"
    template_cache.cache_clear()


def _environment(source: str) -> Environment:
    return Environment(loader=DictLoader({"t.j2": source}), bytecode_cache=template_cache())


def test_a_template_is_compiled_once_and_again_after_an_edit(
    cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _environment("Hello {{ name }}").get_template("t.j2").render(name="Marc") == "Hello Marc"
    assert len(list(cache_home.iterdir())) == 1

    def no_compile(*args: object, **kwargs: object) -> object:
        raise AssertionError("compiled again")

    fresh = _environment("Hello {{ name }}")  # another run: a new environment
    monkeypatch.setattr(fresh, "compile", no_compile)
    assert fresh.get_template("t.j2").render(name="Oliver") == "Hello Oliver"

    edited = _environment("Bye {{ name }}")  # the source changed: the checksum differs
    assert edited.get_template("t.j2").render(name="Will") == "Bye Will"


def test_a_cache_that_cannot_be_written_only_costs_a_compile(
    cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*args: object, **kwargs: object) -> object:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", full_disk)
    assert _environment("{{ 1 + 1 }}").get_template("t.j2").render() == "2"
    assert list(cache_home.iterdir()) == []


def test_a_truncated_cache_file_is_compiled_again(cache_home: Path) -> None:
    _environment("x{{ 2 }}").get_template("t.j2").render()
    (cached,) = cache_home.iterdir()
    cached.write_bytes(cached.read_bytes()[:20])
    assert _environment("x{{ 2 }}").get_template("t.j2").render() == "x2"


def test_no_cache_without_a_directory_or_when_turned_off(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_home: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory", encoding="utf-8")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    template_cache.cache_clear()
    assert template_cache() is None
    assert _environment("{{ 3 }}").get_template("t.j2").render() == "3"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "ok"))
    monkeypatch.setenv(templatecache._DISABLE_ENV, "1")
    template_cache.cache_clear()
    assert template_cache() is None
