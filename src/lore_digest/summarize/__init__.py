"""The prose of each thread's summary, on top of the facts: offline (from the facts
alone, the embedded default) or by an LLM over its API (cached, budgeted, validated,
falling back to the offline summary). Both implement `base.Summarizer`.
"""

from lore_digest.summarize.base import Summarizer
from lore_digest.summarize.factory import BACKENDS, make_summarizer
from lore_digest.summarize.offline import OfflineSummarizer

__all__ = ["BACKENDS", "OfflineSummarizer", "Summarizer", "make_summarizer"]
