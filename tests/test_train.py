"""Training: a notebook-style run, exact kill-and-resume, interrupts, DDP with gloo, config handling."""
import dataclasses
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from workbench.checkpoints import CheckpointError, load_checkpoint, model_from_checkpoint
from workbench.config import TrainConfig
from workbench.data.datasets import AestheticDataset
from workbench.losses import training_loss
from workbench.data.prepare import prepare_table
from workbench.curves import plot_history
from workbench.evaluation import evaluate_checkpoint, evaluate_model
from workbench.hooks import LivePlotHook
from workbench.train import train
from workbench.trainer import Hook

REPO = Path(__file__).resolve().parents[1]
def subprocess_env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def train_command(config_path: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "workbench", "train", "--config", str(config_path), "--no-progress", *extra]


# --------------------------------------------------------------------------------------------------


def test_training_from_a_function_call_learns_and_writes_checkpoints(tiny_root, tmp_path, tiny_config, tiny_themes):
    seen_steps = []

    class Count(Hook):
        def after_step(self, trainer):
            seen_steps.append((trainer.epoch, trainer.step))

    result = train(tiny_config(tiny_root, tmp_path / "run"), progress=False, hooks=[Count()])
    history = result.history
    assert list(history["epoch"]) == [1, 2]
    assert history["train_loss"].iloc[1] < history["train_loss"].iloc[0]
    assert {"lr", "seconds", "skipped", "images", "val_emd1", "val_srcc_mean"} <= set(history.columns)
    assert history["images"].tolist() == [24, 24] and history["skipped"].tolist() == [0, 0]
    assert seen_steps == [(0, s) for s in range(1, 7)] + [(1, s) for s in range(1, 7)]
    assert set(result.metrics) >= {"emd1", "emd2", "srcc_mean"} and result.metrics["emd1"] == history["val_emd1"].iloc[-1]

    payload = load_checkpoint(result.checkpoint)  # weights_only=True: plain types and tensors only
    assert result.checkpoint == tmp_path / "run" / "last.pt" and result.best_checkpoint.is_file()
    assert (payload["epoch"], payload["step"]) == (2, 0)
    assert [row["epoch"] for row in payload["history"]] == [1, 2]
    assert payload["data"] == {"name": "tiny", "description": "test photos", "synthetic": True, "root": str(tiny_root)}
    assert payload["theme_names"] == tiny_themes and payload["num_bins"] == 10
    assert payload["canvas"] == 128 and payload["transform"] == "full"
    assert payload["config"]["backbone"] == "compact" and isinstance(payload["rng"]["torch"], torch.Tensor)
    assert [group["lr"] for group in payload["optimizer"]["param_groups"]] == [0.01, 0.1]
    assert (tmp_path / "run" / "history.csv").is_file() and (tmp_path / "run" / "config.yaml").is_file()
    best = load_checkpoint(result.best_checkpoint)
    assert best["metrics"]["emd1"] == min(history["val_emd1"])

    # The checkpoint rebuilds the model; evaluation gives the metrics the training recorded.
    model = model_from_checkpoint(payload)
    table = prepare_table(tiny_config(tiny_root, tmp_path), verbose=False)
    val = AestheticDataset(table, "val", canvas=128)
    pred, target, index = evaluate_model(model, val, batch_size=4)
    assert pred.shape == (8, 10) and index.tolist() == list(range(8))
    np.testing.assert_allclose(pred.sum(axis=1), 1, atol=1e-5)
    metrics = evaluate_checkpoint(result.checkpoint, split="val", device="cpu")
    assert metrics["emd1"] == pytest.approx(history["val_emd1"].iloc[-1], abs=1e-6)
    pred_tta, _, _ = evaluate_model(model, val, batch_size=12, tta=True)
    assert pred_tta.shape == (8, 10) and not np.allclose(pred_tta, pred)
    figure = plot_history(history)  # what LivePlotHook draws: loss, correlations, distances (not images/skipped/seconds)
    assert len(figure.axes) == 3
    plotted = {line.get_label() for ax in figure.axes for line in ax.get_lines()}
    assert {"train_loss", "val_emd1", "val_srcc_mean"} <= plotted and not plotted & {"images", "skipped", "val_seconds", "lr"}


