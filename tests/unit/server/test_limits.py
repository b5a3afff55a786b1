"""The per-client token bucket: a burst of per_minute, refilled continuously, 429 with the seconds to wait."""

from __future__ import annotations

import pytest

from server.errors import ApiError
from server.limits import MAX_CLIENTS, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_then_429_then_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(6, clock)  # 6 a minute: one token every 10 s
    for _ in range(6):
        limiter.take("a")
    with pytest.raises(ApiError) as refused:
        limiter.take("a")
    assert refused.value.status == 429 and refused.value.code == "rate_limited" and refused.value.retry_after == 10
    limiter.take("b")  # each client has its own bucket
    clock.now += 10
    limiter.take("a")  # one token back after 10 s
    with pytest.raises(ApiError):
        limiter.take("a")


def test_a_sweep_costs_one_token_per_budget_and_never_more_than_a_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(10, clock)
    limiter.take("a", 6)
    with pytest.raises(ApiError) as refused:
        limiter.take("a", 6)  # 4 left: 2 more tokens, 12 s at one per 6 s
    assert refused.value.retry_after == 12
    with pytest.raises(ApiError) as too_big:
        limiter.take("c", 11)
    assert "send fewer budgets" in too_big.value.message


def test_off_by_default_and_bounded_memory() -> None:
    limiter = RateLimiter(0)
    for _ in range(1000):
        limiter.take("a")  # no limit
    many = RateLimiter(5, Clock())
    for i in range(MAX_CLIENTS + 10):
        many.take(f"client-{i}")
    assert len(many._buckets) == MAX_CLIENTS
