"""Issue 20 (Robustness II), kinds 6, 7, 8 and 10, on every surface (Python API, CLI, HTTP):

6. fixed-size models (ViTs): another size is the one-line "only works at its own size" error (exit 2, a 422 at
   the field before a job is queued); DeepDream runs every octave at the model's own size;
7. dataset folders with symbolic links: a served dataset reads only inside the allowed folders (links out,
   broken links and loops skipped and reported), everywhere a dataset is read; ids relative to the dataset;
8. ids and numbers in headers, query strings, paths and unit spellings: ASCII digits only, never a 500;
10. facets' numeric fields: `pca 1` works, counts beyond the data are capped, what cannot work is refused by field.

Tiny models (timm's `test_resnet`, `vit_tiny_patch16_224` with random weights, tiny ViTs built here), tiny
folders, one thread."""

import asyncio
import io
import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

import convscope
from convscope import objectives as O
from convscope.cli.main import main
from convscope.core.data import BROKEN_LINK, LOOP, OUTSIDE, confine, dataset_file, open_dataset
from convscope.core.errors import ConvscopeError, ImageError, SizeError, UnitSyntaxError
from convscope.core.subject import InputSpec
from convscope.core.units import ascii_int, parse_unit, parse_unit_range
from convscope.recipes.atlas import parse_channels
from convscope.recipes.base import _dataset_fingerprint
from convscope.server import ServerConfig, create_app
from convscope.server.app import BodyLimit
from convscope.techniques.dream import dream, octave_sizes
from convscope.techniques.facets import cluster_codes
from convscope.techniques.render import render

VIT = {"spec": "timm:vit_tiny_patch16_224", "weights": "none"}
CNN = {"spec": "timm:test_resnet", "weights": "none"}
VIT_ANY_SIZE = {"spec": "timm:test_vit", "weights": "none"}
SPEC = InputSpec(size=(16, 16))


pytestmark = pytest.mark.usefixtures("one_thread")


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _save(path: Path, value: int, size=(24, 24)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(value)
    pixels = np.clip(value + rng.integers(-20, 20, (*size, 3)), 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path)


def make_tree(base: Path) -> dict:
    """allowed/ds: an ImageFolder dataset (cats a, b; dogs c, d) whose links lead out of `allowed` (a file, a
    class folder), inside it (a file), nowhere (broken), back to itself (a loop); allowed/dslink: the dataset
    folder through a link inside the root; allowed/outlink: a dataset folder link that leads out."""
    allowed, outside = base / "allowed", base / "outside"
    ds = allowed / "ds"
    for name, value in [("cats/a.png", 40), ("cats/b.png", 60), ("dogs/c.png", 160), ("dogs/d.png", 180)]:
        _save(ds / name, value)
    _save(allowed / "other" / "o.png", 100)
    _save(outside / "secret.png", 250)
    _save(outside / "cls" / "e.png", 5)
    os.symlink(outside / "secret.png", ds / "cats" / "evil.png")
    os.symlink(outside / "cls", ds / "leak")
    os.symlink(ds, ds / "loop")
    os.symlink(allowed / "other" / "o.png", ds / "dogs" / "inside.png")
    os.symlink(ds / "dogs" / "nowhere.png", ds / "dogs" / "broken.png")
    os.symlink(ds, allowed / "dslink")
    os.symlink(outside / "cls", allowed / "outlink")
    return {"allowed": allowed, "outside": outside, "ds": ds, "base": base}


def tiny_timm_vit():
    import timm

    model = timm.create_model("vit_tiny_patch16_224", img_size=32, patch_size=8, depth=1, pretrained=False)
    return convscope.wrap(model, size=32)


def tiny_torchvision_vit():
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.VisionTransformer(
        image_size=32, patch_size=8, num_layers=1, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=10
    )
    return convscope.wrap(model, size=32)


# --- 6. fixed-size models --------------------------------------------------------------------------------------
@pytest.mark.parametrize("build, layer", [(tiny_timm_vit, "patch_embed.proj"), (tiny_torchvision_vit, "logits")])
def test_fixed_size_models_say_they_only_work_at_their_own_size(build, layer):
    subject = build()
    for side in (16, 24, 64):
        with pytest.raises(SizeError) as caught:
            subject.check_size(side, [layer])
        message = str(caught.value)
        assert message.startswith(f"size {side}x{side} does not work for ")
        assert message.endswith("(its own input size 32x32 does: this model only works at its own size)")
        assert caught.value.works_at == (32, 32)
    subject.check_size(32, [layer])


def test_render_at_another_size_of_a_fixed_size_model_is_one_line():
    subject = tiny_timm_vit()
    with pytest.raises(SizeError, match=r"^size 16x16 does not work .*only works at its own size\)$"):
        render(subject, O.channel("patch_embed.proj", 0), steps=1, size=16)
    result = render(subject, O.channel("patch_embed.proj", 0), steps=1)  # its own size
    assert result.images.shape == (1, 3, 32, 32)


def test_dream_runs_every_octave_at_a_fixed_size_models_own_size():
    subject = tiny_timm_vit()
    image = torch.rand(1, 3, 20, 28, generator=torch.Generator().manual_seed(0))
    result = dream(subject, image, O.deepdream("patch_embed.proj"), octaves=3, steps=2, jitter=2)
    assert result.sizes == [(32, 32)] * 3 and result.image.shape == (1, 3, 32, 32)
    assert result.objective_after > result.objective_before
    # a model that takes any size keeps its octaves: size / scale^k, smallest first
    cnn = convscope.wrap(torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU()), size=32)
    assert octave_sizes(cnn, (20, 28), 3, 1.4, ["0"]) == [(10, 14), (14, 20), (20, 28)]


