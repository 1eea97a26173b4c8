"""sources stage of the lore-digest pipeline."""
