"""store stage of the lore-digest pipeline."""
