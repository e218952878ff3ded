"""Issue 25, build 1: faithfulness metrics beside the heatmap. Each metric equals its reference on the same model,
map, perturbation settings and seeds (Quantus 0.6.0; pytorch-grad-cam 1.5.7 for ROAD's scores; scipy / skimage
for Spearman and SSIM) or a hand computation; the randomisation check changes a gradient map and leaves an edge
detector unchanged; the recipe and the CLI run and refuse bad input in one line."""

import json

import numpy as np
import pytest
import quantus
import torch
from pytorch_grad_cam.metrics.perturbation_confidence import (
    PerturbationConfidenceMetric,
    RemoveLeastRelevantFirst,
    RemoveMostRelevantFirst,
)
from pytorch_grad_cam.metrics.road import NoisyLinearImputer
from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget
from scipy.stats import spearmanr
from skimage.metrics import structural_similarity

import convscope
from convscope.core.errors import ConvscopeError
from convscope.techniques.attribution import faithfulness as fa
from convscope.techniques.attribution import randomisation as rd

pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(channels: int = 3, seed: int = 0, classes: int = 5) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Sequential(
        torch.nn.Conv2d(channels, 6, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.Conv2d(6, 6, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(2),
        torch.nn.Flatten(),
        torch.nn.Linear(24, classes),
    ).eval()


def subject_of(net: torch.nn.Module, channels: int = 3, size: int = 16):
    """The net as a Subject whose normalization is the identity: Quantus and the references see the same input."""
    return convscope.wrap(net, size=size, channels=channels, mean=(0.0,), std=(1.0,))


@pytest.fixture(scope="module")
def setup():
    net = tiny()
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(1, 3, 16, 16, generator=generator)
    a = torch.randn(16, 16, generator=generator)
    return net, subject_of(net), x, a


# --- region perturbation ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "order, patch, baseline, score",
    [("morf", 4, 0.0, "logit"), ("lerf", 4, "mean", "probability"), ("morf", 5, "black", "logit")],
)
def test_region_perturbation_equals_quantus(setup, order, patch, baseline, score):
    net, subject, x, a = setup
    ours = fa.region_perturbation(subject, x, a, 2, patch=patch, steps=1000, baseline=baseline, score=score)
    value = {"black": 0.0, "mean": float(x.mean())}.get(baseline, baseline)  # Quantus's black is the image minimum
    metric = quantus.RegionPerturbation(
        patch_size=patch,
        regions_evaluation=ours.patches,
        order=order,
        perturb_baseline=value,
        normalise=False,
        disable_warnings=True,
    )
    theirs = metric(
        model=net, x_batch=x.numpy(), y_batch=np.array([2]), a_batch=a[None, None].numpy(), softmax=score != "logit"
    )
    curve = getattr(ours, order)
    assert ours.patches == (16 if patch == 4 else 16) and len(curve) == ours.patches + 1  # 16 / 5 -> 4 x 4, padded
    np.testing.assert_allclose(ours.original - np.array(curve[1:]), theirs[0], atol=2e-6)


def test_pixel_flipping_by_hand_on_a_linear_model():
    """f(x) = w . x + b: gradient x input is exact, so removing pixel i (to 0) lowers f by its relevance r_i; MoRF
    and LeRF are f(x) minus the cumulative sums of the sorted r, and AOPC their means (Samek et al. 2017 eq. 12)."""
    torch.manual_seed(3)
    linear = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 3 * 3, 2)).double().eval()
    subject = subject_of(linear, size=3)
    x = torch.rand(3, 3, 3, dtype=torch.float64)
    w = linear[1].weight[1].view(3, 3, 3)
    relevance = (w * x).sum(0)  # per pixel [3, 3]
    f0 = float(linear(x[None])[0, 1])
    ours = fa.region_perturbation(subject, x, relevance, 1, patch=1, steps=9, baseline="black")
    r = relevance.flatten().numpy()
    morf = f0 - np.concatenate([[0], np.cumsum(np.sort(r)[::-1])])
    lerf = f0 - np.concatenate([[0], np.cumsum(np.sort(r))])
    np.testing.assert_allclose(ours.morf, morf, atol=1e-12)
    np.testing.assert_allclose(ours.lerf, lerf, atol=1e-12)
    assert ours.aopc_morf == pytest.approx(np.mean(f0 - morf)) and ours.aopc_lerf == pytest.approx(np.mean(f0 - lerf))
    assert ours.abpc == pytest.approx((np.mean(f0 - morf) - np.mean(f0 - lerf)) / abs(f0))
    assert ours.abpc > 0  # the exact explanation of a linear model: MoRF falls faster than LeRF
    coarse = fa.region_perturbation(subject, x, relevance, 1, patch=1, steps=3, baseline="black")
    assert coarse.fractions == pytest.approx([0, 1 / 3, 2 / 3, 1]) and coarse.morf == pytest.approx(morf[[0, 3, 6, 9]])
    # completeness: the sum of gradient x input is f(x) - f(0) exactly
    done = fa.completeness(subject, x, w * x, 1, baseline="black")
    assert done.of_difference == pytest.approx(1.0) and done.of_output == pytest.approx(done.total / f0)
    assert done.baseline_output == pytest.approx(float(linear[1].bias[1]))


