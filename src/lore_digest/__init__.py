"""lore-digest: weekly digests of public-inbox mailing lists (lore.kernel.org)."""

__version__ = "0.1.0"
