"""The spec policy: what a request's spec may name, checked before a job is queued.

`SpecPolicy.admit` validates a spec and replaces what it names by what the recipes read (upload ids and allowed
paths by files, dataset names by folders; models only from the server's list, weights never from a path);
`SpecPolicy.preflight` then checks what the spec names against its model (layers, units, classes, sizes), so that a
typo is a 422 naming the field at once rather than a failed job later."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from ..core.data import BUILTIN_DATASETS, confine
from ..core.errors import ConvscopeError
from ..recipes import registry
from ..recipes.base import FILE, ModelRef, SubjectPool, reference_kind
from .config import SEVERAL_LAYERS, UPLOAD_ID, ServerConfig
from .errors import Refused


class SpecPolicy:
    """Admission of the specs a server runs: `config`'s models and datasets, images uploaded into `uploads` or
    inside `allow_roots`; preflight checks lease their Subject from `subjects` (the quick runner's pool)."""

    def __init__(
        self, config: ServerConfig, uploads: Path, allow_roots: list[Path], subjects: SubjectPool, datasets=None
    ):
        self.config, self.uploads, self.allow_roots, self.subjects = config, uploads, allow_roots, subjects
        self.datasets = datasets  # the uploaded datasets (execution.datasets.DatasetLibrary), or None
        self.models = None  # the uploaded models (execution.models.ModelLibrary), or None

    def admit(self, recipe: str, fields: dict):
        """The Spec of a request, with upload ids and dataset names replaced by their paths; otherwise Refused (422
        naming the field: `recipe` for an unknown recipe) or RequestValidationError (the spec's own fields)."""
        entries = registry()
        if recipe not in entries or recipe.startswith("test-"):
            known = ", ".join(sorted(n for n in entries if not n.startswith("test-")))
            raise Refused(422, f"unknown recipe `{recipe}`; recipes: {known}", ["body", "recipe"])
        spec_class = entries[recipe].spec
        try:
            spec = spec_class.model_validate(fields)
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", "spec", *e["loc"])} for e in exc.errors(include_url=False)]
            ) from None
        rewritten = {}
        for name, info in spec_class.model_fields.items():
            value = getattr(spec, name)
            kind = reference_kind(info)
            loc = ["body", "spec", name]
            if isinstance(value, ModelRef):
                uploaded = self._check_model(value, loc)
                if uploaded is not None:  # an uploaded model by its name: its stored checkpoint
                    rewritten[name] = {**value.model_dump(mode="json"), "spec": uploaded}
            elif isinstance(value, (list, tuple)) and value and all(isinstance(v, ModelRef) for v in value):
                refs = [v.model_dump(mode="json") for v in value]  # visualize's judges: each an offered model
                for i, ref in enumerate(value):
                    uploaded = self._check_model(ref, loc + [i])
                    if uploaded is not None:
                        refs[i]["spec"] = uploaded
                if any(r["spec"] != v.spec for r, v in zip(refs, value)):
                    rewritten[name] = refs
            elif kind is not None and value is not None:
                many = isinstance(value, (list, tuple))
                items = [
                    self._image(v, loc + ([i] if many else [])) if kind == FILE else self._dataset(v, loc)
                    for i, v in enumerate(value if many else [value])
                ]
                rewritten[name] = items if many else items[0]
        if recipe == "visualize" and spec.judges is None and spec.trust:  # the other served models of its labels
            from ..recipes.trust import judge_refs

            served = judge_refs(spec.model, self.config.models)
            if served != judge_refs(spec.model):
                rewritten["judges"] = [ref.model_dump(mode="json") for ref in served]
        if recipe == "inverse-set":
            rewritten["generator"] = self._generator(spec.generator, ["body", "spec", "generator"])
        if not rewritten:
            return spec
        return spec_class.model_validate({**spec.model_dump(mode="json"), **rewritten})

    def preflight(self, spec) -> None:
        """Check what a spec names against its model before the job is queued, so that a typo is a 422 naming the field
        at once rather than a failed job later: the model itself (its weights load), `layer` (several separated by
        commas for selectivity and activations), `layers` (attribute), `code_layer`, `encoder_layer`, `channels` (of
        each `layer`), `classes`, `target` (LAYER:UNIT, or a class index for attribute and examples; attribute's and
        faithfulness's LAYER:CHANNEL[@Y,X] hidden unit), `constraints` (LAYER:UNIT:Z1:Z2), unit-ranges' `units`
        (LAYER:UNIT), patch sizes against the input size, the atlas's `layers` and `channels`, and every size a run
        renders at against the layers it reads (visualize's and the atlas's `size`, DeepDream's octaves: too small, or
        not the size a fixed-size model such as a ViT takes). Uses the quick pool's Subject (loading the model on first
        use)."""
        from ..core.subject import LOGITS
        from ..core.units import parse_unit, parse_unit_range

        model = getattr(spec, "model", None)
        if not isinstance(model, ModelRef):
            return

        def at(name, index=None):
            return ["body", "spec", name] + ([index] if index is not None else [])

        def refuse(exc: Exception, loc: list):
            message = " ".join(str(exc).split())
            return Refused(422, self.models.hide(message) if self.models is not None else message, loc)

        try:
            lease = self.subjects.lease(model, self.config.device)
        except ConvscopeError as exc:
            raise refuse(exc, at("model")) from None
        with lease as subject:
            checks = []
            layer = getattr(spec, "layer", None)
            names = []
            if isinstance(layer, str):
                names = [n.strip() for n in layer.split(",")] if spec.recipe in SEVERAL_LAYERS else [layer]
                checks += [(at("layer"), lambda n=n: subject.resolve(n)) for n in names]
            if spec.recipe == "attribute" and spec.layers not in ("all", "none"):
                checks += [(at("layers"), lambda n=n: subject.resolve(n.strip())) for n in spec.layers.split(",")]
            for name in ("code_layer", "encoder_layer", "keep_layer"):
                if isinstance(getattr(spec, name, None), str):
                    checks.append((at(name), lambda name=name: subject.resolve(getattr(spec, name))))
            channels = getattr(spec, "channels", None)
            if channels and spec.recipe != "selectivity":
                checks += [
                    (at("channels"), lambda n=n: subject.check_channels(subject.resolve(n), channels)) for n in names
                ]
            if getattr(spec, "classes", None):
                checks.append((at("classes"), lambda: subject.check_channels(LOGITS, spec.classes)))
            target = getattr(spec, "target", None)
            if isinstance(target, int):
                checks.append((at("target"), lambda: subject.check_channels(LOGITS, [target])))
            elif isinstance(target, str) and spec.recipe in ("attribute", "faithfulness"):  # LAYER:CHANNEL[@Y,X]
                checks.append((at("target"), lambda: _hidden_target(subject, target)))
            elif isinstance(target, str):
                checks.append((at("target"), lambda: _check_unit(subject, parse_unit(target, "target"))))
            for i, text in enumerate(getattr(spec, "constraints", None) or []):
                checks.append(
                    (
                        at("constraints", i),
                        lambda t=text, i=i: _check_unit(subject, parse_unit_range(t, f"constraints[{i}]")),
                    )
                )
            if spec.recipe == "unit-ranges":  # LAYER:UNIT each
                checks += [
                    (at("units", i), lambda t=t, i=i: _check_unit(subject, parse_unit(t, f"units[{i}]")))
                    for i, t in enumerate(spec.units)
                ]
            if spec.recipe == "visualize" and not (spec.layer or spec.classes):
                checks.append((at("layer"), lambda: _refuse_plain("visualize needs a layer (or classes)")))
            if spec.recipe == "attribute" and spec.method == "gradcam" and spec.layer:
                checks.append((at("layer"), lambda: _spatial_layer(subject, spec.layer)))
            side = min(subject.input.size)
            if spec.recipe == "attribute" and spec.method == "occlusion" and (spec.patch or 0) > side:
                checks.append((at("patch"), lambda: _too_big("patch", spec.patch, side)))
            if spec.recipe == "examples" and spec.patches and spec.patch_size > side:
                checks.append((at("patch_size"), lambda: _too_big("patch_size", spec.patch_size, side)))
            if spec.recipe == "atlas":
                if spec.layers.strip() != "all":
                    checks += [(at("layers"), lambda n=n: subject.resolve(n.strip())) for n in spec.layers.split(",")]
                checks.append((at("channels"), lambda: _atlas_units(subject, spec)))
            # every size a run renders at (not the model's own): visualize's and the atlas's `size`, DeepDream's
            # octaves (from the image's size): too small, or another size than a fixed-size model takes
            if spec.recipe in ("visualize", "atlas") and spec.size is not None:
                checks.append((at("size"), lambda: subject.check_size(spec.size, _rendered_layers(subject, spec))))
            if spec.recipe == "evaluate":  # labelled, with classes the model's labels match (or the mapping's)
                evaluated = {}  # the dataset is listed once, the model's outputs counted once
                checks += [
                    (at("dataset"), lambda: evaluated.update(dataset=_labelled(subject, spec))),
                    (at("mapping"), lambda: evaluated.update(matched=_mapped(subject, spec, evaluated["dataset"]))),
                    (at("dataset"), lambda: _some_match(subject, evaluated["dataset"], evaluated["matched"])),
                ]
            if spec.recipe == "dream":
                dreamed = {}
                checks.append((at("image"), lambda: dreamed.update(image=_native_image(subject, spec))))
                checks.append((at("octaves"), lambda: _octaves_fit(subject, spec, dreamed["image"])))
            for loc, check in checks:
                try:
                    check()
                except ConvscopeError as exc:
                    raise refuse(exc, loc) from None

    def _check_model(self, ref: ModelRef, loc: list) -> str | None:
        """Refused unless `ref` names a served or an uploaded model with default / none weights; the `file:` spec of
        an uploaded one (None for a served one)."""
        uploaded = None
        if ref.spec not in self.config.models:
            uploaded = self.models.spec(ref.spec) if self.models is not None else None
            if uploaded is None:
                offered = [*self.config.models, *(m["name"] for m in (self.models.list() if self.models else []))]
                raise Refused(
                    422,
                    f"model `{ref.spec}` is not offered by this server; models: {', '.join(offered)}",
                    loc + ["spec"],
                )
        weights = ref.weights
        if weights not in ("default", "none") and not re.fullmatch(r"none:[0-9]{1,19}", weights):
            raise Refused(
                422,
                "weights must be default, none or none:SEED (weights files are not taken from requests)",
                loc + ["weights"],
            )
        return uploaded

    def _image(self, value: str, loc: list) -> str:
        if UPLOAD_ID.match(value):
            path = self.uploads / value
            if not path.is_file():
                raise Refused(422, f"no uploaded image with id {value}; upload it with POST /api/images", loc)
            return str(path)
        return str(self._inside_roots(value, loc, "image"))

    def _dataset(self, value: str, loc: list) -> str:
        """A dataset reference as the recipes read it: `digits`, a --dataset folder or a folder inside the allowed
        ones, resolved, and confined to them (convscope.core.data.confine: a file behind a link that leads out is
        skipped and reported by every recipe that reads the dataset, never opened)."""
        if value in BUILTIN_DATASETS:
            return value
        if value in self.config.datasets:
            folder = self.config.datasets[value]
            return str(confine(folder, [folder, *self.allow_roots], name=value))
        uploaded = self.datasets.folder(value) if self.datasets is not None else None
        if uploaded is not None:  # an uploaded dataset: read only inside its own folder
            return str(confine(uploaded, [uploaded], name=value))
        if not self.allow_roots:
            listed = [d["name"] for d in self.datasets.list()] if self.datasets is not None else []
            names = ", ".join([*BUILTIN_DATASETS, *self.config.datasets, *listed])
            raise Refused(422, f"unknown dataset `{value}`; datasets: {names}", loc)
        path = self._inside_roots(value, loc, "dataset")
        if not path.is_dir():
            raise Refused(422, f"dataset path `{value}` is not a folder", loc)
        return str(confine(path, self.allow_roots))

    def _generator(self, value: str, loc: list) -> str:
        if value.startswith("file:"):
            return "file:" + str(self._inside_roots(value[5:], loc, "generator file"))
        if value.startswith("trained:"):
            return "trained:" + self._dataset(value[8:], loc)
        return value

    def _inside_roots(self, value: str, loc: list, what: str) -> Path:
        if not self.allow_roots:
            raise Refused(
                422, f"{what} paths are not accepted by this server (no --allow-root); upload images instead", loc
            )
        try:
            path = Path(value).expanduser().resolve()
        except (OSError, RuntimeError, ValueError):
            raise Refused(422, f"{what} path `{value}` cannot be resolved", loc) from None
        if not any(path == root or root in path.parents for root in self.allow_roots):
            raise Refused(422, f"{what} path `{value}` is outside the allowed folders", loc)
        if not path.exists():
            raise Refused(422, f"{what} path `{value}` does not exist", loc)
        return path


