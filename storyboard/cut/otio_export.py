"""The cut as an OpenTimelineIO timeline, for editors (DaVinci Resolve reads
.otio; others through OTIO's adapters).

Transitions are modelled as our engines make them: the two shots overlap by
the transition's length (the timeline is shorter by it), so each clip's
range leaves half a transition of media on either side as the editor's
handles, and the transition sits centred on the cut. Captions are markers on
the shots' track, each over its cue's frames, its text as its name.
"""

from __future__ import annotations

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
            target_url=p.path.resolve().as_uri(), available_range=span(0, p.info.duration)
        )
        clip = otio.schema.Clip(name=p.shot, media_reference=media,
                                source_range=span(t_in / 2, p.duration - t_in / 2 - t_out / 2))
        clip.metadata["storyboard"] = {"shot": p.shot, "job_key": p.key, "planned_duration": p.duration,
                                       "sound": p.sound}
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
            target_url=music.resolve().as_uri()), source_range=span(0, plan.cut.duration))
        bed.metadata["storyboard"] = {**plan.cut.music.model_dump(mode="json")}
        track.append(bed)
        film.tracks.append(track)
    path.parent.mkdir(parents=True, exist_ok=True)
    otio.adapters.write_to_file(film, str(path))
