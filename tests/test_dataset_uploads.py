"""Dataset uploads (issue 22): POST / GET / DELETE /api/datasets, the library behind them
(convscope.execution.datasets), `convscope datasets add|list|remove` and `--dataset NAME`.

Every rule of the module docstring of execution/datasets.py has a case here: the layouts (classes, flat, a common top
folder, `cats/cats/`), duplicate content stored once, names, limits (files, bytes uncompressed, per-image bytes and
pixels), zip-slip names, links, corrupt members and archives, no readable image; a recipe on an uploaded dataset
equals the same recipe on the folder given by path; removal (and refused removal while a job reads it)."""

from __future__ import annotations

import io
import json
import stat
import subprocess
import sys
import time
import zipfile

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from convscope.core.errors import UploadError
from convscope.execution.datasets import DatasetLibrary, DatasetLimits
from convscope.server import ServerConfig, create_app

pytestmark = pytest.mark.usefixtures("one_thread")


def png(seed: int, size=(36, 28), mode="RGB") -> bytes:
    rng = np.random.default_rng(seed)
    shape = (size[1], size[0], 3) if mode == "RGB" else (size[1], size[0])
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, shape, dtype=np.uint8), mode).save(buffer, "PNG")
    return buffer.getvalue()


def zip_of(members: dict[str, bytes], links: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    return buffer.getvalue()


@pytest.fixture()
def client(tmp_path, digits_subject):
    roots = tmp_path / "roots"
    roots.mkdir()
    config = ServerConfig(
        data_dir=tmp_path / "data",
        models=["digits"],
        allow_roots=[roots],
        max_dataset_files=20,
        max_dataset_bytes=400_000,
        max_upload_bytes=60_000,
        max_upload_pixels=200 * 200,
    )
    with TestClient(create_app(config)) as client:
        client.roots = roots
        yield client


def upload(client, name: str, *files: tuple[str, bytes]):
    return client.post("/api/datasets", data={"name": name}, files=[("files", (n, d)) for n, d in files])


def refused(response, status: int, field: str) -> str:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    if isinstance(detail, list):
        assert detail[0]["loc"] == ["body", field], detail
        return detail[0]["msg"]
    return detail


def wait(client, job: str, timeout=60.0) -> dict:
    end = time.time() + timeout
    while time.time() < end:
        view = client.get(f"/api/jobs/{job}").json()
        if view["status"] in ("done", "failed", "cancelled"):
            return view
        time.sleep(0.05)
    raise AssertionError(f"job {job} did not end")


# --- layouts and listing --------------------------------------------------------------------------------------
def test_a_zip_with_classes_is_listed_with_counts_classes_channels_thumbnails(client):
    archive = zip_of(
        {
            "pets/cats/a.png": png(1),
            "pets/cats/b.png": png(2),
            "pets/dogs/c.png": png(3),
            "pets/notes.txt": b"not an image",
            "__MACOSX/pets/._a.png": b"archiver metadata",
        }
    )
    response = upload(client, "pets", ("pets.zip", archive))
    assert response.status_code == 201, response.text
    info = response.json()
    assert info["name"] == "pets" and info["kind"] == "uploaded"
    assert info["images"] == 3 and info["classes"] == ["cats", "dogs"] and info["channels"] == 3
    assert info["thumbnails"][:2] == ["cats/a.png", "dogs/c.png"]  # one per class first
    assert info["skipped"] == [{"id": "notes.txt", "reason": "not an image file (by its suffix)"}]
    listed = {d["name"]: d for d in client.get("/api/datasets").json()["datasets"]}
    assert list(listed)[:2] == ["digits", "photos"] and listed["pets"] == info
    assert listed["digits"]["images"] == 1797 and listed["digits"]["channels"] == 1
    assert listed["photos"]["images"] == 12 and listed["photos"]["classes"] is None
    thumb = client.get("/api/datasets/pets/image", params={"id": "dogs/c.png"})
    assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.content)).size == (36, 28)
    assert client.get("/api/datasets/pets/image", params={"id": "dogs/zzz.png"}).status_code == 404


