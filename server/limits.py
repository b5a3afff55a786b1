"""A per-client rate limit for the compute endpoints, for a lab shown in public (peers.md §4 item 11: demo operations).

A token bucket per client (the signed-in user with demo access, else the address): ``per_minute`` tokens, refilled
continuously, bursts up to the same number. Each compute request takes one token, a sweep one per budget, a test-set
run one per 10 images; a request that finds too few answers 429 with the seconds to wait. Off (no limit) when
``per_minute`` is 0, the default for a lab on one's own machine.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from fastapi import Request

from server.errors import ApiError

MAX_CLIENTS = 10_000  # buckets kept (least recently seen dropped first): memory stays bounded under many addresses


class RateLimiter:
    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute, self.clock = per_minute, clock
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)
        self._lock = threading.Lock()

    def take(self, client: str, cost: int = 1) -> None:
        """Spend ``cost`` tokens of ``client``'s bucket, or raise a 429 ApiError saying when to retry."""
        if self.per_minute <= 0:
            return
        rate, now = self.per_minute / 60.0, self.clock()
        if cost > self.per_minute:
            raise ApiError(429, "rate_limited", f"this request needs {cost} compute requests of the "
                           f"{self.per_minute} a client may send per minute (EXPLAINLAB_RATE_LIMIT): send fewer "
                           "budgets or images", None)  # fmt: skip
        with self._lock:
            tokens, at = self._buckets.pop(client, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - at) * rate)
            if tokens < cost:
                self._buckets[client] = (tokens, now)
                wait = math.ceil((cost - tokens) / rate)
                error = ApiError(429, "rate_limited", f"too many compute requests from this client: at most "
                                 f"{self.per_minute} a minute; retry in {wait} s", None)  # fmt: skip
                error.retry_after = wait
                raise error
            self._buckets[client] = (tokens - cost, now)
            while len(self._buckets) > MAX_CLIENTS:
                self._buckets.popitem(last=False)


def charge(request: Request, cost: int = 1) -> None:
    """Take ``cost`` compute requests from the caller's bucket (a no-op when the lab has no rate limit). The caller is
    the signed-in user where the lab has demo access (server/access.py), else the connection's address; behind a
    reverse proxy on the same host, uvicorn has already taken that from the proxy's X-Forwarded-For (its default
    ``--forwarded-allow-ips 127.0.0.1``), so each client keeps its own bucket."""
    user = getattr(request.state, "user", None)
    client = f"user {user}" if user else request.client.host if request.client else "unknown"
    request.app.state.lab.limiter.take(client, cost)
