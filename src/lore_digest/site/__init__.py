"""A static HTML site of a list's weekly reports: week pages, series pages, archive, feed.

The site reads the same report model as the Markdown and JSON renderers, so all three
agree; it is rebuilt incrementally (only weeks whose report changed are re-rendered) and
works from file:// as well as from any static web server (relative links only).
"""

from lore_digest.site.build import SiteResult, build_site
from lore_digest.site.serve import serve
from lore_digest.site.touched import weeks_touched

__all__ = ["SiteResult", "build_site", "serve", "weeks_touched"]
