"""Camera moves read from the prompt, expressed as a crop box that changes over time.

Every move is a zoom `scale` (1 = the base view, >1 = closer) plus an offset (`ox`, `oy` in -1..1,
the fraction of the free margin around the view). Rendering a frame is then a box of the source
shown at the output size: one swscale scale (view.py), within half a pixel of the box.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

# Checked in order: the first pattern found in the prompt wins, so specific phrases come first.
_MOVES: list[tuple[str, str]] = [
    ("static", r"\b(static|still|locked[- ]off|tripod|fixed) (camera|shot|frame)\b|\bno camera (motion|movement)\b"),
    ("zoom_out", r"\b(zoom(s|ing)? out|pull(s|ing)? (back|out)|dolly(ing)? (out|back)|reveal)\b"),
    ("zoom_in", r"\b(zoom(s|ing)? in|push(es|ing)? in|dolly(ing)? (in|forward)|close[- ]up)\b"),
    ("orbit_left", r"\b(orbit(s|ing)?|arc(s|ing)?|circl(e|es|ing)) (to the )?(left|counter[- ]?clockwise)\b"),
    ("orbit_right", r"\b(orbit(s|ing)?|arc(s|ing)?|circl(e|es|ing)|rotat(e|es|ing) around)\b"),
    ("pan_left", r"\b(pan(s|ning)?|truck(s|ing)?|track(s|ing)?) (to the )?left\b"),
    ("pan_right", r"\b(pan(s|ning)?|truck(s|ing)?|track(s|ing)?) (to the )?right\b|\bpanning\b|\bpan\b"),
    ("tilt_up", r"\b(tilt(s|ing)?|crane(s|ing)?|pedestal) up\b|\brising\b"),
    ("tilt_down", r"\b(tilt(s|ing)?|crane(s|ing)?|pedestal) down\b|\bdescend(s|ing)?\b"),
    ("zoom_in", r"\bdolly\b|\bzoom\b"),
    ("static", r"\bstatic\b"),
]


@dataclass(frozen=True)
class View:
    scale: float  # 1 = base view; > 1 zooms in, < 1 shows more than the base view
    ox: float  # -1..1: where the view sits in the free margin, left..right
    oy: float  # -1..1: top..bottom


@dataclass(frozen=True)
class Move:
    """A named camera move; `view(u)` for u in 0..1 over the clip."""

    kind: str

    def view(self, u: float, *, anchored: bool) -> View:
        """The view at clip progress `u` (0..1, linear in time; easing is applied here).

        `anchored`: the first frame must show exactly the base view (image-to-video), so moves
        start from scale 1, offset 0 and gain margin to travel in by zooming in as they go.
        """
        e = ease(u)
        k = self.kind
        if k == "static":
            # A breath of motion (under 1% zoom) so a locked-off shot still reads as video.
            return View(1.0 + 0.008 * math.sin(math.pi * u), 0.0, 0.0)
        if k == "push_in":
            return View(1.0 + 0.10 * e, 0.0, 0.0)
        if k == "zoom_in":
            return View(1.0 + 0.30 * e, 0.0, 0.0)
        if k == "zoom_out":
            return View(1.0 - 0.2 * e if anchored else 1.25 - 0.25 * e, 0.0, 0.0)
        sign = -1.0 if k.endswith(("left", "up")) else 1.0
        if k.startswith(("pan", "orbit")):
            # Orbit: sideways travel plus a swell in scale, as if circling something mid-frame.
            bulge = 0.08 * math.sin(math.pi * u) if k.startswith("orbit") else 0.0
            if anchored:
                return View(1.0 + 0.15 * e + bulge, sign * e, 0.0)
            return View(1.0 + bulge, sign * (2 * e - 1), 0.0)
        if k.startswith("tilt"):
            if anchored:
                return View(1.0 + 0.15 * e, 0.0, sign * e)
            return View(1.0, 0.0, sign * (2 * e - 1))
        raise ValueError(f"unknown camera move {k!r}")


def move_from_prompt(prompt: str) -> Move:
    """The camera move the prompt asks for; a gentle push-in when it names none."""
    text = prompt.lower()
    for kind, pattern in _MOVES:
        if re.search(pattern, text):
            return Move(kind)
    return Move("push_in")


def ease(u: float) -> float:
    """Smoothstep: starts and ends at rest, so moves never jerk at the clip boundaries."""
    u = min(1.0, max(0.0, u))
    return u * u * (3 - 2 * u)


def crop_box(view: View, *, canvas: tuple[float, float], base: tuple[float, float],
             origin: tuple[float, float] = (0.0, 0.0)) -> tuple[float, float, float, float]:
    """The (left, top, right, bottom) box of the source to show for `view`.

    `base` is the box size at scale 1, centred in a `canvas`-sized area that starts at `origin`
    in source coordinates. The box never leaves the canvas: the offset travels the free margin.
    """
    cw, ch = canvas
    bw, bh = base[0] / view.scale, base[1] / view.scale
    bw, bh = min(bw, cw), min(bh, ch)
    cx = origin[0] + cw / 2 + view.ox * (cw - bw) / 2
    cy = origin[1] + ch / 2 + view.oy * (ch - bh) / 2
    return (cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2)
