"""The server's state (`Platform`): the result store, the two job runners and their journal, the uploads, the
dataset names, and the views of jobs and results the routes answer with; it holds the data dir's lock while the
server lives. The spec policy it applies to every run is `preflight.SpecPolicy`."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
import urllib.parse
from pathlib import Path
from types import SimpleNamespace

from ..core.data import BUILTIN_DATASETS, PHOTOS, confine, dataset_file, photo_array
from ..core.errors import ConvscopeError, ImageError
from ..core.units import ascii_int
from ..execution.datasets import DatasetLibrary, DatasetLimits
from ..execution.jobs import Job, JobJournal, JobRunner, UnknownJobError
from ..execution.models import ModelLibrary
from ..execution.store import ResultStore, default_data_dir
from ..recipes.base import Result, SubjectPool
from .config import QUICK, UPLOAD_ID, ServerConfig
from .errors import Refused
from .preflight import SpecPolicy


class Platform:
    """The server's state: store, runners, journal, uploads; and the spec policy (`admit`, `preflight`)."""

    def __init__(self, config: ServerConfig):
        self.config = config
        self.data_dir = Path(config.data_dir or default_data_dir()).expanduser().resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = _lock_data_dir(self.data_dir)
        self.store = ResultStore(self.data_dir)
        self.uploads = self.data_dir / "uploads"
        self.uploads.mkdir(parents=True, exist_ok=True)
        self.datasets = DatasetLibrary(self.data_dir)  # uploaded datasets (POST /api/datasets, convscope datasets)
        self.models = ModelLibrary(self.data_dir)  # uploaded models (POST /api/models, --allow-model-upload)
        self.journal = JobJournal(self.data_dir / "jobs.sqlite")
        device = config.device
        self.long = JobRunner(self.store, {device: 1}, SubjectPool(), keep=config.keep_jobs, journal=self.journal)
        self.quick = JobRunner(self.store, {device: 2}, SubjectPool(), keep=config.keep_jobs, journal=self.journal)
        self.allow_roots = [Path(root).expanduser().resolve() for root in config.allow_roots]
        # every dataset a request may name reads only inside the allowed folders (a named one: its own folder
        # too), whichever recipe opens it (convscope.core.data.confine); named ones appear in results by their names
        self.dataset_names: dict[str, str] = {}
        for name, folder in config.datasets.items():
            real = confine(folder, [folder, *self.allow_roots], name=name)
            self.dataset_names[str(real)] = name
        self._samples: list[dict] | None = None
        self.policy = SpecPolicy(config, self.uploads, self.allow_roots, self.quick.subjects, self.datasets)
        self.policy.models = self.models  # a spec may name an uploaded model by its name

    def close(self) -> None:
        for runner in (self.long, self.quick):
            runner.shutdown(wait=True, cancel=True)
        self.journal.close()
        if not self._lock.closed:
            self._lock.close()  # releases the data dir for the next server

    # --- jobs -----------------------------------------------------------------------------------------------------
    def runner_for(self, recipe: str) -> JobRunner:
        return self.quick if recipe in QUICK else self.long

    def job(self, job_id: str) -> Job | None:
        for runner in (self.long, self.quick):
            try:
                return runner.get(job_id)
            except UnknownJobError:
                continue
        return None

    def job_view(self, job_id: str) -> dict:
        """A job of this process, else of the journal (404 when neither knows it)."""
        job = self.job(job_id)
        if job is not None:
            return self.view(job)
        record = self.journal.get(job_id)
        if record is None:
            raise Refused(404, f"no job {job_id}")
        return self.record_view(record)

    def record_view(self, record: dict) -> dict:
        """A journaled job (from before a restart): its record has a Job's fields; no progress; a done job's
        result from the store."""
        result = self.store.get(record["key"]) if record["state"] == "done" else None
        return self.view(SimpleNamespace(**record, stage="", done=0, total=0, stages={}, result=result))

    def view(self, job: Job | SimpleNamespace) -> dict:
        """The JobView fields of a job."""
        return {
            "id": job.id,
            "recipe": job.recipe,
            "hash": job.key,
            "status": job.state,
            "cached": job.from_store,
            "device": job.device,
            "progress": {"stage": job.stage, "done": job.done, "total": job.total},
            "stages": {name: {"stage": name, "done": d, "total": t} for name, (d, t) in job.stages.items()},
            "spec": self.public(job.spec if isinstance(job.spec, dict) else job.spec.model_dump(mode="json")),
            "created": job.created,
            "started": job.started,
            "ended": job.ended,
            "error": self.models.hide(job.error) if job.error else job.error,  # no stored model's path
            "result": self.result_view(job.key, job.result) if job.result is not None else None,
        }

    def public(self, value):
        """`value` (JSON: a result's data, a spec) as a client names things: uploaded images by their ids, datasets
        and uploaded models by their names (no server path)."""
        uploads = str(self.uploads) + "/"
        library = str(self.datasets.root) + "/"
        models = str(self.models.root) + "/"

        def hide(value):
            if isinstance(value, dict):
                return {k: hide(v) for k, v in value.items()}
            if isinstance(value, list):
                return [hide(v) for v in value]
            if isinstance(value, str) and value.startswith(uploads):
                return value[len(uploads) :]
            if isinstance(value, str) and value in self.dataset_names:  # a --dataset folder: by its name
                return self.dataset_names[value]
            if isinstance(value, str) and value.startswith(library):  # an uploaded dataset: by its name
                return self.datasets.name_of(value) or value
            if isinstance(value, str) and models in value:  # an uploaded model's file: by its name
                return self.models.hide(value)
            return value

        return hide(value)

    def result_view(self, key: str, result: Result) -> dict:
        """The result with its file paths as artifact URLs and uploaded images as their ids (no server path)."""
        base = f"/api/artifacts/{key}"
        moved = result.moved_to(base)
        return {
            "hash": key,
            "recipe": result.recipe,
            "data": self.public(moved.data),
            "artifacts": [
                {"name": a.name, "media_type": a.media_type, "url": f"{base}/{urllib.parse.quote(a.name)}"}
                for a in result.artifacts
            ],
        }

    # --- the spec policy (preflight.py) ---------------------------------------------------------------------------
    def admit(self, recipe: str, fields: dict):
        """The Spec of a request, with upload ids and dataset names replaced by their paths; 422 naming the field
        otherwise (SpecPolicy.admit)."""
        return self.policy.admit(recipe, fields)

    def preflight(self, spec) -> None:
        """Check what a spec names against its model before the job is queued (SpecPolicy.preflight)."""
        self.policy.preflight(spec)

    # --- dataset images -------------------------------------------------------------------------------------------
    def dataset_image(self, name: str, image_id: str) -> bytes:
        """PNG bytes of one image of a dataset the server offers (digits, photos, a --dataset folder or an uploaded
        dataset), at most 256 px."""
        from PIL import Image

        from ..core.images import open_image, to_mode

        if name in BUILTIN_DATASETS:
            image = Image.fromarray(_builtin_pixels(name, image_id))
        else:
            try:
                image = to_mode(open_image(self.dataset_path(name, image_id)), 3)
            except ImageError:
                raise Refused(404, f"image {image_id} of dataset {name} cannot be read") from None
        image.thumbnail((256, 256))
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        return buffer.getvalue()

    # --- datasets ------------------------------------------------------------------------------------------------
    def dataset_limits(self) -> DatasetLimits:
        """What one dataset upload may hold (from the ServerConfig)."""
        c = self.config
        return DatasetLimits(c.max_dataset_files, c.max_dataset_bytes, c.max_upload_bytes, c.max_upload_pixels)

    def dataset_views(self) -> list[dict]:
        """Every dataset a spec may name: built-in ones, then --dataset folders, then uploaded ones (DatasetView)."""
        builtins = [
            {
                "name": name,
                "kind": "builtin",
                "description": b.description,
                "images": b.images,
                "classes": list(b.classes) if b.classes else None,
                "channels": b.channels,
                "thumbnails": list(b.thumbnails),
            }
            for name, b in BUILTIN_DATASETS.items()
        ]
        folders = [{"name": name, "kind": "folder"} for name in self.config.datasets]
        return builtins + folders + self.datasets.list()

    def add_dataset(self, name: str, sources: list) -> dict:
        """Take a dataset upload in (DatasetLibrary.add with this server's limits); Refused naming the field."""
        from ..core.errors import UploadError

        try:
            return self.datasets.add(name, sources, self.dataset_limits(), taken=self.config.datasets)
        except UploadError as exc:
            raise Refused(exc.status, str(exc), ["body", exc.field]) from None

    def remove_dataset(self, name: str) -> None:
        """Remove an uploaded dataset: 409 for a built-in or --dataset one, or while a queued or running job reads
        it; 404 for an unknown name."""
        if name in BUILTIN_DATASETS or name in self.config.datasets:
            raise Refused(409, f"dataset `{name}` is not an uploaded one (built-in or given at start): not removed")
        folder = self.datasets.folder(name)
        if folder is None:
            raise Refused(404, f"no uploaded dataset `{name}`")
        needle = str(folder)
        for runner in (self.long, self.quick):
            for job in runner.jobs():
                if not job.finished and needle in job.spec.model_dump_json():
                    raise Refused(409, f"dataset `{name}` is in use by job {job.id} ({job.state}); try again later")
        self.datasets.remove(name)

    def dataset_folder(self, name: str) -> Path | None:
        """The folder of a --dataset name or an uploaded dataset, or None."""
        if name in self.config.datasets:
            return Path(self.config.datasets[name])
        return self.datasets.folder(name)

    def dataset_names_offered(self) -> list[str]:
        return [*BUILTIN_DATASETS, *self.config.datasets, *(d["name"] for d in self.datasets.list())]

    def dataset_path(self, name: str, image_id: str) -> Path:
        """The file of image `image_id` of a folder dataset (--dataset or uploaded), inside its allowed folders; 404
        otherwise."""
        folder = self.dataset_folder(name)
        if folder is None:
            raise Refused(404, f"no dataset {name}; datasets: {', '.join(self.dataset_names_offered())}")
        path = dataset_file(folder, image_id)  # a file of it, inside the allowed folders
        if path is None:
            raise Refused(404, f"no image {image_id} in dataset {name}")
        return path

    def dataset_original(self, name: str, image_id: str) -> dict:
        """Image `image_id` of a dataset saved as an uploaded image (its original file; a built-in one as PNG), so
        that any page can name it by the returned id."""
        from PIL import Image

        if name in BUILTIN_DATASETS:
            buffer = io.BytesIO()
            Image.fromarray(_builtin_pixels(name, image_id)).save(buffer, "PNG")
            return self.save_upload(buffer.getvalue())
        return self.save_upload(self.dataset_path(name, image_id).read_bytes())

    # --- uploads --------------------------------------------------------------------------------------------------
    def samples(self) -> list[dict]:
        """Built-in example images (skimage's chelsea, coffee, astronaut; three test digits), uploaded on first
        use, so every page has something to run on."""
        if self._samples is None:
            import numpy as np
            from PIL import Image
            from skimage import data as skdata

            from ..core.digits import load_data

            pictures = [(name, Image.fromarray(getattr(skdata, name)())) for name in ("chelsea", "coffee", "astronaut")]
            digits = load_data()
            for index in digits.test[:3].tolist():
                label = int(digits.labels[index])
                pixels = (digits.images[index, 0].numpy() * 255).round().astype(np.uint8)
                pictures.append((f"digit {label}", Image.fromarray(pixels)))
            found = []
            for name, picture in pictures:
                buffer = io.BytesIO()
                picture.save(buffer, "PNG")
                found.append({"name": name, **self.save_upload(buffer.getvalue())})
            self._samples = found
        return self._samples

    def upload_path(self, image_id: str) -> Path:
        path = self.uploads / image_id
        if not UPLOAD_ID.match(image_id) or not path.is_file():
            raise Refused(404, f"no uploaded image {image_id}")
        return path

    def save_upload(self, data: bytes) -> dict:
        from ..core.images import open_image

        digest = hashlib.sha256(data).hexdigest()
        target = self.uploads / digest
        handle, temporary = tempfile.mkstemp(dir=self.uploads, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            limit = self.config.max_upload_pixels
            size = _header_size(temporary)  # from the header only: a decompression bomb costs nothing
            if size is None or size[0] * size[1] > limit:
                shown = f"{size[0]}x{size[1]} pixels" if size else "its header claims a huge size"
                raise Refused(413, f"image too large: {shown}; this server takes at most {limit:,} pixels")
            try:
                image = open_image(temporary, limit=limit)
            except ImageError as exc:
                raise Refused(422, str(exc).replace(temporary, "the upload"), ["body", "file"]) from None
            os.replace(temporary, target)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
        return {"id": digest, "width": image.width, "height": image.height, "mode": image.mode}


def _builtin_pixels(name: str, image_id: str):
    """The uint8 pixels ([H, W] or [H, W, 3]) of one image of a built-in dataset by its id; 404 otherwise."""
    if name == PHOTOS:
        pixels = photo_array(image_id)
    else:
        from ..core.digits import load_data

        data = load_data()
        index = ascii_int(image_id.removeprefix("digits:")) if image_id.startswith("digits:") else None
        ok = index is not None and index < len(data.images)
        pixels = (data.images[index, 0].numpy() * 255).round().astype("uint8") if ok else None
    if pixels is None:
        raise Refused(404, f"no image {image_id} in dataset {name}")
    return pixels


def _lock_data_dir(folder: Path):
    """An exclusive lock on `folder`/server.lock, held while the server lives: a second server on the same data dir
    would mark the first one's running jobs interrupted. Raises ConvscopeError naming the holder's pid."""
    import fcntl

    handle = open(folder / "server.lock", "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        holder = handle.read().strip() or "?"
        handle.close()
        raise ConvscopeError(
            f"data dir {folder} is in use by another convscope server (pid {holder}); use another --data-dir"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle


def _header_size(path: str) -> tuple[int, int] | None:
    """(width, height) from an image file's header; None when Pillow calls it a decompression bomb; (0, 0) when it
    is no image Pillow knows (the full decoder then says what is wrong)."""
    import warnings

    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                return image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None
    except Exception:  # not an image, truncated header ...: open_image reports it
        return (0, 0)
