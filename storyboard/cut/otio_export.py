"""The cut as an OpenTimelineIO timeline, for editors (DaVinci Resolve reads
.otio; others through OTIO's adapters).

Transitions are modelled as our engines make them: the two shots overlap by
the transition's length (the timeline is shorter by it), so each clip's
range leaves half a transition of media on either side as the editor's
handles, and the transition sits centred on the cut. Captions are markers on
the shots' track, each over its cue's frames, its text as its name.

An editor opens the timeline on another machine, or after the cache is
cleaned: each shot's clip is exported beside it (``film.otio`` →
``film-clips/01-opening.mp4``, hard-linked from the cache where the disk
allows, else copied), named by its place, shot and take, and referred to by
a path relative to the ``.otio``, as is the music. Clip names are the shot
ids (``opening``, ``meet (take 2)``), never hashes.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from ..plan.types import Plan
from .captions import cues
from .timeline import Piece, Target


def write_otio(plan: Plan, timeline: list[Piece], target: Target, music: Path | None, path: Path) -> None:
    import opentimelineio as otio

    rate = float(target.fps)

    def rt(seconds: float):
        return otio.opentime.RationalTime(round(seconds * rate), rate)

    def span(start: float, length: float):
        return otio.opentime.TimeRange(rt(start), rt(length))

    exported = export_clips(plan, timeline, path)
    film = otio.schema.Timeline(name=plan.title or plan.storyboard)
    film.metadata["storyboard"] = {"storyboard": plan.storyboard, "provider": plan.provider, "origin": plan.origin}
    video = otio.schema.Track(name="shots", kind=otio.schema.TrackKind.Video)
    for i, p in enumerate(timeline):
        t_in = p.crossfade_in or p.fade_in * 2
        nxt = timeline[i + 1] if i + 1 < len(timeline) else None
        t_out = (nxt.crossfade_in or nxt.fade_in * 2) if nxt else 0.0
        if t_in:
            kind = "SMPTE_Dissolve" if p.crossfade_in else "fade_through_black"
            transition = otio.schema.Transition(
                name=kind, transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve
                if p.crossfade_in else otio.schema.TransitionTypes.Custom,
                in_offset=rt(t_in / 2), out_offset=rt(t_in / 2),
            )
            transition.metadata["storyboard"] = {"type": "crossfade" if p.crossfade_in else "fade", "duration": t_in}
            video.append(transition)
        media = otio.schema.ExternalReference(
            target_url=exported[i], available_range=span(0, p.info.duration)
        )
        clip = otio.schema.Clip(name=clip_name(plan, p), media_reference=media,
                                source_range=span(t_in / 2, p.duration - t_in / 2 - t_out / 2))
        clip.metadata["storyboard"] = {"shot": p.shot, "job_key": p.key, "planned_duration": p.duration,
                                       "sound": p.sound}
        card = plan.cut.shots[i].card if i < len(plan.cut.shots) else None
        if card is not None:  # a title or end card, drawn by the cut: what it shows, for the editor
            clip.metadata["storyboard"]["card"] = card.model_dump(mode="json")
        video.append(clip)
    for cue in cues(plan.cut.captions, timeline, target.fps, plan.cut.duration):  # captions as markers, film time
        marker = otio.schema.Marker(name=cue.text, color=otio.schema.MarkerColor.YELLOW, marked_range=otio.opentime.
                                    TimeRange(otio.opentime.RationalTime(cue.first, rate),
                                              otio.opentime.RationalTime(cue.last - cue.first, rate)))
        marker.metadata["storyboard"] = {"caption": cue.text, "shot": cue.shot}
        video.markers.append(marker)
    film.tracks.append(video)
    if music is not None and plan.cut.music is not None:
        track = otio.schema.Track(name="music", kind=otio.schema.TrackKind.Audio)
        bed = otio.schema.Clip(name="music", media_reference=otio.schema.ExternalReference(
            target_url=_relative(music, path)), source_range=span(0, plan.cut.duration))
        bed.metadata["storyboard"] = {**plan.cut.music.model_dump(mode="json")}
        track.append(bed)
        film.tracks.append(track)
    path.parent.mkdir(parents=True, exist_ok=True)
    otio.adapters.write_to_file(film, str(path))


def clip_name(plan: Plan, piece: Piece) -> str:
    """The shot id, and its take when it is not the first: ``meet (take 2)``."""
    job = plan.job(piece.shot)
    take = job.take if job is not None and job.key == piece.key else 1
    return piece.shot if take == 1 else f"{piece.shot} (take {take})"


def export_clips(plan: Plan, timeline: list[Piece], otio_path: Path) -> list[str]:
    """Each piece's clip in ``<stem>-clips/`` beside the timeline; the paths relative to it. Files of an
    earlier export that this one does not write are removed: the folder is the timeline's own."""
    folder = otio_path.parent / f"{otio_path.stem}-clips"
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for n, piece in enumerate(timeline, 1):
        stem = re.sub(r"[^A-Za-z0-9._-]+", "-", clip_name(plan, piece).replace(" (take ", "-take").rstrip(")"))
        dest = folder / f"{n:02d}-{stem.strip('.-')[:60] or 'shot'}{piece.path.suffix or '.mp4'}"
        _place(piece.path, dest)
        names.append(dest.name)
    for old in folder.iterdir():
        if old.name not in names and old.is_file():
            old.unlink()
    return [f"{folder.name}/{name}" for name in names]


def _place(source: Path, dest: Path) -> None:
    """``dest`` holds ``source``'s bytes: a hard link (no space taken) where the disk allows, else a copy;
    written beside and renamed, so an editor never opens half a clip."""
    tmp = dest.with_name(f".{dest.name}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(source, tmp)
    except OSError:
        shutil.copyfile(source, tmp)
    os.replace(tmp, dest)


def _relative(target: Path, otio_path: Path) -> str:
    """``target`` as a path relative to the timeline's folder (an editor resolves it from there)."""
    return Path(os.path.relpath(target.resolve(), otio_path.resolve().parent)).as_posix()