def _check_unit(subject, unit: tuple) -> None:
    """(layer, unit, ...) names a layer of the subject and a unit inside its channels."""
    subject.check_channels(subject.resolve(unit[0]), [unit[1]])


def _hidden_target(subject, target: str) -> None:
    """attribute's and faithfulness's hidden-unit target: its layer, channel and position checked against the model
    (one line naming `target`)."""
    from ..techniques.attribution.result import resolve_target

    resolve_target(subject, target)


def _refuse_plain(message: str) -> None:
    raise ConvscopeError(message)


def _spatial_layer(subject, layer: str) -> None:
    """Grad-CAM's layer must give [C, H, W] maps."""
    shape = subject.graph.output_shape(subject.resolve(layer))
    if not isinstance(shape, list) or len(shape) != 3 or not all(isinstance(n, int) for n in shape):
        raise ConvscopeError(f"Grad-CAM needs a layer with a spatial [C, H, W] output; `{layer}` gives {shape}")


def _too_big(name: str, value: int, side: int) -> None:
    raise ConvscopeError(f"{name}={value} is larger than the model's input ({side} pixels)")


def _atlas_units(subject, spec) -> list:
    """The atlas's (layer, channels) (ConvscopeError naming the field for channels outside every layer)."""
    from ..recipes.atlas import _units

    return _units(subject, spec)


