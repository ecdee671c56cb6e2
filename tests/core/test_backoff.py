"""core.backoff: exponential growth, the cap, jitter bounds, determinism with a seeded rng."""

from __future__ import annotations

import random

import pytest

from core.backoff import Backoff
from core.config import load_settings


def test_growth_without_jitter():
    backoff = Backoff(base=2.0, maximum=1000.0, factor=3.0, jitter=0.0)
    assert [backoff.delay(n) for n in range(1, 6)] == [2.0, 6.0, 18.0, 54.0, 162.0]


def test_capped_at_the_maximum_even_for_huge_attempts():
    backoff = Backoff(base=1.0, maximum=60.0)
    assert backoff.delay(7, random.Random(1)) <= 60.0
    assert Backoff(base=1.0, maximum=60.0, jitter=0.0).delay(10_000) == 60.0  # no overflow
    rng = random.Random(2)
    assert all(backoff.delay(50, rng) <= 60.0 for _ in range(1000))


def test_jitter_stays_within_its_fraction_and_spreads():
    backoff = Backoff(base=10.0, maximum=1000.0, jitter=0.2)
    rng = random.Random(3)
    third = [backoff.delay(3, rng) for _ in range(2000)]  # raw 40 s
    assert all(32.0 <= d <= 48.0 for d in third)
    assert max(third) - min(third) > 10.0  # actually spread, not a constant
    assert 38.0 < sum(third) / len(third) < 42.0  # centred on the raw delay


def test_the_same_seed_gives_the_same_delays():
    backoff = Backoff(base=0.5, maximum=30.0)
    first = [backoff.delay(n, random.Random(42)) for n in range(1, 10)]
    again = [backoff.delay(n, random.Random(42)) for n in range(1, 10)]
    assert first == again
    assert first != [backoff.delay(n, random.Random(43)) for n in range(1, 10)]


def test_for_jobs_uses_the_job_settings():
    settings = load_settings(environ={"JOB_RETRY_DELAY": "3", "JOB_RETRY_MAX_DELAY": "40"}, env_file=None)
    backoff = Backoff.for_jobs(settings)
    assert (backoff.base, backoff.maximum) == (3.0, 40.0)
    assert 2.4 <= backoff.delay(1, random.Random(0)) <= 3.6


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base": -1.0, "maximum": 5.0},
        {"base": 6.0, "maximum": 5.0},
        {"base": 1.0, "maximum": 5.0, "factor": 0.5},
        {"base": 1.0, "maximum": 5.0, "jitter": 1.0},
        {"base": 1.0, "maximum": float("inf")},
    ],
)
def test_invalid_values_are_refused(kwargs):
    with pytest.raises(ValueError):
        Backoff(**kwargs)


def test_attempts_count_from_one():
    with pytest.raises(ValueError):
        Backoff(base=1.0, maximum=2.0).delay(0)
