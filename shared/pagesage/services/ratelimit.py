"""Use case: count a client's request and refuse it past the limit (seed `RateLimitEntry`).

A fixed one-minute window per client IP (FR-015: 100 requests per minute), counted in the store
under `ratelimit:<ip>:<minute epoch>` with an expiry at the end of the window.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

from pagesage.errors import RateLimited
from pagesage.ports import Store

WINDOW_SECONDS = 60


def check_rate_limit(client_ip: str, *, limit: int, store: Store, now: datetime) -> int:
    """Count one request of `client_ip` in the current window; returns the count so far.

    `limit` 0 disables the check (returns 0 without touching the store). `now` must be aware.

    Raises:
        RateLimited: this request is over `limit`; `retry_after` is whole seconds to the next window.
    """
    if limit <= 0:
        return 0
    epoch = now.timestamp()
    window = int(epoch // WINDOW_SECONDS)
    window_end = datetime.fromtimestamp((window + 1) * WINDOW_SECONDS, tz=timezone.utc)
    count = store.increment_counter(f"ratelimit:{client_ip}:{window}", window_end + timedelta(seconds=1), now)
    if count > limit:
        retry_after = math.ceil((window_end - now).total_seconds())
        raise RateLimited(f"rate limit of {limit} requests per minute exceeded", retry_after=retry_after)
    return count