def test_completeness_agrees_with_quantus(setup):
    net, subject, x, _ = setup
    torch.manual_seed(0)
    linear = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 16 * 16, 4)).eval()
    lin_subject = subject_of(linear)
    attribution = (linear[1].weight[3].view(3, 16, 16) * x[0]).detach()
    ours = fa.completeness(lin_subject, x, attribution, 3, baseline="black")
    metric = quantus.Completeness(perturb_baseline="black", normalise=False, abs=False, disable_warnings=True)
    theirs = metric(model=linear, x_batch=x.numpy(), y_batch=np.array([3]), a_batch=attribution[None].numpy())
    assert float(x.min()) > 0  # Quantus's black is the minimum, ours 0: compare through its own baseline value
    close = np.isclose(ours.total, ours.output - float(linear(torch.full_like(x, float(x.min())))[0, 3]))
    assert theirs == [bool(close)] and ours.of_difference == pytest.approx(1.0, abs=1e-4)


# --- faithfulness correlation ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("seed, subset, map_channels", [(3, 40, 1), (11, 100, 3)])
def test_faithfulness_correlation_equals_quantus(setup, seed, subset, map_channels):
    net, subject, x, a = setup
    attribution = a[None] if map_channels == 1 else a[None] * torch.tensor([1.0, -0.5, 2.0])[:, None, None]
    ours = fa.faithfulness_correlation(subject, x, attribution, 2, subset=subset, runs=25, seed=seed, baseline=0.0)
    np.random.seed(seed)
    metric = quantus.FaithfulnessCorrelation(
        nr_runs=25,
        subset_size=subset,
        perturb_baseline=0.0,
        normalise=False,
        return_aggregate=False,
        disable_warnings=True,
    )
    theirs = metric(model=net, x_batch=x.numpy(), y_batch=np.array([2]), a_batch=attribution[None].numpy())
    assert ours.pearson == pytest.approx(theirs[0], abs=1e-5) and len(ours.drops) == 25


def test_scoring_folds_batchnorm_and_falls_back_when_the_fold_is_off(monkeypatch):
    torch.manual_seed(4)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 3),
    )
    with torch.no_grad():  # a BatchNorm that does something: its statistics are far from the identity
        net[1].running_mean.uniform_(-1, 1), net[1].running_var.uniform_(0.2, 3), net[1].weight.uniform_(0.5, 2)
    subject = subject_of(net.eval())
    images = torch.rand(12, 3, 16, 16, generator=torch.Generator().manual_seed(2))
    plain, classes = fa.target_scores(subject, images, 1, batch_size=5, fold_batchnorm=False)
    calls = []
    real = fa.folded_forward
    monkeypatch.setattr(fa, "folded_forward", lambda s, keep=(): calls.append(real(s, keep)) or calls[-1])
    folded, folded_classes = fa.target_scores(subject, images, 1, batch_size=5)
    assert calls and calls[0] is not None and calls[0].count == 1  # the BatchNorm was folded into the conv
    assert np.allclose(folded, plain, rtol=1e-5, atol=1e-6) and (folded_classes == classes).all()
    assert not np.array_equal(folded, plain)  # it really ran another computation (float32 rounding differs)
    # a fold that does not reproduce the logits is dropped: the scores are the unfolded ones exactly
    monkeypatch.setattr(fa, "FOLD_TOLERANCE", -1.0)
    fallback, _ = fa.target_scores(subject, images, 1, batch_size=5)
    assert np.array_equal(fallback, plain)
    # fewer than FOLD_FROM images are scored as they are
    calls.clear()
    fa.target_scores(subject, images[: fa.FOLD_FROM - 1], 1)
    assert calls == []


