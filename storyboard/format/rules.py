"""One shot to one request body, by the rules of its model's catalog entry.

Everything here is data-driven: which parameters a model takes, their
defaults, choices, ranges and the image limits come from the catalog. A
setting inherited from ``defaults`` applies only where the shot's model takes
it; a setting written on the shot that its model does not take is an error
naming the model.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from ..catalog import Catalog, ModelSpec, ParamSpec
from .media import MediaInfo
from .model import Shot, ShotClip, ShotFrame, ShotSettings, Storyboard
from .references import is_url
from .source import Reporter
from .warnings import warn
from .elements import check_shot_elements, has_element
from .captions import template_values
from .template import Templates, TemplateProblem, names_used

_SETTINGS = tuple(ShotSettings.model_fields)
_NOUNS = {"aspect_ratio": "an aspect ratio", "shot_type": "a shot type"}
_HINTS = {
    ("sound", "video"): "; with a reference video, `keep_original_sound` keeps the video's own sound",
}


@dataclass(frozen=True)
class Given:
    """A value for a request parameter and where it was written."""

    value: Any
    path: tuple
    inherited: bool = False


@dataclass(frozen=True)
class Dependency:
    """An input that is another shot's output: where it is written and what it asks for."""

    param: str  # image, end_image, video or images
    shot: str
    frame: str | float | None  # first, last, seconds; None: the whole clip
    path: tuple  # the key path of the `{shot: …}` mapping


@dataclass
class BuiltShot:
    """A shot's request, ready to be keyed and costed. An input that is another
    shot's output is a ``{"shot": …, "frame": …}`` placeholder in the request
    (listed in ``dependencies``); the plan fills in that shot's key."""

    model: str
    request: dict[str, Any]
    media: dict[str, str]
    duration: float
    has_video: bool
    audio: str
    dependencies: list[Dependency] = field(default_factory=list)


@dataclass
class ShotContext:
    """What every shot of one storyboard is compiled against."""

    storyboard: Storyboard
    catalog: Catalog
    media: dict[str, MediaInfo]
    templates: Templates
    reporter: Reporter
    broken_characters: set[str] = field(default_factory=set)


def wire_segments(segments: list[tuple[str, int]]) -> list[dict[str, Any]]:
    # WaveSpeed has not published multi_prompt's shape; this is Kling's and
    # fal's. Kept in this one place so it is one edit to change.
    return [{"prompt": prompt, "duration": duration} for prompt, duration in segments]


def wire_elements(ids: list[str]) -> list[dict[str, str]]:
    return [{"element_id": element_id} for element_id in ids]


def resolve_settings(shot: Shot, n: int, defaults: ShotSettings) -> dict[str, Given]:
    out = {}
    for name in _SETTINGS:
        value = getattr(shot, name)
        if value is not None:
            out[name] = Given(value, ("shots", n, name))
        elif getattr(defaults, name) is not None:
            out[name] = Given(getattr(defaults, name), ("defaults", name), inherited=True)
    return out


