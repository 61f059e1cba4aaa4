"""Rate limits hold little memory however many callers there are."""

from __future__ import annotations

import datetime as dt

from scoring.service.rate import MAX_CALLERS, RateLimit

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def test_a_hundred_thousand_distinct_callers_leave_at_most_the_cap() -> None:
    rate = RateLimit()
    for n in range(100_000):
        assert rate.wait(f"api_key:{n:012x}", NOW) == 0
    assert rate.kept == MAX_CALLERS


def test_a_bucket_full_again_is_dropped_and_a_busy_caller_is_still_held_to_its_rate() -> None:
    rate = RateLimit(burst=2, per_second=1.0, max_callers=100)
    for n in range(50):
        rate.wait(f"idle-{n}", NOW)
    assert rate.kept == 50
    later = NOW + dt.timedelta(seconds=2)  # every bucket has filled up again
    assert [rate.wait("busy", later) for _ in range(3)] == [0.0, 0.0, 1.0]
    assert rate.kept == 1


def test_the_oldest_bucket_goes_first_when_the_cap_is_reached() -> None:
    rate = RateLimit(burst=1, per_second=0.001, max_callers=3)
    for caller in ("a", "b", "c", "d"):
        assert rate.wait(caller, NOW) == 0
    assert rate.kept == 3
    assert rate.wait("d", NOW) > 0  # the newest is still held
    assert rate.wait("a", NOW) == 0  # the oldest was dropped: a full bucket again