def test_flat_files_grayscale_and_the_folder_picker_layout(client):
    # a folder picker sends `folder/file`: the common top folder is dropped, the dataset is flat
    response = upload(client, "flat", ("scans/x.png", png(4, mode="L")), ("scans/y.png", png(5, mode="L")))
    assert response.status_code == 201, response.text
    info = response.json()
    assert info["images"] == 2 and info["classes"] is None and info["channels"] == 1
    assert sorted(info["thumbnails"]) == ["x.png", "y.png"]
    # a class folder named like the top folder: set `cats/cats/a.png` -> class-less `cats/a.png`? no: top dropped once
    nested = upload(client, "nested", ("cats/cats/a.png", png(6)), ("cats/dogs/b.png", png(7)))
    assert nested.json()["classes"] == ["cats", "dogs"], nested.text
    # files beside class folders are not read by the ImageFolder layout: skipped and said
    beside = upload(client, "beside", ("cats/a.png", png(8)), ("dogs/b.png", png(9)), ("loose.png", png(10)))
    assert beside.json()["images"] == 2
    assert beside.json()["skipped"] == [
        {"id": "loose.png", "reason": "beside the class folders (ImageFolder reads only sub-folders)"}
    ]


def test_the_same_content_twice_is_stored_once(client, tmp_path):
    archive = zip_of({"a/1.png": png(1), "b/2.png": png(2)})
    first = upload(client, "one", ("x.zip", archive)).json()
    second = upload(client, "two", ("y.zip", archive)).json()  # as files this time would hash the same too
    as_files = upload(client, "three", ("a/1.png", png(1)), ("b/2.png", png(2))).json()
    assert first["hash"] == second["hash"] == as_files["hash"]
    folders = [p for p in (tmp_path / "data" / "datasets").iterdir() if not p.name.startswith(".")]
    assert sorted(p.name for p in folders) == sorted([first["hash"], "index.json"])
    # removing one name keeps the files for the others; removing the last removes them
    assert client.delete("/api/datasets/one").status_code == 204
    assert (tmp_path / "data" / "datasets" / first["hash"]).is_dir()
    client.delete("/api/datasets/two")
    client.delete("/api/datasets/three")
    assert not (tmp_path / "data" / "datasets" / first["hash"]).exists()
    assert [d["name"] for d in client.get("/api/datasets").json()["datasets"]] == ["digits", "photos"]


# --- refusals -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, status, words",
    [
        ("digits", 409, "built-in"),
        ("../up", 422, "not allowed"),
        ("a b", 422, "not allowed"),
        ("x" * 65, 422, "not allowed"),
        ("", 422, "needs a name"),
    ],
)
def test_bad_names_are_refused_naming_the_field(client, name, status, words):
    assert words in refused(upload(client, name, ("a.png", png(1))), status, "name")


def test_a_taken_name_is_409_and_loses_nothing(client):
    assert upload(client, "kept", ("a.png", png(1))).status_code == 201
    assert "exists" in refused(upload(client, "kept", ("b.png", png(2))), 409, "name")
    listed = {d["name"]: d for d in client.get("/api/datasets").json()["datasets"]}
    assert listed["kept"]["thumbnails"] == ["a.png"]  # the first upload is untouched


def test_empty_corrupt_and_unreadable_uploads(client):
    assert "needs" not in refused(upload(client, "none", ("a.txt", b"text")), 422, "files")
    assert "no readable image" in refused(upload(client, "none", ("a.txt", b"text")), 422, "files")
    assert "not a readable zip" in refused(upload(client, "bad", ("x.zip", b"PK\x03\x04 garbage")), 422, "files")
    assert client.post("/api/datasets", data={"name": "nofiles"}).status_code == 422
    # a corrupt member (bad CRC) and a truncated image are skipped and listed; the rest is kept
    archive = bytearray(zip_of({"ok.png": png(1), "crc.png": png(2)}))
    # flip a byte of crc.png's stored data (the second local entry)
    second = archive.find(b"PK\x03\x04", 10)
    archive[second + 60] ^= 0xFF
    truncated = png(3)[:80]
    response = upload(client, "partly", ("x.zip", bytes(archive)), ("cut.png", truncated))
    assert response.status_code == 201, response.text
    info = response.json()
    assert info["images"] == 1 and info["thumbnails"] == ["ok.png"]
    reasons = {s["id"]: s["reason"] for s in info["skipped"]}
    assert set(reasons) == {"crc.png", "cut.png"}, reasons


