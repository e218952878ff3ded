"""Trust numbers (issue 24, build 2): natural-image statistics equal a direct computation and behave as the
literature says on synthetic images; the path layers follow the model; the "Don't trust your eyes" path check equals
scipy's Spearman correlations and tells a natural digit from a pixel-space optimized one; other models' judgement
equals their softmax on the resized images."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr
from torch import nn

import convscope
from convscope.core import digits
from convscope.core.errors import ConvscopeError, UnknownLayerError
from convscope.techniques.trust import (
    OFF_PATH,
    ON_PATH,
    image_statistics,
    judge,
    path_check,
    path_layers,
    reference_statistics,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def power_law_noise(alpha: float, size: int = 96, channels: int = 1, seed: int = 0) -> torch.Tensor:
    """[C, size, size] in [0, 1] with amplitude spectrum 1 / f^alpha (power 1 / f^(2 alpha)), random phases."""
    rng = np.random.default_rng(seed)
    fy, fx = np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij")
    radius = np.hypot(fy, fx)
    radius[0, 0] = 1.0
    planes = []
    for _ in range(channels):
        spectrum = (rng.normal(size=(size, size)) + 1j * rng.normal(size=(size, size))) / radius**alpha
        spectrum[0, 0] = 0
        plane = np.real(np.fft.ifft2(spectrum))
        planes.append((plane - plane.min()) / (plane.max() - plane.min()))
    return torch.tensor(np.stack(planes), dtype=torch.float32)


def direct_statistics(image: torch.Tensor) -> dict:
    """The module docstring's definitions written out plainly: one mask per ring, loops instead of bincount."""
    x = image.double().numpy()
    grey = 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2] if len(x) == 3 else x[0]
    h, w = grey.shape
    windowed = (grey - grey.mean()) * np.hanning(h)[:, None] * np.hanning(w)[None, :]
    power = np.abs(np.fft.fft2(windowed)) ** 2
    f = np.sqrt(np.fft.fftfreq(h)[:, None] ** 2 + np.fft.fftfreq(w)[None, :] ** 2)
    side = min(h, w)
    xs, ys = [], []
    for k in range(2, side // 2 + 1):
        ring = np.rint(f * side) == k
        xs.append(math.log10(k / side))
        ys.append(math.log10(power[ring].mean()))
    slope = np.polyfit(xs, ys, 1)[0]
    share = power[f > 0.25].sum() / power[f > 0].sum()
    if len(x) == 3:
        rg, yb = x[0] - x[1], (x[0] + x[1]) / 2 - x[2]
        colourfulness = math.sqrt(rg.var() + yb.var()) + 0.3 * math.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    else:
        colourfulness = 0.0
    return {"spectral_slope": slope, "high_frequency_share": share, "colourfulness": colourfulness}


# --- image statistics -------------------------------------------------------------------------------------------------
def test_statistics_equal_a_direct_computation():
    images = [power_law_noise(1.0, 64, 3), power_law_noise(0.6, 64, 3, seed=1), power_law_noise(1.2, 64, 1, seed=2)]
    rectangular = power_law_noise(1.0, 80, 3, seed=3)[:, :48]  # 48 x 80: rings counted on the shorter side
    for image in [*images, rectangular]:
        (got,) = image_statistics([image])
        want = direct_statistics(image)
        assert set(got) == set(want)
        for key in want:
            assert got[key] == pytest.approx(want[key], rel=1e-9, abs=1e-12), key
    batch = image_statistics(torch.stack(images[:2]))  # a batch gives the same as one by one
    assert batch == [image_statistics([images[0]])[0], image_statistics([images[1]])[0]]


@pytest.mark.parametrize("alpha", [0.5, 1.0, 1.5])
def test_power_law_noise_has_slope_minus_two_alpha(alpha):
    (stats,) = image_statistics(power_law_noise(alpha, 128)[None])
    assert stats["spectral_slope"] == pytest.approx(-2 * alpha, abs=0.15)


def test_synthetic_extremes():
    chessboard = torch.tensor(np.indices((64, 64)).sum(axis=0) % 2, dtype=torch.float32)[None]
    grey = torch.full((3, 32, 32), 0.4)
    half = torch.zeros(3, 32, 32)
    half[0, :16], half[2, 16:] = 1.0, 1.0  # top red (1, 0, 0), bottom blue (0, 0, 1)
    patch = torch.tensor([0.8, 0.2, 0.1])[:, None, None].expand(3, 32, 32)
    board, flat, split, plain = image_statistics([chessboard, grey, half, patch])
    assert board["high_frequency_share"] > 0.99  # all its power at the Nyquist corner
    assert flat == {"spectral_slope": None, "high_frequency_share": None, "colourfulness": 0.0}
    # red: rg = 1, yb = 0.5; blue: rg = 0, yb = -1 -> std (0.5, 0.75), mean (0.5, -0.25)
    assert split["colourfulness"] == pytest.approx(math.hypot(0.5, 0.75) + 0.3 * math.hypot(0.5, -0.25), rel=1e-12)
    assert plain["colourfulness"] == pytest.approx(0.3 * math.hypot(0.6, 0.4), rel=1e-6)  # one colour: mean only
    smooth, rough = image_statistics([power_law_noise(1.5, 64), power_law_noise(0.0, 64)])
    assert smooth["high_frequency_share"] < 0.1 < 0.6 < rough["high_frequency_share"]


def test_reference_is_the_median_and_skips_undefined_values():
    images = [power_law_noise(a, 48, 3, seed=i) for i, a in enumerate((0.6, 1.0, 1.4))] + [torch.full((3, 40, 40), 0.5)]
    rows = image_statistics(images)
    reference = reference_statistics(images)
    assert reference["colourfulness"] == pytest.approx(np.median([r["colourfulness"] for r in rows]))
    assert reference["spectral_slope"] == pytest.approx(np.median([r["spectral_slope"] for r in rows[:3]]))
    assert reference["high_frequency_share"] == pytest.approx(rows[1]["high_frequency_share"])
    assert reference_statistics([torch.zeros(1, 16, 16)]) == {
        "spectral_slope": None,
        "high_frequency_share": None,
        "colourfulness": 0.0,
    }


@pytest.mark.parametrize(
    "images, message",
    [
        (torch.rand(3, 32, 32), r"images must be shaped \[N, C, H, W\]"),
        (torch.rand(1, 2, 32, 32), r"images\[0\] must be a \[C, H, W\] tensor with 1 or 3 channels"),
        (torch.rand(1, 3, 6, 32), r"images\[0\] is 6x32: at least 8x8"),
        (torch.rand(2, 3, 16, 16) * 2, r"images\[0\] must hold finite values in \[0, 1\]"),
        ([], "images is empty"),
    ],
)
def test_statistics_refuse_bad_images(images, message):
    with pytest.raises(ConvscopeError, match=message):
        image_statistics(images)


# --- the path ---------------------------------------------------------------------------------------------------------
def test_path_layers_follow_the_model(digits_subject):
    features = [f"features.{i}" for i in range(8)]
    assert path_layers(digits_subject, "logits") == features[2:]  # the last 6 blocks before the head
    assert path_layers(digits_subject, "logits", 3) == features[5:]
    assert path_layers(digits_subject, "features.6") == features[:6]  # all that runs before it
    assert path_layers(digits_subject, "features.6", 3) == ["features.0", "features.2", "features.5"]  # even spread
    assert path_layers(digits_subject, "classifier.1", 4) == ["features.0", "features.2", "features.5", "features.7"]
    assert path_layers(digits_subject, "features.0") == []
    with pytest.raises(ConvscopeError, match="count must be at least 1, got 0"):
        path_layers(digits_subject, "logits", 0)
    with pytest.raises(UnknownLayerError, match="unknown layer `features.99`"):
        path_layers(digits_subject, "features.99")


def test_path_layers_open_nested_blocks():
    class Block(nn.Module):
        def __init__(self, c_in, c_out):
            super().__init__()
            self.conv, self.act = nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU()

        def forward(self, x):
            return self.act(self.conv(x))

    torch.manual_seed(0)
    model = nn.Sequential()
    model.add_module("stem", nn.Conv2d(3, 4, 3, padding=1))
    model.add_module("stages", nn.Sequential(Block(4, 8), Block(8, 8), nn.Sequential(Block(8, 8), Block(8, 8))))
    model.add_module("head", nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3)))
    subject = convscope.wrap(model, size=16)
    # `stages` (the most parameters) is opened; the 1x1 pool map is left out while wider maps exist
    assert path_layers(subject, "logits", 4) == ["stem", "stages.0", "stages.1", "stages.2"]
    # a unit inside a nested block: its ancestors are opened, it and what runs after it left out
    assert path_layers(subject, "stages.2.1.conv", 4) == ["stem", "stages.0", "stages.1", "stages.2.0"]


