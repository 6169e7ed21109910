"""Review commands obey the project's walls: `textconv` and `diff` of a
hostile commit never read or hash a file outside the project folder."""

from __future__ import annotations

import os
import subprocess
import sys

SECRET = b"API_KEY=sk-live-do-not-read\n"
HOSTILE = """version: 1
shots:
  - id: a
    prompt: A quiet harbour.
    image: {ref}
    model: kwaivgi/kling-video-o3-pro/image-to-video
"""


def git(repo, *args) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def blob_id(path) -> str:
    return subprocess.run(["git", "hash-object", "--no-filters", str(path)], capture_output=True,
                          text=True).stdout.strip()


def test_textconv_names_a_reference_outside_the_project_without_reading_it(tmp_path, cli):
    secret = tmp_path / "secret.env"
    secret.write_bytes(SECRET)
    film = tmp_path / "proj" / "film"
    film.mkdir(parents=True)
    (film / "link.png").symlink_to(secret)
    for ref in ("../../secret.env", str(secret), "link.png"):
        (film / "storyboard.yaml").write_text(HOSTILE.format(ref=ref))
        out = cli("textconv", str(film / "storyboard.yaml"))
        assert out.code == 0, out.err
        assert blob_id(secret)[:10] not in out.out and "(outside the project: not read)" in out.out, ref


def test_git_diff_of_a_hostile_commit_hashes_nothing_outside_the_film(tmp_path):
    repo = tmp_path / "repo"
    (repo / "films" / "one").mkdir(parents=True)
    (repo / "secret.env").write_bytes(SECRET)  # in the repository, but outside the film's folder
    (repo / "films" / "one" / "storyboard.yaml").write_text(HOSTILE.format(ref="refs/a.png"))
    (repo / ".gitattributes").write_text("storyboard.yaml diff=storyboard\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "t@example.invalid")
    git(repo, "config", "user.name", "t")
    git(repo, "config", "diff.storyboard.textconv", f"{sys.executable} -m storyboard textconv")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "film")
    (repo / "films" / "one" / "storyboard.yaml").write_text(HOSTILE.format(ref="../../secret.env"))
    git(repo, "commit", "-qam", "hostile")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    diff = subprocess.run(["git", "diff", "HEAD~1", "HEAD"], cwd=repo, capture_output=True, text=True, env=env).stdout
    assert "image: ../../secret.env (outside the project: not read)" in diff
    assert blob_id(repo / "secret.env")[:10] not in diff
