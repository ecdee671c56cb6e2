"""Admin commands through Router.route: refused to everyone else (politely and audited, once a
minute), locks added, changed, listed and removed, and every action in admin_audit."""

from __future__ import annotations

import pytest

from gateway.admin.sponsors import LockSpec, parse_spec
from tests.gateway.gatekit import ADMIN, World, buttons, yt

COMMANDS = ["/addsponsor @x_chan", "/delsponsor 1", "/sponsors", "/ban 5", "/unban 5", "/maintenance on"]


@pytest.fixture
def world(tmp_path):
    w = World(tmp_path)
    try:
        yield w
    finally:
        w.close()


async def test_non_admins_are_refused_every_admin_command_and_the_attempt_is_audited_once_a_minute(world):
    for command in COMMANDS:
        await world.say(7, command)
    assert world.texts(7) == ["Sorry, this is for the bot's admins only."]  # once a minute, not six times
    assert world.audit() == [(7, "denied", COMMANDS[0])]  # so are the audit rows
    assert world.db.execute("SELECT count(*) FROM sponsors").fetchone()[0] == 0
    assert not world.gates.maintenance.on


@pytest.mark.parametrize(
    ("words", "spec"),
    [
        ("@chan", LockSpec(username="chan")),
        ("https://t.me/chan 1000 7", LockSpec(username="chan", join_goal=1000, lasts_s=7 * 86400)),
        ("@chan 0 12h", LockSpec(username="chan", lasts_s=12 * 3600)),
        ("@chan 30m", LockSpec(username="chan", lasts_s=1800)),
        ("@chan 5 0.5", LockSpec(username="chan", join_goal=5, lasts_s=43200)),
        (
            "-1001234567 https://t.me/+AbC_d-1 50",
            LockSpec(chat_id=-1001234567, invite_link="https://t.me/+AbC_d-1", join_goal=50),
        ),
        ("t.me/joinchat/XyZ -1009876543", LockSpec(chat_id=-1009876543, invite_link="https://t.me/joinchat/XyZ")),
    ],
)
def test_addsponsor_reads_the_channel_cap_and_length(words, spec):
    assert parse_spec(words.split()) == spec


@pytest.mark.parametrize("words", ["", "1000", "-1001234567", "https://t.me/+only", "@chan 1 2 3", "@chan 1.5", "x y"])
def test_addsponsor_refuses_what_names_no_lock(words):
    assert parse_spec(words.split()) is None


async def test_locks_are_added_changed_listed_removed_and_audited(world):
    await world.say(ADMIN, "/addsponsor @gate_one 100 7")
    await world.say(ADMIN, "/addsponsor -1005550001 https://t.me/+secret")
    await world.say(ADMIN, "/addsponsor @gate_one 200")  # the same channel: its terms change
    assert world.db.execute("SELECT count(*), max(join_goal) FROM sponsors WHERE active = 1").fetchone() == (2, 200)
    await world.say(7, yt(1))
    [prompt] = [p for p in world.sent(7, "text") if buttons(p)]
    urls = [b["url"] for b in buttons(prompt) if b.get("url")]
    assert urls == ["https://t.me/gate_one", "https://t.me/+secret"]
    world.port.join("@gate_one", 8)
    await world.say(8, yt(2))
    await world.say(ADMIN, "/sponsors")
    listing = world.texts(ADMIN)[-1]
    assert "#1 @gate_one · up to 200 joins" in listing
    assert "joins 0 · already members 1 · shown, not joined 1 · left after joining 0" in listing
    await world.say(ADMIN, "/delsponsor @gate_one")
    await world.say(ADMIN, "/delsponsor #2")
    await world.say(ADMIN, "/delsponsor @nothing")
    assert "no active lock" in world.texts(ADMIN)[-1]
    await world.say(9, yt(3))
    assert world.jobs(9) == [yt(3)]
    await world.say(ADMIN, "/addsponsor @gate_one")  # locked again: a new lock, the old one's figures kept
    assert world.db.execute("SELECT count(*) FROM sponsors").fetchone()[0] == 3
    await world.say(ADMIN, "/sponsors")
    assert "Ended lately" in world.texts(ADMIN)[-1] and "removed" in world.texts(ADMIN)[-1]
    actions = [(a[1], a[2]) for a in world.audit()]
    assert actions == [
        ("addsponsor", "#1 @gate_one 100 7"),
        ("addsponsor", "#2 -1005550001 https://t.me/+secret"),
        ("addsponsor", "#1 @gate_one 200"),
        ("delsponsor", "#1 @gate_one"),
        ("delsponsor", "#2 -1005550001"),
        ("addsponsor", "#3 @gate_one"),
    ]


async def test_a_bad_addsponsor_gets_the_usage_and_changes_nothing(world):
    await world.say(ADMIN, "/addsponsor -1001234567")
    assert "Usage: /addsponsor" in world.texts(ADMIN)[-1]
    assert world.db.execute("SELECT count(*) FROM sponsors").fetchone()[0] == 0


async def test_maintenance_without_a_word_shows_its_state(world):
    await world.say(ADMIN, "/maintenance")
    assert "Maintenance is off" in world.texts(ADMIN)[-1]
    assert world.audit() == []
