"""Issue 16 (local backend): the atlas as shards in the result store, merged; resumable; shard sizes do not change
the result; the scan's merge equals a whole-dataset top-k and its class means a direct computation."""

import json
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import convscope
from convscope.cli.main import main
from convscope.core.data import open_dataset
from convscope.core.errors import Cancelled
from convscope.execution.store import ResultStore
from convscope.recipes import RunContext
from convscope.recipes.atlas import AtlasSpec, parse_channels
from convscope.techniques.examples import top_examples, unit_scores

DIGITS = {"spec": "digits"}


def atlas(store, **fields):
    spec = AtlasSpec(model=DIGITS, **{"steps": 8, "top": 4, **fields})
    return store.run(spec, lambda out: RunContext(out))


def pixels(path):
    return np.asarray(Image.open(path), dtype=np.float64) / 255


def test_atlas_of_digits_matches_the_direct_computations(tmp_path):
    store = ResultStore(tmp_path / "store")
    result, hit = atlas(
        store, layers="features.3,logits", channels="0-2,9", dataset="digits", units_per_shard=2, images_per_shard=700
    )
    data = result.data
    assert not hit and data["model"] == "digits" and data["images"] == 1797
    assert [(u["layer"], u["index"]) for u in data["units"]] == [
        *[("features.3", c) for c in (0, 1, 2, 9)],
        *[("logits", c) for c in (0, 1, 2, 9)],
    ]
    # shards: 2 visualization shards per layer (units_per_shard 2) + 3 scan shards (700 images each)
    assert data["shards"] == {"total": 7, "from_store": 0}
    subject = convscope.load("digits")
    dataset = open_dataset("digits", subject.input)
    units = [(u["layer"], u["index"]) for u in data["units"]]
    whole = top_examples(subject, dataset, units, k=4)
    for unit, expected in zip(data["units"], whole.examples):
        assert [e["path"] for e in unit["examples"]] == [e.id for e in expected]
        assert [e["score"] for e in unit["examples"]] == pytest.approx([e.score for e in expected], rel=1e-5)
        assert np.asarray(Image.open(unit["sheet"])).size > 0
        picture = pixels(unit["image"])
        assert picture.shape[:2] == (32, 32) and picture.std() > 0.01  # a picture, not a blank
    # class means: each unit's mean activation over the images of each digit
    scores = torch.cat([unit_scores(subject, images, units) for images, _ in dataset.batches(256)])
    targets = torch.tensor(dataset.targets)
    for u, unit in enumerate(data["units"]):
        direct = [float(scores[targets == k, u].mean()) for k in range(10)]
        assert unit["class_means"] == pytest.approx(direct, rel=1e-4, abs=1e-5)
    # the digits' logits like their own digit best
    logit_rows = [u for u in data["units"] if u["layer"] == "logits"]
    assert all(int(np.argmax(u["class_means"])) == u["index"] for u in logit_rows)
    saved = json.loads(Path(result.folder, "atlas.json").read_text())
    assert saved["units"][0]["image"] == "units/features.3/0.png"  # relative: the folder can move


def test_shard_sizes_do_not_change_the_atlas_and_a_rerun_is_answered_by_the_store(tmp_path):
    store = ResultStore(tmp_path / "store")
    fields = {"layers": "features.0", "channels": "0-3", "dataset": "digits"}
    small, _ = atlas(store, **fields, units_per_shard=1, images_per_shard=400)
    large, _ = atlas(store, **fields, units_per_shard=4, images_per_shard=2000)
    assert small.data["shards"]["total"] == 4 + 5 and large.data["shards"]["total"] == 1 + 1
    for a, b in zip(small.data["units"], large.data["units"]):
        assert a["examples"] == b["examples"] and a["class_means"] == pytest.approx(b["class_means"], rel=1e-9)
        assert np.abs(pixels(a["image"]) - pixels(b["image"])).mean() <= 1 / 255
    # the same atlas again: one hit for the atlas itself; with another spec around the same shards, all hits
    _, hit = atlas(store, **fields, units_per_shard=1, images_per_shard=400)
    assert hit
    again, hit = atlas(store, **fields, units_per_shard=1, images_per_shard=400, batch_size=31)
    assert not hit and again.data["shards"]["total"] == 9
    # batch_size only changes the scan shards' specs: the 4 visualization shards come from the store
    assert again.data["shards"]["from_store"] == 4


def test_an_interrupted_atlas_resumes_without_recomputing_finished_shards(tmp_path):
    store = ResultStore(tmp_path / "store")
    cancel = threading.Event()
    finished = []

    def listen(stage, done, total):
        if stage == "shards" and done:
            finished.append(done)
            if done == 3:
                cancel.set()  # interrupted after the third shard

    spec = AtlasSpec(model=DIGITS, layers="features.3", channels="0-5", steps=8, units_per_shard=1)
    with pytest.raises(Cancelled):
        store.run(spec, lambda out: RunContext(out, on_progress=listen, cancel=cancel))
    assert finished == [1, 2, 3]
    events = []
    result, hit = store.run(spec, lambda out: RunContext(out, on_progress=lambda *e: events.append(e)))
    assert not hit and result.data["shards"] == {"total": 6, "from_store": 3}
    units = [done for stage, done, total in events if stage == "units" and total == 6]
    assert units == [0, 1, 2, 3, 4, 5, 6]  # units done / total, as the shards finish (stored ones too)
    assert len(result.data["units"]) == 6