def test_zip_slip_names_and_links_are_skipped_never_written(client, tmp_path):
    archive = zip_of(
        {"good.png": png(1), "../../evil.png": png(2), "/abs/evil.png": png(3), "C:/win.png": png(4)},
        links={"link.png": "/etc/passwd"},
    )
    info = upload(client, "slip", ("x.zip", archive)).json()
    assert info["images"] == 1
    reasons = {s["id"]: s["reason"] for s in info["skipped"]}
    assert set(reasons) == {"../../evil.png", "/abs/evil.png", "C:/win.png", "link.png"}
    assert reasons["link.png"] == "a symbolic link: not read"
    assert not list(tmp_path.rglob("evil.png")) and not list(tmp_path.rglob("win.png"))


def test_limits_files_bytes_and_bombs(client, tmp_path):
    # too many files (20 allowed): refused as a whole, nothing listed, nothing left behind
    many = zip_of({f"{i}.png": png(i, size=(8, 8)) for i in range(21)})
    assert "too many files" in refused(upload(client, "many", ("m.zip", many)), 413, "files")
    # a zip bomb: 2 MB of zeros compress to ~2 kB; the uncompressed total (400 kB) is counted while reading
    bomb = zip_of({f"{i}.png": bytes(2_000_000) for i in range(1)})
    assert len(bomb) < 10_000
    assert "uncompressed" in refused(upload(client, "bomb", ("b.zip", bomb)), 413, "files")
    # one image over the per-file bytes or the pixels: skipped and listed, the rest kept
    big_bytes = png(1, size=(190, 190))  # random pixels: ~108 kB > 60 kB
    big_pixels = io.BytesIO()
    Image.new("L", (400, 400)).save(big_pixels, "PNG")  # small file, 160,000 pixels > 40,000
    info = upload(client, "sizes", ("ok.png", png(2)), ("big.png", big_bytes), ("wide.png", big_pixels.getvalue()))
    info = info.json()
    reasons = {s["id"]: s["reason"] for s in info["skipped"]}
    assert info["images"] == 1 and set(reasons) == {"big.png", "wide.png"}, info
    assert "larger than 60,000 bytes" in reasons["big.png"] and "pixels" in reasons["wide.png"]
    # a body over the dataset limit (+ multipart allowance) is refused from its Content-Length
    huge = client.post(
        "/api/datasets",
        content=b"x" * 100,
        headers={"content-length": str(10**9), "content-type": "multipart/form-data"},
    )
    assert huge.status_code == 413
    leftovers = [p.name for p in (tmp_path / "data" / "datasets").iterdir() if p.name.startswith(".staging")]
    assert leftovers == []


