"""The status message's text through the phases, in both languages."""

from __future__ import annotations

from core.status import progress_text


def test_probing_shows_the_phase_alone_and_downloading_its_bar():
    assert progress_text("en", "probing", 0, 0, 0.0, 0.0) == "🔎 Looking at the link…"
    assert progress_text("fa", "probing", 0, 0, 0.0, 0.0, head="📃 ۲/۵") == "📃 ۲/۵\n🔎 در حال بررسی لینک…"
    downloading = progress_text("en", "downloading", 12_300_000, 25_600_000, 3_100_000, 4.0)
    assert downloading == "⬇️ Downloading\n▰▰▱▱▱▱ 48 % · 12.3 / 25.6 MB · 3.1 MB/s · 4 s left"
    persian = progress_text("fa", "downloading", 12_300_000, 25_600_000, 3_100_000, 4.0)
    assert "۴۸" in persian and "48" not in persian