def test_cli_fixed_size_model_visualize_is_exit_2_and_dream_runs(capsys, tmp_path, rgb_png):
    model = ["--model", VIT["spec"], "--weights", "none", "--out", tmp_path]
    code, out, err = run_cli(
        capsys, "visualize", *model, "--layer", "patch_embed.proj", "--channels", 0, "--size", 128, "--steps", 1
    )
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert err.strip() == (
        "convscope visualize: error: size 128x128 does not work for layer `patch_embed.proj` of "
        "timm:vit_tiny_patch16_224 (its own input size 224x224 does: this model only works at its own size)"
    )
    code, out, err = run_cli(
        capsys, "dream", rgb_png, *model, "--layer", "patch_embed.proj", "--octaves", 2, "--steps", 1, "--json"
    )
    assert code == 0, err
    assert json.loads(out)["sizes"] == [[224, 224], [224, 224]]


# --- servers -----------------------------------------------------------------------------------------------------
def png_bytes(size=(60, 40), seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_tree(tmp_path_factory.mktemp("served"))


@pytest.fixture(scope="module")
def client(tmp_path_factory, tree):
    config = ServerConfig(
        data_dir=tmp_path_factory.mktemp("data"),
        models=[VIT["spec"], CNN["spec"], VIT_ANY_SIZE["spec"]],
        datasets={"snaps": str(tree["ds"])},
        allow_roots=[tree["allowed"]],
    )
    with TestClient(create_app(config)) as test_client:
        upload = test_client.post("/api/images", files={"file": ("x.png", png_bytes(), "image/png")})
        assert upload.status_code == 201, upload.text
        test_client.image_id = upload.json()["id"]
        yield test_client


def run(client, recipe: str, **spec):
    return client.post("/api/runs", json={"recipe": recipe, "spec": spec})


def finished(client, response, timeout=60.0) -> dict:
    """The job of a run answered 200 / 202, once it is done (asserted)."""
    assert response.status_code in (200, 202), response.text
    job = response.json()["job"]
    end = time.time() + timeout
    while time.time() < end:
        view = client.get(f"/api/jobs/{job}").json()
        if view["status"] in ("done", "failed", "cancelled"):
            assert view["status"] == "done", view["error"]
            return view
        time.sleep(0.05)
    raise AssertionError(f"job {job} did not finish in {timeout} s")


def field_error(response) -> tuple[list, str]:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"][0]
    return detail["loc"], detail["msg"]


def test_http_fixed_size_model_sizes_are_422_at_preflight_and_dream_runs(client):
    loc, msg = field_error(run(client, "visualize", model=VIT, layer="patch_embed.proj", channels=[0], size=128))
    assert loc == ["body", "spec", "size"] and "only works at its own size" in msg
    loc, msg = field_error(run(client, "visualize", model=VIT, classes=[3], size=96))
    assert loc == ["body", "spec", "size"] and "the model's output" in msg and "224x224" in msg
    loc, msg = field_error(run(client, "atlas", model=VIT, layers="patch_embed.proj", channels="0-1", size=96))
    assert loc == ["body", "spec", "size"] and "only works at its own size" in msg
    loc, _ = field_error(run(client, "atlas", model=VIT, layers="patch_embed.prj", size=96))
    assert loc == ["body", "spec", "layers"]
    view = finished(
        client, run(client, "dream", model=VIT, image=client.image_id, layer="patch_embed.proj", octaves=2, steps=1)
    )
    assert view["result"]["data"]["sizes"] == [[224, 224], [224, 224]]


def test_http_dream_octaves_too_small_for_a_layer_are_422(client):
    # timm's test_vit takes any size (dynamic_img_size) but needs a 16-pixel patch: octaves of 8 pixels are too small
    response = run(client, "dream", model=VIT_ANY_SIZE, image=client.image_id, layer="patch_embed.proj", octaves=16)
    loc, msg = field_error(response)
    assert loc == ["body", "spec", "octaves"]
    assert msg == (
        "the smallest octave (octaves=16, octave scale=1.4) 8x8 is too small for layer `patch_embed.proj` of "
        "timm:test_vit (its feature map would be empty); the smallest size that works is 16x16"
    )


# --- 7. dataset folders with symbolic links ---------------------------------------------------------------------
def test_confined_dataset_reads_only_inside_its_roots(tmp_path):
    paths = make_tree(tmp_path)
    folder = confine(paths["allowed"] / "dslink", [paths["allowed"]])  # a dataset folder that is itself a link
    assert folder == paths["ds"].resolve()
    dataset = open_dataset(paths["allowed"] / "dslink", SPEC)
    assert dataset.classes == ["cats", "dogs"] and dataset.name == "dslink"
    assert dataset.ids == ["cats/a.png", "cats/b.png", "dogs/c.png", "dogs/d.png", "dogs/inside.png"]
    assert dict(dataset.skipped) == {
        "cats/evil.png": OUTSIDE,
        "leak": OUTSIDE,
        "loop": LOOP,
        "dogs/broken.png": BROKEN_LINK,
    }
    ((images, indices),) = list(dataset.batches(8))
    assert indices == [0, 1, 2, 3, 4] and images.shape == (5, 3, 16, 16)
    assert images.amax().item() < 0.85  # the outside image is bright (250 +- 20): it did not come in
    # a link swapped after the listing is checked again when the file is read
    (paths["ds"] / "cats" / "b.png").unlink()
    os.symlink(paths["outside"] / "secret.png", paths["ds"] / "cats" / "b.png")
    with pytest.raises(ImageError, match=r"^cats/b.png: outside the allowed folders"):
        dataset.load(1)
    list(dataset.batches(8))
    assert ("cats/b.png", f"cats/b.png: {OUTSIDE}") in dataset.skipped
    # a dataset folder that leads out, and explicit roots
    with pytest.raises(ConvscopeError, match=r"^dataset `outlink` is outside the allowed folders$"):
        open_dataset(paths["allowed"] / "outlink", SPEC, roots=[paths["allowed"]])
    # the result store's key never reads a file behind a link that leads out
    key = _dataset_fingerprint(str(paths["ds"]))
    _save(paths["outside"] / "secret.png", 10)
    assert _dataset_fingerprint(str(paths["ds"])) == key
    _save(paths["ds"] / "cats" / "a.png", 10)
    assert _dataset_fingerprint(str(paths["ds"])) != key


def test_dataset_file_names_only_members_inside_the_roots(tmp_path):
    paths = make_tree(tmp_path)
    confine(paths["ds"], [paths["allowed"]])
    ds = paths["ds"]
    assert dataset_file(ds, "cats/a.png") == (ds / "cats" / "a.png").resolve()
    assert dataset_file(ds, str(ds / "cats" / "a.png")) == (ds / "cats" / "a.png").resolve()  # older results
    assert dataset_file(ds, "dogs/inside.png") == (paths["allowed"] / "other" / "o.png").resolve()
    for bad in [
        "cats/evil.png",
        "leak/e.png",
        "../other/o.png",
        "loop/cats/../../outside/secret.png",
        str(paths["outside"] / "secret.png"),
        "dogs/broken.png",
        "cats",
        "cats/.hidden.png",
        "",
    ]:
        assert dataset_file(ds, bad) is None, bad


def test_unconfined_datasets_follow_links_and_name_files_relative(capsys, tmp_path):
    paths = make_tree(tmp_path)
    dataset = open_dataset(paths["ds"], SPEC)  # the CLI and the Python API: a local user owns their files
    assert dataset.classes == ["cats", "dogs", "leak"]
    assert dataset.ids == [
        "cats/a.png",
        "cats/b.png",
        "cats/evil.png",
        "dogs/c.png",
        "dogs/d.png",
        "dogs/inside.png",
        "leak/e.png",
    ]
    assert dict(dataset.skipped) == {"loop": LOOP, "dogs/broken.png": BROKEN_LINK}
    code, out, err = run_cli(
        capsys, "examples", "--dataset", paths["ds"], "--model", CNN["spec"], "--weights", "none", "--layer",
        "logits", "--channels", "0,1", "--top", 100, "--json", "--out", tmp_path / "out",
    )  # fmt: skip
    assert code == 0, err
    result = json.loads(out)
    for unit in result["units"]:
        assert sorted(e["path"] for e in unit["examples"]) == sorted(dataset.ids)  # top 100 > 7: all of them
    assert {s["path"] for s in result["skipped"]} == {"loop", "dogs/broken.png"}


def test_http_datasets_are_confined_to_the_allowed_folders(client, tree):
    def no_server_paths(data):
        text = json.dumps(data)
        assert str(tree["base"]) not in text and str(tree["base"].resolve()) not in text

    expected = {"cats/a.png", "cats/b.png", "dogs/c.png", "dogs/d.png", "dogs/inside.png"}
    reported = {"cats/evil.png": OUTSIDE, "leak": OUTSIDE, "loop": LOOP, "dogs/broken.png": BROKEN_LINK}
    view = finished(client, run(client, "examples", model=CNN, dataset="snaps", layer="logits", channels=[0], top=50))
    data = view["result"]["data"]
    assert {e["path"] for e in data["units"][0]["examples"]} == expected and data["images"] == 5
    assert {s["path"]: s["reason"] for s in data["skipped"]} == reported
    no_server_paths(data)
    # a folder inside the allowed ones, named by a path through a link inside them
    view = finished(
        client, run(client, "selectivity", model=CNN, dataset=str(tree["allowed"] / "dslink"), layer="logits")
    )
    data = view["result"]["data"]
    assert data["class_counts"] == [2, 3] and {s["path"] for s in data["skipped"]} == set(reported)
    no_server_paths(data)
    # data-initialized visualization starts from a dataset image inside the roots
    view = finished(
        client, run(client, "visualize", model=CNN, classes=[0, 1], init_from_data="snaps", steps=1, batch_size=2)
    )
    data = view["result"]["data"]
    assert {e["start_image"] for e in data["images"]} <= expected and data["init_from_data"] == "snaps"
    no_server_paths(data)
    # facets on a one-dimensional code (kind 10) and the dataset's members
    view = finished(
        client,
        run(client, "facets", model=CNN, dataset="snaps", target="logits:0", top_images=5, k=2, m=2, pca=1, steps=1),
    )
    data = view["result"]["data"]
    assert data["used"]["pca_dims"] == 1 and {m for c in data["clusters"] for m in c["members"]} == expected
    no_server_paths(data)
    # an atlas's dataset scans (its shards) read the same confined dataset
    view = finished(
        client,
        run(client, "atlas", model=CNN, layers="conv1.0", channels="0", dataset="snaps", top=9, steps=1),
    )
    data = view["result"]["data"]
    assert {e["path"] for e in data["units"][0]["examples"]} == expected and data["dataset"] == "snaps"
    assert {s["path"] for s in data["skipped"]} == set(reported)
    no_server_paths(data)
    atlases = client.get("/api/atlases").json()["atlases"]
    assert {a["dataset"] for a in atlases} == {"snaps"}
    # a dataset folder that leads out of the allowed folders
    loc, msg = field_error(run(client, "examples", model=CNN, dataset=str(tree["allowed"] / "outlink"),
                               layer="logits", channels=[0]))  # fmt: skip
    assert loc == ["body", "spec", "dataset"] and "outside the allowed folders" in msg


def test_http_dataset_images_only_of_the_dataset(client, tree):
    def status(image_id):
        return client.get("/api/datasets/snaps/image", params={"id": image_id}).status_code

    assert status("cats/a.png") == 200 and status("dogs/inside.png") == 200
    assert status(str(tree["ds"].resolve() / "cats" / "a.png")) == 200  # an id of an older result
    for bad in ["cats/evil.png", "leak/e.png", "../other/o.png", str(tree["outside"] / "secret.png"), "loop/x.png"]:
        assert status(bad) == 404, bad


# --- 8. ids and numbers: ASCII digits only ----------------------------------------------------------------------
ODD = ["²", "٣", "1_000", " 3", "3 ", "+3", "-3", "inf", "nan", "", "9" * 5000]


def test_numbers_in_unit_spellings_are_ascii():
    for text in ODD:
        assert ascii_int(text) is None, text
        if text != "-3":  # (a negative unit is syntax; its range check refuses it)
            with pytest.raises(UnitSyntaxError, match="LAYER:UNIT"):
                parse_unit(f"logits:{text}", "target")
        if text not in ("+3", "-3"):  # (signed bounds are numbers)
            with pytest.raises(UnitSyntaxError, match=r"^constraint `logits:3:"):
                parse_unit_range(f"logits:3:{text}:60", "constraint")
        if text.strip() not in ("3", "+3"):  # (channel lists take spaces around their items: `0-15, 32`)
            with pytest.raises(ValueError):
                parse_channels(f"0,{text}")
    assert ascii_int("0042") == 42 and parse_unit("a:b:-1") == ("a:b", -1)
    assert parse_unit_range("logits:3:-1e2:.5") == ("logits", 3, -100.0, 0.5)
    with pytest.raises(UnitSyntaxError, match=r"needs finite Z1 < Z2"):
        parse_unit_range("logits:3:1:1e999")
    assert parse_channels("0-2,7") == [0, 1, 2, 7]


def events(client, job: str, last_event_id: bytes | None) -> list[str]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}
    with client.stream("GET", f"/api/jobs/{job}/events", headers=headers) as stream:
        assert stream.status_code == 200
        return [line for line in stream.iter_lines() if line.startswith("event:")]


