"""Reframing: another aspect ratio cut from the master's clips, $0.

Each clip is cropped to the deliverable's ratio around its shot's ``focus``
(x, y from 0 to 1; the centre by default), scaled to the deliverable's size
and encoded once, its sound copied as it is. The reframed clip is kept in the
cache by (clip digest, crop, size, quality), so a re-cut, or another film
that uses the same clip, encodes nothing; the cut then joins reframed clips
like any clips, by copy.

The size, unless the deliverable gives one: the master's short side stays
the short side (a 1280x720 master gives 720x1280 at 9:16 and 720x720 at 1:1;
1920x1080 gives 1080x1920), the platforms' standard sizes for the ratio at
the master's own detail, so no picture is made up past what the master has.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..plan.finishing import ratio_of
from ..plan.types import CutPlan, DeliverablePlan, Plan
from ..store.cache import ClipCache
from .ffmpeg_tools import BITEXACT, ffmpeg
from .probe import ClipInfo, probe
from .sound import digest_of, kept_name
from .timeline import choose_target

REFRAME_VERSION = 2
PARALLEL = 2  # encodes at once, one x264 thread each: the same bytes on any machine


def _even(value: float) -> int:
    return max(2, int(round(value / 2)) * 2)


def standard_size(ratio: str, width: int, height: int, resolution: str | None = None) -> tuple[int, int]:
    """The deliverable's size: ``resolution`` when given, else the master's short side kept short."""
    if resolution:
        w, h = resolution.split("x")
        return int(w), int(h)
    rw, rh = ratio_of(ratio)
    short = min(width, height)
    return (short, _even(short * rh / rw)) if rw <= rh else (_even(short * rw / rh), short)


def crop_box(width: int, height: int, size: tuple[int, int], focus: list[float] | None) -> tuple[int, int, int, int]:
    """(w, h, x, y) of the largest box of ``size``'s shape in a ``width``x``height`` picture, centred
    on ``focus`` as far as the picture allows (the box never leaves it)."""
    fx, fy = (focus or [0.5, 0.5]) + [0.5] * (2 - len(focus or [0.5, 0.5]))
    aspect = size[0] / size[1]
    if width / height > aspect:
        w, h = min(width, _even(height * aspect)), height
    else:
        w, h = width, min(height, _even(width / aspect))
    x = min(max(0, round(fx * width - w / 2)), width - w)
    y = min(max(0, round(fy * height - h / 2)), height - h)
    return w, h, x - x % 2, y - y % 2


def reframed(path: Path, info: ClipInfo, box: tuple[int, int, int, int], size: tuple[int, int], quality: int,
             cache: ClipCache, work: Path, what: str) -> Path:
    """``path`` cropped to ``box`` and scaled to ``size``, made once and kept in the cache. Without
    B-frames: the cut then takes its first frames as they are (no smart render of a tail), and
    x264 spends a fifth less time on it."""
    digest = digest_of(path)
    name = kept_name("reframed", {"v": REFRAME_VERSION, "clip": digest, "crop": list(box), "size": list(size),
                                  "q": quality}, ".mp4")
    kept = cache.storage.local_copy(name)
    if kept is not None:
        return kept
    w, h, x, y = box
    made = work / f"reframe-{digest[:12]}-{w}x{h}+{x}+{y}.mp4"
    timescale = ["-video_track_timescale", info.tbn] if info.tbn else []
    ffmpeg(["-i", path, "-map", "0:v:0", "-map", "0:a:0?", "-vf",
            f"crop={w}:{h}:{x}:{y},scale={size[0]}:{size[1]}:flags=lanczos,setsar=1,format=yuv420p",
            "-c:v", "libx264", "-preset", "veryfast", "-bf", 0, "-crf", quality, "-pix_fmt", "yuv420p",
            "-threads", "1", "-x264-params", "threads=1", "-c:a", "copy", *timescale, *BITEXACT, made],
           f"reframing {what}")
    cache.storage.put_file_if_absent(name, made)
    return cache.storage.local_copy(name) or made


def reframer(d: DeliverablePlan, master: CutPlan, cache: ClipCache):
    """The stitch's hook that makes ``d``'s frame of the master's clips (and sets the film's size)."""

    def hook(plan: Plan, clips: list[Path], infos: list[ClipInfo], work: Path):
        target = choose_target(master, infos)
        size = standard_size(d.aspect_ratio, target.width, target.height, d.resolution)
        shots = [cs for cs in plan.cut.shots if cs.card is None]

        # One encode per (clip, crop): two shots with the same clip and focus share it (and never write
        # one work file from two threads).
        wanted = {}
        for cs, path, info in zip(shots, clips, infos):
            box = crop_box(info.width, info.height, size, d.focus.get(cs.shot))
            wanted.setdefault((path, box), (cs.shot, info))

        def one(item):
            (path, box), (shot, info) = item
            return reframed(path, info, box, size, plan.cut.format.quality, cache, work, f"shot {shot}")

        with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
            done = dict(zip(wanted, pool.map(one, wanted.items())))
        made = [done[(path, crop_box(info.width, info.height, size, d.focus.get(cs.shot)))]
                for cs, path, info in zip(shots, clips, infos)]
        fmt = plan.cut.format.model_copy(update={"width": size[0], "height": size[1]})
        cut = plan.cut.model_copy(update={"format": fmt})
        return plan.model_copy(update={"cut": cut}), made, [probe(p) for p in made]

    return hook


def ready_reframes(plan: Plan, shot: str, path: Path, cache: ClipCache) -> None:
    """As a clip lands during a render, its reframe for each ``reframe`` deliverable, kept where the cut
    looks for it. The film's size is taken from this clip (a provider's clips share one), or `cut.resolution`;
    if the cut finds the film another size, it reframes the clip for that size itself."""
    from ..format.files import work_dir

    info = probe(path)
    fmt = plan.cut.format
    width, height = (fmt.width, fmt.height) if fmt.width and fmt.height else (info.width, info.height)
    for d in plan.deliverables:
        if d.method != "reframe":
            continue
        size = standard_size(d.aspect_ratio, width - width % 2, height - height % 2, d.resolution)
        box = crop_box(info.width, info.height, size, d.focus.get(shot))
        with work_dir("ready") as work:
            reframed(path, info, box, size, fmt.quality, cache, Path(work), f"shot {shot}")
