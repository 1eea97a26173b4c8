"""The version, in a module of its own: every layer may need it (the User-Agent of the
lore client, `--version`), and the package face above them all must not be imported
for it."""

__version__ = "0.2.0"