def test_last_event_id_takes_ascii_digits_only(client):
    view = finished(client, run(client, "predict", model=CNN, image=client.image_id, top=2))
    whole = events(client, view["id"], None)
    assert whole[-1] == "event: state"
    for odd in ["²".encode("latin-1"), "٣".encode(), b"1_000", b" 3", b"inf", b"-1", b"9" * 5000]:
        assert events(client, view["id"], odd) == whole, odd  # ignored: the whole stream, which ends
    assert events(client, view["id"], b"9" * 18) == []  # after the end: nothing more, and the stream ends


def test_other_numbers_from_requests_are_never_a_500(client):
    assert client.get("/api/jobs", params={"limit": "²"}).status_code == 422
    for image_id in ["digits:²", "digits:٣", "digits:1_000", "digits: 3", "digits:" + "9" * 5000]:
        assert client.get("/api/datasets/digits/image", params={"id": image_id}).status_code == 404, image_id
    assert client.get("/api/datasets/digits/image", params={"id": "digits:17"}).status_code == 200
    for header in ["bytes=²-", "bytes=0-²", "bytes=٣-"]:
        response = client.get(f"/api/images/{client.image_id}", headers={"Range": header.encode()})
        assert response.status_code in (200, 206, 400, 416), (header, response.status_code)
    loc, _ = field_error(run(client, "predict", model={"spec": CNN["spec"], "weights": "none:٣"}, image="x"))
    assert loc == ["body", "spec", "model", "weights"]
    loc, _ = field_error(run(client, "facets", model=CNN, dataset="snaps", target="logits:²"))
    assert loc == ["body", "spec", "target"]
    loc, _ = field_error(run(client, "inverse-set", model=CNN, constraints=["logits:3:٣:6"]))
    assert loc[:3] == ["body", "spec", "constraints"]
    loc, _ = field_error(run(client, "atlas", model=CNN, channels="0-²"))
    assert loc == ["body", "spec", "channels"]


