"""The SQLite store: raw mail kept byte for byte, indexed headers, progress, caches.

The only package that speaks SQL (store/db.py), with append-only migrations
(store/schema.py) and the one-writer run lock (store/lock.py).
"""

from lore_digest.store.db import ListInfo, Store, StoredMessage
from lore_digest.store.lock import StoreLocked, store_lock

__all__ = ["ListInfo", "Store", "StoreLocked", "StoredMessage", "store_lock"]
