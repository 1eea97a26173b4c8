"""`python -m lore_digest` and the `lore-digest` console script.

Kept tiny on purpose: importing the CLI loads click, rich and more, and a Ctrl-C that
lands during that import must still end in one line, not a traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import NoReturn


def main() -> None:
    """Import the command line, then run it; Ctrl-C meanwhile is a quiet exit 130."""
    try:
        from lore_digest.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    try:
        cli_main()
    except SystemExit as done:
        _leave(done.code)
    _leave(0)


def _leave(code: object) -> NoReturn:
    """End the process once the command is done, without tearing its heap down.

    A report holds the facts of thousands of mails, millions of objects; freeing them
    one by one at interpreter shutdown took a quarter of a second of a 2-second
    report. By now every file is written (atomically) and the store closed, so only
    the output streams are flushed; the exit status is what `sys.exit(code)` gives.
    """
    if isinstance(code, str):  # sys.exit("message"): the message on stderr, status 1
        sys.stderr.write(code + "\n")
        code = 1
    status = code if isinstance(code, int) else (0 if code is None else 1)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):  # a closed pipe (`| head`)
            stream.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
