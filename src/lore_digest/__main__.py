"""`python -m lore_digest` and the `lore-digest` console script.

Kept tiny on purpose: importing the CLI loads click, rich and more, and a Ctrl-C that
lands during that import must still end in one line, not a traceback.
"""

from __future__ import annotations

import sys


def main() -> None:
    """Import the command line, then run it; Ctrl-C meanwhile is a quiet exit 130."""
    try:
        from lore_digest.cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        sys.exit(130)
    cli_main()


if __name__ == "__main__":
    main()
