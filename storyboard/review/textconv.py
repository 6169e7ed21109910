"""``storyboard textconv``: a storyboard as a person reads its plan, for ``git diff``.

git hands a textconv driver one file and nothing else: for the working side
that is the file in the working tree, for an old side a temporary copy. Each
reference is named with a short digest of its bytes, git's own blob id, so the
two sides compare: for the working side the files beside the storyboard are
hashed; for an old side the storyboard is found by its content in HEAD or the
index and its media are read from the same tree. Failing those, the commit
that added that version is looked up (``git log --find-object``); only when
even that fails are the references shown without a digest.
"""

from __future__ import annotations

import posixpath
import subprocess
from pathlib import Path, PurePosixPath
from typing import Any

SHORT = 10


def textconv(path: Path) -> str:
    """The storyboard as stable text: the film, its cut, and one block per shot."""
    from ..catalog import load_catalog
    from ..errors import InvalidStoryboard
    from ..format.load import read_document
    from ..plan.compile import Target, compile_plan
    from ..plan.prices import builtin_prices
    from ..plan.project import load_storyboard
    from ..plan.types import provider_origin

    doc = read_document(path, path.name)
    sb, salvage = load_storyboard(doc)
    if sb is None:
        return str(InvalidStoryboard(doc.reporter.diagnostics)) + "\n"
    host = sb.provider or "wavespeed"  # the storyboard's own host, at its own address: the same text everywhere
    target = Target(host, provider_origin(host), builtin_prices(host), "built-in")
    plan = compile_plan(sb, storyboard_file=path.name, media={}, catalog=load_catalog(host), target=target,
                        reporter=doc.reporter, skip_shots=salvage.shots, broken_characters=salvage.characters)
    digests = MediaDigests(path)
    return "\n".join(_film(plan, digests) + [""] + _elements(plan, digests) + _shots(plan, digests)) + "\n"


def _film(plan, digests: "MediaDigests") -> list[str]:
    from ..plan.prices import dollars

    cut = plan.cut
    lines = [f"title: {plan.title or '(none)'}",
             f"total: {dollars(plan.total_cost)} for {len(plan.jobs)} shot{'s' if len(plan.jobs) != 1 else ''}, {cut.duration:g} s",
             f"cut: output {cut.output}; loudness {_value(cut.loudness)}"]
    fmt = cut.format
    lines.append(f"  format: {fmt.width}x{fmt.height}" if fmt.width else "  format: as the clips")
    lines[-1] += f", {_value(fmt.fps)} fps, quality {fmt.quality}" if fmt.fps else f", quality {fmt.quality}"
    if cut.music:
        m = cut.music
        lines.append(f"  music: {digests.name(m.file)}, volume {m.volume:g}, duck {m.duck:g}, "
                     f"fade in {m.fade_in:g} s, fade out {m.fade_out:g} s")
    else:
        lines.append("  music: none")
    return lines + _finishing(plan, digests)


def _finishing(plan, digests: "MediaDigests") -> list[str]:
    """The cards, how captions are shown, and the other films: a change to any of them changes the films."""
    from ..plan.prices import dollars

    lines = []
    for c in (c for c in plan.cut.shots if c.card is not None):
        card = c.card
        line = f"  {card.kind} card: {' / '.join(card.lines)}, {c.duration:g} s, {card.color} on {card.background}"
        line += f", image {digests.name(card.image)}" if card.image else ""
        line += ", rolling" if card.rolling else ""
        lines.append(line + (f", {c.transition.type} {c.transition.duration:g} s in" if c.transition.duration else ""))
    if plan.cut.captions is not None:
        lines.append("  captions: " + ", ".join(f"{k} {_value(v)}" for k, v in
                                                plan.cut.captions.style.model_dump().items()))
    for d in plan.deliverables:
        if d.method == "master":
            continue
        line = f"film {d.name}: {d.aspect_ratio} by {d.method} → {d.output}, {dollars(d.cost)}"
        line += f", {d.resolution}" if d.resolution else ""
        lines.append(line + "".join(f", focus {shot} {_value(x)} {_value(y)}" for shot, (x, y) in sorted(d.focus.items())))
    return lines


def _shots(plan, digests: "MediaDigests") -> list[str]:
    from ..plan.prices import dollars

    cut = {c.shot: c for c in plan.cut.shots}
    lines = []
    for job in plan.jobs:
        c = cut.get(job.shot)
        take = f" (take {job.take})" if job.take != 1 else ""
        head = f"shot {job.shot}{take}: {job.model} {job.duration:g} s {dollars(job.cost)}"
        if c is not None and c.transition.duration:
            head += f", {c.transition.type} {c.transition.duration:g} s in"
        if c is not None and c.mute:
            head += ", muted"
        lines.append(head)
        request = job.request
        for name in sorted(request):
            if name not in ("prompt", "multi_prompt"):
                lines.append(f"  {name}: {_request_value(name, request[name], job, digests)}")
        lines.append(f"  prompt: {request.get('prompt', '')}")
        for n, segment in enumerate(request.get("multi_prompt") or [], 1):
            lines.append(f"  segment {n} ({segment.get('duration')} s): {segment.get('prompt', '')}")
        for item in plan.cut.captions.shots.get(job.shot, []) if plan.cut.captions is not None else []:
            when = f" ({_value(item.start)}-{_value(item.end)} s)" if item.start is not None else ""
            lines.append(f"  {item.kind}{when}: " + (f"{item.speaker}: " if item.speaker else "") + item.text)
    return lines