def test_a_content_length_of_many_digits_is_413():
    answers = []

    async def app(scope, receive, send):  # never reached
        raise AssertionError("the body limit let it through")

    async def send(message):
        answers.append(message)

    async def receive():
        return {"type": "http.request", "body": b""}

    for length in [b"9" * 5000, b"9" * 19, b"2000"]:
        answers.clear()
        scope = {"type": "http", "headers": [(b"content-length", length)]}
        asyncio.run(BodyLimit(app, 1000)(scope, receive, send))
        assert answers[0]["status"] == 413, length


# --- 10. facets' numeric fields -----------------------------------------------------------------------------------
def test_facets_cluster_a_one_dimensional_code():
    rng = np.random.default_rng(0)
    codes = np.concatenate([rng.normal(0, 0.1, (6, 8)), rng.normal(5, 0.1, (6, 8))])
    clusters = cluster_codes(codes, k=2, pca_dims=1)
    assert clusters.used == {"k": 2, "pca_dims": 1, "perplexity": pytest.approx(11 / 3), "images": 12}
    assert sorted(clusters.labels[:6].tolist()) == [clusters.labels[0]] * 6  # the two groups come apart
    assert set(clusters.labels[6:].tolist()) == {1 - clusters.labels[0]}
    one_feature = cluster_codes(codes[:, :1], k=2, pca_dims=50)  # a one-feature code layer
    assert one_feature.used["pca_dims"] == 1
    three = cluster_codes(codes[[0, 1, 7]], k=10, pca_dims=50)  # k and PCA capped; the perplexity t-SNE uses
    assert three.used == {"k": 3, "pca_dims": 3, "perplexity": pytest.approx(2 / 3), "images": 3}


