"""Draw the /stats chart: `python -m gateway.admin.draw_chart OUT.png < spec.json`.

A short-lived process of its own (see `gateway.admin.chart`), so that Pillow is never loaded in
the gateway. The spec holds every label already in the admin's language; this only draws: a bar
a day, stacked by platform, with a title, a value axis and a legend. Persian is shaped and laid
out right to left by Pillow's Raqm layout (HarfBuzz and FriBiDi); without it Persian would come
out as loose letters, so a Persian chart then fails with the reason instead.

It runs at a lower CPU priority (DRAWING_NICENESS) than the bot's processes: on a busy machine
the chart waits, the users' links do not.

Exit status 0 with the PNG written, or 1 with one line on stderr saying why.
"""

from __future__ import annotations

import json
import math
import os
import sys
from pathlib import Path
from typing import Any

DRAWING_NICENESS = 10
if __name__ == "__main__":
    os.nice(DRAWING_NICENESS)  # before the imaging library loads: all of the drawing yields to the bot

from PIL import Image, ImageDraw, ImageFont, features  # noqa: E402

WIDTH, HEIGHT = 1000, 560
MARGIN_TOP, MARGIN_BOTTOM, MARGIN_SIDE, AXIS_GAP = 70, 120, 60, 10
TITLE_SIZE, LABEL_SIZE = 26, 16
BAR_SHARE = 0.7  # of a day's width
Y_TICKS = 5
LEGEND_BOX, LEGEND_GAP = 16, 28
BACKGROUND, INK, GRID = "#ffffff", "#222222", "#dddddd"
COLOURS = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#b07aa1", "#9c755f")
ARABIC_SCRIPT = range(0x0600, 0x0700)


def is_rtl(text: str) -> bool:
    return any(ord(ch) in ARABIC_SCRIPT for ch in text)


class Canvas:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.rtl = bool(spec.get("rtl"))
        raqm = features.check("raqm")
        if not raqm and (self.rtl or any(is_rtl(str(v)) for v in spec.get("days", []))):
            raise RuntimeError("Persian needs Pillow's Raqm layout (install libfribidi0: `make system-deps`)")
        layout = ImageFont.Layout.RAQM if raqm else ImageFont.Layout.BASIC
        font = str(spec["font"])
        self.title_font = ImageFont.truetype(font, TITLE_SIZE, layout_engine=layout)
        self.font = ImageFont.truetype(font, LABEL_SIZE, layout_engine=layout)
        self.image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
        self.draw = ImageDraw.Draw(self.image)
        self.numbers = [str(n) for n in spec.get("numbers", range(10))]

    def text(self, xy: tuple[float, float], text: str, anchor: str, *, title: bool = False) -> None:
        font = self.title_font if title else self.font
        direction = "rtl" if is_rtl(text) else "ltr"
        language = "fa" if direction == "rtl" else None
        self.draw.text(xy, text, font=font, fill=INK, anchor=anchor, direction=direction, language=language)

    def width(self, text: str) -> float:
        return float(self.draw.textlength(text, font=self.font, direction="rtl" if is_rtl(text) else "ltr"))

    def number(self, value: int) -> str:
        return "".join(self.numbers[int(d)] if d.isdigit() else d for d in str(value))


def nice_top(peak: int) -> int:
    """The axis's top: Y_TICKS steps of a round size (1-10 times a power of ten) that hold `peak`."""
    if peak <= 0:
        return Y_TICKS
    raw = peak / Y_TICKS
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 3, 4, 5, 6, 8, 10) if m * power >= raw)
    return max(Y_TICKS, math.ceil(step) * Y_TICKS)


def draw(spec: dict[str, Any], out: Path) -> None:
    c = Canvas(spec)
    days: list[str] = [str(d) for d in spec["days"]]
    series: list[dict[str, Any]] = list(spec.get("series", []))
    left, right = MARGIN_SIDE + AXIS_GAP, WIDTH - MARGIN_SIDE
    top, bottom = MARGIN_TOP, HEIGHT - MARGIN_BOTTOM
    title_x, title_anchor = (right, "ra") if c.rtl else (left, "la")
    c.text((title_x, top / 2 - TITLE_SIZE / 2), str(spec["title"]), title_anchor, title=True)

    totals = [sum(int(s["values"][i]) for s in series) for i in range(len(days))]
    top_value = nice_top(max(totals, default=0))
    scale = (bottom - top) / top_value
    for tick in range(Y_TICKS + 1):
        value = top_value * tick // Y_TICKS
        y = bottom - value * scale
        c.draw.line([(left, y), (right, y)], fill=GRID, width=1)
        c.text((left - AXIS_GAP, y), c.number(value), "rm")
    c.draw.line([(left, top), (left, bottom), (right, bottom)], fill=INK, width=2)

    slot = (right - left) / max(1, len(days))
    for i, label in enumerate(days):
        x0 = left + i * slot + slot * (1 - BAR_SHARE) / 2
        x1 = x0 + slot * BAR_SHARE
        y = float(bottom)
        for k, s in enumerate(series):
            height = int(s["values"][i]) * scale
            if height > 0:
                c.draw.rectangle([(x0, y - height), (x1, y)], fill=COLOURS[k % len(COLOURS)])
                y -= height
        c.text(((x0 + x1) / 2, bottom + AXIS_GAP), label, "ma")
    if not series:
        c.text(((left + right) / 2, (top + bottom) / 2), str(spec["empty"]), "mm")

    legend_y = bottom + AXIS_GAP + LABEL_SIZE * 3
    x = float(right if c.rtl else left)
    for k, s in enumerate(series):
        name = str(s["name"])
        span = LEGEND_BOX + AXIS_GAP + c.width(name)
        box_x = x - LEGEND_BOX if c.rtl else x
        c.draw.rectangle(
            [(box_x, legend_y), (box_x + LEGEND_BOX, legend_y + LEGEND_BOX)], fill=COLOURS[k % len(COLOURS)]
        )
        if c.rtl:
            c.text((box_x - AXIS_GAP, legend_y + LEGEND_BOX / 2), name, "rm")
            x -= span + LEGEND_GAP
        else:
            c.text((box_x + LEGEND_BOX + AXIS_GAP, legend_y + LEGEND_BOX / 2), name, "lm")
            x += span + LEGEND_GAP
    c.image.save(out, "PNG", optimize=True)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m gateway.admin.draw_chart OUT.png < spec.json", file=sys.stderr)
        return 1
    try:
        draw(json.loads(sys.stdin.buffer.read()), Path(argv[1]))
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:
        print(f"chart not drawn: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
