"""Restart decisions on scripted histories: back-off doubling, reset after a stable run, crash loops."""

from __future__ import annotations

from collections import deque

import pytest

from core.supervisor.policy import RestartPolicy, RestartTracker

POLICY = RestartPolicy(min_delay=0.5, max_delay=30, reset_after=60, max_restarts=5, window=60)


def test_backoff_doubles_up_to_the_cap():
    tracker = RestartTracker(RestartPolicy(max_restarts=100, window=1))
    delays = []
    now = 0.0
    for _ in range(10):
        delay = tracker.on_exit(now, started_at=now - 1)
        assert delay is not None
        delays.append(delay)
        now += 10  # outside the crash-loop window, inside the reset time
    assert delays == [0.5, 1, 2, 4, 8, 16, 30, 30, 30, 30]
    assert tracker.restarts == 10


def test_stable_run_resets_the_backoff():
    tracker = RestartTracker(POLICY)
    assert tracker.on_exit(0, started_at=-1) == 0.5
    assert tracker.on_exit(2, started_at=1) == 1.0
    assert tracker.on_exit(200, started_at=100) == 0.5  # ran 100 s: back to the start


def test_more_than_five_restarts_in_a_minute_is_a_crash_loop():
    tracker = RestartTracker(POLICY)
    for i in range(5):
        assert tracker.on_exit(float(i), started_at=i - 0.5) is not None
    assert tracker.on_exit(5.0, started_at=4.5) is None


def test_restarts_spread_over_more_than_the_window_are_not_a_loop():
    tracker = RestartTracker(POLICY)
    for i in range(20):
        assert tracker.on_exit(i * 13.0, started_at=i * 13.0 - 1) is not None


def test_a_kind_shares_one_crash_loop_budget():
    shared: deque[float] = deque()
    first, second = RestartTracker(POLICY, recent=shared), RestartTracker(POLICY, recent=shared)
    for i in range(5):
        assert (first if i % 2 else second).on_exit(float(i), started_at=i - 0.1) is not None
    assert first.on_exit(5.0, started_at=4.9) is None


@pytest.mark.parametrize(
    "kwargs", [dict(min_delay=5, max_delay=1), dict(factor=0.5), dict(max_restarts=0), dict(window=0)]
)
def test_invalid_policy_is_refused(kwargs):
    with pytest.raises(ValueError):
        RestartPolicy(**kwargs)
