"""The film written from its parts' samples, without ffmpeg.

A hard-cut film is nothing but samples that already exist: each clip's
first frames (copied untouched), a few re-encoded tail frames, and whole AAC
frames of each stretch of sound. ``write_film`` lays those samples out in one
file directly, reading them from where they lie (no copy of a clip's head, no
process, no probing of every part by a demuxer): one H.264 track whose
``avcC`` carries every part's parameter sets, one AAC track, the index
(``moov``) first so the film plays while it downloads, and the two tracks
interleaved a second at a time.

The film's timeline is exact: every picture sample lasts one frame, and each
part's frames fill exactly its planned span, so the decode times are uniform
and each sample's composition offset is its own offset within its part, moved
by the deepest reordering of any part (the edit list takes that delay away).
The sound starts after the first part's priming (edit list); each later
part's priming frame plays, as ``sound.frame_counts`` accounts for.

A part that does not fit that model (another time base, frames of uneven
length, other sound settings) makes ``write_film`` decline, and the engine
joins the film with ffmpeg instead."""

from __future__ import annotations

import math
import struct
from pathlib import Path

from .avcc import AvcC, setup_of
from .mp4 import Part, Take, box, boxes, full_box, runs, tracks
from .subtitles import TextTrack

MOVIE_TIMESCALE = 1000  # as ffmpeg writes it
CHUNK_SECONDS = 1.0  # interleaving: a chunk of picture, then the sound of the same second
WIDE_FROM = 0xFFFFFFFF  # file offsets past this take 64 bits (co64, a large mdat)


def video_fits(takes: list[Take]) -> int | None:
    """The frame length, in the tracks' time base, when every take is a run of whole frames of one
    length that fills its own span exactly; else None."""
    if not takes or any(t.count < 1 or t.count > len(t.track.samples) for t in takes):
        return None
    first = takes[0].track
    frame = first.durations[0]
    for t in takes:
        tr = t.track
        if tr.timescale != first.timescale or tr.handler != b"vide" or tr.entry[4:8] not in (b"avc1", b"avc3"):
            return None
        if (tr.width, tr.height) != (first.width, first.height) or tr.avcc() is None:
            return None
        if any(d != frame for d in tr.durations[:t.count - 1]):
            return None
        if sorted(tr.pts(t.count)) != [k * frame for k in range(t.count)]:
            return None
    return frame


def audio_fits(takes: list[Take]) -> bool:
    if not takes:
        return False
    config = takes[0].track.audio_config()
    return config is not None and all(
        t.track.handler == b"soun" and 0 < t.count <= len(t.track.samples) and t.track.audio_config() == config
        and t.track.timescale == takes[0].track.timescale for t in takes)


def takes(parts: list[Part], handler: bytes) -> list[Take] | None:
    """The ``handler`` track of each part's file (each file read once); None if one has none."""
    read: dict[Path, dict] = {}
    out = []
    for part in parts:
        if part.path not in read:
            read[part.path] = tracks(part.path)
        track = read[part.path].get(handler)
        if track is None:
            return None
        out.append(Take(track, len(track.samples) if part.count is None else part.count))
    return out


