"""The reference stitch engine: moviepy 2's own API, feature for feature.

Slow, but simple enough to trust: it is the oracle the ffmpeg engine is
tested against. The timeline model is the one in ``timeline``.
"""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path

from ..store.cache import ClipCache
from ..plan.types import CutPlan
from .ffmpeg_tools import audio_length, loudness_gain
from .subtitles import mux_soft
from .timeline import AUDIO_RATE, Piece, Target, music_layout

MOVIEPY_BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1"]


def _fit(clip, target: Target):
    """Scale to fit the target and centre it on black, as the ffmpeg engine does."""
    from moviepy import ColorClip, CompositeVideoClip

    if (clip.w, clip.h) == (target.width, target.height):
        return clip
    scale = min(target.width / clip.w, target.height / clip.h)
    size = (max(2, round(clip.w * scale / 2) * 2), max(2, round(clip.h * scale / 2) * 2))
    resized = clip.resized(new_size=size).with_position("center")
    back = ColorClip((target.width, target.height), color=(0, 0, 0), duration=clip.duration)
    return CompositeVideoClip([back, resized], size=(target.width, target.height)).with_duration(clip.duration)


def _held(picture, p: Piece):
    """A clip shorter than planned, its last frame held to the planned length (as ffmpeg's tpad)."""
    if not p.hold:
        return picture
    last = p.source_out - p.hold - 0.5 / float(p.info.fps)  # within the clip's last frame
    return picture.time_transform(lambda t: min(t, last)).with_duration(p.source_out)


def cut_film(cut: CutPlan, timeline: list[Piece], target: Target, music: Path | None, work: Path, out: Path,
             cache: ClipCache) -> None:
    from moviepy import AudioFileClip, CompositeAudioClip, CompositeVideoClip, VideoFileClip, afx, vfx

    length = cut.duration
    with ExitStack() as stack:
        layers, sounds = [], []
        position = 0.0  # where the next picture layer starts
        for p in timeline:
            source = stack.enter_context(VideoFileClip(str(p.path), audio=p.sound))
            picture = _fit(_held(source.without_audio(), p).subclipped(p.source_in, p.source_out), target)
            effects = []
            if p.fade_in:
                effects.append(vfx.FadeIn(p.fade_in))
            if p.fade_out:
                effects.append(vfx.FadeOut(p.fade_out))
            if p.crossfade_in:
                effects.append(vfx.CrossFadeIn(p.crossfade_in))
                position -= p.crossfade_in
            layers.append(picture.with_effects(effects).with_start(position))
            position += p.visible
            if p.sound and source.audio is not None:
                sound = source.audio.subclipped(0, min(p.duration, source.audio.duration))
                fades = []
                if p.sound_in:
                    fades.append(afx.AudioFadeIn(p.sound_in))
                if p.sound_out:
                    fades.append(afx.AudioFadeOut(p.sound_out))
                sounds.append(sound.with_effects(fades).with_start(p.start))
        if music is not None and cut.music is not None:
            sounds.append(_music(stack, AudioFileClip, afx, cut, timeline, music, length))
        film = CompositeVideoClip(layers, size=(target.width, target.height), bg_color=(0, 0, 0)).with_duration(length)
        if sounds:
            mix = CompositeAudioClip(sounds).with_duration(length)
            wav = work / "mix.wav"
            mix.write_audiofile(str(wav), fps=AUDIO_RATE, nbytes=4, codec="pcm_f32le", logger=None)
            gain = loudness_gain(wav, cut.loudness)
            audio = stack.enter_context(AudioFileClip(str(wav))).with_volume_scaled(10 ** (gain / 20))
            film = film.with_audio(audio.with_duration(length))
        film.write_videofile(
            str(out), fps=float(target.fps), codec="libx264", preset="veryfast", audio_codec="aac",
            audio_fps=AUDIO_RATE, audio_bitrate="192k", threads=2, logger=None,
            ffmpeg_params=["-crf", str(target.quality), "-pix_fmt", "yuv420p", *MOVIEPY_BITEXACT],
        )
    mux_soft(out, cut, timeline, target, work)


def _music(stack, AudioFileClip, afx, cut: CutPlan, timeline: list[Piece], path: Path, length: float):
    from moviepy import CompositeAudioClip

    m = cut.music
    source = stack.enter_context(AudioFileClip(str(path)))
    layout = music_layout(audio_length(path), length, m.loop)
    copies = []
    for k, start in enumerate(layout.starts):  # each copy crossfades linearly into the next
        fades = []
        if k > 0:
            fades.append(afx.AudioFadeIn(layout.overlap))
        if k < len(layout.starts) - 1:
            fades.append(afx.AudioFadeOut(layout.overlap))
        copies.append(source.with_effects(fades).with_start(start))
    bed = copies[0] if len(copies) == 1 else CompositeAudioClip(copies)
    bed = bed.subclipped(0, min(layout.stop, bed.duration)).with_volume_scaled(m.volume)
    effects = []
    if m.duck != 1:
        effects += [afx.MultiplyVolume(m.duck, start_time=p.start, end_time=p.start + p.duration)
                    for p in timeline if p.sound]
    if m.fade_in:
        effects.append(afx.AudioFadeIn(m.fade_in))
    if m.fade_out:
        effects.append(afx.AudioFadeOut(m.fade_out))  # at the bed's end: where the music stops
    return bed.with_effects(effects)