@pytest.fixture(scope="module")
def threes():
    data = digits.load_data()
    index = [int(i) for i in data.test if data.labels[i] == 3]
    return data.images[index[:8]], data.images[index[8:10]]


def optimized_from_noise(subject, unit: int, steps: int = 60) -> torch.Tensor:
    """A logit maximized by Adam on raw pixels from uniform noise: no transforms, no regularizer."""
    pixels = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    optimizer = torch.optim.Adam([pixels], lr=0.05)
    for _ in range(steps):
        loss = -subject(pixels.clamp(0, 1))[0, unit]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return pixels.detach().clamp(0, 1)


def test_path_check_tells_a_natural_digit_from_an_optimized_one(digits_subject, threes):
    naturals, others = threes
    fooling = optimized_from_noise(digits_subject, 3)
    with torch.no_grad():
        assert digits_subject(fooling).softmax(dim=1)[0, 3] > 0.99  # the model is sure it is a three
    layers = path_layers(digits_subject, "logits")
    result = path_check(digits_subject, torch.cat([others, fooling]), naturals, layers)
    assert result["layers"] == layers and result["notes"] == []
    verdicts = [p["verdict"] for p in result["pictures"]]
    assert verdicts == [ON_PATH, ON_PATH, OFF_PATH]
    assert result["pictures"][2]["departs_at"] == layers[0]  # it departs at once: its low-level statistics differ
    assert result["pictures"][2]["overall"] < result["floor"]["overall"] - 0.1


