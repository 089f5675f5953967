"""The platform simulator: local HTTP APIs that look like the real ones, with a ground truth.

``server.start_in_thread()`` serves X API v2 (``/2/...``) from a deterministic world built
from the registry (``world``); ``tokens.issue_token(now)`` mints bearer tokens that fix the
clock the API answers on; ``truth.truth(day)`` says what a correct extraction of a day must
find; ``faults`` injects rate limits, server errors, slow answers and dropped connections.
"""
