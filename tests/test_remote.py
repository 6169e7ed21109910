"""The team's remote, against a real S3 API server on loopback (moto's server
mode, started here on a free port) and a shared folder."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from conftest import objects
from storyboard.providers.emulator import Emulator
from storyboard.render.executor import Options
from storyboard.render.run import render_project

KEY = "sk-remote-DO-NOT-LEAK-77c1"
FILM = ("version: 1\ntitle: Harbour\nshots:\n  - id: a\n    prompt: A quiet harbour.\n"
        "  - id: b\n    prompt: Gulls at dawn.\n    duration: 3\ncut:\n  output: renders/film.mp4\n")


def render(path, emulator, **kw):
    env = {"WAVESPEED_BASE_URL": emulator.url, "WAVESPEED_API_KEY": KEY}
    return render_project(str(path), env=env, options=Options(concurrency=4, rate=0), **kw)


def clone(path: Path, dest: Path) -> Path:
    """What `git clone` gives a teammate: the storyboard, the lock and the media; no clips."""
    shutil.copytree(path.parent, dest, ignore=shutil.ignore_patterns(".storyboard", "renders"))
    return dest / "storyboard.yaml"


def test_a_fresh_clone_recuts_the_film_byte_identically_from_the_remote_with_no_key(
        project, bucket, s3_server, cli, tmp_path, monkeypatch):
    path = project(FILM)
    remote = f"s3://{bucket}/team"
    with Emulator(task_seconds=0.2) as emu:
        first = render(path, emu, remote_flag=remote)
        film = first.film.read_bytes()
        stored = objects(bucket, s3_server)
        assert sum(name.startswith("team/objects/") for name in stored) == 2
        assert sum(name.startswith("team/keys/") for name in stored) == 2
        assert all(KEY.encode() not in data for data in stored.values())  # the API key is in no object
        requests = dict(emu.stats()["requests"])
        other = clone(path, tmp_path / "teammate")
        monkeypatch.delenv("WAVESPEED_API_KEY", raising=False)
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
        where = json.loads(cli("status", str(other), "--remote", remote, "--json").out)
        assert [s["where"] for s in where["shots"]] == ["remote", "remote"]
        result = cli("stitch", str(other), "--remote", remote)
        assert result.code == 0, result.err
        assert (other.parent / "renders" / "film.mp4").read_bytes() == film
        third = clone(path, tmp_path / "third")
        rendered = cli("render", str(third), "--remote", remote)  # render too needs no key when all is paid
        assert rendered.code == 0, rendered.err
        assert "0 rendered, 2 from the cache" in rendered.out
        assert (third.parent / "renders" / "film.mp4").read_bytes() == film
        assert emu.stats()["requests"] == requests  # nothing asked of the provider


def test_the_storyboard_names_the_remote_and_the_variable_and_flag_override_it(
        project, bucket, s3_server, monkeypatch):
    import boto3

    other_bucket = bucket + "-b"
    boto3.client("s3", endpoint_url=s3_server).create_bucket(Bucket=other_bucket)
    path = project(FILM + f"remote: s3://{bucket}/from-file\n")
    with Emulator(task_seconds=0.2) as emu:
        render(path, emu, engine=None)
        assert any(name.startswith("from-file/objects/") for name in objects(bucket, s3_server))
        shutil.rmtree(path.parent / ".storyboard")
        monkeypatch.setenv("STORYBOARD_REMOTE", f"s3://{other_bucket}/from-env")
        render(path, emu, engine=None)
        assert any(name.startswith("from-env/objects/") for name in objects(other_bucket, s3_server))
        shutil.rmtree(path.parent / ".storyboard")
        render(path, emu, engine=None, remote_flag=f"s3://{bucket}/from-flag")
        assert any(name.startswith("from-flag/objects/") for name in objects(bucket, s3_server))
        assert emu.stats()["total_submits"] == 2  # every later render got its clips back, never re-paid


def test_a_corrupt_remote_object_is_a_miss_with_a_warning(project, bucket, s3_server, cli, tmp_path, monkeypatch):
    import boto3

    path = project(FILM)
    remote = f"s3://{bucket}/team"
    with Emulator(task_seconds=0.2) as emu:
        render(path, emu, remote_flag=remote, engine=None)
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)
    client = boto3.client("s3", endpoint_url=s3_server)
    name = next(n for n in objects(bucket, s3_server) if n.startswith("team/objects/"))
    client.put_object(Bucket=bucket, Key=name, Body=b"not the clip")
    other = clone(path, tmp_path / "teammate")
    result = cli("pull", str(other), "--remote", remote)
    assert result.code == 1 and "corrupt there" in result.err and "not in the remote" in result.out


def test_pull_and_push_through_a_shared_folder(project, cli, tmp_path, monkeypatch):
    path = project(FILM)
    shared = tmp_path / "shared-drive"
    with Emulator(task_seconds=0.2) as emu:
        render(path, emu, engine=None)  # no remote yet
        monkeypatch.setenv("WAVESPEED_BASE_URL", emu.url)  # the same API address: the same job keys
    pushed = cli("push", str(path), "--remote", str(shared), "--create")  # a new folder remote, made on request
    assert pushed.code == 0 and "2 clips pushed, 0 already there" in pushed.out
    assert len(list((shared / "objects").rglob("*.mp4"))) == 2
    again = cli("push", str(path), "--remote", str(shared))  # idempotent: an interrupted push resumes
    assert again.code == 0
    other = clone(path, tmp_path / "teammate")
    pulled = cli("pull", str(other), "--remote", str(shared))
    assert pulled.code == 0 and "2 clips pulled, 0 already here" in pulled.out
    assert cli("pull", str(other), "--remote", str(shared)).out.count("2 already here") == 1
    assert cli("stitch", str(other)).code == 0  # the clips are here now


def test_no_remote_is_a_clear_usage_error(project, cli):
    path = project(FILM)
    result = cli("pull", str(path))
    assert result.code == 2 and "no remote" in result.err


def test_an_http_endpoint_needs_only_the_standard_variables(bucket, s3_server, tmp_path):
    from storyboard.store.remote import open_remote

    remote = open_remote(f"s3://{bucket}/x")
    assert remote.create("claims/a.json", b"one") is True
    assert remote.create("claims/a.json", b"two") is False  # a conditional create: If-None-Match
    assert remote.get("claims/a.json") == b"one"
    source = tmp_path / "clip.bin"
    source.write_bytes(os.urandom(1 << 20))
    remote.upload("objects/zz/clip.bin", source)
    assert remote.download("objects/zz/clip.bin", tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == source.read_bytes()
    assert remote.list("objects/") == ["objects/zz/clip.bin"]


def test_a_remote_that_cannot_be_reached_is_a_clear_error(project, bucket, cli):
    path = project(FILM)
    result = cli("pull", str(path), "--remote", f"s3://{bucket}-does-not-exist/x")
    assert result.code == 1 and "remote s3://" in result.err and "Traceback" not in result.err
    assert cli("pull", str(path), "--remote", "ftp://example.com/x").code == 2
