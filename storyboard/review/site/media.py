"""The site's media: clips and stills placed by content, and posters.

A clip is placed once under ``media/<sha256>.mp4`` (hard-linked from the
cache where the file system allows, copied otherwise), or, with a media URL,
referred to there so a large film need not be copied. A poster is the clip's
first frame as a JPEG, made with the ffmpeg binary the cut already uses, a
batch of clips per ffmpeg run (starting ffmpeg costs more than decoding one
frame), and kept in the project's state folder by the clip's digest, so a
second build makes none."""

from __future__ import annotations

import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ...errors import StoryboardError
from ...store.cache import file_sha256, object_name

MEDIA = "media"
BATCH = 24  # clips per ffmpeg run


def place(source: Path, dest: Path) -> None:
    """``source`` at ``dest``: a hard link when possible, else a copy (written aside, then renamed)."""
    if dest.exists():
        return
    try:
        os.link(source, dest)
        return
    except OSError:
        pass
    tmp = dest.with_name(f".tmp-{dest.name}")
    shutil.copyfile(source, tmp)
    os.replace(tmp, dest)


class Media:
    """Collects what the page shows and puts it in the site's folder."""

    def __init__(self, out: Path, poster_cache: Path, media_url: str | None = None):
        self.out, self.posters, self.media_url = out, poster_cache, media_url
        self.clips: dict[str, Path] = {}  # sha256 → a local copy of the clip
        self.files: dict[str, Path] = {}  # name under media/ → the file to place there

    def clip(self, sha256: str, path: Path) -> tuple[str, str]:
        """The URLs of a clip and of its poster, as the page refers to them."""
        self.clips[sha256] = path
        poster = f"{MEDIA}/{sha256}.jpg"
        if self.media_url:
            url = self.media_url.rstrip("/")
            return (url.replace("{sha256}", sha256) if "{sha256}" in url else f"{url}/{object_name(sha256)}"), poster
        self.files[f"{sha256}.mp4"] = path
        return f"{MEDIA}/{sha256}.mp4", poster

    def still(self, path: Path) -> str:
        """A picture (a reference image, a frame) placed by its digest; its URL."""
        name = f"{file_sha256(path)}{path.suffix.lower()}"
        self.files[name] = path
        return f"{MEDIA}/{name}"

    def frame(self, sha256: str, path: Path, frame, planned: float | None) -> str:
        """A frame of a clip (``first``, ``last`` or seconds), as a shot that builds on it receives it."""
        from ...cut.frames import extract_frame
        from ...plan.frames import frame_number, last_frame_number
        from ...cut.probe import probe

        name = f"{sha256}-{frame}.png"
        kept = self.posters / name
        if not kept.exists():
            fps = probe(path).fps
            number = (0 if frame == "first" else last_frame_number(planned or probe(path).duration, fps)
                      if frame == "last" else frame_number(float(frame), fps))
            self.posters.mkdir(parents=True, exist_ok=True)
            extract_frame(path, number, kept.with_name(f".tmp-{os.getpid()}-{name}"))
            os.replace(kept.with_name(f".tmp-{os.getpid()}-{name}"), kept)
        self.files[name] = kept
        return f"{MEDIA}/{name}"

    def write(self) -> None:
        """Make the missing posters, place every file, and remove media no page refers to any more."""
        folder = self.out / MEDIA
        folder.mkdir(parents=True, exist_ok=True)
        self._make_posters()
        for sha in self.clips:
            self.files[f"{sha}.jpg"] = self.posters / f"{sha}.jpg"
        for name, source in self.files.items():
            place(source, folder / name)
        for old in folder.iterdir():
            if old.name not in self.files and old.is_file():
                old.unlink()

    def _make_posters(self) -> None:
        todo = [(sha, path) for sha, path in self.clips.items() if not (self.posters / f"{sha}.jpg").exists()]
        if not todo:
            return
        self.posters.mkdir(parents=True, exist_ok=True)
        batches = [todo[i:i + BATCH] for i in range(0, len(todo), BATCH)]
        with ThreadPoolExecutor(max_workers=max(1, min(4, os.cpu_count() or 1))) as pool:
            list(pool.map(self._poster_batch, batches))

    def _poster_batch(self, batch: list[tuple[str, Path]]) -> None:
        """The first frame of each clip of the batch, in one ffmpeg run (written aside, then renamed)."""
        from ...cut.probe import ffmpeg_exe

        args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-v", "error"]
        for _, path in batch:
            args += ["-i", str(path)]
        tmp = [self.posters / f".tmp-{os.getpid()}-{sha}.jpg" for sha, _ in batch]
        for i, dest in enumerate(tmp):
            args += ["-map", f"{i}:v:0", "-frames:v", "1", "-pix_fmt", "yuvj444p", "-q:v", "2", "-update", "1", "-f", "image2", str(dest)]
        result = subprocess.run(args, capture_output=True, text=True)
        if result.returncode != 0:
            tail = result.stderr.strip().splitlines()[-1:] or ["failed"]
            raise StoryboardError(f"ffmpeg could not make the posters of the review site: {tail[0]}")
        for (sha, _), dest in zip(batch, tmp):
            os.replace(dest, self.posters / f"{sha}.jpg")
