"""Issue 22 item 3: models from the browser. POST /api/models validates an architecture plus safetensors weights
(never unpickling anything) before listing it; a spec names it by its name; DELETE removes it; the flag is off by
default and refused off loopback without a token."""

import io
import pickle
import time

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from safetensors.torch import save_file

import convscope
from convscope.execution.models import ModelLibrary
from convscope.server import ServerConfig, create_app

pytestmark = pytest.mark.usefixtures("one_thread")

ARCH = "timm:test_resnet"  # 0.47 M parameters, 3 x 160 x 160, 1000 outputs: builds in ~10 ms


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A random test_resnet (seeded) and its weights as a plain safetensors state dict."""
    folder = tmp_path_factory.mktemp("weights")
    subject = convscope.load(ARCH, "none:7")
    path = folder / "tiny.safetensors"
    save_file(subject.state_dict(), str(path))
    return subject, path


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("model-server")
    config = ServerConfig(data_dir=root / "data", models=["digits"], allow_model_upload=True, max_model_bytes=3_000_000)
    with TestClient(create_app(config)) as test_client:
        test_client.data_dir = root / "data"
        yield test_client


def upload(client, name, weights: bytes, arch=ARCH, labels: bytes | None = None, filename="w.safetensors"):
    data = {"name": name} | ({"arch": arch} if arch else {})
    files = {"weights": (filename, weights, "application/octet-stream")}
    if labels is not None:
        files["labels"] = ("labels.txt", labels, "text/plain")
    return client.post("/api/models", data=data, files=files)


def field_error(response, status=422) -> tuple[list, str]:
    assert response.status_code == status, response.text
    detail = response.json()["detail"]
    return detail[0]["loc"], detail[0]["msg"]


def stored_files(client) -> list[str]:
    return sorted(p.name for p in (client.data_dir / "models").iterdir() if p.name.endswith(".safetensors"))


def png_upload(client, tmp_path, seed=0) -> tuple[str, object]:
    rng = np.random.default_rng(seed)
    path = tmp_path / f"photo{seed}.png"
    Image.fromarray(rng.integers(0, 255, (160, 160, 3), dtype=np.uint8)).save(path)
    response = client.post("/api/images", files={"file": ("p.png", path.read_bytes(), "image/png")})
    assert response.status_code == 201, response.text
    return response.json()["id"], path


def predict(client, model: str, image: str, top=5):
    return client.post(
        "/api/runs", json={"recipe": "predict", "spec": {"model": {"spec": model}, "image": image, "top": top}}
    )


def test_good_upload_is_listed_and_predicts_as_a_direct_forward(client, tiny, tmp_path):
    subject, path = tiny
    response = upload(client, "tiny", path.read_bytes())
    assert response.status_code == 201, response.text
    view = response.json()
    assert view == {
        "name": "tiny",
        "loaded": False,
        "kind": "uploaded",
        "arch": ARCH,
        "channels": 3,
        "size": [160, 160],
        "classes": 1000,  # 1000 outputs and no labels file: the architecture's own (ImageNet) labels
    }
    listed = {m["name"]: m for m in client.get("/api/models").json()["models"]}
    assert list(listed) == ["digits", "tiny"]  # served first, then uploaded
    assert listed["digits"] | {"loaded": None} == {
        "name": "digits",
        "loaded": None,
        "kind": "builtin",
        "arch": None,
        "channels": 1,
        "size": [32, 32],
        "classes": 10,
    }
    assert listed["tiny"]["kind"] == "uploaded" and listed["tiny"]["size"] == [160, 160]
    health = client.get("/api/health").json()
    assert health["model_uploads"] is True and health["models"] == ["digits", "tiny"]

    image_id, image_path = png_upload(client, tmp_path)
    run = predict(client, "tiny", image_id, top=3)
    assert run.status_code == 200, run.text
    result = run.json()["result"]
    direct = convscope.load(ARCH, str(path))
    with torch.no_grad():
        probabilities = torch.softmax(direct(direct.load_image(str(image_path), "squash")), dim=1)[0]
    top = probabilities.topk(3)
    got = result["data"]["predictions"]
    assert [p["index"] for p in got] == top.indices.tolist()
    np.testing.assert_allclose([p["probability"] for p in got], top.values.numpy(), rtol=1e-5, atol=1e-7)
    assert got[0]["label"] == convscope.core.zoo.imagenet_labels()[got[0]["index"]]
    assert str(client.data_dir) not in run.text  # the result names the model, never the server's path
    assert next(m for m in client.get("/api/models").json()["models"] if m["name"] == "tiny")["loaded"] is True

    layers = client.get("/api/models/tiny/layers")
    assert layers.status_code == 200, layers.text
    assert layers.json()["data"]["model"] == "tiny" and layers.json()["data"]["input_shape"] == [3, 160, 160]
    assert str(client.data_dir) not in layers.text


def test_labels_name_the_predictions_and_must_match_the_outputs(client, tiny, tmp_path):
    _, path = tiny
    labels = "\n".join(f"class-{i}" for i in range(1000)).encode() + b"\n\n"  # a trailing blank line is ignored
    response = upload(client, "labelled", path.read_bytes(), labels=labels)
    assert response.status_code == 201, response.text
    assert response.json()["classes"] == 1000
    image_id, _ = png_upload(client, tmp_path, seed=1)
    got = predict(client, "labelled", image_id).json()["result"]["data"]["predictions"]
    assert [p["label"] for p in got] == [f"class-{p['index']}" for p in got]

    loc, msg = field_error(upload(client, "few-labels", path.read_bytes(), labels=b"cat\ndog\n"))
    assert loc == ["body", "labels"] and "2 labels" in msg and "1000 outputs" in msg
    loc, msg = field_error(upload(client, "json-labels", path.read_bytes(), labels=b'["a", 3]'))
    assert loc == ["body", "labels"] and "list of strings" in msg
    assert "few-labels" not in [m["name"] for m in client.get("/api/models").json()["models"]]


def test_duplicate_content_reuses_the_stored_file_and_delete_frees_it(client, tiny, tmp_path):
    _, path = tiny
    first = upload(client, "dup-a", path.read_bytes())
    assert first.status_code == 201, first.text
    before = stored_files(client)
    second = upload(client, "dup-b", path.read_bytes(), filename="renamed.safetensors")
    assert second.status_code == 201, second.text
    assert stored_files(client) == before  # same weights, same labels: one file
    library = ModelLibrary(client.data_dir)
    assert library.get("dup-a")["hash"] == library.get("dup-b")["hash"]

    assert client.delete("/api/models/dup-a").status_code == 204
    assert stored_files(client) == before  # dup-b still holds it
    names = [m["name"] for m in client.get("/api/models").json()["models"]]
    assert "dup-a" not in names and "dup-b" in names
    image_id, _ = png_upload(client, tmp_path, seed=2)
    loc, msg = field_error(predict(client, "dup-a", image_id))
    assert loc == ["body", "spec", "model", "spec"] and "not offered" in msg
    assert client.delete("/api/models/dup-a").status_code == 404
    assert client.delete("/api/models/digits").status_code == 409  # served, not uploaded


def test_bad_uploads_are_refused_naming_the_field_and_leave_nothing(client, tiny, tmp_path, monkeypatch):
    subject, path = tiny
    before = stored_files(client)

    state = dict(subject.state_dict())
    state["fc.weight"] = torch.zeros(state["fc.weight"].shape[0], state["fc.weight"].shape[1] + 1)  # (a 3-class
    # head, weight and bias, would be taken: tests/test_zoo.py; a head of another input width is not)
    wrong = tmp_path / "wrong.safetensors"
    save_file(state, str(wrong))
    loc, msg = field_error(upload(client, "wrong", wrong.read_bytes()))
    assert loc == ["body", "weights"] and "wrong shape fc.weight" in msg

    loc, msg = field_error(upload(client, "unknown", path.read_bytes(), arch="timm:no_such_net"))
    assert loc == ["body", "arch"] and "unknown timm model `no_such_net`" in msg
    loc, msg = field_error(upload(client, "code", path.read_bytes(), arch="file:/etc/passwd"))
    assert loc == ["body", "arch"] and "never a file: spec" in msg
    loc, msg = field_error(upload(client, "noarch", path.read_bytes(), arch=None))
    assert loc == ["body", "arch"] and "required" in msg

    pickled = tmp_path / "pickled.safetensors"
    torch.save(dict(subject.state_dict()), pickled)  # a zip / pickle torch file under a safetensors name
    raw = io.BytesIO()
    pickle.dump({"fc.weight": [1.0]}, raw, protocol=2)  # a bare pickle

    def no_unpickling(*args, **kwargs):
        raise AssertionError("torch.load called on an upload")

    with monkeypatch.context() as patched:
        patched.setattr(torch, "load", no_unpickling)
        patched.setattr(pickle, "load", no_unpickling)
        loc, msg = field_error(upload(client, "pickled", pickled.read_bytes(), filename="pickled.safetensors"))
        assert loc == ["body", "weights"] and "only safetensors files are accepted" in msg
        assert "`pickled.safetensors` is a zip archive" in msg
        loc, msg = field_error(upload(client, "raw-pickle", raw.getvalue()))
        assert loc == ["body", "weights"] and "is a pickle" in msg

    loc, msg = field_error(upload(client, "bad name!", path.read_bytes()))
    assert loc == ["body", "name"]
    loc, msg = field_error(upload(client, "digits", path.read_bytes()), status=409)  # a served model's name
    assert loc == ["body", "name"]
    loc, msg = field_error(upload(client, "default", path.read_bytes()), status=409)  # a built-in, even unserved
    loc, msg = field_error(upload(client, "big", b"\0" * 3_000_001), status=413)
    assert loc == ["body", "weights"] and "3,000,000 bytes" in msg

    assert stored_files(client) == before
    leftovers = [p.name for p in (client.data_dir / "models").iterdir() if p.name.startswith(".upload-")]
    assert leftovers == []
    names = [m["name"] for m in client.get("/api/models").json()["models"]]
    assert not {"wrong", "unknown", "code", "noarch", "pickled", "raw-pickle", "big"} & set(names)


def test_name_taken_by_an_upload_is_409(client, tiny):
    _, path = tiny
    assert upload(client, "taken", path.read_bytes()).status_code == 201
    loc, msg = field_error(upload(client, "taken", path.read_bytes()), status=409)
    assert loc == ["body", "name"] and "exists" in msg


def test_a_convscope_checkpoint_brings_its_arch_input_and_labels(client, tiny, tmp_path):
    subject, _ = tiny
    labelled = convscope.Subject(subject.model, subject.input, [f"k{i}" for i in range(1000)], name="x")
    checkpoint = convscope.save_checkpoint(labelled, ARCH, tmp_path / "ck.safetensors")
    response = upload(client, "from-checkpoint", checkpoint.read_bytes(), arch=None)
    assert response.status_code == 201, response.text
    assert response.json()["arch"] == ARCH and response.json()["classes"] == 1000
    loc, msg = field_error(upload(client, "other-arch", checkpoint.read_bytes(), arch="timm:test_vit"))
    assert loc == ["body", "arch"] and ARCH in msg


def test_removing_a_model_while_a_job_runs_on_it_lets_the_job_finish(client, tiny):
    _, path = tiny
    labels = "\n".join(f"r{i}" for i in range(1000)).encode()  # its own content: no other name holds the file
    assert upload(client, "busy", path.read_bytes(), labels=labels).status_code == 201
    stored = set(stored_files(client))
    spec = {"model": {"spec": "busy"}, "classes": [1], "steps": 80, "size": 64, "batch_size": 1}
    job = client.post("/api/runs", json={"recipe": "visualize", "spec": spec}).json()["job"]
    deadline = time.time() + 60
    while (view := client.get(f"/api/jobs/{job}").json())["progress"]["done"] < 1:
        assert view["status"] in ("queued", "running") and time.time() < deadline, view
        time.sleep(0.02)
    assert client.delete("/api/models/busy").status_code == 204
    removed_at = time.time()
    assert "busy" not in [m["name"] for m in client.get("/api/models").json()["models"]]
    while (view := client.get(f"/api/jobs/{job}").json())["status"] in ("queued", "running"):
        assert time.time() < deadline
        time.sleep(0.05)
    assert view["status"] == "done", view["error"]
    assert view["ended"] > removed_at  # it was running when the model went
    assert str(client.data_dir) not in str(view)
    assert set(stored_files(client)) == stored  # kept while the job named it ...
    ModelLibrary(client.data_dir)  # ... and swept by the next library opened on the data dir
    assert len(stored_files(client)) == len(stored) - 1


def test_uploads_off_by_default_are_403(tmp_path, tiny):
    _, path = tiny
    with TestClient(create_app(ServerConfig(data_dir=tmp_path / "data", models=["digits"]))) as off:
        response = upload(off, "tiny", path.read_bytes())
        assert response.status_code == 403 and "--allow-model-upload" in response.json()["detail"]
        assert off.delete("/api/models/tiny").status_code == 403
        assert off.get("/api/health").json()["model_uploads"] is False


def test_the_flag_is_refused_off_loopback_without_a_token(capsys):
    from convscope.cli.main import main

    assert main(["serve", "--host", "0.0.0.0", "--allow-model-upload"]) == 2
    assert "--allow-model-upload on --host 0.0.0.0" in capsys.readouterr().err


def test_a_fine_tuned_head_of_another_class_count_is_taken_with_its_labels(client, tiny, tmp_path):
    """The common "my own model" case: an ImageNet architecture fine-tuned to 3 classes (head weight [3, F] and bias
    [3]) with a 3-line labels file: listed with 3 classes, its predictions named by the labels."""
    subject, _ = tiny
    state = dict(subject.state_dict())
    state["fc.weight"] = torch.randn(3, state["fc.weight"].shape[1], generator=torch.Generator().manual_seed(0))
    state["fc.bias"] = torch.zeros(3)
    path = tmp_path / "tuned.safetensors"
    save_file(state, str(path))
    response = upload(client, "tuned", path.read_bytes(), labels=b"ant\nbee\ncricket\n")
    assert response.status_code == 201, response.text
    assert response.json()["classes"] == 3
    image_id, _ = png_upload(client, tmp_path, seed=2)
    result = predict(client, "tuned", image_id, top=3).json()["result"]["data"]
    assert sorted(p["label"] for p in result["predictions"]) == ["ant", "bee", "cricket"]
    assert client.delete("/api/models/tuned").status_code == 204