def test_path_check_numbers_equal_scipy_spearman(digits_subject, threes):
    naturals, others = threes
    pictures = torch.cat([others[:1], torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(1))])
    layers = ["features.1", "features.5", "classifier.1"]
    result = path_check(digits_subject, pictures, naturals, layers)
    with torch.no_grad():
        seen = digits_subject.capture(pictures, layers)
        natural = digits_subject.capture(naturals, layers)

    def vector(act):
        return act.double().mean(dim=(2, 3)).numpy() if act.dim() == 4 else act.double().numpy()

    floors = []
    for j, layer in enumerate(layers):
        v_p, v_n = vector(seen[layer]), vector(natural[layer])
        rho = [[spearmanr(v_p[p], v_n[e]).statistic for e in range(8)] for p in range(2)]
        for p in range(2):
            assert result["pictures"][p]["similarity"][j] == pytest.approx(np.mean(rho[p]), abs=1e-12)
        among = [np.mean([spearmanr(v_n[e], v_n[o]).statistic for o in range(8) if o != e]) for e in range(8)]
        for e in range(8):
            assert result["naturals"][e]["similarity"][j] == pytest.approx(among[e], abs=1e-12)
        floors.append(min(among))
        assert result["floor"]["similarity"][j] == pytest.approx(min(among), abs=1e-12)
    for row in result["pictures"] + result["naturals"]:
        assert row["overall"] == pytest.approx(np.mean(row["similarity"]), abs=1e-12)
    assert result["floor"]["overall"] == pytest.approx(min(n["overall"] for n in result["naturals"]), abs=1e-12)
    for row in result["pictures"]:
        below = [layer for layer, s, f in zip(layers, row["similarity"], floors) if s < f]
        assert row["departs_at"] == (below[0] if below else None)
        assert row["verdict"] == (ON_PATH if row["overall"] >= result["floor"]["overall"] else OFF_PATH)


def test_path_check_constant_vectors_and_errors(digits_subject, threes):
    naturals, _ = threes
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    with torch.no_grad():
        model[0].weight.fill_(-1.0)
        model[0].bias.fill_(0.0)
    dead = convscope.wrap(model, size=32, channels=1, mean=(0.0,), std=(1.0,))
    result = path_check(dead, naturals[:1], naturals[:3], ["1"])  # ReLU of a negative conv: all zero
    assert result["pictures"][0]["similarity"] == [0.0] and result["naturals"][0]["similarity"] == [0.0]
    assert "picture 0 has a constant channel vector at `1`: its similarity there is 0" in result["notes"]
    assert all(not math.isnan(x) for x in [result["pictures"][0]["overall"], result["floor"]["overall"]])
    with pytest.raises(ConvscopeError, match="naturals holds 1 image"):
        path_check(digits_subject, naturals[:1], naturals[:1], ["features.1"])
    with pytest.raises(ConvscopeError, match="layers is empty"):
        path_check(digits_subject, naturals[:1], naturals, [])
    with pytest.raises(UnknownLayerError):
        path_check(digits_subject, naturals[:1], naturals, ["nope"])


# --- other models' judgement ------------------------------------------------------------------------------------------
def test_judge_equals_each_models_softmax_on_resized_images(digits_subject, threes):
    naturals, _ = threes
    torch.manual_seed(2)
    small = convscope.wrap(
        nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 10)),
        size=20,
        channels=1,
        mean=(0.3,),
        std=(0.3,),
        labels=[f"d{i}" for i in range(10)],
    )
    images = naturals[:3]
    verdicts = judge(images, [digits_subject, small], k=3)
    assert len(verdicts) == 2 and all(len(v) == 3 and all(len(top) == 3 for top in v) for v in verdicts)
    with torch.no_grad():
        direct = [
            digits_subject(images).softmax(dim=1),
            small(F.interpolate(images, size=(20, 20), mode="bilinear", align_corners=False, antialias=True)).softmax(
                dim=1
            ),
        ]
    for verdict, probabilities, subject in zip(verdicts, direct, [digits_subject, small]):
        for top, row in zip(verdict, probabilities):
            values, indices = row.topk(3)
            assert [t["class"] for t in top] == indices.tolist()
            assert [t["probability"] for t in top] == pytest.approx(values.tolist(), abs=1e-6)
            assert [t["label"] for t in top] == [subject.label(i) for i in indices.tolist()]
    assert all(top[0]["class"] == 3 for top in verdicts[0])  # the digits model knows its threes
    assert len(judge(images[:1], [digits_subject], k=50)[0][0]) == 10  # at most the number of classes
    with pytest.raises(ConvscopeError, match="k must be at least 1, got 0"):
        judge(images, [digits_subject], k=0)
    with pytest.raises(ConvscopeError, match="subjects: model .* takes 1-channel images, the images have 3"):
        judge(images.expand(-1, 3, -1, -1), [digits_subject])
    with pytest.raises(ConvscopeError, match=r"images must be \[N, C, H, W\] in \[0, 1\]"):
        judge(images * 3, [digits_subject])
