"""Restart decisions on scripted histories: back-off doubling, reset after a stable run, crash
loops that cool down and are tried again, for ever; the policy built from the settings only."""

from __future__ import annotations

import dataclasses
from collections import deque
from typing import Any

import pytest

from core.config import Settings, load_settings
from core.supervisor.policy import Restart, RestartPolicy, RestartTracker

DEFAULTS = load_settings(environ={}, env_file=None)
POLICY = RestartPolicy.from_settings(DEFAULTS)  # 0.5 s doubling to 30 s, reset 60 s, 5 in 60 s, cool 300 s


def policy(**changes: Any) -> RestartPolicy:
    return RestartPolicy.from_settings(dataclasses.replace(DEFAULTS, **changes))


def test_the_policy_is_the_settings():
    assert dataclasses.fields(RestartPolicy)  # no field has a default of its own: the settings hold them
    assert all(f.default is dataclasses.MISSING for f in dataclasses.fields(RestartPolicy))
    assert (POLICY.backoff.base, POLICY.backoff.maximum, POLICY.backoff.factor) == (0.5, 30.0, 2.0)
    assert (POLICY.reset_after, POLICY.max_restarts, POLICY.window, POLICY.cooldown) == (60.0, 5, 60.0, 300.0)
    env = {
        "RESTART_MIN_DELAY": "2",
        "RESTART_MAX_DELAY": "9",
        "RESTART_RESET_AFTER": "7",
        "CRASH_LOOP_RESTARTS": "3",
        "CRASH_LOOP_WINDOW": "11",
        "CRASH_LOOP_COOLDOWN": "13",
    }
    custom = RestartPolicy.from_settings(load_settings(environ=env, env_file=None))
    assert (custom.backoff.base, custom.backoff.maximum) == (2.0, 9.0)
    assert (custom.reset_after, custom.max_restarts, custom.window, custom.cooldown) == (7.0, 3, 11.0, 13.0)


def test_backoff_doubles_up_to_the_cap():
    tracker = RestartTracker(policy(crash_loop_restarts=100, crash_loop_window=1.0))
    delays = []
    now = 0.0
    for _ in range(10):
        restart = tracker.on_exit(now, started_at=now - 1)
        assert not restart.cooling
        delays.append(restart.delay)
        now += 10  # outside the crash-loop window, inside the reset time
    assert delays == [0.5, 1, 2, 4, 8, 16, 30, 30, 30, 30]
    assert tracker.restarts == 10


def test_stable_run_resets_the_backoff():
    tracker = RestartTracker(POLICY)
    assert tracker.on_exit(0, started_at=-1) == Restart(0.5)
    assert tracker.on_exit(2, started_at=1) == Restart(1.0)
    assert tracker.on_exit(200, started_at=100) == Restart(0.5)  # ran 100 s: back to the start


def test_more_than_five_restarts_in_a_minute_cools_the_kind_down():
    tracker = RestartTracker(POLICY)
    for i in range(5):
        assert not tracker.on_exit(float(i), started_at=i - 0.5).cooling
    assert tracker.on_exit(5.0, started_at=4.5) == Restart(300.0, cooling=True)


def test_a_crash_loop_is_tried_again_after_each_cooldown_for_ever():
    """A child that never stays up: five restarts with back-off, a cooldown, five more, ... The
    kind is never given up on, and each round starts its back-off over."""
    tracker = RestartTracker(POLICY)
    now, rounds = 0.0, []
    for _ in range(4):
        delays = []
        while True:
            restart = tracker.on_exit(now, started_at=now - 0.1)  # crashes 0.1 s after each start
            delays.append(restart.delay)
            now += restart.delay + 0.1
            if restart.cooling:
                break
        rounds.append(delays)
    assert rounds == [[0.5, 1, 2, 4, 8, 300]] * 4
    assert tracker.restarts == 24


def test_a_stable_run_after_a_cooldown_is_an_ordinary_exit_again():
    tracker = RestartTracker(POLICY)
    for i in range(5):
        tracker.on_exit(float(i), started_at=i - 0.1)
    assert tracker.on_exit(5.0, started_at=4.9).cooling
    # Tried again at 305 s: it runs for an hour, then is killed once.
    assert tracker.on_exit(3905.0, started_at=305.0) == Restart(0.5)


def test_restarts_spread_over_more_than_the_window_are_not_a_loop():
    tracker = RestartTracker(POLICY)
    for i in range(20):
        assert not tracker.on_exit(i * 13.0, started_at=i * 13.0 - 1).cooling


def test_a_kind_shares_one_crash_loop_budget():
    shared: deque[float] = deque()
    first, second = RestartTracker(POLICY, recent=shared), RestartTracker(POLICY, recent=shared)
    for i in range(5):
        assert not (first if i % 2 else second).on_exit(float(i), started_at=i - 0.1).cooling
    assert first.on_exit(5.0, started_at=4.9).cooling
    # The rest started the kind's count over: the other downloader's next crash is an ordinary one.
    assert second.on_exit(6.0, started_at=5.9) == Restart(4.0)  # its own back-off: its fourth restart


@pytest.mark.parametrize(
    "changes",
    [
        dict(restart_min_delay=5.0, restart_max_delay=1.0),
        dict(crash_loop_restarts=0),
        dict(crash_loop_window=0.0),
        dict(crash_loop_cooldown=0.0),
    ],
)
def test_invalid_policy_is_refused(changes):
    with pytest.raises(ValueError):
        RestartPolicy.from_settings(Settings(**changes))