class Capture(Hook):
    """Records what the trainer ran with and the dtype of the model's training output."""

    def before_train(self, trainer):
        self.options = trainer.options
        self.body_compiled = trainer.model.backbone.body._compiled_call_impl is not None
        self.output_dtypes = set()
        trainer.model.head.register_forward_hook(lambda module, args, output: self.output_dtypes.add(output.dtype))


@pytest.mark.slow
def test_the_gpu_options_run_on_cpu_amp_channels_last_compile_and_resume(tiny_root, tmp_path, tiny_config):
    """The code CUDA runs by default (autocast, channels_last, torch.compile of the body), run on CPU."""
    plain = train(tiny_config(tiny_root, tmp_path / "plain", epochs=1), progress=False)
    capture = Capture()
    config = tiny_config(tiny_root, tmp_path / "run", epochs=1, accelerate_on_cpu=True, amp=True, channels_last=True, compile=True)
    result = train(config, progress=False, hooks=[capture])
    assert capture.options.amp_dtype == torch.bfloat16 and capture.options.memory_format == torch.channels_last
    assert capture.body_compiled and capture.output_dtypes == {torch.bfloat16}
    loss, plain_loss = result.history["train_loss"].iloc[0], plain.history["train_loss"].iloc[0]
    assert np.isfinite(loss) and abs(loss - plain_loss) < 0.1 * plain_loss  # bf16 rounding, not another run
    payload = load_checkpoint(result.checkpoint)
    assert payload["model"].keys() == load_checkpoint(plain.checkpoint)["model"].keys()  # in-place compile: same keys
    model_from_checkpoint(payload)
    # Resumed with float16 (a GradScaler) and without compile: the precision may change on resume.
    resumed = train(tiny_config(tiny_root, tmp_path / "run", epochs=2, accelerate_on_cpu=True, amp=True, amp_dtype="float16"),
                    resume=True, progress=False, hooks=[capture])  # fmt: skip
    assert capture.options.amp_dtype == torch.float16 and not capture.body_compiled
    assert list(resumed.history["epoch"]) == [1, 2] and np.isfinite(resumed.history["train_loss"]).all()
    assert load_checkpoint(resumed.checkpoint)["scaler"]["scale"] > 0
    assert np.isfinite(evaluate_checkpoint(resumed.checkpoint, split="val", device="cpu")["emd1"])


def test_non_finite_gradients_stop_the_run_before_the_weights_change(tiny_root, tmp_path, monkeypatch, tiny_config):
    import workbench.trainer as trainer_module

    calls = []

    def loss_overflowing_at_step_3(pred, target, **options):
        calls.append(1)
        loss = training_loss(pred, target, **options)
        return loss * float("nan") if len(calls) == 3 else loss

    monkeypatch.setattr(trainer_module, "training_loss", loss_overflowing_at_step_3)
    config = tiny_config(tiny_root, tmp_path / "run", epochs=1, save_every_steps=1)
    with pytest.raises(FloatingPointError, match=r"non-finite gradients at epoch 1, step 3 \(float32\)"):
        train(config, progress=False)
    payload = load_checkpoint(tmp_path / "run" / "last.pt")
    assert (payload["epoch"], payload["step"]) == (0, 2)
    assert all(torch.isfinite(value).all() for value in payload["model"].values() if value.is_floating_point())


KILL_AT_STEP = """
import os, signal, sys
from workbench.config import TrainConfig
from workbench.train import train
from workbench.trainer import Hook

class KillAfterTheStep(Hook):  # after CheckpointHook (user hooks run last): the step's last.pt is on disk
    def after_step(self, trainer):
        if (trainer.epoch, trainer.step) == (int(sys.argv[3]), int(sys.argv[4])):
            os.kill(os.getpid(), signal.SIGKILL)

train(TrainConfig.from_yaml(sys.argv[1], out_dir=sys.argv[2]), progress=False, hooks=[KillAfterTheStep()])
"""


