"""Generators: the trained digits decoder (quality, cache key), the fc6 / DeePSiM architecture with user weights."""

import pytest
import torch
from safetensors.torch import save_file

import convscope.techniques.generators as generators
from convscope.core.errors import WeightsError
from convscope.techniques.generators import FC6_LAYERS, load_fc6, make_generator, trained_generator
from convscope.techniques.inverse_set import Constraint, Encoder, Problem, find_seeds
from test_inverse_set import TEST_TRAINING, digits_decoder  # noqa: F401 - the session's decoder fixture


def test_trained_decoder_inverts_the_encoder(digits_subject, digits_decoder):  # noqa: F811
    """G(E(x)) ~ x on held-out digits, and the network still recognizes the reconstructions."""
    from convscope.core.digits import load_data

    data = load_data()
    images, labels = data.images[data.test[:200]], data.labels[data.test[:200]]
    encoder = Encoder(digits_subject)
    with torch.no_grad():
        rebuilt = digits_decoder(encoder(images))
        blank = torch.nn.functional.mse_loss(images.mean(0, keepdim=True).expand_as(images), images)
        error = torch.nn.functional.mse_loss(rebuilt, images)
        accuracy = (digits_subject(rebuilt).argmax(1) == labels).float().mean().item()
    assert error < 0.6 * blank, (error, blank)  # far better than the mean image
    assert accuracy >= 0.9, accuracy


def test_trained_decoder_is_cached_by_everything_that_changes_it(digits_subject, digits_decoder, monkeypatch):  # noqa: F811
    encoder = Encoder(digits_subject)
    calls = []
    original = generators.train_decoder
    monkeypatch.setattr(generators, "train_decoder", lambda *a, **k: calls.append(k) or original(*a, **k))
    again = trained_generator(digits_subject, encoder, "digits", **TEST_TRAINING)
    assert not calls  # same key: loaded from the cache
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), digits_decoder.state_dict().values()))
    with pytest.raises(RuntimeError, match="would train"):
        monkeypatch.setattr(
            generators, "train_decoder", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("would train"))
        )
        trained_generator(digits_subject, Encoder(digits_subject, "pool"), "digits", **TEST_TRAINING)  # other E


def small_fc6_state(code=32, hidden=48, seed=0):
    """Random weights for a narrow fc6 generator (the real one is 4096 wide; the file gives the widths)."""
    g = torch.Generator().manual_seed(seed)
    widths = {
        "defc7": (code, hidden),
        "defc6": (hidden, hidden),
        "defc5": (hidden, 8 * 16),
        "deconv5": (8, 8),
        "conv5_1": (8, 16),
        "deconv4": (16, 8),
        "conv4_1": (8, 8),
        "deconv3": (8, 8),
        "conv3_1": (8, 8),
        "deconv2": (8, 8),
        "deconv1": (8, 4),
        "deconv0": (4, 3),
    }
    state = {}
    for name, kind in FC6_LAYERS:
        n_in, n_out = widths[name]
        shape = {"fc": (n_out, n_in), "conv": (n_out, n_in, 3, 3), "deconv": (n_in, n_out, 4, 4)}[kind]
        state[f"{name}.weight"] = torch.randn(shape, generator=g) * (20.0 if name == "deconv0" else 0.2)
        state[f"{name}.bias"] = torch.randn(n_out, generator=g) * (0.0 if name == "deconv0" else 0.1)
    return state


def test_fc6_generator_loads_user_weights(tmp_path, digits_subject):
    state = small_fc6_state()
    path = tmp_path / "fc6.safetensors"
    save_file(state, str(path))
    generator = make_generator(f"file:{path}", digits_subject, Encoder(digits_subject))
    loaded = generator.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())
    codes = generator.initial_codes(3, None, torch.Generator().manual_seed(0))
    assert codes.shape == (3, 32) and (codes >= 0).all()
    images = generator(codes)
    assert images.shape == (3, 1, 32, 32) and 0 <= images.min() and images.max() <= 1
    assert images.std() > 0  # codes make different images
    # the generator's own 256x256 output, before the crop and resize, is BGR around the Caffe mean
    rgb = load_fc6(path, 3, (227, 227))(codes)
    assert rgb.shape == (3, 3, 227, 227)
    torch.save(state, tmp_path / "fc6.pt")  # torch files load too
    assert torch.equal(load_fc6(tmp_path / "fc6.pt", 3, (227, 227))(codes), rgb)


def test_fc6_generator_samples_an_inverse_set(digits_subject, tmp_path):
    """The same ALM runs through the fc6 generator: seeds reach a range above where they all start."""
    path = tmp_path / "fc6.safetensors"
    save_file(small_fc6_state(), str(path))
    encoder = Encoder(digits_subject)
    generator = load_fc6(path, 1, (32, 32))
    initial = generator.initial_codes(3, encoder, torch.Generator().manual_seed(0))
    with torch.no_grad():
        start = digits_subject(generator(initial))[:, 0].max().item()
    problem = Problem(digits_subject, generator, encoder, [Constraint("logits", 0, start + 0.1, start + 0.4)])
    seeds = find_seeds(problem, initial, "no-diversity", inner_steps=40, max_outer=3, lr=0.1)
    assert problem.feasible(seeds.values).all() and (seeds.codes >= 0).all()  # codes stay post-ReLU


def test_fc6_bad_weights_are_clear_errors(tmp_path):
    with pytest.raises(WeightsError, match="not found"):
        load_fc6(tmp_path / "missing.safetensors", 3, (64, 64))
    state = small_fc6_state()
    del state["conv4_1.weight"]
    save_file(state, str(tmp_path / "partial.safetensors"))
    with pytest.raises(WeightsError, match="lack conv4_1.weight"):
        load_fc6(tmp_path / "partial.safetensors", 3, (64, 64))
    state = small_fc6_state()
    state["conv4_1.bias"] = torch.zeros(5)
    save_file(state, str(tmp_path / "odd.safetensors"))
    with pytest.raises(WeightsError, match="do not fit"):
        load_fc6(tmp_path / "odd.safetensors", 3, (64, 64))
    (tmp_path / "junk.pt").write_bytes(b"not a tensor file")
    with pytest.raises(WeightsError, match="cannot read"):
        load_fc6(tmp_path / "junk.pt", 3, (64, 64))


def test_decoder_trains_on_a_folder_dataset(digits_subject, tmp_path):
    """trained:FOLDER reads the folder through convscope.core.data; changing a file changes the cache key."""
    from PIL import Image

    from convscope.core.digits import load_data

    folder = tmp_path / "images"
    folder.mkdir()
    images = load_data().images[:48]
    for i, image in enumerate(images):
        Image.fromarray((image[0].numpy() * 255).astype("uint8")).save(folder / f"{i:02d}.png")
    encoder = Encoder(digits_subject)
    first = trained_generator(digits_subject, encoder, str(folder), epochs=2)
    assert first.dataset == str(folder) and first(first.initial_codes(2, encoder, torch.Generator())).shape == (
        2,
        1,
        32,
        32,
    )
    Image.fromarray((images[0, 0].numpy() * 128).astype("uint8")).save(folder / "00.png")  # edit one image
    calls = []
    original = generators.train_decoder
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(generators, "train_decoder", lambda *a, **k: calls.append(1) or original(*a, **k))
        trained_generator(digits_subject, encoder, str(folder), epochs=2)
    assert calls  # retrained, not served stale from the cache
