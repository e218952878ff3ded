"""`convscope inverse-set`: the JSON contract, files written, one-line errors with exit status 2."""

import json

import pytest
import torch

from convscope.cli.main import main


def run_cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_contract_digits_fourier(capsys, tmp_path, digits_subject):
    code, out, err = run_cli(
        capsys,
        "inverse-set",
        "--model",
        "digits",
        "--constraint",
        "logits:3:2:4",
        "--n",
        "12",
        "--k",
        "4",
        "--generator",
        "fourier",
        "--inner-steps",
        "50",
        "--baselines",
        "--json",
        "--out",
        tmp_path,
    )
    assert code == 0, err
    result = json.loads(out)
    for key in ("samples", "diversity", "seed_steps", "sampling_steps", "baselines"):
        assert key in result
    assert len(result["samples"]) == 12 and result["all_inside"]
    assert set(result["baselines"]) == {"no-diversity", "code-diversity", "activation-maximization"}
    for sample in result["samples"]:
        assert set(sample["activations"]) == {"logits:3"}
        value = digits_subject.activations(digits_subject.load_image(sample["path"]), "logits")[0, 3].item()
        assert 2 <= value <= 4 and value == pytest.approx(sample["activations"]["logits:3"], abs=1e-4)
    assert (tmp_path / "sheet.png").exists()
    assert all(isinstance(v["diversity"], float) for v in result["baselines"].values())


def test_malformed_constraint_is_rejected_by_argparse(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["inverse-set", "--model", "digits", "--constraint", "logits:3:4", "--out", str(tmp_path)])
    assert exit_info.value.code == 2 and "not LAYER:UNIT:Z1:Z2" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--constraint", "logits:12:1:2"], "channel 12 out of range 0..9"),
        (["--constraint", "nope:1:1:2"], "unknown layer `nope`"),
        (["--constraint", "logits:3:1:2", "--generator", "gan"], "unknown generator `gan`"),
        (["--constraint", "logits:3:1:2", "--generator", "file:/no/such.safetensors"], "not found"),
        (["--constraint", "logits:3:1:2", "--n", "3", "--k", "5"], "must be at least k=5"),
        (
            ["--constraint", "logits:3:300:400", "--generator", "fourier", "--inner-steps", "5", "--max-outer", "2"],
            "logits:3 in [300, 400] not reached",
        ),
    ],
)
def test_bad_input_is_one_line_exit_2(capsys, tmp_path, argv, message):
    code, _, err = run_cli(capsys, "inverse-set", "--model", "digits", *argv, "--out", tmp_path)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.slow
def test_default_model_fourier_cli(capsys, tmp_path):
    code, out, err = run_cli(
        capsys,
        "inverse-set",
        "--constraint",
        "logits:285:4:7",
        "--n",
        "6",
        "--k",
        "2",
        "--inner-steps",
        "40",
        "--json",
        "--out",
        tmp_path,
        "--animation",
    )
    assert code == 0, err
    result = json.loads(out)
    assert result["n"] == 6 and result["all_inside"] and (tmp_path / "animation.gif").exists()
    assert torch.tensor([s["activations"]["logits:285"] for s in result["samples"]]).min() >= 4