class ShotBuilder:
    """Builds one shot's request, reporting each rule it breaks."""

    def __init__(self, ctx: ShotContext, n: int, shot: Shot):
        self.ctx, self.n, self.shot = ctx, n, shot
        self.base = ("shots", n)
        self.report = ctx.reporter
        self.media_map: dict[str, str] = {}
        self.dependencies: list[Dependency] = []

    def build(self) -> BuiltShot | None:
        settings = resolve_settings(self.shot, self.n, self.ctx.storyboard.defaults)
        spec = self._model(settings.get("model"))
        if spec is None:
            return None
        self.spec = spec
        given = self._given(settings)
        self._reject_unaccepted(given)
        characters = self._characters()
        self._warn_unsendable(characters)
        request: dict[str, Any] = {}
        for param, pspec in spec.params.items():
            value = self._param(param, pspec, given, characters)
            if value is not None:
                request[param] = value
        for param, pspec in spec.params.items():
            if pspec.required and param not in request and param not in given:
                self.report.error(self.base, f"missing `{param}`: `{spec.id}` needs it")
        duration = self._planned_duration(request, given)
        self._check_segments(given, request)
        check_shot_elements(self.report, self.base, spec, request, given, characters, self.ctx.storyboard)
        video = "video" in given
        sound_kept = video and request.get("keep_original_sound", False)
        audio = "original" if sound_kept else "generated" if request.get("sound") else "none"
        return BuiltShot(spec.id, request, self.media_map, duration, video, audio, self.dependencies)

    # -- the model --

    def _model(self, setting: Given | None) -> ModelSpec | None:
        catalog = self.ctx.catalog
        model_id = setting.value if setting else catalog.default_model
        spec = catalog.get(model_id)
        path = setting.path if setting else self.base
        if spec is None:
            close = difflib.get_close_matches(model_id, list(catalog.models), n=1, cutoff=0.6)
            hint = f"did you mean `{close[0]}`?" if close else "known models: " + ", ".join(
                f"`{m}`" for m, s in catalog.models.items() if s.kind == "video"
            )
            self.report.error(path, f"unknown model `{model_id}`; {hint}")
            return None
        if spec.kind != "video":
            self.report.error(path, f"`{model_id}` makes Kling elements, not video; give its element id in `element_list`")
            return None
        return spec

    # -- what the shot gives, and what its model takes --

    def _given(self, settings: dict[str, Given]) -> dict[str, Given]:
        shot, base = self.shot, self.base
        given = {name: g for name, g in settings.items() if name != "model"}
        for name in ("prompt", "image", "end_image", "video", "multi_prompt"):
            if getattr(shot, name) is not None:
                given[name] = Given(getattr(shot, name), base + (name,))
        for name in ("images", "element_list"):
            if getattr(shot, name):
                given[name] = Given(getattr(shot, name), base + (name,))
        return given

    def _reject_unaccepted(self, given: dict[str, Given]) -> None:
        for param in list(given):
            if self.spec.takes(param):
                continue
            g = given.pop(param)
            if g.inherited:
                continue  # defaults apply only where the model takes them
            takers = [m for m, s in self.ctx.catalog.models.items() if s.takes(param) and s.kind == "video"]
            hint = f" (models that do: {', '.join(f'`{m}`' for m in takers)})" if takers else ""
            self.report.error(g.path, f"`{self.spec.id}` does not take `{param}`{hint}", key=True)

    def _characters(self) -> list[tuple[str, Any]]:
        out = []
        known = self.ctx.storyboard.characters
        seen = set()
        for i, name in enumerate(self.shot.characters):
            if name in seen:
                continue
            seen.add(name)
            if name in known:
                out.append((name, known[name]))
            elif name not in self.ctx.broken_characters:
                close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
                hint = f"; did you mean `{close[0]}`?" if close else (
                    "; characters are defined under `characters`" if not known else
                    "; known characters: " + ", ".join(f"`{k}`" for k in known))
                self.report.error(self.base + ("characters", i), f"unknown character `{name}`{hint}")
        return out

    def _warn_unsendable(self, characters) -> None:
        for param, attr, what in (("images", "images", "reference images"), ("element_list", "element_id", "element id")):
            if self.spec.takes(param):
                continue
            names = [name for name, c in characters if (has_element(c) if attr == "element_id" else getattr(c, attr))]
            if names:
                warn(
                    self.report, "W001",
                    self.base + ("characters",),
                    f"`{self.spec.id}` takes no `{param}`: not sending the {what} of {', '.join(names)}",
                    key=True,
                )

    # -- each parameter --

    def _param(self, param: str, pspec: ParamSpec, given: dict[str, Given], characters) -> Any:
        g = given.get(param)
        if param == "prompt":
            return self._prompt(g, characters)
        if param in ("image", "end_image", "video"):
            if g and param == "video":
                self._check_video_length(g, pspec)
            return self._ref(g.value, param, g.path) if g else None
        if param == "images":
            return self._images(g, pspec, given, characters)
        if param == "multi_prompt":
            return self._segments(g)
        if param == "element_list":
            return self._elements(g, characters)
        return self._setting(param, pspec, g, given)

    def _setting(self, param: str, pspec: ParamSpec, g: Given | None, given: dict[str, Given]) -> Any:
        if pspec.only_with and pspec.only_with not in given:
            if g and not g.inherited:
                warn(self.report, "W002", g.path, f"`{param}` means nothing without `{pspec.only_with}`; it is not sent")
            return None
        if pspec.not_with and pspec.not_with in given:
            if g and g.value and not g.inherited:
                hint = _HINTS.get((param, pspec.not_with), "")
                self.report.error(g.path, f"`{param}` cannot be switched on with `{pspec.not_with}`{hint}")
            return None
        value = g.value if g else pspec.default
        if g is None or value is None:
            return value
        if pspec.choices is not None and value not in pspec.choices:
            noun = _NOUNS.get(param, "a value")
            self.report.error(g.path, f"`{value}` is not {noun} the model offers ({_either(pspec.choices)})")
        if pspec.min is not None and value < pspec.min:
            self.report.error(g.path, f"{value} is less than the model allows ({pspec.min} to {pspec.max} seconds)")
        if pspec.max is not None and value > pspec.max:
            self.report.error(g.path, f"{value} is more than the model allows ({pspec.min} to {pspec.max} seconds)")
        return value

    def _ref(self, ref: Any, param: str = "", path: tuple = ()) -> Any:
        if isinstance(ref, (ShotFrame, ShotClip)):
            frame = ref.frame if isinstance(ref, ShotFrame) else None
            self.dependencies.append(Dependency(param, ref.shot, frame, path))
            return {"shot": ref.shot} if frame is None else {"shot": ref.shot, "frame": frame}
        if is_url(ref):
            return ref
        info = self.ctx.media.get(ref)
        if info is None:  # already reported by references
            return "sha256:unavailable:" + ref
        self.media_map.setdefault(info.digest, ref)
        return info.digest

    def _prompt(self, g: Given | None, characters) -> str | None:
        if g is None:
            return None
        self._warn_unlisted_characters(g, characters)
        return self._render(g.value, g.path)

    def _render(self, source: str, path: tuple) -> str:
        try:
            text = self.ctx.templates.render(source, self._spoken(source, path))
        except TemplateProblem as problem:
            self.report.error(path, str(problem))
            return source
        self._check_text(text, source, path)
        return text

    def _spoken(self, source: str, path: tuple) -> dict | None:
        """The shot's dialogue and caption (a segment's own, in its prompt), for a prompt that may name them."""
        if "dialogue" not in source and "caption" not in source:
            return None
        segment = len(path) > 3 and path[-3] == "multi_prompt" and self.shot.multi_prompt
        holder = self.shot.multi_prompt[path[-2]] if segment else self.shot
        context = self.ctx.templates.context
        return template_values(holder.dialogue, holder.caption,
                               {key: context[key] for key in self.ctx.storyboard.characters if key in context})

    def _check_text(self, text: str, source: str, path: tuple) -> None:
        """A prompt the provider would refuse is refused here, before anything is paid."""
        if not text.strip():
            what = "renders to nothing" if source.strip() else "is empty"
            self.report.error(path, f"the prompt {what}; describe the shot")
            return
        limit = self.spec.params["prompt"].max_chars if "prompt" in self.spec.params else None
        if limit is not None and len(text) > limit:
            self.report.error(path, f"the prompt is {len(text):,} characters long; the model takes at most {limit:,}")

    def _warn_unlisted_characters(self, g: Given, characters) -> None:
        try:
            used = names_used(g.value)
        except TemplateProblem:
            return
        listed = {name for name, _ in characters}
        known = self.ctx.storyboard.characters
        for name in sorted(used):
            c = known.get(name)
            # Only what this model would send: listing them on a model that takes no references
            # would change nothing (and earn W001).
            unsent = [what for what, has, param in (("reference images", c and c.images, "images"),
                                                    ("element id", has_element(c), "element_list"))
                      if has and self.spec.takes(param)]
            if c is not None and name not in listed and unsent:
                warn(
                    self.report, "W003", g.path,
                    f"the prompt names `{name}`, who is not in this shot's `characters`: "
                    f"their {' and '.join(unsent)} {'is' if unsent == ['element id'] else 'are'}"
                    " not sent",
                )

    def _images(self, g, pspec: ParamSpec, given, characters) -> list[str] | None:
        refs: list[tuple[Any, tuple]] = []
        from_characters = 0
        for name, c in characters:
            from_characters += len(c.images)
            refs += [(r, ("characters", name, "images", i)) for i, r in enumerate(c.images)]
        refs += [(r, g.path + (i,)) for i, r in enumerate(g.value)] if g else []
        values = []
        for ref, path in refs:
            value = self._ref(ref, "images", path)
            if value not in values:
                values.append(value)
        if not values:
            return None
        video = "video" in given
        limit = pspec.max_with_video if video and pspec.max_with_video is not None else pspec.max
        if limit is not None and len(values) > limit:
            chars = f" ({from_characters} from characters)" if from_characters else ""
            if video and pspec.max_with_video is not None:
                allowed = f"with a reference video (at most {limit})"
            elif pspec.max_with_video is not None:
                allowed = f"(at most {limit}, or {pspec.max_with_video} with a reference video)"
            else:
                allowed = f"(at most {limit})"
            where = g.path if g else self.base + ("characters",)
            self.report.error(where, f"{len(values)} reference images{chars} is more than the model allows {allowed}")
        return values

    def _segments(self, g: Given | None) -> list[dict] | None:
        if g is None:
            return None
        rendered = [
            (self._render(seg.prompt, g.path + (i, "prompt")), seg.duration) for i, seg in enumerate(g.value)
        ]
        return wire_segments(rendered)

    def _elements(self, g: Given | None, characters) -> list[dict] | None:
        # A declared element is `{"element": key}` until the plan gives it its key, and the render its id.
        items = [{"element": name} if c.element else {"element_id": c.element_id}
                 for name, c in characters if c.element or c.element_id]
        items += wire_elements(g.value) if g else []
        kept = [item for n, item in enumerate(items) if item not in items[:n]]
        return kept or None

    # -- cross-parameter checks --

    def _check_video_length(self, g: Given, pspec: ParamSpec) -> None:
        if pspec.length is None or not isinstance(g.value, str) or is_url(g.value) or g.value not in self.ctx.media:
            return
        seconds = self.ctx.media[g.value].duration
        lo, hi = pspec.length.min, pspec.length.max
        if seconds is None:
            self.report.error(g.path, f"cannot tell how long `{g.value}` is; the model edits MP4 or MOV clips of {lo} to {hi} seconds")
        elif not lo <= seconds <= hi:
            self.report.error(g.path, f"the clip is {seconds:g} s long; the model edits clips of {lo} to {hi} seconds")

    def _planned_duration(self, request: dict, given: dict[str, Given]) -> float:
        if self.spec.duration_from == "video":
            video = given.get("video")
            info = self.ctx.media.get(video.value) if video and isinstance(video.value, str) else None
            return info.duration if info and info.duration else 0.0
        return request.get("duration") or 0

    def _check_segments(self, given: dict[str, Given], request: dict) -> None:
        g = given.get("multi_prompt")
        if g is None or "multi_prompt" not in request:
            return
        pspec = self.spec.params["multi_prompt"]
        if pspec.max_items is not None and len(g.value) > pspec.max_items:
            self.report.error(g.path, f"{len(g.value)} segments is more than the model allows (at most {pspec.max_items})")
        total = sum(seg.duration for seg in g.value)
        duration = request.get("duration")
        if duration is not None and total != duration:
            self.report.error(g.path, f"the segments add up to {total} s, but the shot is {duration} s long")
        if request.get("shot_type") == "intelligent":
            # WaveSpeed: `intelligent` lets the model split the shot itself; `customize` follows the segments.
            # Warned, not defaulted: a new default would change the key of every film written without it.
            written = "shot_type" in given and not given["shot_type"].inherited
            warn(
                self.report, "W004",
                given["shot_type"].path if written else g.path,
                ("`shot_type: intelligent` lets the model split the shot by itself, so these segments may be ignored"
                 if written else "these segments are sent with the default `shot_type: intelligent`, which lets the "
                 "model split the shot by itself") + "; write `shot_type: customize` to have them followed",
            )


def _either(choices) -> str:
    choices = [str(c) for c in choices]
    return choices[0] if len(choices) == 1 else ", ".join(choices[:-1]) + " or " + choices[-1]
