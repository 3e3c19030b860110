"""Scale-out: a pass cut into shards of records, run by a pool of Ray actors that each hold the
models and keep inspector states; the driver merges the shards' states in stream order.

:mod:`.states` (forking, shipping and merging inspector states) needs only torch; :mod:`.ray`
needs the optional ``ray`` package (``pip install hyplib[ray]``).
"""