# --- ROAD ------------------------------------------------------------------------------------------------------------
def test_imputation_is_the_weighted_mean_of_the_neighbours():
    image = torch.rand(1, 2, 6, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    missing = torch.zeros(1, 6, 7, dtype=torch.bool)
    missing[0, 2, 3] = True
    filled = fa.impute(image, missing)
    w = torch.tensor([[1 / 12, 1 / 6, 1 / 12], [1 / 6, 0, 1 / 6], [1 / 12, 1 / 6, 1 / 12]], dtype=torch.float64)
    expected = (image[0, :, 1:4, 2:5] * w).sum((1, 2))  # the 8 weights sum to 1
    wide = torch.rand(3, 2, 20, 24, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    holes = (
        torch.rand(3, 20, 24, generator=torch.Generator().manual_seed(2)) < torch.tensor([0.1, 0.5, 0.9])[:, None, None]
    )
    assert torch.allclose(fa.impute(wide, holes, "cg"), fa.impute(wide, holes, "direct"), atol=1e-8)
    kept = ~missing[:, None].expand_as(image)
    assert torch.allclose(filled[0, :, 2, 3], expected) and torch.equal(filled[kept], image[kept])


def test_road_equals_pytorch_grad_cam(setup):
    net, subject, x, a = setup
    ours = fa.road(subject, x, a, 2, percentages=(25, 50, 75), noise=0.0)
    cam = a.numpy()[None].astype(np.float32)
    for i, p in enumerate((25, 50, 75)):  # grad-cam removes the pixels at or above the (100 - p)th percentile
        assert int((a >= torch.quantile(a, 1 - p / 100)).sum()) == int(256 * p / 100)
        for removal, curve in ((RemoveMostRelevantFirst, ours.morf), (RemoveLeastRelevantFirst, ours.lerf)):
            metric = PerturbationConfidenceMetric(removal(100 - p, NoisyLinearImputer(noise=0.0)))
            theirs = metric(x, cam, [ClassifierOutputTarget(2)], net)
            assert curve[i] - ours.original == pytest.approx(float(theirs[0]), abs=1e-5)
    noisy = fa.road(subject, x, a, 2, percentages=(25, 50, 75), noise=0.05, seed=4)
    again = fa.road(subject, x, a, 2, percentages=(25, 50, 75), noise=0.05, seed=4)
    assert noisy.morf == again.morf and noisy.morf != ours.morf  # seeded noise
    assert ours.combined == pytest.approx((np.mean(ours.lerf) - np.mean(ours.morf)) / 2)


def test_road_accuracy_equals_quantus_on_one_channel(digits_subject):
    """Quantus's ROAD indexes the pixels of one channel only (on RGB its indices run over C H W entries and fail), so
    the accuracy per percentage is compared on 12 test digits (target: each one's prediction; map: the ink, so that
    removing it changes predictions)."""
    from convscope.core import digits

    data = digits.load_data()
    x = torch.stack([data.images[i] for i in data.test[:12]])
    maps = x[:, 0] + 0.01 * torch.randn(12, 32, 32, generator=torch.Generator().manual_seed(2))
    net = torch.nn.Sequential(digits_subject.normalize, digits_subject.model).eval()
    targets = net(x).argmax(1).numpy()
    percentages = [10, 50, 90]
    ours = [
        fa.road(digits_subject, x[i], maps[i], int(targets[i]), percentages=percentages, noise=0.0) for i in range(12)
    ]
    accuracy = np.mean([o.morf_correct for o in ours], axis=0)
    metric = quantus.ROAD(noise=0.0, percentages=percentages, normalise=False, disable_warnings=True)
    theirs = metric(model=net, x_batch=x.numpy(), y_batch=targets, a_batch=maps[:, None].numpy())
    assert accuracy[0] == 1 and accuracy[-1] < 0.5  # predictions change: the comparison says something
    np.testing.assert_allclose(accuracy, [theirs[p] for p in percentages], atol=1e-12)


# --- randomisation ---------------------------------------------------------------------------------------------------
def saliency(module: torch.nn.Module, x: torch.Tensor, target: int) -> torch.Tensor:
    x = x.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(module(x)[:, target].sum(), x)
    return grad.abs().amax(1)[0]  # [H, W]


def sobel(_subject, image: torch.Tensor, _target: int) -> torch.Tensor:
    """A model-independent 'explanation': the Sobel edge magnitude of the image's grey values."""
    grey = image.mean(1, keepdim=True)
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]).view(1, 1, 3, 3)
    gx = torch.nn.functional.conv2d(grey, kx, padding=1)
    gy = torch.nn.functional.conv2d(grey, kx.transpose(2, 3), padding=1)
    return (gx**2 + gy**2).sqrt()[0, 0]


