"""Circuit breakers: the pure decision on scripted histories, then the shared state in SQLite,
across two connections and across real processes hammering one platform."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
import trio

from core.alerts import alerter
from core.config import load_settings
from core.db import open_db
from downloader.circuit import Admission, Breaker, SharedCircuits, State, Transition, Verdict, breaker_key, states
from downloader.errors import ErrorClass, Failure
from tests.support.paths import ROOT as PROJECT

THRESHOLD = 5
RECOVERY = 60.0

NET = Failure(ErrorClass.NETWORK, "TransportError: connection reset")
RATE = Failure(ErrorClass.RATE_LIMITED, "HTTP Error 429")
NOT_FOUND = Failure(ErrorClass.NOT_FOUND, "HTTP Error 404")
CANCELLED = Failure(ErrorClass.CANCELLED, "cancelled by the user")
OK = None

# A history is a list of steps: (time, "admit", job, expected verdict) or (time, "end", job, failure,
# expected transition), each followed by the state it must leave.
ALLOWED, PROBE, REFUSED = Verdict.ALLOWED, Verdict.PROBE, Verdict.REFUSED
CLOSED, OPEN, HALF = State.CLOSED, State.OPEN, State.HALF_OPEN


def play(*parts: list[tuple]) -> Breaker:
    """Run the steps of `parts`, one after the other, checking each."""
    breaker = Breaker(THRESHOLD, RECOVERY)
    for number, step in enumerate(step for part in parts for step in part):
        now, action, job, *rest = step
        got: Verdict | Transition | None
        if action == "admit":
            expected, state = rest
            got = breaker.admit(job, now).verdict
        else:
            failure, expected, state = rest
            got = breaker.record(job, failure, now)
        assert (got, breaker.state) == (expected, state), f"step {number} {step}: got {got}, {breaker}"
    return breaker


def five_failures(start: int = 0, failure: Failure = NET) -> list[tuple]:
    steps: list[tuple] = [(float(i), "end", start + i, failure, None, CLOSED) for i in range(THRESHOLD - 1)]
    steps.append((float(THRESHOLD - 1), "end", start + THRESHOLD - 1, failure, Transition.OPENED, OPEN))
    return steps


# ---- the pure decision ---------------------------------------------------------------------------------


def test_opens_after_five_platform_failures_in_a_row():
    breaker = play(five_failures())
    assert (breaker.failures, breaker.opened_at) == (THRESHOLD, THRESHOLD - 1)


def test_a_success_resets_the_count():
    play(
        [(0.0, "end", 1, RATE, None, CLOSED)] * 4
        + [(1.0, "end", 2, OK, None, CLOSED)]
        + [(2.0, "end", 3, RATE, None, CLOSED)] * 4
    )


def test_the_users_mistakes_neither_count_nor_reset():
    breaker = play(
        [(0.0, "end", 1, NET, None, CLOSED)] * 4
        + [(1.0, "end", 2, NOT_FOUND, None, CLOSED)] * 10  # ten bad links: no opening...
        + [(1.0, "end", 3, CANCELLED, None, CLOSED)]
        + [(2.0, "end", 4, NET, Transition.OPENED, OPEN)]  # ...and the four before still count
    )
    assert breaker.failures == THRESHOLD


def test_open_refuses_until_recovery_then_lets_exactly_one_probe_through():
    breaker = Breaker(THRESHOLD, RECOVERY)
    play_on = five_failures()  # opens at t=4
    for step in play_on:
        breaker.record(step[2], step[3], step[0])
    assert breaker.admit(100, 4.0 + 10) == Admission(Verdict.REFUSED, RECOVERY - 10)
    assert breaker.admit(101, 4.0 + RECOVERY - 0.5).verdict is REFUSED
    assert breaker.admit(102, 4.0 + RECOVERY).verdict is PROBE
    assert (breaker.state, breaker.probe_job) == (HALF, 102)
    assert [breaker.admit(j, 4.0 + RECOVERY + 1).verdict for j in (103, 104, 105)] == [REFUSED] * 3
    assert breaker.admit(102, 4.0 + RECOVERY + 2).verdict is PROBE  # the probe itself, re-dispatched


def test_the_probes_success_closes():
    play(
        five_failures(),
        [
            (70.0, "admit", 10, PROBE, HALF),
            (71.0, "admit", 11, REFUSED, HALF),
            (80.0, "end", 10, OK, Transition.CLOSED, CLOSED),
            (81.0, "admit", 11, ALLOWED, CLOSED),
            (81.0, "admit", 12, ALLOWED, CLOSED),
        ],
    )


def test_the_probes_platform_failure_opens_it_for_another_recovery():
    breaker = play(
        five_failures(),
        [
            (70.0, "admit", 10, PROBE, HALF),
            (75.0, "end", 10, RATE, Transition.REOPENED, OPEN),
            (75.0 + RECOVERY - 1, "admit", 11, REFUSED, OPEN),
            (75.0 + RECOVERY, "admit", 11, PROBE, HALF),
        ],
    )
    assert breaker.probe_job == 11


def test_a_probe_ending_in_a_user_mistake_frees_the_slot_without_closing():
    play(
        five_failures(),
        [
            (70.0, "admit", 10, PROBE, HALF),
            (72.0, "end", 10, NOT_FOUND, None, HALF),
            (73.0, "admit", 11, PROBE, HALF),
            (74.0, "end", 11, CANCELLED, None, HALF),
            (75.0, "admit", 12, PROBE, HALF),
        ],
    )


def test_a_probe_whose_worker_died_does_not_wedge_the_breaker():
    play(
        five_failures(),
        [
            (70.0, "admit", 10, PROBE, HALF),  # ...and its worker is never heard of again
            (70.0 + RECOVERY - 1, "admit", 11, REFUSED, HALF),
            (70.0 + RECOVERY, "admit", 11, PROBE, HALF),
            (70.0 + RECOVERY + 1, "end", 11, OK, Transition.CLOSED, CLOSED),
        ],
    )


def test_jobs_admitted_before_it_opened_change_nothing_while_open_or_half_open():
    play(
        five_failures(),
        [
            (10.0, "end", 90, OK, None, OPEN),  # in flight when it opened: the recovery time is kept
            (11.0, "end", 91, NET, None, OPEN),
            (70.0, "admit", 10, PROBE, HALF),
            (71.0, "end", 92, NET, None, HALF),  # not the probe: no reopening
            (72.0, "end", 93, OK, Transition.CLOSED, CLOSED),  # but any success proves it works
        ],
    )


def test_retry_in():
    breaker = play(five_failures())
    assert breaker.retry_in(4.0 + 15) == RECOVERY - 15
    assert breaker.retry_in(4.0 + RECOVERY) is None
    assert Breaker(THRESHOLD, RECOVERY).retry_in(0.0) is None


def test_a_refusal_is_an_unavailable_failure_with_the_wait():
    failure = Admission(Verdict.REFUSED, 125.0).failure("Youtube")
    assert (failure.cls, failure.retry_after, failure.retryable) == (ErrorClass.UNAVAILABLE, 125.0, False)


def test_generic_gets_one_breaker_per_site():
    assert breaker_key("Youtube", "https://www.youtube.com/watch?v=x") == "Youtube"
    assert breaker_key("Generic", "https://Files.Example.com:8443/a.mp4") == "Generic:files.example.com"


# ---- shared in SQLite ------------------------------------------------------------------------------------


class Clock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_settings(tmp_path: Path, **env: str):
    environ = {
        "DATA_DIR": str(tmp_path),
        "ADMIN_IDS": "10,20",
        "CIRCUIT_FAILURES": str(THRESHOLD),
        "CIRCUIT_RECOVERY": str(RECOVERY),
        **env,
    }
    return load_settings(environ=environ, env_file=None)


@pytest.fixture
def settings(tmp_path):
    return make_settings(tmp_path)


@pytest.fixture
def two_processes(settings):
    """Two connections to one file, as two downloader processes have."""
    first = open_db(settings.db_path, busy_timeout=10)
    second = open_db(settings.db_path, busy_timeout=10)
    try:
        yield first, second
    finally:
        first.close()
        second.close()


class RecordedAlerts(list[tuple[str, str]]):
    """An Alerter that remembers what it was asked: (kind, text key), and "resolved: ..." kinds."""

    def __call__(self, kind: str, text_key: str, /, **values: object) -> bool:
        self.append((kind, text_key))
        return True

    def resolve(self, kind: str, text_key: str, /, **values: object) -> bool:
        self.append((f"resolved {kind}", text_key))
        return True


def alert_rows(db) -> list[tuple[int, str]]:
    return [(chat, json.loads(p)["text"]) for chat, p in db.execute("SELECT chat_id, payload FROM outbox ORDER BY id")]


def test_two_processes_share_one_breaker_and_alert_once(two_processes, settings):
    db_a, db_b = two_processes
    clock = Clock()
    alerts = RecordedAlerts()
    a = SharedCircuits(db_a, settings, alert=alerts, clock=clock)
    b = SharedCircuits(db_b, settings, alert=alerts, clock=clock)
    for job in range(3):
        assert a.record("Youtube", job, NET) is None
    assert b.record("Youtube", 3, NOT_FOUND) is None  # b's user mistake: no effect on a's count
    assert b.record("Youtube", 4, NET) is None
    assert a.record("Youtube", 5, RATE) is Transition.OPENED
    assert b.record("Youtube", 6, NET) is None  # in flight: already open
    assert alerts == [("breaker:Youtube", "alert_circuit_open")]

    clock.now += 30
    assert b.admit("Youtube", 7) == Admission(Verdict.REFUSED, RECOVERY - 30)
    assert a.admit("Instagram", 8).verdict is Verdict.ALLOWED  # one breaker per platform
    clock.now += RECOVERY - 30
    assert b.admit("Youtube", 9).verdict is Verdict.PROBE
    assert a.admit("Youtube", 10).verdict is Verdict.REFUSED  # a sees b's probe
    assert a.record("Youtube", 9, OK) is Transition.CLOSED  # the probe's result may land anywhere
    assert b.admit("Youtube", 11).verdict is Verdict.ALLOWED
    assert alerts == [
        ("breaker:Youtube", "alert_circuit_open"),
        ("resolved breaker:Youtube", "alert_circuit_closed"),
    ]


def test_the_admins_get_one_alert_on_open_and_one_on_close(two_processes, settings):
    db, _ = two_processes
    clock = Clock()
    circuits = SharedCircuits(db, settings, alert=alerter(db, settings), clock=clock)  # the real alert: outbox rows
    for job in range(THRESHOLD + 3):
        circuits.record("Youtube", job, NET)
    opened = alert_rows(db)
    assert [chat for chat, _ in opened] == [10, 20]
    assert "Youtube" in opened[0][1] and "network" in opened[0][1]
    clock.now += RECOVERY
    assert circuits.admit("Youtube", 100).verdict is Verdict.PROBE
    assert circuits.record("Youtube", 100, OK) is Transition.CLOSED
    assert circuits.record("Youtube", 101, OK) is None
    assert len(alert_rows(db)) == 4


def test_states_for_the_admin_panel(two_processes, settings):
    db, other = two_processes
    clock = Clock()
    circuits = SharedCircuits(db, settings, alert=RecordedAlerts(), clock=clock)
    for job in range(THRESHOLD):
        circuits.record("Youtube", job, NET)
    circuits.record("Instagram", 50, RATE)
    clock.now += 20
    views = {v.platform: v for v in states(other, settings, now=clock.now)}  # from another connection
    assert views["Youtube"].state is State.OPEN and views["Youtube"].retry_in == RECOVERY - 20
    assert views["Youtube"].failures == THRESHOLD
    assert (views["Instagram"].state, views["Instagram"].failures, views["Instagram"].retry_in) == (CLOSED, 1, None)
    assert circuits.states() == sorted(views.values(), key=lambda v: v.platform)


def test_a_closed_breaker_answers_without_writing(two_processes, settings):
    db, _ = two_processes
    circuits = SharedCircuits(db, settings, alert=RecordedAlerts())
    assert circuits.admit("Youtube", 1).verdict is Verdict.ALLOWED
    assert circuits.record("Youtube", 1, OK) is None
    assert circuits.record("Youtube", 2, NOT_FOUND) is None
    assert db.execute("SELECT count(*) FROM circuits").fetchone() == (0,)


# ---- real processes ----------------------------------------------------------------------------------------

WORKERS = 3
ROUNDS = 40
HAMMER_THRESHOLD = 50  # more than one worker's ROUNDS: it opens only if their failures add up
HAMMER_RECOVERY = 3600.0  # nothing half-opens while the processes run
DEADLINE = 60.0
HAMMER_ENV = {"CIRCUIT_FAILURES": str(HAMMER_THRESHOLD), "CIRCUIT_RECOVERY": str(HAMMER_RECOVERY)}


def hammer(db_path: str, worker: int) -> None:
    """One "downloader": wait for the go, then admit and fail jobs on Youtube as fast as it can."""
    settings = make_settings(Path(db_path).parent, **HAMMER_ENV)
    db = open_db(Path(db_path), busy_timeout=DEADLINE)
    circuits = SharedCircuits(db, settings, alert=alerter(db, settings))
    print("ready", flush=True)
    sys.stdin.readline()
    verdicts = []
    for i in range(ROUNDS):
        job = worker * 1000 + i
        admission = circuits.admit("Youtube", job)
        verdicts.append(str(admission.verdict))
        if admission.allowed:
            circuits.record("Youtube", job, NET)
    print(json.dumps(verdicts), flush=True)
    db.close()


def output_of(proc: trio.Process) -> trio.abc.ReceiveStream:
    assert proc.stdout is not None
    return proc.stdout


async def read_line(stream: trio.abc.ReceiveStream, buffer: bytearray) -> str:
    while b"\n" not in buffer:
        chunk = await stream.receive_some()
        if not chunk:
            raise EOFError(f"the process closed its output; got {bytes(buffer)!r}")
        buffer.extend(chunk)
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line.decode()


async def test_processes_hammering_one_platform_agree_and_alert_once(tmp_path):
    settings = make_settings(tmp_path, **HAMMER_ENV)
    db = open_db(settings.db_path, busy_timeout=10)  # migrate before the workers start
    code = "import sys; from tests.downloader.test_circuit import hammer; hammer(sys.argv[1], int(sys.argv[2]))"
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    procs = []
    try:
        for worker in range(WORKERS):
            procs.append(
                await trio.lowlevel.open_process(
                    [sys.executable, "-c", code, str(settings.db_path), str(worker)],
                    stdin=-1,
                    stdout=-1,
                    cwd=PROJECT,
                    env=env,
                )
            )
        buffers = [bytearray() for _ in procs]
        with trio.fail_after(DEADLINE):
            for proc, buffer in zip(procs, buffers, strict=True):
                assert await read_line(output_of(proc), buffer) == "ready"
            for proc in procs:
                assert proc.stdin is not None
                await proc.stdin.send_all(b"go\n")
            results = [json.loads(await read_line(output_of(p), b)) for p, b in zip(procs, buffers, strict=True)]
            codes = [await proc.wait() for proc in procs]
        assert codes == [0] * WORKERS
        verdicts = [v for result in results for v in result]
        assert len(verdicts) == WORKERS * ROUNDS
        allowed = verdicts.count("allowed")
        # No failure was lost between processes: exactly HAMMER_THRESHOLD of them opened it, and at
        # most one job per other worker was in flight at that moment.
        assert HAMMER_THRESHOLD <= allowed <= HAMMER_THRESHOLD + WORKERS - 1, results
        assert sum(1 for result in results if "allowed" in result) >= 2  # it took more than one worker
        assert verdicts.count("refused") == len(verdicts) - allowed and "probe" not in verdicts
        row = db.execute("SELECT state, failures, probe_job FROM circuits WHERE platform = 'Youtube'").fetchone()
        assert row == ("open", HAMMER_THRESHOLD, None)
        assert [chat for chat, _ in alert_rows(db)] == [10, 20]  # one alert, for each admin
        assert db.execute("SELECT count FROM alert_log WHERE kind = 'breaker:Youtube'").fetchone() == (1,)

        later = SharedCircuits(
            db, settings, alert=alerter(db, settings), clock=lambda: time.time() + HAMMER_RECOVERY + 1
        )
        assert later.admit("Youtube", 5000).verdict is Verdict.PROBE
        assert later.record("Youtube", 5000, OK) is Transition.CLOSED
        assert [chat for chat, _ in alert_rows(db)] == [10, 20, 10, 20]
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
            await proc.wait()
        db.close()