def test_channel_ranges_and_bad_requests(capsys, tmp_path):
    assert parse_channels("all") is None
    assert parse_channels("0-3, 7,2") == [0, 1, 2, 3, 7]
    for bad in ("3-1", "a", "1-", "-2"):
        with pytest.raises(ValueError):
            parse_channels(bad)
    out = ["--out", str(tmp_path / "out"), "--data-dir", str(tmp_path / "store")]
    assert main(["atlas", "--model", "digits", "--layers", "features.99", *out]) == 2
    assert "features.99" in capsys.readouterr().err
    assert main(["atlas", "--model", "digits", "--layers", "features.0", "--channels", "40-50", *out]) == 2
    err = capsys.readouterr().err
    assert "channels" in err and "16 channels" in err
    assert main(["atlas", "--model", "digits", "--channels", "5-2", *out]) == 2
    assert "backwards" in capsys.readouterr().err
    assert main(["atlas", "--model", "digits", "--regularizer", "tv:much", *out]) == 2
    assert "regularizers[0]" in capsys.readouterr().err


def test_atlas_pictures_follow_the_parameterization_and_regularizers(capsys, tmp_path):
    """The atlas's `param` and `regularizers` reach its visualizations: the picture of a unit is the one `visualize`
    makes with the same settings (same seed, steps, per-item stream), and another parameterization changes it."""
    import numpy as np
    from PIL import Image

    def atlas_picture(*extra):
        folder = tmp_path / "-".join(extra or ("plain",)).replace(":", "")
        argv = ["atlas", "--model", "digits", "--layers", "features.3", "--channels", "2", "--steps", "6"]
        assert main([*argv, *extra, "--out", str(folder), "--data-dir", str(tmp_path / "store")]) == 0
        capsys.readouterr()
        unit = json.loads((folder / "atlas.json").read_text())["units"][0]
        return np.asarray(Image.open(folder / unit["image"]), dtype=float)

    def visualize_picture(*extra):
        folder = tmp_path / ("v" + "-".join(extra).replace(":", ""))
        argv = ["visualize", "--model", "digits", "--layer", "features.3", "--channels", "2", "--steps", "6"]
        assert main([*argv, *extra, "--no-trust", "--json", "--out", str(folder), "--no-cache"]) == 0
        path = json.loads(capsys.readouterr().out)["images"][0]["path"]
        return np.asarray(Image.open(path), dtype=float)

    chosen = ("--param", "pixel", "--regularizer", "tv:0.5")
    assert np.abs(atlas_picture(*chosen) - visualize_picture(*chosen)).max() <= 2  # 8-bit, float rounding
    assert np.abs(atlas_picture(*chosen) - atlas_picture()).mean() > 5


def test_atlas_cli_layers_all_writes_atlas_json(capsys, tmp_path):
    """`--layers all`: every Conv2d layer in execution order; the files land in --out."""
    code = main(
        [
            "atlas", "--model", "digits", "--channels", "0", "--steps", "4", "--json",
            "--out", str(tmp_path / "out"), "--data-dir", str(tmp_path / "store"),
        ]
    )  # fmt: skip
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert [layer["name"] for layer in result["layers"]] == ["features.0", "features.3", "features.6"]
    saved = json.loads((tmp_path / "out" / "atlas.json").read_text())
    assert [u["layer"] for u in saved["units"]] == ["features.0", "features.3", "features.6"]
    assert all((tmp_path / "out" / u["image"]).is_file() for u in saved["units"])
    assert saved["images"] == 0 and all(u["examples"] == [] for u in saved["units"])


@pytest.fixture(scope="module")
def ray_shards(tmp_path_factory):
    """A local Ray with 2 workers (each 1 thread), shut down after the module's tests."""
    from convscope.execution.distributed import RayShards

    store = tmp_path_factory.mktemp("ray") / "store"
    with RayShards("local", workers=2, data_dir=store, object_store_mb=128) as shards:
        yield shards, store


