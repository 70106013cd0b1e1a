"""From prompt words to a scene description: time of day, setting, weather and their colours."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace

RGB = tuple[float, float, float]


@dataclass(frozen=True)
class Light:
    """Colours of one time of day (0..1 RGB)."""

    sky_top: RGB
    sky_mid: RGB
    horizon: RGB
    sun: RGB  # disc colour; the moon at night
    sun_height: float  # 0 = on the horizon, 1 = top of the sky
    sun_size: float  # disc radius as a fraction of the canvas height
    glow: float  # strength of the halo around the sun
    land: RGB  # multiplier on terrain colours: how lit the land is
    cloud: RGB  # lit side of clouds
    cloud_shadow: RGB
    stars: bool = False


LIGHTS: dict[str, Light] = {
    "day": Light((0.16, 0.38, 0.78), (0.38, 0.62, 0.90), (0.75, 0.86, 0.96), (1.0, 0.98, 0.9), 0.75, 0.035,
                 0.35, (1.0, 1.0, 1.0), (1.0, 1.0, 1.0), (0.70, 0.75, 0.84)),
    "sunset": Light((0.12, 0.10, 0.32), (0.78, 0.32, 0.30), (1.0, 0.62, 0.25), (1.0, 0.88, 0.62), 0.28, 0.05,
                    1.0, (0.55, 0.36, 0.42), (1.0, 0.62, 0.42), (0.45, 0.22, 0.32)),
    "dawn": Light((0.22, 0.30, 0.58), (0.72, 0.58, 0.70), (1.0, 0.78, 0.66), (1.0, 0.92, 0.78), 0.16, 0.04,
                  0.7, (0.75, 0.68, 0.75), (1.0, 0.85, 0.80), (0.58, 0.52, 0.64)),
    "night": Light((0.01, 0.02, 0.07), (0.03, 0.06, 0.16), (0.10, 0.14, 0.28), (0.92, 0.94, 1.0), 0.7, 0.03,
                   0.25, (0.22, 0.26, 0.40), (0.30, 0.34, 0.45), (0.06, 0.07, 0.12), True),
    "overcast": Light((0.42, 0.46, 0.52), (0.56, 0.60, 0.64), (0.70, 0.72, 0.74), (0.9, 0.9, 0.9), 0.6, 0.0,
                      0.0, (0.72, 0.74, 0.78), (0.80, 0.82, 0.85), (0.45, 0.47, 0.52)),
}

_TIME_WORDS = [
    ("sunset", r"sunset|dusk|golden hour|evening|twilight"),
    ("dawn", r"dawn|sunrise|morning"),
    ("night", r"night|midnight|moon|stars|starry|neon|dark"),
    ("overcast", r"storm|rain|overcast|fog|foggy|mist|cloudy|grey|gray"),
]
_SETTING_WORDS = [
    ("city", r"city|street|urban|skyline|neon|downtown|buildings?|cyberpunk|town"),
    ("ocean", (r"oceans?|seas?|seaside|beach(es)?|waves?|coast|shore|lakes?|lakeside|rivers?|ponds?|lagoon"
               r"|bay|harbou?r|surf|waters?|boats?|sail(ing|boat)?")),
    ("forest", r"forest|woods?|jungle|trees?|pines?"),
    ("desert", r"desert|dunes?|sand|sahara|canyon"),
    ("snow", (r"snow(y|-?capped|-?covered|fall|ing|storm)?|winter|wintry|ice|icy|arctic|frozen|blizzard"
              r"|glaciers?")),
    ("mountains", r"mountains?|peaks?|alps|cliffs?|landscape|valley"),
]


@dataclass(frozen=True)
class Theme:
    time: str  # key of LIGHTS
    setting: str  # city | ocean | forest | desert | snow | mountains | hills
    light: Light
    neon: bool = False
    aerial: bool = False  # a high viewpoint: horizon near the top
    boat: bool = False  # a (paper) boat afloat on the water
    calm: bool = False  # still water (a lake, a pond, "calm"): a gentle swell rather than waves
    clouds: float = 0.5  # sky coverage 0..1
    particles: str | None = None  # snow | rain | fireflies | dust | None
    seed: int = 0


def _first(text: str, table: list[tuple[str, str]], default: str) -> str:
    for name, pattern in table:
        if re.search(rf"\b({pattern})\b", text):
            return name
    return default


def theme_from_prompt(prompt: str, seed: int) -> Theme:
    """Read the prompt's words into a Theme; `seed` and the prompt together fix every random choice."""
    text = prompt.lower()
    time = _first(text, _TIME_WORDS, "day")
    setting = _first(text, _SETTING_WORDS, "hills")
    neon = bool(re.search(r"\b(neon|cyberpunk)\b", text))
    clouds = 0.55
    if re.search(r"\b(clear|cloudless)\b", text):
        clouds = 0.1
    elif re.search(r"\bclouds?|cloudy|overcast|storm\b", text):
        clouds = 0.8
    particles = None
    # Falling snow; not for snow lying on the ground ("snowy", "snow-capped", "frozen", "glacier").
    if re.search(r"\b(snow(ing|fall|flakes?|storm)?|blizzard|winter)\b(?!-)", text):
        particles = "snow"
    elif re.search(r"\b(rain|raining|rainy|storm)\b", text):
        particles = "rain"
    elif setting == "forest" and time in ("night", "sunset"):
        particles = "fireflies"
    elif setting == "desert":
        particles = "dust"
    elif re.search(r"\b(fireflies|sparks|embers|particles|dust)\b", text):
        particles = "fireflies"
    digest = hashlib.sha256(f"{seed}:{prompt}".encode()).digest()
    theme = Theme(time=time, setting=setting, light=LIGHTS[time], neon=neon,
                  aerial=bool(re.search(r"\b(aerial|drone|bird'?s[- ]eye|overhead|from above)\b", text)),
                  boat=bool(re.search(r"\b(boats?|sailboats?|sailing|yachts?|ships?|canoes?|kayaks?)\b",
                                      text)),
                  calm=bool(re.search(r"\b(calm|still|tranquil|placid|glassy|lakes?|ponds?)\b", text))
                  and not re.search(r"\b(waves?|storm|stormy|surf|rough)\b", text),
                  clouds=clouds, particles=particles, seed=int.from_bytes(digest[:8], "little"))
    if time == "night" and setting == "city" and neon:
        theme = replace(theme, light=replace(theme.light, horizon=(0.30, 0.10, 0.35), land=(0.30, 0.28, 0.45)))
    return theme