def _elements(plan, digests: "MediaDigests") -> list[str]:
    """One block per declared element, before the shots that send it: its name, description and files."""
    from ..plan.prices import dollars

    lines = []
    for e in plan.elements:
        lines.append(f"element {e.character}: {e.model} {dollars(e.cost)}, sent by {', '.join(e.shots)}")
        for name in sorted(e.request):
            lines.append(f"  {name}: {_request_value(name, e.request[name], e, digests)}")
    return lines + ([""] if lines else [])


def _request_value(name: str, value: Any, job, digests: "MediaDigests") -> str:
    if isinstance(value, dict) and isinstance(value.get("shot"), str):  # another shot's output
        frame = value.get("frame")
        return f"shot {value['shot']}, " + ("its clip" if frame is None else f"frame {_value(frame)}")
    if name == "element_list":  # an id made by hand, a declared element by its character, or one given inline
        return ", ".join(_element(e, job, digests) for e in value)
    if isinstance(value, list):
        return ", ".join(_request_value(name, v, job, digests) for v in value)
    if isinstance(value, str) and value.startswith("sha256:"):
        ref = job.media.get(value) or value.removeprefix("sha256:unavailable:")
        return digests.name(ref)
    return _value(value)


def _element(item: Any, job, digests: "MediaDigests") -> str:
    if not isinstance(item, dict):
        return str(item)
    if "element_id" in item:
        return str(item["element_id"])
    if "inline" in item:  # fal: the element's images sent with the shot, each with its short digest
        files = [item.get("frontal_image"), *(item.get("refer_images") or [])]
        return (f"element {item['inline']} inline as {item.get('name')} ("
                + ", ".join(_request_value("images", f, job, digests) for f in files) + ")")
    return f"element {item.get('element')}"


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return "none"
    return f"{value:g}" if isinstance(value, float) else str(value)


class MediaDigests:
    """Short digests (git blob ids) of the files a storyboard names."""

    def __init__(self, storyboard: Path):
        self.folder = storyboard.resolve().parent
        self.tree: dict[str, str] | None = None  # repo path → blob id, for an old side
        self.prefix = PurePosixPath()
        self.hashed: dict[str, str | None] = {}
        if storyboard.resolve().parent.name.startswith("git-blob-"):  # git's temporary copy of another side
            self._find_in_git(storyboard)

    def name(self, ref: str) -> str:
        if ref.startswith(("https://", "http://")):
            return ref
        if self._outside(ref):  # a hostile commit must not make a diff read (or hash) a file elsewhere
            return f"{ref} (outside the project: not read)"
        digest = self._digest(ref)
        return f"{ref} @{digest[:SHORT]}" if digest else ref

    def _outside(self, ref: str) -> bool:
        """The walls ``validate`` keeps: nothing absolute, nothing that leads out of the project folder
        (``..``, or a symlink in the working tree)."""
        from ..format.references import outside_problem

        if "\0" in ref or PurePosixPath(ref).is_absolute() or Path(ref).is_absolute():
            return True
        if self.tree is not None:
            return posixpath.normpath(ref).split("/")[0] == ".."
        return outside_problem(ref, self.folder, self.folder) is not None

    def _digest(self, ref: str) -> str | None:
        if self.tree is not None:
            return self.tree.get(posixpath.normpath(str(self.prefix / ref)))
        if ref not in self.hashed:  # one git process per file, however many shots name it
            file = self.folder / ref
            out = _git(["hash-object", "--no-filters", str(file)], self.folder) if file.is_file() else None
            self.hashed[ref] = out.strip() if out else None
        return self.hashed[ref]

    def _find_in_git(self, storyboard: Path) -> None:
        """Where this copy of a storyboard sits in HEAD or the index, by its blob id."""
        blob = (_git(["hash-object", "--no-filters", str(storyboard)], Path.cwd()) or "").strip()
        if not blob:
            return
        listings = [["ls-files", "-s"], ["ls-tree", "-r", "HEAD"]]
        commit = (_git(["log", "--all", "--format=%H", f"--find-object={blob}", "-n", "1"], Path.cwd()) or "").strip()
        if commit:  # the commit that added (or removed) this version, and the one before it
            listings += [["ls-tree", "-r", commit], ["ls-tree", "-r", f"{commit}^"]]
        for listing in listings:
            entries = _entries(_git(listing, Path.cwd()) or "")
            paths = [p for p, b in entries.items() if b == blob]
            if paths:
                self.tree, self.prefix = entries, PurePosixPath(paths[0]).parent
                return


def _entries(listing: str) -> dict[str, str]:
    """``git ls-files -s`` / ``git ls-tree -r`` output → path → blob id."""
    out = {}
    for line in listing.splitlines():
        meta, _, path = line.partition("\t")
        parts = meta.split()
        blob = next((p for p in parts if len(p) == 40 and all(c in "0123456789abcdef" for c in p)), None)
        if blob and path:
            out[path] = blob
    return out


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        result = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 else None
