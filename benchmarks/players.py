"""Do players other than ffmpeg read the fast cut? A film of provider-like
B-frame clips (smart-rendered tails with parameter sets of their own) and one
clip of another H.264 setup (conformed, with a third set), checked in:

  - ffmpeg: decodes with no error;
  - GStreamer (qtdemux, avdec_h264), the engine of GStreamer-based editors:
    every frame identical to ffmpeg's;
  - Chromium (headless, its own MP4 demuxer): plays, seeks to the first,
    middle and last three frames of every shot (where the tails are), and each
    frame drawn on a canvas matches ffmpeg's same frame (PSNR after scaling
    and colour conversion, and no neighbouring frame matching better).

A player that is not installed is reported as such. Debian: `apt-get install
gstreamer1.0-tools gstreamer1.0-plugins-good gstreamer1.0-libav chromium`;
Chromium is driven over its DevTools protocol with `pip install websocket-client`.

    python benchmarks/players.py
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import numpy as np

from storyboard.cut.avcc import read_avcc
from storyboard.cut.probe import ffmpeg_exe
from storyboard.cut.stitch import stitch
from storyboard.plan.project import compile_project
from storyboard.store.cache import ClipCache, cache_dir

sys.path.insert(0, str(Path(__file__).parent))
from stitch import FPS, SECONDS, make_clips, project  # noqa: E402

PAGE = """<!doctype html><html><body><pre id="out">waiting</pre><video id="v" src="film.mp4" muted preload="auto"></video>
<script>
const v = document.getElementById('v'), out = document.getElementById('out');
const frames = JSON.parse(decodeURIComponent(location.hash.slice(1)));
v.addEventListener('error', () => { out.textContent = 'ERROR ' + v.error.code + ' ' + v.error.message; });
const seek = t => new Promise(r => { v.addEventListener('seeked', r, {once: true}); v.currentTime = t; });
v.addEventListener('loadeddata', async () => {
  const c = document.createElement('canvas'); c.width = 64; c.height = 36;
  const g = c.getContext('2d', {willReadFrequently: true}), got = [];
  for (const n of frames) { await seek((n + 0.5) / FPS); g.drawImage(v, 0, 0, 64, 36);
    got.push([n, Array.from(g.getImageData(0, 0, 64, 36).data)]); }
  out.textContent = 'RESULT ' + JSON.stringify({duration: v.duration, frames: got});
}, {once: true});
</script></body></html>"""


def film(work: Path) -> tuple[Path, int]:
    clips = make_clips(work / "clips", 4) + make_clips(work / "clips", 1, salt=5, colours="bt470bg")
    story = project(work / "film", clips, None)
    compiled = compile_project(str(story), provider="preview")
    out = stitch(compiled.plan, compiled.root, ClipCache.at(cache_dir(compiled.root)), storyboard=str(story))
    return out, len(clips)


def raw_frames(command: list[str], size: int) -> list[str]:
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    hashes = []
    while len(chunk := proc.stdout.read(size)) == size:
        hashes.append(hashlib.md5(chunk).hexdigest())
    proc.wait()
    return hashes


def gstreamer(path: Path) -> str:
    if shutil.which("gst-launch-1.0") is None:
        return "not installed"
    size = 1280 * 720 * 3 // 2
    theirs = raw_frames(["gst-launch-1.0", "-q", "filesrc", f"location={path}", "!", "qtdemux", "name=d", "d.video_0",
                         "!", "avdec_h264", "!", "videoconvert", "!", "video/x-raw,format=I420", "!", "fdsink", "fd=1"], size)
    # -reinit_filter 0: the decoder's own pixels. By default the ffmpeg command converts every frame
    # to the colour space of the first, so a part tagged otherwise would be compared after a conversion.
    ours = raw_frames([ffmpeg_exe(), "-v", "error", "-reinit_filter", "0", "-i", str(path), "-map", "0:v:0", "-f", "rawvideo",
                       "-pix_fmt", "yuv420p", "-"], size)
    same = sum(a == b for a, b in zip(theirs, ours))
    return f"{len(theirs)} frames decoded, {same} of {len(ours)} identical to ffmpeg's"


def chromium(path: Path, shots: int, work: Path) -> str:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        import websocket
    except ImportError:
        return "not run: `pip install websocket-client` to drive it"
    if browser is None:
        return "not installed"
    per = SECONDS * FPS
    frames = sorted({f for k in range(shots) for f in (k * per, k * per + per // 2, *range(k * per + per - 3, k * per + per))})
    (work / "page.html").write_text(PAGE.replace("FPS", str(FPS)))
    shutil.copyfile(path, work / "film.mp4")
    url = (work / "page.html").as_uri() + "#" + urllib.parse.quote(json.dumps(frames))
    proc = subprocess.Popen([browser, "--headless", "--no-sandbox", "--disable-gpu", "--mute-audio", "--no-first-run",
                             "--allow-file-access-from-files", "--disable-background-networking",
                             "--disable-component-update", f"--user-data-dir={work / 'profile'}",
                             "--remote-debugging-port=9333", "--remote-allow-origins=*", "about:blank"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                pages = json.load(urllib.request.urlopen("http://127.0.0.1:9333/json"))
                break
            except OSError:
                time.sleep(0.2)
        ws = websocket.create_connection(next(p for p in pages if p["type"] == "page")["webSocketDebuggerUrl"])
        calls = iter(range(1, 10 ** 6))

        def call(method: str, **params):
            ident = next(calls)
            ws.send(json.dumps({"id": ident, "method": method, "params": params}))
            while (reply := json.loads(ws.recv())).get("id") != ident:
                pass
            return reply["result"]

        call("Page.navigate", url=url)
        text = "waiting"
        for _ in range(600):
            time.sleep(0.5)
            text = call("Runtime.evaluate", expression="document.getElementById('out').textContent")["result"]["value"]
            if not text.startswith("waiting"):
                break
        agent = call("Runtime.evaluate", expression="navigator.userAgent")["result"]["value"]
    finally:
        proc.kill()
    if not text.startswith("RESULT"):
        return f"{agent}: {text[:200]}"
    result = json.loads(text.split(" ", 1)[1])
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-vf", "scale=64:36:flags=area",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    reference = np.frombuffer(raw, np.uint8).reshape(-1, 36, 64, 3).astype(float)
    worst, astray = 99.0, []
    for n, data in result["frames"]:
        got = np.array(data, float).reshape(36, 64, 4)[:, :, :3]
        errors = {k: ((got - reference[k]) ** 2).mean() for k in range(max(0, n - 2), min(len(reference), n + 3))}
        worst = min(worst, 10 * np.log10(255 ** 2 / max(errors[n], 1e-9)))
        if min(errors, key=errors.get) != n and errors[n] > 2 * min(errors.values()):
            astray.append(n)
    return (f"{agent.split(') ')[-1]}: played {result['duration']} s, {len(result['frames'])} frames read, "
            f"worst {worst:.1f} dB against ffmpeg's same frame (64x36, after colour conversion), "
            f"frames closer to another frame: {astray or 'none'}")


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="storyboard-players-"))
    try:
        path, shots = film(work)
        setup = read_avcc(path)
        print(f"film: {shots} shots, {len(setup.sps)} SPS and {len(setup.pps)} PPS in its avcC (ids {sorted(setup.ids())})")
        errors = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "null", "-"],
                                capture_output=True, text=True).stderr.strip()
        print("ffmpeg:", errors or "no decode error")
        print("GStreamer:", gstreamer(path))
        print("Chromium:", chromium(path, shots, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