def test_ray_with_two_workers_gives_the_local_atlas_and_survives_a_killed_worker(tmp_path, ray_shards):
    import ray

    shards, store_dir = ray_shards
    fields = {"layers": "features.3", "channels": "0-3", "dataset": "digits", "units_per_shard": 1}
    fields.update(images_per_shard=600, steps=8, top=4)
    local, _ = atlas(ResultStore(tmp_path / "local"), **fields)
    store = ResultStore(store_dir)
    spec = AtlasSpec(model=DIGITS, **fields)
    remote, hit = store.run(spec, lambda out: RunContext(out, shards=shards))
    assert not hit and remote.data["shards"] == {"total": 4 + 3, "from_store": 0}
    pids = {ray.get(actor.pid.remote()) for actor in shards.actors}
    assert len(pids) == 2  # two worker processes did the work
    for a, b in zip(local.data["units"], remote.data["units"]):
        assert (a["layer"], a["index"]) == (b["layer"], b["index"])
        assert a["examples"] == b["examples"]
        assert a["class_means"] == pytest.approx(b["class_means"], rel=1e-9)
        assert np.abs(pixels(a["image"]) - pixels(b["image"])).mean() <= 1 / 255
    # a worker killed: the next atlas over new shards replaces it and still completes every shard
    ray.kill(shards.actors[0])
    more = AtlasSpec(model=DIGITS, **{**fields, "steps": 6})  # new visualization shards, the same scan shards
    result, _ = store.run(more, lambda out: RunContext(out, shards=shards))
    assert result.data["shards"] == {"total": 7, "from_store": 3}  # the scan shards were stored already
    assert len(result.data["units"]) == 4 and len(shards.actors) == 2
    # cancelled while shards run on the workers: Cancelled at once, the busy workers replaced, nothing partial
    cancel = threading.Event()

    def listen(stage, done, total):
        if stage == "shards" and done == 1:
            cancel.set()

    slow = AtlasSpec(model=DIGITS, layers="features.3", channels="8-11", steps=150, units_per_shard=1)
    with pytest.raises(Cancelled):
        store.run(slow, lambda out: RunContext(out, shards=shards, cancel=cancel, on_progress=listen))
    assert len(shards.actors) == 2
    # and a rerun of the first atlas over Ray: every shard from the store
    again, _ = store.run(spec, lambda out: RunContext(out, shards=shards), refresh=True)
    assert again.data["shards"] == {"total": 7, "from_store": 7}


def test_ray_backend_errors_are_one_line(capsys, tmp_path):
    out = ["--out", str(tmp_path / "out"), "--data-dir", str(tmp_path / "store")]
    assert main(["atlas", "--model", "digits", "--workers", "2", *out]) == 2
    assert "only with --backend ray" in capsys.readouterr().err
    code = main(["atlas", "--model", "digits", "--backend", "ray", "--address", "127.0.0.1:1", *out])
    err = capsys.readouterr().err
    assert code == 2 and "no Ray cluster answers at 127.0.0.1:1" in err and len(err.strip().splitlines()) == 1


def test_export_folders_skipped_files_and_a_stored_atlas(capsys, tmp_path):
    """Found by a new user's trial: a bad export folder is refused before any work (one line, exit 2); unreadable
    dataset files are reported; a rerun of a stored atlas says so (and starts no backend); the exported
    atlas.json names dataset images relative to their folder; a re-export replaces the previous one."""
    photos = tmp_path / "photos"
    photos.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(photos / f"p{i}.png")
    (photos / "broken.png").write_bytes(b"not an image")
    common = ["atlas", "--model", "digits", "--layers", "features.0", "--channels", "0-1", "--steps", "2"]
    common += ["--top", "2", "--data-dir", str(tmp_path / "store")]
    out = tmp_path / "out"
    (tmp_path / "a-file").write_text("x")
    for export, message in (
        (tmp_path / "a-file", "is a file"),
        (out, "the atlas's own folder"),
        (photos, "holds other files"),
    ):
        code = main([*common, "--dataset", str(photos), "--out", str(out), "--export", str(export)])
        err = capsys.readouterr().err
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "store" / "index.sqlite").exists() or len(ResultStore(tmp_path / "store")) == 0
    site = tmp_path / "site"
    argv = [*common, "--dataset", str(photos), "--out", str(out), "--export", str(site)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "3 dataset images, 1 skipped" in printed and "broken.png" in printed
    saved = json.loads((site / "atlas.json").read_text())
    assert saved["skipped"][0]["path"] == "broken.png" and saved["dataset"] == "photos"
    assert {e["path"] for u in saved["units"] for e in u["examples"]} <= {"p0.png", "p1.png", "p2.png"}
    assert not any(p.name.startswith("elk") for p in (site / "assets").iterdir())  # no graph layout engine
    (site / "units" / "stale.png").write_bytes(b"old")
    assert main(argv) == 0  # again: the whole atlas from the store; the site written afresh
    assert "the whole atlas from the store" in capsys.readouterr().out
    assert not (site / "units" / "stale.png").exists()
    assert "CONVSCOPE_STATIC" in (site / "index.html").read_text()


def test_the_python_api_leaves_only_the_atlas(tmp_path):
    result = convscope.run(AtlasSpec(model=DIGITS, layers="features.0", channels="0", steps=2), out=tmp_path)
    assert not (tmp_path / "shards").exists()  # the in-process shards' folders are gone once copied from
    assert sorted(p.name for p in tmp_path.iterdir()) == ["atlas.json", "units"]
    assert result.data["shards"] == {"total": 1, "from_store": 0}
