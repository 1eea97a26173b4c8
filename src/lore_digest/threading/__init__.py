"""Threads and series: which mails form one conversation, and which patches one posting.

jwz.py links mail by References/In-Reply-To as public-inbox does (ghosts included, no
subject merging); series.py folds patches sent without threading into their cover
letter's thread, by the rule in `vocabulary.same_posting`.
"""
