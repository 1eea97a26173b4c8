"""One message, parsed as the hostile input it is: headers (fast index fields), dates,
charsets, MIME bodies, body segments (prose, quotes, diffs, trailers), b4-style
subjects and trailers. Nothing here knows about lists, threads or the store.
"""