def test_kill_and_resume_ends_with_identical_weights(tiny_root, tmp_path, tiny_config):
    config = tiny_config(tiny_root, tmp_path / "unused", epochs=3, theme_dropout=0.3, save_every_steps=1)
    config_path = tmp_path / "config.yaml"
    config.to_yaml(config_path)
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    env = subprocess_env()

    run = subprocess.run(train_command(config_path, "--out_dir", str(whole)), env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr

    # Killed (SIGKILL: no clean-up at all) by a step hook right after the checkpoint of epoch 2, step 1 is
    # written: mid-epoch, so the resume must skip the batches already done.
    killed_run = subprocess.run([sys.executable, "-c", KILL_AT_STEP, str(config_path), str(killed), "1", "1"], env=env,
                                capture_output=True, text=True, timeout=300)  # fmt: skip
    assert killed_run.returncode == -signal.SIGKILL, killed_run.stderr
    payload = load_checkpoint(killed / "last.pt")
    assert (payload["epoch"], payload["step"]) == (1, 1)

    resumed = subprocess.run(train_command(config_path, "--out_dir", str(killed), "--resume"), env=env,
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    a, b = load_checkpoint(whole / "last.pt"), load_checkpoint(killed / "last.pt")
    assert (a["epoch"], a["step"]) == (b["epoch"], b["step"]) == (3, 0)
    assert a["model"].keys() == b["model"].keys()
    for name in a["model"]:
        assert torch.equal(a["model"][name], b["model"][name]), name
    for key, buffers in a["optimizer"]["state"].items():
        assert torch.equal(buffers["momentum_buffer"], b["optimizer"]["state"][key]["momentum_buffer"])
    for row_a, row_b in zip(a["history"], b["history"], strict=True):
        for key in ("train_loss", "val_emd1", "val_srcc_mean", "lr", "images"):
            assert row_a[key] == row_b[key] or (np.isnan(row_a[key]) and np.isnan(row_b[key])), key


def test_sigterm_saves_the_current_step_and_exits(tiny_root, tmp_path, tiny_config):
    config_path = tmp_path / "config.yaml"
    tiny_config(tiny_root, tmp_path / "run", epochs=30, save_every_steps=1).to_yaml(config_path)
    process = subprocess.Popen(train_command(config_path), env=subprocess_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    seen = None
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None and seen is None:
            if (tmp_path / "run" / "last.pt").is_file():
                seen = load_checkpoint(tmp_path / "run" / "last.pt")
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 128 + signal.SIGTERM, stderr
    assert "SIGTERM" in stderr and "Traceback" not in stderr
    payload = load_checkpoint(tmp_path / "run" / "last.pt")
    position = (payload["epoch"], payload["step"])
    assert (seen["epoch"], seen["step"]) <= position < (30, 0)  # saved where it stopped, at a step boundary
    assert payload["progress"]["images"] == 4 * payload["step"]


def test_ctrl_c_saves_after_the_current_step_then_raises(tiny_root, tmp_path, tiny_config):
    class Interrupt(Hook):
        def after_step(self, trainer):
            if trainer.step == 3:
                os.kill(os.getpid(), signal.SIGINT)  # as a terminal's Ctrl-C or a notebook's interrupt

    previous = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_config(tiny_root, tmp_path / "run"), progress=False, hooks=[Interrupt()])
    assert signal.getsignal(signal.SIGINT) is previous
    payload = load_checkpoint(tmp_path / "run" / "last.pt")
    assert (payload["epoch"], payload["step"]) == (0, 3)
    assert payload["progress"]["images"] == 12


def test_resume_refuses_different_settings_and_missing_checkpoints(tiny_root, tmp_path, tiny_config):
    config = tiny_config(tiny_root, tmp_path / "run", epochs=1, max_steps_per_epoch=1)
    train(config, progress=False)
    changed = tiny_config(tiny_root, tmp_path / "run", epochs=2, max_steps_per_epoch=1, lr_head=0.5)
    with pytest.raises(CheckpointError, match=r"lr_head \(0\.1 in the checkpoint, 0\.5 now\)"):
        train(changed, resume=True, progress=False)
    with pytest.raises(FileNotFoundError, match="no checkpoint to resume"):
        train(tiny_config(tiny_root, tmp_path / "other"), resume=True, progress=False)
    # More epochs is a legitimate change: the run continues where it stopped.
    longer = train(tiny_config(tiny_root, tmp_path / "run", epochs=2, max_steps_per_epoch=1), resume=True, progress=False)
    assert list(longer.history["epoch"]) == [1, 2]


def test_a_model_without_themes_saves_no_theme_names_and_evaluates(tiny_root, tmp_path, tiny_config):
    result = train(tiny_config(tiny_root, tmp_path / "run", epochs=1, max_steps_per_epoch=2, use_theme=False), progress=False)
    payload = load_checkpoint(result.checkpoint)
    assert payload["theme_names"] == [] and model_from_checkpoint(payload).num_themes == 0
    assert np.isfinite(evaluate_checkpoint(result.checkpoint, split="test", device="cpu")["emd1"])


@pytest.mark.parametrize("batch_size", [4, 1])  # 1: a whole batch fails
def test_photos_that_fail_to_load_are_counted_not_fatal(tmp_path, batch_size, tiny_config, write_tiny_folder):
    root = write_tiny_folder(tmp_path / "data", n_train=8, n_val=2, n_test=2)
    (root / "images" / "001.png").write_bytes(b"not a photo")  # found by check_images: dropped up front
    (root / "images" / "002.png").unlink()

    class Damage(Hook):
        def before_train(self, trainer):  # a photo that goes bad after the up-front check
            data = (root / "images" / "003.png").read_bytes()
            (root / "images" / "003.png").write_bytes(data[: len(data) // 2])

    with pytest.warns(UserWarning, match="003.png"):
        # roi_size 64: a batch of one photo still gives BatchNorm a 2x2 map at the end of the compact body.
        config = tiny_config(root, tmp_path / "run", epochs=1, batch_size=batch_size, roi_size=64)
        result = train(config, progress=False, hooks=[Damage()])
    row = result.history.iloc[0]
    assert (row["images"], row["skipped"]) == (5, 1)


@pytest.mark.slow
@pytest.mark.parametrize("accelerated", [False, True], ids=["float32", "amp-channels_last-compile"])
def test_ddp_with_two_processes_splits_the_batches(tiny_root, tmp_path, accelerated, tiny_config):
    config_path = tmp_path / "config.yaml"
    gpu_options = dict(accelerate_on_cpu=True, amp=True, compile=True) if accelerated else {}  # what a multi-GPU run uses
    tiny_config(tiny_root, tmp_path / "run", epochs=1, shape_grouped=True, **gpu_options).to_yaml(config_path)
    torchrun = Path(sys.executable).with_name("torchrun")
    command = [str(torchrun), "--standalone", "--nproc_per_node=2", "-m", "workbench", "train",
               "--config", str(config_path), "--no-progress"]  # fmt: skip
    run = subprocess.run(command, env=subprocess_env(), capture_output=True, text=True, timeout=400, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-3000:]
    payload = load_checkpoint(tmp_path / "run" / "last.pt")
    assert payload["progress"]["world_size"] == 2 and len(payload["rng"]["ranks"]) == 2
    row = payload["history"][0]
    # 24 photos in batches of 4: each rank trains 3 of the 6 batches, so together they see each photo once.
    assert row["images"] == 24
    assert "val_emd1" in row and np.isfinite(row["val_emd1"])
    assert run.stdout.count("data: tiny") == 1  # only rank 0 prints
    assert "Warning" not in run.stderr, run.stderr[-3000:]


# --------------------------------------------------------------------------------------------------


def test_live_plot_shows_png_curves_and_updates_them_in_place(monkeypatch):
    """In a notebook the curves are one display, redrawn each epoch, as PNG (no matplotlib backend needed)."""
    import IPython.display
    from types import SimpleNamespace

    shown = []

    class Handle:
        def update(self, image):
            shown.append(("update", image))

    def display(image, display_id=False):
        shown.append(("display", image))
        return Handle()

    monkeypatch.setattr(IPython.display, "display", display)
    hook, trainer = LivePlotHook(), SimpleNamespace(history=[])
    for epoch in (1, 2, 3):
        trainer.history.append({"epoch": epoch, "train_loss": 0.2 / epoch, "val_emd1": 0.1 / epoch, "val_srcc_mean": 0.1 * epoch})
        hook.after_epoch(trainer)
    assert [kind for kind, _ in shown] == ["display", "update"]  # from the second epoch: one point is no curve
    assert all(image.format == "png" and image.data.startswith(b"\x89PNG") for _, image in shown)
    assert shown[0][1].data != shown[1][1].data


def test_the_head_stage_trains_only_the_head_on_cached_views_then_fine_tunes_and_resumes(tiny_root, tmp_path, tiny_config):
    """head_epochs: the theme branch + head learn on cached features first (history row epoch 0,
    validated and saved), the backbone untouched; then end-to-end epochs; a resume skips the stage."""
    from workbench.head_stage import extract_features

    config = tiny_config(tiny_root, tmp_path / "run", head_epochs=40, head_views=2, epochs=0, lr_head=0.05)
    result = train(config, progress=False)
    history = result.history
    assert history["stage"].tolist() == ["head"] and history["epoch"].tolist() == [0]
    assert history["images"].tolist() == [48]  # 24 photos x 2 cached views
    head_only = load_checkpoint(result.checkpoint)
    torch.manual_seed(config.seed)
    untrained = model_from_checkpoint(head_only)  # same architecture ...
    fresh = train(dataclasses.replace(config, head_epochs=1, out_dir=str(tmp_path / "fresh")), progress=False)
    fresh_payload = load_checkpoint(fresh.checkpoint)
    backbone_keys = [key for key in head_only["model"] if key.startswith("backbone.")]
    # ... the seed's backbone, unchanged by the head stage; the head moved and learned.
    assert all(torch.equal(head_only["model"][key], fresh_payload["model"][key]) for key in backbone_keys)
    assert not torch.equal(head_only["model"]["head.layers.1.weight"], fresh_payload["model"]["head.layers.1.weight"])
    assert history["val_emd1"].iloc[0] < fresh.history["val_emd1"].iloc[0]  # 40 head epochs beat 1

    # The cached views are the dataset's first epochs' augmentations.
    table = prepare_table(config, verbose=False)
    train_set = AestheticDataset(table, "train", canvas=128, train=True, augment="flip_crop", seed=config.seed)
    features, loaded = extract_features(untrained, train_set, views=2, batch_size=4, device=torch.device("cpu"), progress=False)
    assert features.shape == (24, 2, untrained.backbone.feature_dim) and loaded.all()
    assert not torch.allclose(features[:, 0], features[:, 1])  # two different augmentations

    # Then fine-tune end to end from it: the stage is not run again on resume.
    more = train(dataclasses.replace(config, epochs=1), resume=True, progress=False)
    assert more.history["stage"].tolist() == ["head", "end_to_end"] and more.history["epoch"].tolist() == [0, 1]
    tuned = load_checkpoint(more.checkpoint)
    assert not all(torch.equal(head_only["model"][key], tuned["model"][key]) for key in backbone_keys)


def test_freeze_stem_keeps_the_full_resolution_stem_and_trains_the_rest(tiny_root, tmp_path, tiny_config):
    """The stem (the only part that sees full resolution) stays as built; the body and head move."""
    with pytest.warns(UserWarning, match="freeze_stem"):
        config = tiny_config(tiny_root, tmp_path / "run", freeze_stem=True, epochs=1, max_steps_per_epoch=2)

    class Snapshot(Hook):
        def before_train(self, trainer):
            self.start = {k: v.clone() for k, v in trainer.model.backbone.state_dict().items()}
            self.optimized = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
            self.stem = {id(p) for p in trainer.model.backbone.stem.parameters()}

    snapshot = Snapshot()
    result = train(config, progress=False, hooks=[snapshot])
    end = model_from_checkpoint(load_checkpoint(result.checkpoint)).backbone.state_dict()
    stem = [k for k in end if k.startswith("stem.")]
    body = [k for k in end if k.startswith("body.") and end[k].is_floating_point()]
    assert stem and all(torch.equal(end[k], snapshot.start[k]) for k in stem)
    assert any(not torch.equal(end[k], snapshot.start[k]) for k in body)
    assert snapshot.stem and not snapshot.stem & snapshot.optimized  # the optimizer never holds the stem


def test_the_299_views_are_cut_from_the_canvas_photo_not_from_a_photo_shrunk_to_299(tmp_path, write_tiny_folder):
    """Resize, resized pad and crop start from the photo fitted within the config's canvas, as the full view
    does (and as the demo serves them): a crop run trains on 299x299 crops of a 480x360 photo, records the
    canvas for evaluation and prediction, and a full-view run's crop head is fitted on such crops. (They were
    cut from the photo shrunk to 299x224, so the crop was the whole photo and the resize an upscale.)"""
    root = write_tiny_folder(tmp_path / "data", n_train=4, n_val=1, n_test=1, sizes=[(360, 480)])  # larger than 299
    seen = {}

    class Views(Hook):
        def after_step(self, trainer):
            seen["crop run"] = (trainer.train_set.canvas, tuple(trainer.train_set[0]["image"].shape))

        def after_head_epoch(self, trainer, epoch, loss):
            seen["crop head"] = tuple(trainer.view_training_set("crop")[0]["image"].shape)
            seen["resized_pad head"] = tuple(trainer.view_training_set("resized_pad")[0]["image"].shape)

    common = dict(backbone="compact", pretrained=False, freeze_bn=False, roi_size=33, canvas=480, batch_size=2, num_workers=0,
                  device="cpu", amp=False, data_root=str(root), augment="flip")  # fmt: skip
    crop_run = train(TrainConfig(**common, transform="crop", epochs=1, max_steps_per_epoch=1, out_dir=str(tmp_path / "crop")),
                     progress=False, hooks=[Views()])  # fmt: skip
    assert seen["crop run"] == (480, (3, 299, 299))
    assert load_checkpoint(crop_run.checkpoint)["canvas"] == 480  # evaluation and Predictor fit photos within it
    train(TrainConfig(**common, transform="full", epochs=0, head_epochs=1, view_heads="crop,resized_pad", out_dir=str(tmp_path / "full")),
          progress=False, hooks=[Views()])  # fmt: skip
    assert seen["crop head"] == (3, 299, 299) and seen["resized_pad head"] == (3, 224, 299)


def test_head_dropout_reaches_the_head_and_its_checkpoint(tiny_root, tmp_path, tiny_config):
    """head_dropout (bench/head_levers.py measures it as a lever) is the rate of the head's input dropout, in the
    trained model and in the model its checkpoint rebuilds; a rate outside [0, 1) is refused by name."""
    result = train(tiny_config(tiny_root, tmp_path / "run", epochs=1, max_steps_per_epoch=1, head_dropout=0.2), progress=False)
    rebuilt = model_from_checkpoint(load_checkpoint(result.checkpoint))
    rates = {module.p for module in rebuilt.head.modules() if isinstance(module, torch.nn.Dropout)}
    assert rates == {0.2} and rebuilt.model_args["dropout"] == 0.2
    with pytest.raises(ValueError, match="head_dropout must be in"):
        TrainConfig(head_dropout=1.0)
