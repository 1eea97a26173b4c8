"""A week's `Report`: threads with facts and summaries, highlights, figures; and its
Markdown and JSON renderings. `report.build` assembles it; `lore_digest.digest` is the
one place that asks it to, so every output renders the same Report.
"""

from lore_digest.report.model import Report
from lore_digest.report.write import parse_formats, write_report

__all__ = ["Report", "parse_formats", "write_report"]