def test_cli_facets_numbers_work_or_are_refused_by_field(capsys, tmp_path):
    paths = make_tree(tmp_path)
    shutil.rmtree(paths["outside"])  # (links that lead nowhere now: reported, not fatal)
    common = ["--dataset", paths["ds"], "--model", CNN["spec"], "--weights", "none", "--target", "logits:0"]
    code, out, err = run_cli(
        capsys, "facets", *common, "--pca", 1, "--k", 50, "--m", 50, "--top-images", 1000, "--steps", 1, "--json",
        "--out", tmp_path / "out",
    )  # fmt: skip
    assert code == 0, err
    used = json.loads(out)["used"]
    assert used["pca_dims"] == 1 and used["images"] == 5 and used["k"] <= 5 and used["m"] <= 5
    code, out, err = run_cli(capsys, "facets", *common, "--top-images", 2, "--out", tmp_path / "out")
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "top_images" in err and "greater than or equal to 3" in err


def test_http_facets_below_what_works_is_422(client):
    loc, _ = field_error(run(client, "facets", model=CNN, dataset="snaps", target="logits:0", top_images=2))
    assert loc == ["body", "spec", "top_images"]
    loc, _ = field_error(run(client, "facets", model=CNN, dataset="snaps", target="logits:0", pca=0))
    assert loc == ["body", "spec", "pca"]
