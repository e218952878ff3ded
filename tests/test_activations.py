"""Activation maps ranked by mean, Algorithm 3 normalization, dead channels, prediction on digits."""

import numpy as np
import pytest
import torch
from torch import nn

import convscope
from convscope.artifacts.files import save_maps
from convscope.core import digits
from convscope.techniques.activations import activation_maps, dead_channels


def test_maps_are_ranked_by_mean_and_scaled_by_their_max(digits_subject):
    image = digits.load_data().images[:1]
    maps = activation_maps(digits_subject, image, "features.4", top=None)
    raw = digits_subject.activations(image, "features.4")[0]
    assert len(maps) == raw.shape[0] == 32
    means = [m.mean for m in maps]
    assert means == sorted(means, reverse=True)
    for m in maps[:5]:
        channel = raw[m.index].numpy()
        assert m.mean == pytest.approx(channel.mean(), rel=1e-5) and m.max == pytest.approx(channel.max())
        if channel.max() > 0:
            assert m.gray.max() == 255
            np.testing.assert_allclose(m.gray, np.round(255 * np.clip(channel, 0, None) / channel.max()), atol=1)


def test_specific_channels_and_saved_files(digits_subject, tmp_path):
    image = digits.load_data().images[:1]
    maps = activation_maps(digits_subject, image, "features.1", channels=[3, 0])
    assert [m.index for m in maps] == [3, 0]
    paths, grid_path = save_maps(maps, tmp_path)
    assert all(p.exists() for p in paths) and grid_path.exists()
    with pytest.raises(convscope.ChannelError, match=r"channel 16 out of range 0\.\.15"):
        activation_maps(digits_subject, image, "features.1", channels=[16])


def test_dead_channels_are_found():
    conv = nn.Conv2d(1, 4, 3)
    with torch.no_grad():
        conv.weight.zero_()
        conv.bias.copy_(torch.tensor([1.0, -1.0, 0.5, -0.1]))
        conv.weight[3].fill_(0.01)  # alive only where the input is bright enough: 9 * 0.01 * 1 - 0.1 < 0
    subject = convscope.wrap(nn.Sequential(conv, nn.ReLU(), nn.Flatten()), size=6, channels=1, mean=(0.0,), std=(1.0,))
    dead, seen = dead_channels(subject, [torch.rand(2, 1, 6, 6), torch.rand(3, 1, 6, 6)], "1")
    assert dead == [1, 3] and seen == 5
    dead, _ = dead_channels(subject, [torch.full((1, 1, 6, 6), 1.0) * 2], "0")  # pre-ReLU: channel 3 positive
    assert dead == [1]


def test_predict_digits_test_images(digits_subject):
    data = digits.load_data()
    correct = 0
    for i in data.test[:50]:
        top = convscope.predict(digits_subject, data.images[i], top=3)
        assert top[0].probability >= top[1].probability >= top[2].probability
        correct += top[0].index == int(data.labels[i])
        assert top[0].label == str(top[0].index)
    assert correct >= 47
