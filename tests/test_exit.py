"""The console script leaves without tearing its heap down, and loses no output."""

from __future__ import annotations

import subprocess
import sys

import pytest


def _leave(code: str, before: str = "") -> subprocess.CompletedProcess[str]:
    program = f"from lore_digest.__main__ import _leave\n{before}\n_leave({code})\n"
    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=False, timeout=60
    )


@pytest.mark.parametrize(("code", "status"), [("0", 0), ("3", 3), ("None", 0), ("True", 1)])
def test_the_exit_status_is_what_sys_exit_gives(code: str, status: int) -> None:
    assert _leave(code).returncode == status


def test_a_message_goes_to_stderr_with_status_1() -> None:
    done = _leave("'no store here'")
    assert (done.returncode, done.stderr) == (1, "no store here\n")


def test_buffered_output_is_flushed_first() -> None:
    done = _leave("0", "import sys; sys.stdout.write('x' * 200_000); print('end', file=sys.stderr)")
    assert len(done.stdout) == 200_000 and done.stderr == "end\n"


def test_the_command_line_exits_with_its_status() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "lore_digest", "--no-such-option"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2 and "--no-such-option" in done.stderr
