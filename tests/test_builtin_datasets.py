"""Built-in datasets (issue 22, first part): `photos`, the photographs that ship with scikit-image, beside `digits`,
on every surface that takes a dataset (Python, CLI, HTTP), with one registry (`core.data.BUILTIN_DATASETS`)."""

import io
import json

import numpy as np
import torch
from fastapi.testclient import TestClient
from PIL import Image
from skimage import data as skdata

from convscope.cli.main import main
from convscope.core.data import BUILTIN_DATASETS, PHOTO_LOADERS, open_dataset
from convscope.core.inputs import InputSpec
from convscope.server import ServerConfig, create_app


def test_photos_are_the_scikit_image_photographs_at_the_models_input():
    dataset = open_dataset("photos", InputSpec(size=(64, 64), channels=3))
    assert len(dataset) == len(PHOTO_LOADERS) == 12 and dataset.classes is None
    assert dataset.ids[1] == "photos:chelsea"
    x = dataset.load(1)
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32
    expected = np.asarray(Image.fromarray(skdata.chelsea()).resize((64, 64), Image.BILINEAR), dtype=np.float32) / 255
    assert np.abs(x.permute(1, 2, 0).numpy() - expected).mean() < 0.02  # the cat, squashed to the input size
    gray = open_dataset("photos", InputSpec(size=(32, 32), channels=1, mean=(0.5,), std=(0.5,)))
    assert gray.load(0).shape == (1, 32, 32)
    seen = [i for _, indices in dataset.batches(5) for i in indices]
    assert seen == list(range(12)) and not dataset.skipped


def test_examples_of_the_default_model_on_photos_from_the_cli(capsys, tmp_path):
    """The ImageNet model's data views scan photographs, not digits: the ranking by channel mean equals a direct one."""
    code = main(
        ["examples", "--dataset", "photos", "--layer", "blocks.5", "--channels", "3", "--top", "3", "--json"]
        + ["--out", str(tmp_path), "--no-cache"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    unit = json.loads(out)["units"][0]
    paths = [e["path"] for e in unit["examples"]]
    assert all(p.startswith("photos:") for p in paths) and len(paths) == 3
    from convscope.core.zoo import load

    subject = load("default")
    dataset = open_dataset("photos", subject.input)
    with torch.no_grad():
        scores = torch.cat(
            [subject.capture(images, ["blocks.5"])["blocks.5"][:, 3].mean((1, 2)) for images, _ in dataset.batches(6)]
        )
    best = [dataset.ids[i] for i in torch.argsort(scores, descending=True)[:3].tolist()]
    assert paths == best


def test_the_server_lists_and_serves_the_builtin_datasets(tmp_path):
    with TestClient(create_app(ServerConfig(data_dir=tmp_path / "data", models=["digits"]))) as client:
        listed = client.get("/api/datasets").json()["datasets"]
        assert [d["name"] for d in listed[:2]] == list(BUILTIN_DATASETS) == ["digits", "photos"]
        assert "12 photographs" in listed[1]["description"] and listed[1]["kind"] == "builtin"
        response = client.get("/api/datasets/photos/image", params={"id": "photos:coffee"})
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
        assert max(Image.open(io.BytesIO(response.content)).size) == 256
        assert client.get("/api/datasets/photos/image", params={"id": "photos:nope"}).status_code == 404
        assert client.get("/api/datasets/photos/image", params={"id": "/etc/passwd"}).status_code == 404
        spec = {"model": {"spec": "digits"}, "dataset": "photos", "layer": "features.3", "channels": [0], "top": 2}
        response = client.post("/api/runs", json={"recipe": "examples", "spec": spec})
        assert response.status_code in (200, 202), response.text
        spec["dataset"] = "nope"
        response = client.post("/api/runs", json={"recipe": "examples", "spec": spec})
        assert response.status_code == 422 and "datasets: digits, photos" in response.text


def test_a_served_folder_may_not_take_a_builtin_name(tmp_path, capsys):
    import pytest

    from convscope.core.errors import ConvscopeError

    with pytest.raises(ConvscopeError, match="dataset name `photos` is a built-in dataset"):
        ServerConfig(data_dir=tmp_path, datasets={"photos": str(tmp_path)})
    code = main(["serve", "--dataset", f"photos={tmp_path}", "--data-dir", str(tmp_path / "d")])
    assert code == 2 and "not digits or photos (built in)" in capsys.readouterr().err


def test_a_folder_named_like_a_builtin_is_reached_as_a_path(tmp_path, monkeypatch):
    import pytest

    from convscope.core.errors import ConvscopeWarning

    monkeypatch.chdir(tmp_path)
    (tmp_path / "photos").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "photos" / "a.png")
    with pytest.warns(ConvscopeWarning, match="for the folder of that name write ./photos"):
        assert len(open_dataset("photos", InputSpec(size=(16, 16)))) == 12
    assert open_dataset("./photos", InputSpec(size=(16, 16))).ids == ["a.png"]
