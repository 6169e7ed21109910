"""Shared fixtures: the CLI run in-process, and real projects in temp folders."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from storyboard.cli import main

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
EXAMPLES = ROOT / "examples"


@pytest.fixture(autouse=True)
def _no_home_writes(tmp_path_factory, monkeypatch):
    """Nothing may write to the user's home: point HOME at an empty folder."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("WAVESPEED_BASE_URL", raising=False)
    monkeypatch.delenv("WAVESPEED_API_KEY", raising=False)
    monkeypatch.delenv("STORYBOARD_CACHE", raising=False)


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys):
    """Run ``storyboard ARGS`` in this process; returns exit code, stdout, stderr."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exc:  # argparse usage errors
            code = exc.code
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture
def lighthouse(tmp_path) -> Path:
    """A fresh copy of the lighthouse example project."""
    dest = tmp_path / "lighthouse"
    shutil.copytree(EXAMPLES / "lighthouse", dest, ignore=shutil.ignore_patterns(".storyboard", "renders"))
    return dest


@pytest.fixture
def project(tmp_path):
    """Make a project: ``project(yaml_text, files={path: bytes})`` → storyboard path."""

    def make(text: str, files: dict[str, bytes] | None = None, name: str = "proj") -> Path:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        for rel, data in (files or {}).items():
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        path = root / "storyboard.yaml"
        path.write_text(text, "utf-8")
        return path

    return make


PNG_1 = (DATA / "invalid" / "refs" / "extra1.png").read_bytes()
PNG_2 = (DATA / "invalid" / "refs" / "extra2.png").read_bytes()
MP4_4S = (DATA / "invalid" / "refs" / "waves.mp4").read_bytes()


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """A git repository holding the lighthouse film at films/lighthouse, committed; the current folder."""
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLES / "lighthouse", root / "films" / "lighthouse",
                    ignore=shutil.ignore_patterns(".storyboard", "renders"))
    (root / ".gitignore").write_text(".storyboard/\nrenders/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.invalid")
    git(root, "config", "user.name", "t")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "the film")
    monkeypatch.chdir(root)
    return root


# -- a real S3 API server on loopback (moto's server mode), for the remote's tests --

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def s3_server():
    """One server for the whole run; each test gets a bucket of its own."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}/moto-api/", timeout=1)
            break
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("moto server did not start")
            time.sleep(0.1)
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def bucket(s3_server, monkeypatch):
    """A fresh bucket; the standard AWS variables alone point at the loopback server."""
    import boto3

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": s3_server}.items():
        monkeypatch.setenv(name, value)
    name = f"films-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=name)
    return name


def objects(bucket: str, s3_server: str) -> dict[str, bytes]:
    import boto3

    client = boto3.client("s3", endpoint_url=s3_server)
    listing = client.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {item["Key"]: client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listing}


# -- pictures, for the tests that compare frames --

def frame(path: Path, t: float):
    """The picture shown at ``t`` seconds, RGB as floats."""
    import numpy as np

    from storyboard.cut.probe import ffmpeg_exe, probe

    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-ss", f"{t}", "-i", str(path), "-frames:v", "1",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    info = probe(path)
    return np.frombuffer(raw, np.uint8).reshape(info.height, info.width, 3).astype(np.float64)


def psnr(a, b) -> float:
    import numpy as np

    mse = np.mean((a - b) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def run_cli(*args: str) -> tuple[int, str]:
    """``storyboard ARGS`` in this process, outside any fixture (Hypothesis examples): the exit code and
    everything printed."""
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue() + err.getvalue()