# --- using an uploaded dataset --------------------------------------------------------------------------------
def test_a_recipe_on_an_uploaded_dataset_equals_the_folder_by_path(client):
    folder = client.roots / "digitsish"
    members = {}
    for klass in ("0", "1"):
        (folder / klass).mkdir(parents=True)
        for i in range(3):
            data = png(10 * int(klass) + i, size=(32, 32), mode="L")
            (folder / klass / f"{i}.png").write_bytes(data)
            members[f"{klass}/{i}.png"] = data
    assert upload(client, "mine", ("mine.zip", zip_of(members))).status_code == 201

    def examples(dataset: str) -> dict:
        spec = {"model": {"spec": "digits"}, "dataset": dataset, "layer": "logits", "channels": [0, 1], "top": 4}
        job = client.post("/api/runs", json={"recipe": "examples", "spec": spec}).json()
        view = wait(client, job["job"]) if job.get("result") is None else job
        assert view["status"] == "done", view
        return view["result"]["data"]

    by_name, by_path = examples("mine"), examples(str(folder))
    for a, b in zip(by_name["units"], by_path["units"], strict=True):
        assert [e["path"] for e in a["examples"]] == [e["path"] for e in b["examples"]]
        assert [e["score"] for e in a["examples"]] == pytest.approx([e["score"] for e in b["examples"]], abs=1e-6)
    assert "datasets/" not in json.dumps(by_name)  # the server's folder never shows; the name does
    # the attribution page names a dataset image by an upload id
    image = client.post("/api/images/from-dataset", json={"dataset": "mine", "id": "1/2.png"})
    assert image.status_code == 201 and image.json()["width"] == 32
    assert client.get(f"/api/images/{image.json()['id']}").content == members["1/2.png"]
    digit = client.post("/api/images/from-dataset", json={"dataset": "digits", "id": "digits:7"})
    assert digit.status_code == 201 and digit.json()["mode"] == "L"
    assert client.post("/api/images/from-dataset", json={"dataset": "mine", "id": "9/9.png"}).status_code == 404
    assert client.post("/api/images/from-dataset", json={"dataset": "nope", "id": "a"}).status_code == 404


def test_removal_refused_for_builtins_and_while_a_job_reads_it(client):
    assert client.delete("/api/datasets/digits").status_code == 409
    assert client.delete("/api/datasets/unknown").status_code == 404
    files = [(f"c/{i}.png", png(i, size=(32, 32), mode="L")) for i in range(4)]
    assert upload(client, "busy", *files).status_code == 201
    platform = client.app.state.platform
    # the long runner has one worker: a long visualization first, so the job reading `busy` stays queued
    blocker = platform.long.submit(
        platform.admit("visualize", {"model": {"spec": "digits"}, "layer": "logits", "channels": [0], "steps": 50000}),
        "cpu",
    )
    spec = {"model": {"spec": "digits"}, "dataset": "busy", "layer": "logits", "channels": [0]}
    reader = platform.long.submit(platform.admit("examples", spec), "cpu")
    response = client.delete("/api/datasets/busy")
    assert response.status_code == 409 and f"in use by job {reader.id}" in response.json()["detail"]
    platform.long.cancel(blocker.id)
    assert platform.long.wait(reader.id, timeout=60).state == "done"
    assert client.delete("/api/datasets/busy").status_code == 204
    assert "busy" not in [d["name"] for d in client.get("/api/datasets").json()["datasets"]]
    gone = client.post("/api/runs", json={"recipe": "examples", "spec": spec})
    assert gone.status_code == 422 and gone.json()["detail"][0]["loc"] == ["body", "spec", "dataset"]


