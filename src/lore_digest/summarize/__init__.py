"""summarize stage of the lore-digest pipeline."""
