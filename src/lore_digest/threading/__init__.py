"""threading stage of the lore-digest pipeline."""
