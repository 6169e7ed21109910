"""The emulator's Kling elements: ``kwaivgi/kling-elements-advanced`` with the
real API's checks, ids as JSON numbers, and the ids a video request sends
drawn into its clip where a test can read them back.

Ids start above 2**53, where a float can no longer hold every whole number:
an id that passed through a float anywhere on its way from the element's
answer to a shot's ``element_list`` arrives changed, and the test sees it.

The marks: a black panel in the top-right corner; each id sent is 64 bits in
two rows of 32 squares, white for a 1, most significant bit first.
"""

from __future__ import annotations

import itertools
import subprocess
import threading
from pathlib import Path

from ...catalog import ModelSpec

FIRST_ID = 2**53 + 1
BIT = 5  # pixels per square: whole macroblock edges are not needed, the centre of each square is read
BITS_PER_ROW = 32
MAX_MARKS = 4


class ElementIds:
    """Fresh element ids, odd numbers from ``FIRST_ID`` up (none of them a float can hold)."""

    def __init__(self, first: int = FIRST_ID):
        self._next = itertools.count(first, 2)
        self._lock = threading.Lock()

    def take(self) -> int:
        with self._lock:
            return next(self._next)


def check_element(spec: ModelSpec, body: object) -> str | None:
    """The message the API would give for a bad element request, or None."""
    limits = spec.element
    if not isinstance(body, dict):
        return "request body must be a JSON object"
    known = {"name", "description", "reference_type", "frontal_image", "refer_images", "element_video_list"}
    unknown = sorted(set(body) - known)
    if unknown:
        return f"unknown parameter: {unknown[0]}"
    for field, most in (("name", limits.name_chars), ("description", limits.description_chars)):
        value = body.get(field)
        if not isinstance(value, str) or not value.strip():
            return f"{field} is required"
        if len(value) > most:
            return f"{field} must be at most {most} characters"
    kind = body.get("reference_type", "image_refer")
    if kind == "image_refer":
        if not isinstance(body.get("frontal_image"), str) or not body["frontal_image"]:
            return "frontal_image is required for image_refer"
        views = body.get("refer_images") or []
        if not isinstance(views, list) or not limits.views.min <= len(views) <= limits.views.max:
            return f"refer_images must hold {limits.views.min} to {limits.views.max} images"
    elif kind == "video_refer":
        videos = body.get("element_video_list") or []
        if not isinstance(videos, list) or not limits.videos.min <= len(videos) <= limits.videos.max:
            return f"element_video_list must hold {limits.videos.min} to {limits.videos.max} videos"
    else:
        return "reference_type must be one of image_refer, video_refer"
    return None


def check_element_list(body: dict) -> str | None:
    """A video request's ``element_list``: ``[{"element_id": "<digits>"}]``."""
    items = body.get("element_list")
    if items is None:
        return None
    if not isinstance(items, list) or not all(
            isinstance(i, dict) and set(i) == {"element_id"} and isinstance(i["element_id"], str)
            and i["element_id"].isdigit() for i in items):
        return 'element_list items must be {"element_id": "<id>"}'
    return None


def element_output(body: dict, element_id: int) -> dict:
    """The completed task's one output: an object, the id a JSON number."""
    return {"element_id": element_id, "element_name": body["name"], "element_description": body["description"],
            "element_type": body.get("reference_type", "image_refer")}


def sent_ids(body: dict) -> tuple[int, ...]:
    """The element ids a video request sends, as numbers (for the clip's marks)."""
    out = []
    for item in body.get("element_list") or []:
        value = item.get("element_id") if isinstance(item, dict) else None
        if isinstance(value, str) and value.isdigit() and int(value) < 2**64:
            out.append(int(value))
    return tuple(out[:MAX_MARKS])


def marks_filter(ids: tuple[int, ...], width: int) -> str:
    """ffmpeg drawbox filters that draw ``ids`` in the top-right corner ("" for none)."""
    if not ids:
        return ""
    x0, y0 = width - BITS_PER_ROW * BIT - 2, 2
    boxes = [f"drawbox=x={x0 - 2}:y={y0 - 2}:w={BITS_PER_ROW * BIT + 4}:h={2 * MAX_MARKS * BIT + 4}"
             ":color=black:t=fill"]
    for n, value in enumerate(ids):
        for bit in range(64):
            if value >> (63 - bit) & 1:
                row, col = 2 * n + bit // BITS_PER_ROW, bit % BITS_PER_ROW
                boxes.append(f"drawbox=x={x0 + col * BIT}:y={y0 + row * BIT}:w={BIT}:h={BIT}:color=white:t=fill")
    return "," + ",".join(boxes)


def read_marks(clip: Path) -> list[str]:
    """The element ids drawn in a clip's first frame, as strings (what a test compares)."""
    import imageio_ffmpeg

    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    probe = subprocess.run([ffmpeg, "-hide_banner", "-i", str(clip)], capture_output=True, text=True).stderr
    size = next(part for part in probe.replace(",", " ").split() if "x" in part and part.split("x")[0].isdigit()
                and part.split("x")[1].isdigit())
    width, height = (int(v) for v in size.split("x"))
    gray = subprocess.run([ffmpeg, "-hide_banner", "-loglevel", "error", "-i", str(clip), "-frames:v", "1",
                           "-f", "rawvideo", "-pix_fmt", "gray", "-"], capture_output=True, check=True).stdout
    x0, y0, ids = width - BITS_PER_ROW * BIT - 2, 2, []
    for n in range(MAX_MARKS):
        value = 0
        for bit in range(64):
            row, col = 2 * n + bit // BITS_PER_ROW, bit % BITS_PER_ROW
            x, y = x0 + col * BIT + BIT // 2, y0 + row * BIT + BIT // 2
            value = value << 1 | (y < height and gray[y * width + x] > 128)
        if value == 0:
            break
        ids.append(str(value))
    return ids
