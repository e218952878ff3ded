"""Layer graph: nesting, hyper-parameters, output shapes and data-flow edges on the architectures we support."""

import json

import pytest

import convscope

ARCHITECTURES = [
    "torchvision:alexnet",
    "torchvision:vgg16",
    "torchvision:googlenet",
    "torchvision:squeezenet1_1",
    "torchvision:resnet50",
    "torchvision:mobilenet_v2",
    "torchvision:densenet121",
    "timm:efficientnet_b0",
    "timm:mobilenetv3_large_100",
    "default",
    "digits",
]


@pytest.fixture(scope="module")
def googlenet():
    return convscope.load("torchvision:googlenet", "none")


@pytest.mark.parametrize("spec", ARCHITECTURES)
def test_graph_of_every_supported_architecture(spec):
    subject = convscope.load(spec, "none")
    graph = subject.graph
    modules = [name for name, _ in subject.model.named_modules() if name]
    assert list(graph.nodes)[:-1] == modules and list(graph.nodes)[-1] == "logits"
    ran = [n for n in graph.nodes.values() if n.calls]
    assert all(n.output_shape for n in ran)
    assert graph.nodes["logits"].output_shape == [1000 if spec != "digits" else 10]
    names = set(graph.nodes) | {"input"}
    assert all(src in names and dst in names for src, dst in graph.edges)
    assert any(src == "input" for src, _ in graph.edges) and any(dst == "logits" for _, dst in graph.edges)
    # every node that ran is reachable from the input along the edges (or is a container of such nodes)
    reached, frontier = {"input"}, ["input"]
    while frontier:
        node = frontier.pop()
        for src, dst in graph.edges:
            if src == node and dst not in reached:
                reached.add(dst)
                frontier.append(dst)
    leaves_that_ran = [n.name for n in ran if not n.children]
    assert set(leaves_that_ran) <= reached
    exported = json.loads(graph.to_json())
    assert {"name", "type", "parent", "children", "output_shape", "kernel_size", "stride", "params"} <= set(
        exported["layers"][0]
    )
    assert exported["edges"] and all(len(e) == 2 for e in exported["edges"])


def test_googlenet_nests_inception_branches_with_their_shapes(googlenet):
    graph = googlenet.graph
    block = graph.node("inception3a")
    assert block.type == "Inception" and block.parent is None
    assert block.children == [
        "inception3a.branch1",
        "inception3a.branch2",
        "inception3a.branch3",
        "inception3a.branch4",
    ]
    assert graph.node("inception3a.branch2").children == ["inception3a.branch2.0", "inception3a.branch2.1"]
    assert graph.node("inception3a.branch2.1.conv").parent == "inception3a.branch2.1"
    assert graph.output_shape("inception3a") == [256, 28, 28]
    expected = {"branch1": 64, "branch2": 128, "branch3": 32, "branch4": 32}
    for branch, channels in expected.items():
        assert graph.output_shape(f"inception3a.{branch}") == [channels, 28, 28]
    assert graph.output_shape("inception4a") == [512, 14, 14]
    assert graph.node("inception3a.branch2.1.conv").kernel_size == [3, 3]
    assert graph.node("inception3a.branch3.1.conv").kernel_size == [3, 3]  # torchvision's 3x3 "5x5" branch
    assert graph.node("conv1.conv").stride == [2, 2] and graph.node("conv1.conv").params == 64 * 3 * 7 * 7
    # the concatenation feeds all four branches' last modules into each branch of inception3b
    into_3b = {src for src, dst in graph.edges if dst == "inception3b.branch1.conv"}
    assert into_3b == {
        "inception3a.branch1.bn",
        "inception3a.branch2.1.bn",
        "inception3a.branch3.1.bn",
        "inception3a.branch4.1.bn",
    }


def test_resnet_residual_edges_and_reused_relu():
    graph = convscope.load("torchvision:resnet50", "none").graph
    into_relu = {src for src, dst in graph.edges if dst == "layer1.0.relu"}
    assert {"layer1.0.bn1", "layer1.0.bn2", "layer1.0.bn3", "layer1.0.downsample.1"} <= into_relu
    assert graph.node("layer1.0.relu").calls == 3
    assert graph.node("layer1.0.downsample.0").kernel_size == [1, 1]
    assert graph.node("layer1").params == sum(
        p.numel() for p in convscope.load("torchvision:resnet50", "none").model.layer1.parameters()
    )


def test_efficientnet_edges_go_through_batchnorm_act_modules(default_subject):
    graph = default_subject.graph
    assert ("conv_stem", "bn1") in graph.edges and ("bn1", "bn1.drop") in graph.edges
    assert graph.node("conv_stem").type == "Conv2dSame" and graph.node("conv_stem").stride == [2, 2]
    assert graph.output_shape("conv_stem") == [32, 112, 112]
    # the inverted-residual skip: the block input reaches the next block beside the main path
    into = {src for src, dst in graph.edges if dst == "blocks.2.0.conv_pw"}
    assert into == {"blocks.1.0.bn3.act", "blocks.1.1.drop_path"}


def test_default_layer_is_a_mid_level_feature_map(default_subject):
    assert default_subject.graph.default_layer() == "blocks.4"
    assert default_subject.graph.output_shape("blocks.4") == [112, 14, 14]
