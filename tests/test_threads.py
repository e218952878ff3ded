"""One Subject shared by threads: capture's hooks (LayerTap) act only on the forward of the thread that opened them."""

import sys
import threading
from collections import Counter

import pytest
import torch
from torch import nn

import convscope
from conftest import hooks_left
from convscope.core.tap import LayerTap

#: plain forwards (None) and captures of different layers: early stops, several layers, containers, logits
OPERATIONS = [
    None,
    ["features.3"],
    ["features.1", "features.6"],
    ["features.3", "logits"],
    ["features", "classifier.1"],
    ["features.4"],
]


def run(subject, layers, x):
    with torch.no_grad():
        return {"logits": subject(x)} if layers is None else subject.capture(x, layers)


def hammer(subject, operations, inputs, threads=2, calls=300, switch_interval=None):
    """`threads` threads x `calls` mixed forwards / captures on one subject; returns (errors, wrong results)."""
    expected = {(k, j): run(subject, op, x) for k, op in enumerate(operations) for j, x in enumerate(inputs)}
    errors, wrong = Counter(), Counter()
    start = threading.Barrier(threads)

    def worker(t):
        torch.set_num_threads(1)
        start.wait()
        for i in range(calls):
            k, j = (7 * i + t) % len(operations), (i + 3 * t) % len(inputs)
            try:
                out = run(subject, operations[k], inputs[j])
            except Exception as error:  # noqa: BLE001 - counted, the test asserts there are none
                errors[f"{type(error).__name__}: {error}"] += 1
                continue
            reference = expected[(k, j)]
            if list(out) != list(reference) or not all(torch.equal(out[n], reference[n]) for n in reference):
                wrong[str(operations[k])] += 1

    before_interval = sys.getswitchinterval()
    if switch_interval is not None:
        sys.setswitchinterval(switch_interval)
    torch_threads = torch.get_num_threads()
    try:
        workers = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        sys.setswitchinterval(before_interval)
        torch.set_num_threads(torch_threads)
    return errors, wrong


@pytest.fixture(scope="module")
def shared():
    subject = convscope.load("digits")
    subject.graph  # noqa: B018 - built once, before the threads (the dry run is not part of this test)
    generator = torch.Generator().manual_seed(0)
    return subject, [torch.rand(2, 1, 32, 32, generator=generator) for _ in range(4)]


def test_two_threads_share_one_subject(shared):
    subject, inputs = shared
    before = hooks_left(subject.model)
    errors, wrong = hammer(subject, OPERATIONS, inputs, threads=2, calls=300)
    assert not errors and not wrong, (errors, wrong)
    assert hooks_left(subject.model) == before


def test_taps_of_the_same_layer_with_frequent_thread_switches(shared):
    """Four threads stopping at the same layer, the GIL switching every microsecond: a tap opened or closed by
    one thread must not change the hook dict that another thread's stopped forward is walking (PyTorch reads
    it while `_StopForward` passes: 'OrderedDict mutated during iteration' with per-tap hooks)."""
    subject, inputs = shared
    errors, wrong = hammer(subject, [["features.3"], ["features"]], inputs, threads=4, calls=1500, switch_interval=1e-6)
    assert not errors and not wrong, (errors, wrong)
    assert hooks_left(subject.model) == 0


def test_a_tap_ignores_other_threads_forwards():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Conv2d(2, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    subject = convscope.wrap(model, size=8, channels=1, mean=(0.5,), std=(0.5,))
    x = torch.rand(1, 1, 8, 8)
    other = {}
    with torch.no_grad(), LayerTap(subject, ["0"], stop=True) as tap:
        thread = threading.Thread(target=lambda: other.update(out=subject(x)))  # runs past layer 0, not stopped
        thread.start()
        thread.join()
        assert tap.outputs == {} and other["out"].shape == (1, 2)
        with pytest.raises(Exception) as stopped:
            subject(x)  # the tap's own thread is stopped after layer 0
        assert type(stopped.value).__name__ == "StopForward" and set(tap.outputs) == {"0"}
    assert hooks_left(model) == 0


def test_nested_taps_on_one_thread_each_see_the_layer():
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.ReLU(inplace=True), nn.Conv2d(2, 2, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten()
    )
    subject = convscope.wrap(model, size=8, channels=1, mean=(0.5,), std=(0.5,))
    x = torch.rand(1, 1, 8, 8)
    with torch.no_grad(), LayerTap(subject, ["0", "2"]) as outer:
        inner = subject.capture(x, ["0"])
        assert hooks_left(model) == 2  # the shared hooks stay while the outer tap is open
        subject(x)
    assert hooks_left(model) == 0
    torch.testing.assert_close(outer.outputs["0"], inner["0"])
    assert (inner["0"] < 0).any()  # the conv's own output, not the one ReLU(inplace=True) rewrote
