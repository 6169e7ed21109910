"""Which frame of a shot's clip a ``frame:`` names, and the one spelling a key uses for it.

Frames are counted, not sought: the time ``t`` shows frame ``floor(t × fps)``
(frames start at 0, each lasting 1/fps), ``first`` is frame 0 and ``last`` the
last frame of the planned length. Many spellings land on one frame (``0``,
``-0.0``, ``0.01`` and ``first`` at 24 fps), and the provider receives the same
PNG for all of them, so the plan writes each frame input in one spelling before
it is keyed: ``first``, ``last``, or else the shortest number of seconds that
lands on the frame (``2.5``, ``1.3``, ``3.0``: what people write, so the keys of
storyboards written that way stay what they were). The render resolves that
spelling here too, at the rate of the clip that came back.
"""

from __future__ import annotations

import math
from fractions import Fraction

# Times are read to the microsecond, and a time a hair under a frame's start
# (2.4999999 for frame 60 at 24 fps) counts as that frame, not the one before.
_TOLERANCE = Fraction(1, 10**6)
_MOST_DIGITS = 6  # times are read to the microsecond: six decimals reach a frame at any rate under 10^6 fps


def frame_number(seconds: float, fps: Fraction) -> int:
    """The frame shown at ``seconds``."""
    return max(0, math.floor(Fraction(seconds).limit_denominator(10**6) * fps + _TOLERANCE))


def last_frame_number(planned: float, fps: Fraction) -> int:
    """The last frame of a clip of ``planned`` seconds: at ``planned`` − one frame."""
    return max(0, math.ceil(Fraction(planned).limit_denominator(10**6) * fps - _TOLERANCE) - 1)


def resolve_frame(frame: str | float, planned: float, fps: Fraction) -> int:
    """The frame ``first``, ``last`` or a time names in a clip planned ``planned`` seconds long."""
    last = last_frame_number(planned, fps)
    if frame == "first":
        return 0
    if frame == "last":
        return last
    return min(frame_number(float(frame), fps), last)


def key_frame(frame: str | float, planned: float, fps: Fraction) -> str | float:
    """The one spelling of the frame ``frame`` resolves to: every spelling of a frame gives the same one."""
    number = resolve_frame(frame, planned, fps)
    if number == 0:
        return "first"
    if number == last_frame_number(planned, fps):
        return "last"
    return seconds_of(number, fps)


def seconds_of(number: int, fps: Fraction) -> float:
    """The time with the fewest decimals that lands on frame ``number`` (the earliest of those)."""
    start = Fraction(number) / fps
    for digits in range(_MOST_DIGITS + 1):
        scale = 10**digits
        candidate = Fraction(math.ceil(start * scale), scale)
        if frame_number(float(candidate), fps) == number:
            return float(candidate)
    return float(start)
