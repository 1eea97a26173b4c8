"""The models two stages share: a thread of mail with its facts, and its summary.

They live below both `summarize/` (which writes summaries of threads) and `report/`
(which assembles threads and summaries into a week), so neither has to import the
other's models and imports keep going one way along the pipeline.
"""

from lore_digest.model.summary import Summary, SummaryCheck, SummaryItem
from lore_digest.model.thread import ReplyNode, Thread, ThreadMessage

__all__ = ["ReplyNode", "Summary", "SummaryCheck", "SummaryItem", "Thread", "ThreadMessage"]
