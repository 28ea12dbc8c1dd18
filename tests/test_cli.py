"""The command line end to end: synth -> train -> evaluate -> export -> predict, and its error messages."""
import pytest
import yaml

from workbench.__main__ import main
from workbench.checkpoints import load_checkpoint

TRAIN_ARGS = [
    "--backbone", "compact", "--pretrained", "false", "--freeze_bn", "false", "--roi_size", "33",
    "--canvas", "128", "--epochs", "1", "--batch-size", "4", "--num_workers", "0", "--device", "cpu",
    "--amp", "false",
]  # fmt: skip


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A synthetic folder from `synth` and a checkpoint trained on it by `train`."""
    base = tmp_path_factory.mktemp("cli")
    data = base / "synth"
    assert main(["synth", "--out", str(data), "--n", "16", "--workers", "1", "--quiet"]) == 0
    out = base / "run"
    assert main(["train", "--data_root", str(data), "--out_dir", str(out), "--no-progress", *TRAIN_ARGS]) == 0
    return data, out / "last.pt"


def test_train_writes_a_checkpoint_labelled_synthetic(trained, capsys):
    data, checkpoint = trained
    payload = load_checkpoint(checkpoint)
    assert payload["data"]["synthetic"] is True and payload["data"]["root"] == str(data.resolve())
    assert payload["config"]["canvas"] == 128 and payload["config"]["batch_size"] == 4
    assert len(payload["theme_names"]) > 0 and payload["epoch"] == 1


def test_train_reads_a_yaml_config_and_lets_the_command_line_override_it(trained, tmp_path, capsys):
    data, _ = trained
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"backbone": "compact", "pretrained": False, "freeze_bn": False, "roi_size": 33,
                                      "canvas": 128, "epochs": 5, "batch_size": 4, "num_workers": 0, "device": "cpu",
                                      "data_root": str(data), "out_dir": str(tmp_path / "run")}))  # fmt: skip
    assert main(["train", "--config", str(config), "--epochs", "1", "--max_steps_per_epoch", "1", "--no-progress"]) == 0
    payload = load_checkpoint(tmp_path / "run" / "last.pt")
    assert payload["config"]["epochs"] == 1 and payload["config"]["max_steps_per_epoch"] == 1
    assert "EMD (r=1)" in capsys.readouterr().out


def test_evaluate_prints_the_metrics_tables(trained, capsys):
    data, checkpoint = trained
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--data-root", str(data), "--split", "val", "--tta", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "EMD (r=1)" in out and "SRCC (mean)" in out and "last.pt (val, tta)" in out


def test_export_drops_the_training_state(trained, tmp_path):
    _, checkpoint = trained
    assert main(["export", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "demo.pt")]) == 0
    payload = load_checkpoint(tmp_path / "demo.pt")
    assert "optimizer" not in payload and "rng" not in payload and payload["data"]["synthetic"] is True


def test_predict_prints_distributions_and_names_bad_files(trained, tmp_path, capsys):
    data, checkpoint = trained
    photos = sorted((data / "images").iterdir())[:2]
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a photo")
    theme = load_checkpoint(checkpoint)["theme_names"][0]
    code = main(["predict", "--checkpoint", str(checkpoint), "--theme", theme, photos[0].as_posix(), str(broken), photos[1].as_posix()])
    captured = capsys.readouterr()
    assert code == 1
    assert captured.out.count("mean ") == 2 and "SYNTHETIC" in captured.out
    assert captured.out.count("█") > 0 and f"{photos[1].as_posix()}: mean" in captured.out
    errors = captured.err.strip().splitlines()
    assert len(errors) == 1 and str(broken) in errors[0] and "Traceback" not in captured.err


def test_predict_refuses_an_unknown_theme_with_close_matches(trained, capsys):
    data, checkpoint = trained
    theme = load_checkpoint(checkpoint)["theme_names"][0]
    photo = sorted((data / "images").iterdir())[0]
    assert main(["predict", "--checkpoint", str(checkpoint), "--theme", theme[:-1] + "x", str(photo)]) == 2
    err = capsys.readouterr().err
    assert "unknown theme" in err and repr(theme) in err


def test_bad_arguments_exit_2_and_bad_inputs_print_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--epochs", "many"])
    assert exit_info.value.code == 2 and "--epochs" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--no-such-field", "1"])
    assert exit_info.value.code == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["fly"])
    assert exit_info.value.code == 2
    capsys.readouterr()

    config = tmp_path / "config.yaml"
    config.write_text("epochs: 2\nlearning_rate: 0.1\n")
    assert main(["train", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert "learning_rate" in err and len(err.strip().splitlines()) == 1

    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"\x00" * 100)
    assert main(["evaluate", "--checkpoint", str(bad), "--data-root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("checkpoint error:") and str(bad) in err and len(err.strip().splitlines()) == 1
    assert main(["train", "--config", str(tmp_path / "missing.yaml")]) == 1
    assert "missing.yaml" in capsys.readouterr().err


def test_train_help_lists_every_config_field(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--help"])
    out = capsys.readouterr().out
    assert exit_info.value.code == 0
    for name in ("--theme_dropout", "--lr_backbone", "--shape_grouped", "--max_steps_per_epoch", "--save_every_steps"):
        assert name in out
    assert "probability a training photo's theme is replaced" in out
