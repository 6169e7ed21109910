"""The review site in a real browser: headless Chromium driven over the
DevTools protocol (``--remote-debugging-pipe``: JSON messages on file
descriptors 3 and 4, so no WebSocket library and no port).

Skipped only where Chromium is not installed and CI is not set; in CI
(``CI=true``) a missing browser fails the run."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import frame, psnr
from conftest import git
from test_review_site import built_site  # noqa: F401 (a fixture)

BROWSER = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
if BROWSER is None and os.environ.get("CI") != "true":
    pytest.skip("Chromium is not installed (apt-get install chromium); CI installs it", allow_module_level=True)


class Browser:
    """A headless Chromium and one page of it, spoken to over the DevTools pipe."""

    def __init__(self, profile: Path, downloads: Path):
        assert BROWSER, "Chromium is required in CI: .ci/run installs it"
        to_child, self._w = os.pipe()
        self._r, from_child = os.pipe()

        def fds():  # the protocol's pipe is the child's fd 3 (it reads) and fd 4 (it writes)
            os.dup2(to_child, 3)
            os.dup2(from_child, 4)

        self.proc = subprocess.Popen(
            [BROWSER, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--disable-extensions", "--allow-file-access-from-files", "--mute-audio",
             "--autoplay-policy=no-user-gesture-required", f"--user-data-dir={profile}", "about:blank"],
            pass_fds=(3, 4), preexec_fn=fds, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_child)
        os.close(from_child)
        self.next_id, self.replies, self.events = 0, {}, []
        self.cond = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()
        self.call("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(downloads), session=None)
        target = self.call("Target.createTarget", url="about:blank", session=None)["targetId"]
        self.session = self.call("Target.attachToTarget", targetId=target, flatten=True, session=None)["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            self.call(f"{domain}.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=1280, height=720, deviceScaleFactor=1, mobile=False)

    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = os.read(self._r, 1 << 16)
            if not chunk:
                return
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            with self.cond:
                for raw in messages:
                    message = json.loads(raw)
                    if "id" in message:
                        self.replies[message["id"]] = message
                    else:
                        self.events.append(message)
                self.cond.notify_all()

    def call(self, method: str, session: str | None | bool = True, timeout: float = 30, **params) -> dict:
        with self.cond:
            self.next_id += 1
            ident = self.next_id
        message = {"id": ident, "method": method, "params": params}
        if session is True:
            message["sessionId"] = self.session
        os.write(self._w, json.dumps(message).encode() + b"\0")
        with self.cond:
            if not self.cond.wait_for(lambda: ident in self.replies, timeout):
                raise TimeoutError(f"{method}: no answer from Chromium in {timeout} s")
            reply = self.replies.pop(ident)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def wait_event(self, method: str, timeout: float = 30) -> dict:
        with self.cond:
            if not self.cond.wait_for(lambda: any(e["method"] == method for e in self.events), timeout):
                raise TimeoutError(f"no {method} in {timeout} s")
            return next(e for e in self.events if e["method"] == method)

    def js(self, expression: str, timeout: float = 30):
        """The value of ``expression`` (awaited when it is a promise), or the exception it threw."""
        result = self.call("Runtime.evaluate", timeout=timeout, expression=expression, awaitPromise=True,
                           returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression[:80]}…: {result['exceptionDetails']}")
        return result["result"].get("value")

    def key(self, key: str) -> None:
        for kind in ("keyDown", "keyUp"):
            self.call("Input.dispatchKeyEvent", type=kind, key=key, text=key if kind == "keyDown" else "")

    def problems(self) -> list[str]:
        """Console errors, uncaught exceptions and failed requests so far."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e["method"] == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(f"console: {[a.get('value', a.get('description')) for a in p.get('args', [])]}")
            elif e["method"] == "Runtime.exceptionThrown":
                out.append(f"exception: {p['exceptionDetails'].get('exception', {}).get('description')}")
            elif e["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append(f"log: {p['entry'].get('text')} {p['entry'].get('url', '')}")
            elif e["method"] == "Network.loadingFailed" and not p.get("canceled"):
                out.append(f"request failed: {p.get('errorText')} ({p.get('type')})")
        return out

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        os.close(self._w)


PLAY = """(async () => {
  const v = document.querySelectorAll('video')[%d];
  const until = (cond, ms, what) => new Promise((ok, no) => {
    const t0 = performance.now();
    (function poll() { if (cond()) ok(); else if (performance.now() - t0 > ms) no(new Error(what)); else setTimeout(poll, 20); })();
  });
  const details = v.closest('details'); if (details) details.open = true;
  v.scrollIntoView();
  await until(() => v.getAttribute('src'), 5000, 'the lazy loader gave it no source');
  if (v.readyState < 2) { v.preload = 'auto'; await until(() => v.readyState >= 2 || v.error, 8000, 'no picture'); }
  if (v.error) throw new Error('cannot play ' + v.getAttribute('src') + ': ' + v.error.message);
  v.currentTime = 0;
  await until(() => !v.seeking && v.readyState >= 2, 5000, 'seek to 0');
  const c = document.createElement('canvas'); c.width = v.videoWidth; c.height = v.videoHeight;
  const g = c.getContext('2d'); g.drawImage(v, 0, 0);
  const px = g.getImageData(0, 0, c.width, c.height).data;
  let bin = ''; for (let i = 0; i < px.length; i += 4) bin += String.fromCharCode(px[i], px[i + 1], px[i + 2]);
  await v.play();
  await until(() => v.currentTime > 0.3, 8000, 'time did not advance');
  v.pause();
  return {src: v.getAttribute('src'), w: c.width, h: c.height, rgb: btoa(bin), time: v.currentTime,
          cls: v.className};
})()"""


@pytest.fixture
def browser(tmp_path):
    b = Browser(tmp_path / "profile", tmp_path / "downloads")
    yield b
    b.close()


def say(text: str) -> None:
    """Shown with ``pytest -s`` (the ``cli`` fixture's capsys would swallow a print)."""
    os.write(2, (text + "\n").encode())


def test_the_review_site_in_chromium(built_site, browser, tmp_path, cli, record_property):
    site = built_site
    browser.call("Page.navigate", url=site.index.as_uri())
    browser.wait_event("Page.loadEventFired")
    timing = browser.js("({ready: window.storyboardReview.readyAt, "
                        "interactive: performance.getEntriesByType('navigation')[0].domInteractive})")
    say(f"\npage interactive in Chromium: DOM {timing['interactive']:.0f} ms, script ready {timing['ready']:.0f} ms")
    record_property("interactive_ms", round(timing["ready"]))

    shot = base64.b64decode(browser.call("Page.captureScreenshot", format="png")["data"])
    kept = Path(os.environ.get("REVIEW_SCREENSHOT_DIR") or tmp_path) / "review-site-1280x720.png"
    kept.parent.mkdir(parents=True, exist_ok=True)
    kept.write_bytes(shot)
    say(f"screenshot: {kept}")
    assert Image.open(kept).size == (1280, 720)

    # Every video plays, and the first picture it shows is its clip's first frame.
    played = [browser.js(PLAY % i, timeout=60) for i in range(browser.js("document.querySelectorAll('video').length"))]
    assert len(played) >= 8 and all(p["time"] > 0.3 for p in played)
    for p in played:
        shown = np.frombuffer(base64.b64decode(p["rgb"]), np.uint8).reshape(p["h"], p["w"], 3).astype(np.float64)
        clip = site.out / p["src"]
        first = psnr(shown, frame(clip, 0))
        assert first >= 25 and first > psnr(shown, frame(clip, 1 / 24)) + 5, (p["src"], first)

    # The changed shot shows its old clip and its new one side by side.
    pair = browser.js("""(() => { const card = document.getElementById('shot-s2');
        return ['old', 'new'].map(c => { const v = card.querySelector('video.' + c);
          return {sha: v.dataset.sha256, width: v.getBoundingClientRect().width}; }); })()""")
    assert pair[0]["sha"] != pair[1]["sha"] and all(v["width"] > 100 for v in pair)
    assert {f"media/{v['sha']}.mp4" for v in pair} <= {p["src"] for p in played}

    # Keyboard: on s1, 2 chooses take 2; K goes to the next shot. Then verdicts, a note, export.
    browser.js("window.scrollTo(0, 0); document.getElementById('shot-s1').focus()")
    browser.key("2")
    browser.key("k")
    assert browser.js("document.activeElement.id") == "shot-s2"
    browser.js("""document.querySelector('input[name="verdict-s1"][value="approved"]').click();
                  document.querySelector('input[name="note-s1"]').value = 'the second is "steadier"';
                  document.querySelector('input[name="verdict-s2"][value="retake"]').click();
                  document.getElementById('export').click()""")
    exported = browser.js("document.getElementById('decisions').value")
    plan = site.plan()
    from storyboard.catalog import load_catalog
    from storyboard.plan.takes import take_of

    take2 = take_of(plan.job("s1"), 2, plan.provider, plan.origin, load_catalog(plan.provider)).key
    head = git(site.repo, "rev-parse", "HEAD").strip()
    assert exported == (
        "# Review decisions: apply with `storyboard apply-review FILE`\nversion: 1\n"
        f'storyboard: "storyboard.yaml"\nrevision: "{head}"\ndecisions:\n'
        f'  - shot: "s1"\n    take: 2\n    key: "{take2}"\n    verdict: approved\n'
        '    note: "the second is \\"steadier\\""\n'
        f'  - shot: "s2"\n    take: 1\n    key: "{plan.job("s2").key}"\n    verdict: retake\n')
    download = tmp_path / "downloads" / "storyboard.decisions.yaml"
    deadline = time.monotonic() + 10
    while not download.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert download.read_text() == exported

    before = site.film.read_bytes()
    result = cli("apply-review", str(download), str(site.film))
    assert result.code == 0, result.err
    assert site.film.read_bytes() == before.replace(b"  - id: s1\n", b"  - id: s1\n    take: 2\n")

    # Usable at phone width: nothing wider than the screen.
    browser.call("Emulation.setDeviceMetricsOverride", width=390, height=844, deviceScaleFactor=1, mobile=True)
    assert browser.js("document.documentElement.scrollWidth") <= 390

    assert browser.problems() == []
    loaded = [e for e in browser.events if e["method"] == "Network.loadingFinished"]
    assert len(loaded) >= len(played)  # the browser's requests were seen: no failure among them
