"""`python -m lore_digest` runs the CLI."""

from lore_digest.cli import main

main()
