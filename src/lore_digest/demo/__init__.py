"""`lore-digest demo`: a generated week of a kvmarm-like list (generator.py, with its
mail bodies in data/), synced into a throwaway store and rendered like a real list."""
