"""mail stage of the lore-digest pipeline."""
