"""report stage of the lore-digest pipeline."""