def write_film(out: Path, video: list[Take], audio: list[Take], setup: AvcC | None = None,
               duration: float | None = None, text: TextTrack | None = None) -> bool:
    """Write ``video`` then ``audio`` takes, joined in order, as one MP4 at ``out``; ``setup`` is the
    picture track's ``avcC`` (every part's sets); ``text``, a subtitle track (its samples lead the
    media). False, writing nothing, when they do not fit."""
    frame = video_fits(video)
    if frame is None or not audio_fits(audio):
        return False
    setup = setup or setup_of(video[0].track)
    if setup is None or not setup.distinct_ids():
        return False
    delay = max(t.track.shift for t in video)  # the deepest reordering of any part
    v = _video_samples(video, frame, delay)
    a = _audio_samples(audio)
    vscale, ascale = video[0].track.timescale, audio[0].track.timescale
    v_length = sum(t.count for t in video) * frame
    a_shift = audio[0].track.shift
    a_length = sum(d for _, _, d, _ in a) - a_shift
    if duration is not None:  # as `-t`: no longer than the plan
        a_length = min(a_length, math.ceil(duration * ascale))
    v_edit = _movie(v_length, vscale)
    a_edit = _movie(a_length, ascale)
    chunks = _interleave(v, vscale, a, ascale)
    lead = text.payload if text is not None else b""
    payload = len(lead) + sum(size for _, samples in chunks for _, (_, size), _, _ in samples)
    entry = _with_avcc(video[0].track.entry, setup)
    ftyp = box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2avc1mp41")

    def moov(chunk_offsets: list[int], wide: bool) -> bytes:
        vt = _trak(1, b"vide", vscale, entry, v, [o for (kind, _), o in zip(chunks, chunk_offsets) if kind == b"v"],
                   [len(s) for kind, s in chunks if kind == b"v"], v_edit, delay, wide,
                   (video[0].track.width, video[0].track.height))
        at = _trak(2, b"soun", ascale, audio[0].track.entry, a,
                   [o for (kind, _), o in zip(chunks, chunk_offsets) if kind == b"a"],
                   [len(s) for kind, s in chunks if kind == b"a"], a_edit, a_shift, wide, None)
        tt = b"" if text is None else text.trak(3, media_start, wide, MOVIE_TIMESCALE, (video[0].track.width,
                                                                                        video[0].track.height))
        mvhd = full_box(b"mvhd", 0, 0, struct.pack(">IIII", 0, 0, MOVIE_TIMESCALE, max(v_edit, a_edit))
                     + struct.pack(">IH", 0x00010000, 0x0100) + bytes(10) + _MATRIX + bytes(24)
                     + struct.pack(">I", 3 if text is None else 4))
        return box(b"moov", mvhd + vt + at + tt)

    # 32-bit offsets and mdat size unless the file's end would pass them (the index's size does
    # not depend on the offsets' values, only on their width)
    media_start = 0  # where the media starts (the text's samples); the index's size does not depend on it
    wide = len(ftyp) + len(moov([0] * len(chunks), False)) + 8 + payload > WIDE_FROM
    media_start = len(ftyp) + len(moov([0] * len(chunks), wide)) + (16 if wide else 8)
    offsets, at = [], media_start + len(lead)
    for _, samples in chunks:
        offsets.append(at)
        at += sum(size for _, (_, size), _, _ in samples)
    handles: dict[Path, object] = {}
    try:  # ``out`` is the caller's temporary file: a failure here leaves nothing in place
        with open(out, "wb") as f:
            f.write(ftyp + moov(offsets, wide))
            f.write(struct.pack(">I4sQ", 1, b"mdat", payload + 16) if wide else struct.pack(">I4s", payload + 8, b"mdat"))
            f.write(lead)
            for _, samples in chunks:
                _copy_samples(f, samples, handles)
    finally:
        for h in handles.values():
            h.close()
    return True


def _video_samples(takes: list[Take], frame: int, delay: int) -> list[tuple]:
    """(path, (offset, size), duration, composition offset, sync) of each picture sample of the film."""
    out = []
    for t in takes:
        tr = t.track
        for i in range(t.count):
            sync = tr.sync is None or i in tr.sync
            out.append((tr.path, tr.samples[i], frame, tr.offsets[i] - tr.shift + delay, sync))
    return out


def _audio_samples(takes: list[Take]) -> list[tuple]:
    return [(t.track.path, t.track.samples[i], t.track.durations[i], 0)
            for t in takes for i in range(t.count)]


def _movie(length: int, timescale: int) -> int:
    return -(-length * MOVIE_TIMESCALE // timescale)  # rounded up, as ffmpeg does


def _interleave(video: list[tuple], vscale: int, audio: list[tuple], ascale: int) -> list[tuple[bytes, list]]:
    """Chunks in file order: a second of picture, then the sound of that second, and so on."""
    chunks: list[tuple[bytes, list]] = []
    tracks = [[b"v", video, vscale, 0, 0], [b"a", audio, ascale, 0, 0]]  # kind, samples, scale, next, time
    window = 1
    while any(t[3] < len(t[1]) for t in tracks):
        for track in tracks:
            kind, samples, scale, at, time = track
            run = []
            while at < len(samples) and time / scale < window * CHUNK_SECONDS:
                run.append(samples[at][:4])  # (path, (offset, size), duration, composition offset)
                time += samples[at][2]
                at += 1
            track[3:] = [at, time]
            if run:
                chunks.append((kind, run))
        window += 1
    return chunks


def _copy_samples(f, samples: list, handles: dict) -> None:
    """Copy samples in order, one read for each run that lies together in its source."""
    i = 0
    while i < len(samples):
        path, (offset, size), _, _ = samples[i]
        end, j = offset + size, i + 1
        while j < len(samples) and samples[j][0] == path and samples[j][1][0] == end:
            end += samples[j][1][1]
            j += 1
        source = handles.get(path)
        if source is None:
            source = handles[path] = open(path, "rb")
        source.seek(offset)
        data = source.read(end - offset)
        if len(data) != end - offset:
            raise OSError(f"{path.name} is shorter than its index says")
        f.write(data)
        i = j


_MATRIX = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)