def _rendered_layers(subject, spec) -> list[str]:
    """The layers a visualize or atlas spec's objectives read (logits for classes)."""
    from ..core.subject import LOGITS

    if spec.recipe == "atlas":
        return [layer for layer, _ in _atlas_units(subject, spec)]
    return [LOGITS] if spec.classes else [spec.layer] if spec.layer else []


def _labelled(subject, spec):
    """An evaluation's dataset, listed (no image decoded), with classes (an ImageFolder layout)."""
    from ..core.data import open_dataset

    dataset = open_dataset(spec.dataset, subject.input, fit=spec.fit)
    if not dataset.classes:
        raise ConvscopeError(
            f"dataset `{dataset.name}` has no classes: evaluation needs labelled images (ImageFolder layout: one "
            "sub-folder per class, named like the model's labels)"
        )
    return dataset


def _mapped(subject, spec, dataset) -> list:
    """The model class of each dataset class (the mapping's entries checked: one forward of a grey image counts
    the model's outputs)."""
    from ..techniques.evaluation import match_classes, num_outputs

    return match_classes(dataset.classes, subject.labels, num_outputs(subject), spec.mapping)


def _some_match(subject, dataset, matched: list) -> None:
    """Some class of the dataset matches a model class."""
    if not any(m is not None for m in matched):
        shown = ", ".join(dataset.classes[:5]) + (" ..." if len(dataset.classes) > 5 else "")
        raise ConvscopeError(
            f"no class of dataset `{dataset.name}` ({shown}) matches a label of model {subject.name}: name the "
            "class folders like the labels, or give a mapping"
        )


def _native_image(subject, spec):
    """DeepDream's image as the run reads it (at its own resolution, reduced to max_size)."""
    from ..recipes.visualize import load_image_native

    return load_image_native(spec.image, subject.input.channels, spec.max_size)


def _octaves_fit(subject, spec, image) -> None:
    """DeepDream's octave sizes reach its layer (a fixed-size model runs them all at its own size)."""
    from ..techniques.dream import octave_sizes

    height, width = image.shape[2:]
    octave_sizes(subject, (height, width), spec.octaves, spec.octave_scale, [subject.resolve(spec.layer)])