def test_randomisation_equals_quantus_mprt(setup):
    net, subject, x, _ = setup
    before = {k: v.clone() for k, v in net.state_dict().items()}
    ours = rd.cascading_randomisation(subject, x, lambda s, im, t: saliency(s.model, im, t), 2, seed=42)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # the user's model is untouched

    def explain_func(model, inputs, targets, **kwargs):
        return np.stack(
            [saliency(model, torch.as_tensor(inputs[i : i + 1]), int(t)).numpy() for i, t in enumerate(targets)]
        )[:, None]

    a_batch = explain_func(net, x.numpy(), [2])
    metric = quantus.MPRT(seed=42, layer_order="top_down", disable_warnings=True)
    theirs = metric(model=net, x_batch=x.numpy(), y_batch=np.array([2]), a_batch=a_batch, explain_func=explain_func)
    layers = [name for name in theirs if name != "original"]
    assert ours.layers == layers == ["6", "2", "0"] and ours.randomized == [1, 2, 3]
    np.testing.assert_allclose(ours.spearman, [theirs[name][0] for name in layers], atol=1e-6)


def test_randomisation_changes_a_gradient_map_and_not_an_edge_detector(default_subject):
    from convscope.techniques.attribution import gradient_attribution
    from convscope.techniques.attribution.report import heatmap_values

    x = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    edges = rd.cascading_randomisation(default_subject, x, sobel, 285, points=3)
    assert edges.spearman == [1.0, 1.0, 1.0] and edges.ssim == pytest.approx([1.0, 1.0, 1.0], abs=1e-12)

    def gradient(subject, image, target):
        return heatmap_values(gradient_attribution(subject, image, target, "saliency", None).input[0], "max-abs")

    fingerprint = default_subject.fingerprint()
    maps = rd.cascading_randomisation(default_subject, x, gradient, 285, points=3)
    assert maps.randomized == [1, (maps.total + 1) // 2, maps.total] and maps.layers[0] == "classifier"
    assert maps.spearman[-1] < 0.5 and maps.ssim[-1] < 0.5  # the fully randomized network's map is another map
    assert default_subject.fingerprint() == fingerprint


def test_spearman_and_ssim_equal_scipy_and_skimage():
    generator = torch.Generator().manual_seed(0)
    a = torch.rand(20, 24, generator=generator, dtype=torch.float64)
    b = (a + 0.3 * torch.rand(20, 24, generator=generator, dtype=torch.float64)).clamp(0, 1)
    b[0, :5] = 0.5  # ties
    assert rd.spearman(a, b) == pytest.approx(spearmanr(a.flatten(), b.flatten())[0], abs=1e-12)
    assert rd.ssim(a, b) == pytest.approx(structural_similarity(a.numpy(), b.numpy(), data_range=1.0), abs=1e-10)
    assert rd.spearman(a, torch.ones_like(a)) is None


# --- hidden units ----------------------------------------------------------------------------------------------------
class UnitAsClass(torch.nn.Module):
    """The tiny net cut at its second ReLU, one channel's spatial mean (or one position) as its only "class": what
    a hidden-unit target must measure, built by hand."""

    def __init__(self, net, channel, position=None):
        super().__init__()
        self.body, self.channel, self.position = net[:4], channel, position

    def forward(self, x):
        a = self.body(x)[:, self.channel]
        return (a.mean((1, 2)) if self.position is None else a[:, self.position[0], self.position[1]])[:, None]


@pytest.mark.parametrize("unit, position", [("3:0", None), ("3:2@5,9", (5, 9))])
def test_a_hidden_unit_is_measured_as_a_model_whose_output_is_that_unit(setup, unit, position):
    net, subject, x, a = setup
    by_hand = subject_of(UnitAsClass(net, int(unit.split(":")[1][0]), position).eval())
    kinds = [
        lambda s, t: (
            fa.region_perturbation(s, x, a, t, patch=4, steps=16, baseline="mean").morf
            + fa.region_perturbation(s, x, a, t, patch=4, steps=16, baseline="mean").lerf
        ),
        lambda s, t: fa.faithfulness_correlation(s, x, a[None], t, subset=40, runs=12, seed=5).drops,
        lambda s, t: fa.road(s, x, a, t, percentages=(20, 60)).morf + fa.road(s, x, a, t, percentages=(20, 60)).lerf,
        lambda s, t: [fa.completeness(s, x, a, t, baseline="blur").output, fa.completeness(s, x, a, t).baseline_output],
    ]
    for measure in kinds:
        ours, reference = measure(subject, unit), measure(by_hand, 0)
        assert np.allclose(ours, reference, rtol=1e-5, atol=1e-6) and len(set(np.round(ours, 6))) > 1
    assert fa.road(subject, x, a, unit, percentages=(20,)).morf_correct == []  # a unit predicts no class
    with pytest.raises(ConvscopeError, match="hidden unit 3:0 is scored by its activation"):
        fa.region_perturbation(subject, x, a, "3:0", score="probability")
    for bad, message in [
        ("9:1", "unknown layer `9`"),
        ("3:6", "channel 6 out of range 0..5"),
        ("3:1@16,0", "position (16, 0) outside the 16x16 map"),
    ]:
        with pytest.raises(ConvscopeError, match=None) as caught:
            fa.faithfulness_correlation(subject, x, a, bad)
        assert message in str(caught.value)


def test_randomisation_of_a_hidden_unit_touches_only_the_layers_below_it(setup):
    net, subject, x, _ = setup

    def explain(s, image, target):  # gradient of the unit's mean activation, the input's |gradient| summed
        image = image.clone().requires_grad_(True)
        s.capture(image, [target.layer])[target.layer][:, target.channel].mean().backward()
        return image.grad[0].abs().sum(0)

    unit = fa.checked_target(subject, "2:3")
    curve = rd.cascading_randomisation(subject, x, explain, unit)
    assert curve.total == 2 and curve.layers == ["2", "0"]  # the head (6) is above the unit: it cannot change it
    assert curve.spearman[-1] < 0.9  # and randomizing the two convolutions does change the map
    assert [n for n, p in net.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias", "6.weight", "6.bias"]


# --- bad input -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "call, message",
    [
        (lambda s, x, a: fa.region_perturbation(s, x, a, 2, patch=17), "patch 17 out of range 1..16"),
        (lambda s, x, a: fa.region_perturbation(s, x, a, 9), "target class 9 out of range 0..4"),
        (lambda s, x, a: fa.region_perturbation(s, x, a[:8], 2), "attribution shaped [8, 16]"),
        (lambda s, x, a: fa.region_perturbation(s, x, a, 2, baseline="grey"), "baseline `grey` unknown"),
        (lambda s, x, a: fa.region_perturbation(s, x, a, 2, score="odds"), "score `odds` unknown"),
        (lambda s, x, a: fa.road(s, x, a, 2, percentages=(100,)), "percentages must lie in (0, 100)"),
        (lambda s, x, a: fa.faithfulness_correlation(s, x, a, 2, subset=999), "subset 999 out of range 1..768"),
        (lambda s, x, a: fa.faithfulness_correlation(s, x, a, 2, runs=1), "runs must be at least 2"),
        (lambda s, x, a: fa.completeness(s, x, a * np.nan, 2), "non-finite"),
        (lambda s, x, a: fa.baseline_image(x, 1.5), "baseline 1.5 outside [0, 1]"),
    ],
)
def test_bad_input_names_the_field(setup, call, message):
    _, subject, x, a = setup
    with pytest.raises(ConvscopeError, match=None) as caught:
        call(subject, x, a)
    assert message in str(caught.value)


# --- recipe and command ----------------------------------------------------------------------------------------------
def test_recipe_reports_every_metric_with_its_definition(digit_png, tmp_path):
    from convscope.recipes.faithfulness import DEFINITIONS, FaithfulnessSpec

    spec = FaithfulnessSpec(model={"spec": "digits"}, image=digit_png, method="dtd", runs=8, points=2, region=4)
    data = convscope.run(spec, out=tmp_path).data
    assert [m["name"] for m in data["metrics"]] == list(DEFINITIONS)
    assert all(m["definition"] and m["paper"] for m in data["metrics"])
    curves = data["region_perturbation"]
    assert curves["patches"] == 64 and len(curves["morf"]) == 33 and curves["morf"][0] == pytest.approx(data["output"])
    assert data["completeness"]["of_output"] == pytest.approx(data["completeness"]["total"] / data["output"]) and set(
        data["timings"]["metrics"]
    ) == set(spec.metrics)
    assert data["randomisation"]["randomized"][-1] == data["randomisation"]["total"]


def test_recipe_measures_a_hidden_unit_map(digit_png, tmp_path, capsys):
    from convscope.cli.main import main

    argv = ["faithfulness", digit_png, "--model", "digits", "--method", "dtd", "--target", "features.6:5@2,3"]
    argv += ["--runs", "8", "--points", "2", "--region", "4", "--out", str(tmp_path), "--json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["unit"] == data["label"] == "features.6:5@2,3" and data["target"] == 5
    subject = convscope.load("digits")
    image = subject.load_image(digit_png)
    activation = subject.capture(image, ["features.6"])["features.6"][0, 5, 2, 3].item()
    assert data["output"] == pytest.approx(activation, rel=1e-5)  # the unit's own value, not a class score
    assert data["region_perturbation"]["morf"][0] == pytest.approx(activation, rel=1e-5)
    assert data["road"]["morf_correct"] == [] and data["road"]["original"] == pytest.approx(activation, rel=1e-5)
    rnd = data["randomisation"]
    assert rnd["total"] == 3 and rnd["layers"][-1] == "features.0"  # the three convolutions up to features.6
    # completeness and conservation compare the map's sum with the unit's own value
    assert data["completeness"]["output"] == pytest.approx(activation, rel=1e-5)


def test_completeness_compares_the_map_with_the_logit_whatever_the_score(digit_png, tmp_path):
    from convscope.recipes.faithfulness import FaithfulnessSpec

    spec = FaithfulnessSpec(
        model={"spec": "digits"}, image=digit_png, method="gradient-x-input", score="probability", runs=4, points=1
    )
    data = convscope.run(spec, out=tmp_path).data
    subject = convscope.load("digits")
    logits = subject(subject.load_image(digit_png))[0].detach().double()
    assert data["output"] == pytest.approx(logits[data["target"]].item(), rel=1e-5)
    probability = logits.softmax(0)[data["target"]].item()
    assert data["region_perturbation"]["original"] == pytest.approx(probability, rel=1e-5)  # as asked: probability
    assert data["completeness"]["output"] == pytest.approx(data["output"])  # the logit the map explains
    assert data["completeness"]["of_output"] == pytest.approx(data["completeness"]["total"] / data["output"])


def test_command_refuses_bad_input_in_one_line(digit_png, capsys):
    from convscope.cli.main import main

    for argv, field in [
        (["--percentages", "0,120"], "percentages"),
        (["--metrics", "road,beauty"], "metrics"),
        (["--target", "10"], "target class 10 out of range 0..9"),
        (["--target", "features.9:1"], "target: unknown layer `features.9`"),
        (["--target", "features.6:64"], "target: channel 64 out of range 0..63"),
        (["--target", "features.6:1", "--score", "probability"], "score: probability is a class's softmax"),
    ]:
        assert main(["faithfulness", digit_png, "--model", "digits", "--no-cache", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and field in err, err


def test_the_spec_hands_the_method_its_own_options_and_road_its_noise():
    """FaithfulnessSpec shares attribute's method options (one MethodOptions): SmoothGrad's `noise` is the method's,
    ROAD's imputation noise is `road_noise`, and neither shadows the other."""
    from convscope.recipes.attribute import AttributeSpec, MethodOptions
    from convscope.recipes.faithfulness import FaithfulnessSpec

    spec = FaithfulnessSpec(image="x.png", method="smoothgrad", road_noise=0.05, noise=0.3, epsilon=0.01)
    options = spec.method_options()
    assert options["noise"] == 0.3 and options["epsilon"] == 0.01 and spec.road_noise == 0.05
    assert set(options) == set(MethodOptions.model_fields) - {"fit"}
    assert AttributeSpec(image="x.png", noise=0.3, epsilon=0.01).method_options() == options
