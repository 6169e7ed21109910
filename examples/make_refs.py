"""Make the small reference media the example storyboards point at.

Run from the repository root: ``python examples/make_refs.py``. The results
are committed; this script is how they were made, so anyone can make them
again (and how to make more). Needs Pillow and the ffmpeg binary that
moviepy ships (imageio-ffmpeg), both installed with storyboard.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
from PIL import Image, ImageDraw

REFS = Path(__file__).parent / "lighthouse" / "refs"
SIZE = (256, 256)


def figure(path: Path, coat: str, skin: str, hair: str, side: bool = False, beard: bool = False) -> None:
    img = Image.new("RGB", SIZE, "#d8d2c4")
    d = ImageDraw.Draw(img)
    head = (100, 40, 156, 104) if not side else (108, 40, 160, 104)
    d.rectangle((70, 110, 186, 240), fill=coat)  # coat
    d.ellipse(head, fill=skin)
    d.pieslice((head[0] - 4, head[1] - 8, head[2] + 4, head[3] - 20), 180, 360, fill=hair)
    if beard:
        d.chord((head[0], head[1] + 30, head[2], head[3] + 16), 0, 180, fill="#9a9a9a")
    if side:
        d.polygon([(160, 70), (172, 78), (160, 84)], fill=skin)  # nose in profile
    else:
        d.ellipse((114, 62, 122, 70), fill="#222")
        d.ellipse((134, 62, 142, 70), fill="#222")
    img.save(path, optimize=True)


def portrait(path: Path, *args, **kwargs) -> None:
    """A figure at 320x320: a Kling element's images are at least 300 px on each side."""
    figure(path, *args, **kwargs)
    with Image.open(path) as small:
        small.convert("RGB").resize((320, 320), Image.Resampling.LANCZOS).save(path, optimize=True)


def tower(path: Path) -> None:
    img = Image.new("RGB", SIZE, "#2b3a55")
    d = ImageDraw.Draw(img)
    d.rectangle((0, 200, 256, 256), fill="#1d2b24")
    d.polygon([(104, 200), (152, 200), (142, 70), (114, 70)], fill="#efefef")
    d.rectangle((110, 50, 146, 70), fill="#f5d76e")
    d.polygon([(106, 50), (150, 50), (128, 30)], fill="#b03a2e")
    for y in (100, 140, 180):
        d.rectangle((108, y, 148, y + 12), fill="#b03a2e")
    img.save(path, optimize=True)


def sea(path: Path, sky: str, sun: tuple[int, int] | None, lamp: str) -> None:
    img = Image.new("RGB", (320, 180), sky)
    d = ImageDraw.Draw(img)
    if sun:
        d.ellipse((sun[0] - 18, sun[1] - 18, sun[0] + 18, sun[1] + 18), fill="#ffd27f")
    d.rectangle((0, 120, 320, 180), fill="#2f5d7c")
    d.polygon([(250, 120), (270, 120), (266, 50), (254, 50)], fill="#efefef")
    d.rectangle((252, 40, 268, 50), fill=lamp)
    img.save(path, optimize=True)


def ffmpeg(*args: str) -> None:
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args]
    subprocess.run(cmd, check=True)


BITEXACT = ["-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1", "-threads", "1"]


def waves(path: Path) -> None:
    """A 4 s 320x180 clip of moving 'waves' with the sound of surf (H.264 + AAC)."""
    ffmpeg(
        "-f", "lavfi", "-i", "gradients=s=320x180:d=4:r=24:c0=0x1d3c5a:c1=0x9fc7d9:speed=0.05:seed=7",
        "-f", "lavfi", "-i", "anoisesrc=d=4:c=pink:r=48000:a=0.2:seed=7",
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "32", "-pix_fmt", "yuv420p",
        "-c:a", "aac", "-b:a", "48k", "-ac", "2", "-shortest", *BITEXACT, str(path),
    )


def theme(path: Path) -> None:
    """A 30 s music bed: a slow two-chord drone (AAC in M4A)."""
    expr = "0.15*sin(2*PI*220*t)+0.1*sin(2*PI*277.18*t)+0.1*sin(2*PI*329.63*t)*(0.5+0.5*sin(2*PI*0.1*t))"
    ffmpeg(
        "-f", "lavfi", "-i", f"aevalsrc={expr}|{expr}:s=48000:d=30",
        "-c:a", "aac", "-b:a", "48k", *BITEXACT, "-f", "ipod", str(path),
    )


def main() -> None:
    REFS.mkdir(parents=True, exist_ok=True)
    figure(REFS / "keeper-front.png", "#1f2a44", "#e0b49a", "#8c8c8c", beard=True)
    figure(REFS / "keeper-side.png", "#1f2a44", "#e0b49a", "#8c8c8c", side=True, beard=True)
    figure(REFS / "mara.png", "#e8c547", "#c98f6b", "#3b2a1e")
    portrait(REFS / "mara-front.png", "#e8c547", "#c98f6b", "#3b2a1e")  # her Kling element's images
    portrait(REFS / "mara-side.png", "#e8c547", "#c98f6b", "#3b2a1e", side=True)
    tower(REFS / "tower.png")
    sea(REFS / "dawn-first.png", "#3c4a66", None, "#f5d76e")
    sea(REFS / "dawn-last.png", "#f2b880", (80, 100), "#c8c8c8")
    waves(REFS / "waves.mp4")
    theme(REFS / "theme.m4a")
    for path in sorted(REFS.iterdir()):
        print(f"{path.relative_to(REFS.parent.parent)}  {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
