"""Facts about a week's threads, computed from the mail and citing it: revision chains,
changelogs, trailers per patch, status with evidence, categories, windows.

Pure functions over frozen dataclasses (facts/model.py's MailFacts in, SeriesFacts and
StatusFacts out), so every fact can be recomputed and tested on real threads.
"""
