"""facts stage of the lore-digest pipeline."""