def _with_avcc(entry: bytes, setup: AvcC) -> bytes:
    """The picture's sample description with ``setup`` as its ``avcC`` and no bitrate box (``btrt``:
    it describes the clip, not the film)."""
    children = b"".join(box(kind, setup.to_bytes()) if kind == b"avcC" else entry[b:e]
                        for kind, b, e in boxes(entry, 8 + 78, len(entry)) if kind != b"btrt")
    return box(entry[4:8], entry[8:8 + 78] + children)



def _trak(track_id: int, handler: bytes, timescale: int, entry: bytes, samples: list, chunk_offsets: list[int],
          per_chunk: list[int], edit: int, media_start: int, wide: bool, size) -> bytes:
    video = handler == b"vide"
    tkhd = full_box(b"tkhd", 0, 3, struct.pack(">IIIII", 0, 0, track_id, 0, edit) + bytes(8)
                 + struct.pack(">hhHH", 0, 0 if video else 1, 0 if video else 0x0100, 0) + _MATRIX
                 + (struct.pack(">II", size[0] << 16, size[1] << 16) if video else bytes(8)))
    elst = full_box(b"elst", 0, 0, struct.pack(">IIiI", 1, edit, media_start, 0x00010000))
    media_duration = sum(s[2] for s in samples)
    mdhd = full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, timescale, media_duration, 0x55C4, 0))
    name = b"VideoHandler\0" if video else b"SoundHandler\0"
    hdlr = full_box(b"hdlr", 0, 0, bytes(4) + handler + bytes(12) + name)
    head = full_box(b"vmhd", 0, 1, bytes(8)) if video else full_box(b"smhd", 0, 0, bytes(4))
    dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1) + full_box(b"url ", 0, 1, b"")))
    stsd = full_box(b"stsd", 0, 0, struct.pack(">I", 1) + entry)
    stts = runs(s[2] for s in samples)
    tables = [stsd, full_box(b"stts", 0, 0, struct.pack(">I", len(stts)) + b"".join(struct.pack(">II", *r) for r in stts))]
    if video:
        ctts = runs(s[3] for s in samples)
        if any(v for _, v in ctts):
            tables.append(full_box(b"ctts", 0, 0, struct.pack(">I", len(ctts))
                                + b"".join(struct.pack(">II", *r) for r in ctts)))
        sync = [n + 1 for n, s in enumerate(samples) if s[4]]
        if len(sync) != len(samples):
            tables.append(full_box(b"stss", 0, 0, struct.pack(f">I{len(sync)}I", len(sync), *sync)))
    stsc, first = [], 1
    for count, value in runs(per_chunk):
        stsc.append(struct.pack(">III", first, value, 1))
        first += count
    tables.append(full_box(b"stsc", 0, 0, struct.pack(">I", len(stsc)) + b"".join(stsc)))
    tables.append(full_box(b"stsz", 0, 0, struct.pack(f">II{len(samples)}I", 0, len(samples),
                                                      *(s[1][1] for s in samples))))
    fmt = "Q" if wide else "I"
    tables.append(full_box(b"co64" if wide else b"stco", 0, 0,
                        struct.pack(f">I{len(chunk_offsets)}{fmt}", len(chunk_offsets), *chunk_offsets)))
    minf = box(b"minf", head + dinf + box(b"stbl", b"".join(tables)))
    return box(b"trak", tkhd + box(b"edts", elst) + box(b"mdia", mdhd + hdlr + minf))
