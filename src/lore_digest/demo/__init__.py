"""demo stage of the lore-digest pipeline."""