# --- the library and the CLI ----------------------------------------------------------------------------------
def test_the_library_refuses_as_a_whole_and_keeps_no_staging(tmp_path):
    library = DatasetLibrary(tmp_path)
    with pytest.raises(UploadError) as caught:
        library.add("x", [("a.txt", b"no")], DatasetLimits())
    assert caught.value.field == "files" and caught.value.status == 422
    assert [p.name for p in library.root.iterdir()] == []  # no staging folder, no index


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "convscope.cli", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_cli_datasets_add_list_remove_and_dataset_by_name(tmp_path, digits_subject):
    source = tmp_path / "src"
    for klass in ("3", "8"):
        (source / klass).mkdir(parents=True)
        for i in range(2):
            (source / klass / f"{i}.png").write_bytes(png(int(klass) + i, size=(32, 32), mode="L"))
    data = ["--data-dir", str(tmp_path / "data")]
    added = run_cli("datasets", "add", "mine", str(source), *data, "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["classes"] == ["3", "8"]
    again = run_cli("datasets", "add", "mine", str(source), *data)
    assert again.returncode == 2 and "exists" in again.stderr and "Traceback" not in again.stderr
    listed = json.loads(run_cli("datasets", "list", *data, "--json").stdout)["datasets"]
    assert [d["name"] for d in listed] == ["digits", "photos", "mine"]
    # a server on the same data dir offers it at once (the index is read on every request)
    with TestClient(create_app(ServerConfig(data_dir=tmp_path / "data", models=["digits"]))) as client:
        assert "mine" in [d["name"] for d in client.get("/api/datasets").json()["datasets"]]
    run = run_cli("examples", "--dataset", "mine", "--model", "digits", "--layer", "logits", "--channels", "3",
                  "--top", "2", "--out", str(tmp_path / "out"), *data, "--json")  # fmt: skip
    assert run.returncode == 0, run.stderr
    paths = [e["path"] for e in json.loads(run.stdout)["units"][0]["examples"]]
    assert set(paths) <= {"3/0.png", "3/1.png", "8/0.png", "8/1.png"} and len(paths) == 2
    removed = run_cli("datasets", "remove", "mine", *data)
    assert removed.returncode == 0
    missing = run_cli("datasets", "remove", "mine", *data)
    assert missing.returncode == 2 and "no uploaded dataset `mine`" in missing.stderr


def test_evaluate_an_uploaded_dataset_over_http_and_its_refusals(client, digits_subject):
    import torch

    from convscope.core.images import pil_to_tensor

    members = {f"{klass}/{i}.png": png(7 * int(klass) + i, size=(32, 32), mode="L") for klass in "38" for i in range(3)}
    members["zebra/0.png"] = png(99, size=(32, 32), mode="L")  # matches no label of the digits model
    assert upload(client, "labelled", ("l.zip", zip_of(members))).status_code == 201

    def evaluate(**spec):
        body = {"recipe": "evaluate", "spec": {"model": {"spec": "digits"}, "dataset": "labelled", **spec}}
        return client.post("/api/runs", json=body)

    job = evaluate().json()
    data = (wait(client, job["job"]) if job.get("result") is None else job)["result"]["data"]
    # a direct computation: the digits model on the same files (squashed to 32 px: they are 32 px already)
    wrong = []
    for name, content in members.items():
        if name.startswith("zebra"):
            continue
        x = pil_to_tensor(Image.open(io.BytesIO(content)))[None]
        with torch.no_grad():
            predicted = int(digits_subject(x).argmax())
        if predicted != int(name[0]):
            wrong.append((name, predicted))
    assert data["images"] == 6 and data["unmatched"] == ["zebra"] and data["unmatched_images"] == 1
    assert data["top1"] == pytest.approx(1 - len(wrong) / 6)
    assert [(m["id"], m["predicted"]) for m in data["misclassified"]] == wrong
    # refused before a job is queued, naming the field
    photos = client.post(
        "/api/runs", json={"recipe": "evaluate", "spec": {"model": {"spec": "digits"}, "dataset": "photos"}}
    )
    assert photos.status_code == 422 and photos.json()["detail"][0]["loc"] == ["body", "spec", "dataset"]
    assert "no classes" in photos.json()["detail"][0]["msg"]
    bad = evaluate(mapping={"zebra": "giraffe"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "spec", "mapping"]
    only_zebras = {"zebra/0.png": members["zebra/0.png"], "okapi/0.png": members["3/0.png"]}
    assert upload(client, "zoo", ("z.zip", zip_of(only_zebras))).status_code == 201
    none = client.post(
        "/api/runs", json={"recipe": "evaluate", "spec": {"model": {"spec": "digits"}, "dataset": "zoo"}}
    )
    assert none.status_code == 422 and "matches a label" in none.json()["detail"][0]["msg"]
    mapped = client.post(
        "/api/runs",
        json={"recipe": "evaluate", "spec": {"model": {"spec": "digits"}, "dataset": "zoo", "mapping": {"okapi": "3"}}},
    )
    assert mapped.status_code in (200, 202), mapped.text
