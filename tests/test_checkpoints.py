"""Checkpoint files: round trip, refusal of damaged or unsafe files, atomic writes."""
import os
import pickle
import random

import pytest
import torch

import workbench.checkpoints as checkpoints
from workbench.checkpoints import CheckpointError, load_checkpoint, model_from_checkpoint, save_checkpoint
from workbench.model import build_model

THEMES = ["Alpha", "Beta", "Gamma"]


def make_payload(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    model = build_model("compact", num_bins=10, num_themes=3, roi_size=16)
    return {
        "model_args": model.model_args,
        "model": model.state_dict(),
        "theme_names": THEMES,
        "num_bins": 10,
        "canvas": 800,
        "transform": "full",
        "data": {"name": "tiny", "description": "", "synthetic": True, "root": "/data"},
        "config": {"epochs": 1, "limit_images": None},
        "metrics": {"emd1": 0.05},
        "history": [{"epoch": 1, "train_loss": 0.1}],
        "epoch": 1,
        "step": 0,
        "rng": {"torch": torch.get_rng_state()},
    }


class Arbitrary:
    """Any class: unpickling it runs code chosen by whoever wrote the file."""

    def __reduce__(self):
        return (os.getcwd, ())


def test_round_trip_rebuilds_a_model_with_identical_outputs(tmp_path):
    payload = make_payload()
    reference = build_model(**payload["model_args"])
    reference.load_state_dict(payload["model"])
    path = save_checkpoint(tmp_path / "model.pt", payload)
    loaded = load_checkpoint(path)
    assert loaded["format"] == checkpoints.FORMAT and loaded["theme_names"] == THEMES
    assert loaded["data"]["synthetic"] is True and loaded["history"] == payload["history"]
    model = model_from_checkpoint(loaded).eval()
    reference.eval()
    images, sizes = torch.randn(2, 3, 64, 64), torch.tensor([[64, 48], [40, 64]])
    themes = torch.tensor([0, -1])
    with torch.no_grad():
        assert torch.equal(model(images, sizes, themes), reference(images, sizes, themes))


@pytest.mark.parametrize("damage", ["truncated", "empty", "missing"])
def test_damaged_files_are_refused(tmp_path, damage):
    path = save_checkpoint(tmp_path / "model.pt", make_payload())
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.unlink()
    with pytest.raises(CheckpointError, match="model.pt"):
        load_checkpoint(path)


def test_random_bytes_are_refused_whatever_the_unpickler_trips_on(tmp_path):
    # Garbage reaches torch's legacy unpickler, whose failures vary with the bytes (CI once saw an
    # IndexError); many seeded draws, including ones that start like a pickle, must all be refused.
    path = tmp_path / "model.pt"
    rng = random.Random(0)
    for draw in range(300):
        body = rng.randbytes(rng.randint(1, 4096))
        path.write_bytes(body if draw % 2 else b"\x80\x02" + body)
        with pytest.raises(CheckpointError, match="model.pt"):
            load_checkpoint(path)


def test_pickled_objects_are_refused_not_run(tmp_path):
    path = tmp_path / "evil.pt"
    torch.save({**make_payload(), "format": checkpoints.FORMAT, "format_version": 1, "extra": Arbitrary()}, path)
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_checkpoint(path)
    plain = tmp_path / "plain.pkl"
    plain.write_bytes(pickle.dumps(Arbitrary()))
    with pytest.raises(CheckpointError):
        load_checkpoint(plain)


def test_not_a_workbench_checkpoint_is_refused(tmp_path):
    torch.save({"state_dict": {"w": torch.zeros(2)}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not a workbench checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_tampered_state_dicts_are_refused(tmp_path):
    payload = make_payload()
    name = next(key for key, value in payload["model"].items() if value.ndim == 4)
    payload["model"][name] = torch.zeros(1, 1, 1, 1)
    save_checkpoint(tmp_path / "shapes.pt", payload)
    with pytest.raises(CheckpointError, match="does not match"):
        model_from_checkpoint(load_checkpoint(tmp_path / "shapes.pt"), tmp_path / "shapes.pt")
    payload = make_payload()
    payload["theme_names"] = THEMES[:2]  # the theme branch has 3 rows
    save_checkpoint(tmp_path / "themes.pt", payload)
    with pytest.raises(CheckpointError, match="theme"):
        model_from_checkpoint(load_checkpoint(tmp_path / "themes.pt"))


def test_a_failed_save_leaves_the_old_file_intact_and_no_temp_file(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "last.pt", make_payload(seed=0))
    before = path.read_bytes()
    real_save = torch.save

    def failing_save(obj, handle, *args, **kwargs):
        real_save(obj, handle, *args, **kwargs)
        handle.truncate(handle.tell() // 2)  # half written when the disk fills up or the job is killed
        raise OSError("No space left on device")

    monkeypatch.setattr(checkpoints.torch, "save", failing_save)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(path, make_payload(seed=1))
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1


def test_half_precision_weights_load_back_within_the_tolerance_or_are_refused(tmp_path):
    payload = make_payload()
    half = checkpoints.half_precision_weights(payload, tolerance=1e-3)
    assert all(value.dtype == torch.float16 for value in half.values() if value.is_floating_point())
    path = save_checkpoint(tmp_path / "half.pt", {**payload, "model": half})
    model = model_from_checkpoint(load_checkpoint(path))
    assert all(p.dtype == torch.float32 for p in model.parameters())  # cast back on load
    with pytest.raises(ValueError, match="float16 weights move the predictions"):
        checkpoints.half_precision_weights(payload, tolerance=0.0)


# --------------------------------------------------------------------------------------------------
# The schema: one writer, one reader, older formats migrated on read


def version_1_file(path, **payload) -> None:
    """What save_checkpoint wrote before format 2: format_version 1, ``canvas`` / ``transform`` optional."""
    body = {key: value for key, value in make_payload().items() if key not in ("canvas", "transform")}
    torch.save({"format": checkpoints.FORMAT, "format_version": 1, "code_version": "0.1.0+old", **body, **payload}, path)


@pytest.mark.parametrize(
    "stored, canvas, transform",
    [
        ({"config": {"canvas": 256, "transform": "full"}}, 256, "full"),  # the test fixtures' shape
        ({"config": {"canvas": 800, "transform": "resize"}}, 299, "resize"),  # a baseline: as training derives it
        ({"config": {"canvas": 800, "transform": "crop"}, "canvas": 299, "transform": "crop"}, 299, "crop"),  # train's
        ({"config": None, "data": None, "metrics": None}, 800, "full"),  # nothing said: the paper's canvas
    ],
)
def test_version_1_files_are_migrated_on_read(tmp_path, stored, canvas, transform):
    version_1_file(tmp_path / "old.pt", **stored)
    payload = load_checkpoint(tmp_path / "old.pt")
    assert payload["format_version"] == checkpoints.FORMAT_VERSION == 3
    assert (payload["canvas"], payload["transform"]) == (canvas, transform) and payload["model_args"]["no_theme"] == "learned"
    assert isinstance(payload["config"], dict) and isinstance(payload["data"], dict) and isinstance(payload["metrics"], dict)
    assert payload["code_version"] == "0.1.0+old" and payload["epoch"] == 1  # the rest as stored
    model_from_checkpoint(payload)


def test_the_shipped_demo_checkpoint_loads_and_so_does_its_version_1_form(tmp_path):
    path = checkpoints.Path(__file__).resolve().parents[1] / "checkpoints" / "demo.pt"
    raw = torch.load(path, weights_only=True)
    assert 2 <= raw["format_version"] <= checkpoints.FORMAT_VERSION and set(raw) <= set(checkpoints.KEY_ROLES)
    # The same weights as the version-1 file the demo shipped as until 2026-12-02 (no canvas, no transform:
    # readers derived them from the config), written raw, load migrated.
    old = {key: value for key, value in raw.items() if key not in ("canvas", "transform")}
    torch.save({**old, "format_version": 1}, tmp_path / "demo_v1.pt")
    payload = load_checkpoint(tmp_path / "demo_v1.pt")
    assert payload["format_version"] == 3 and payload["canvas"] == 800 and payload["transform"] == "full"
    assert payload["model_args"]["no_theme"] == raw["model_args"].get("no_theme", "learned")
    # Saved again it is a current file with the same keys and weights.
    again = load_checkpoint(save_checkpoint(tmp_path / "demo.pt", checkpoints.inference_payload(payload)))
    assert set(again) == set(payload) - {"step"} and all(torch.equal(again["model"][key], value) for key, value in payload["model"].items())


def test_newer_or_malformed_versions_are_refused(tmp_path):
    for version, message in ((4, "newer than this workbench"), ("2", "format_version must be"), (0, "format_version must be")):
        torch.save({**make_payload(), "format": checkpoints.FORMAT, "format_version": version}, tmp_path / "odd.pt")
        with pytest.raises(CheckpointError, match=message):
            load_checkpoint(tmp_path / "odd.pt")


@pytest.mark.parametrize("no_theme", [None, "learned", "posterior"])
def test_version_2_files_written_before_no_theme_load_unchanged(tmp_path, no_theme):
    """Format 3 names no_theme in model_args; a version-2 file that does not predicted by the learned vector."""
    from workbench.predict import Predictor

    torch.manual_seed(0)
    options = {} if no_theme is None else {"no_theme": no_theme}
    model = build_model("compact", num_bins=10, num_themes=3, roi_size=16, width=8, theme_dim=8, hidden_dim=16, **options).eval()
    body = {**make_payload(), "model_args": model.model_args, "model": model.state_dict(), "theme_names": ["a", "b", "c"]}
    assert ("no_theme" in body["model_args"]) == (no_theme == "posterior")  # build_model records it only when not learned
    torch.save({**body, "format": checkpoints.FORMAT, "format_version": 2, "code_version": "0.1.0+old"}, tmp_path / "v2.pt")
    payload = load_checkpoint(tmp_path / "v2.pt")
    assert payload["format_version"] == 3 and payload["model_args"]["no_theme"] == (no_theme or "learned")
    assert {key: value for key, value in payload["model_args"].items() if key != "no_theme"} == {
        key: value for key, value in model.model_args.items() if key != "no_theme"}  # fmt: skip
    rebuilt = model_from_checkpoint(payload)
    images = torch.rand(2, 3, 64, 64)
    sizes, themes = torch.tensor([[64, 48], [40, 64]]), torch.tensor([1, -1])
    with torch.no_grad():
        torch.testing.assert_close(rebuilt.eval()(images, sizes, themes), model(images, sizes, themes))
    assert Predictor.from_checkpoint(tmp_path / "v2.pt").card["model"]["no_theme"] == (no_theme or "learned")
    # Written again, the file names it itself.
    again = torch.load(save_checkpoint(tmp_path / "v3.pt", checkpoints.inference_payload(payload)), weights_only=True)
    assert again["format_version"] == 3 and again["model_args"]["no_theme"] == (no_theme or "learned")
    torch.save({**body, "model_args": {**body["model_args"], "no_theme": "maybe"}, "format": checkpoints.FORMAT, "format_version": 3},
               tmp_path / "bad.pt")  # fmt: skip
    with pytest.raises(CheckpointError, match="no_theme"):
        load_checkpoint(tmp_path / "bad.pt")


def test_the_writer_refuses_keys_the_schema_does_not_document(tmp_path):
    with pytest.raises(ValueError, match="unknown: best_epoch"):
        save_checkpoint(tmp_path / "x.pt", {**make_payload(), "best_epoch": 3})
    without = {key: value for key, value in make_payload().items() if key != "canvas"}
    with pytest.raises(ValueError, match="missing: canvas"):
        save_checkpoint(tmp_path / "x.pt", without)
    with pytest.raises(ValueError, match="transform must be one of"):
        save_checkpoint(tmp_path / "x.pt", {**make_payload(), "transform": "pad"})
    assert not (tmp_path / "x.pt").exists()


def test_every_key_has_a_role_and_export_keeps_the_inference_ones(tmp_path):
    assert set(checkpoints.KEY_ROLES.values()) == {checkpoints.MODEL, checkpoints.CARD, checkpoints.RESUME}
    assert {key for key, role in checkpoints.KEY_ROLES.items() if role == checkpoints.RESUME} == {
        "step", "optimizer", "scheduler", "scaler", "rng", "progress"}  # fmt: skip
    assert set(checkpoints.REQUIRED_KEYS) <= set(checkpoints.INFERENCE_KEYS)
    payload = load_checkpoint(save_checkpoint(tmp_path / "last.pt", {**make_payload(), "optimizer": {}, "progress": {}}))
    exported = checkpoints.inference_payload(payload)
    assert set(exported) == set(payload) - {"step", "optimizer", "rng", "progress"}
    assert exported["metrics"] == {"emd1": 0.05} and exported["canvas"] == 800
