"""Command line: ``python -m workbench {train,evaluate,predict,export,synth,ablation,probe} ...``.

    python -m workbench train --config configs/demo_synthetic.yaml --data_root data/synth
    python -m workbench train --config configs/demo_synthetic.yaml --resume
    torchrun --nproc_per_node=2 -m workbench train --config configs/paper_ava.yaml
    python -m workbench evaluate --checkpoint runs/demo/best.pt --data-root data/synth --tta
    python -m workbench predict --checkpoint runs/demo/best.pt --theme Macro photo.jpg
    python -m workbench export --checkpoint runs/demo/best.pt --out checkpoints/demo.pt
    python -m workbench synth --out data/synth --n 3000
    python -m workbench ablation --config configs/ablation_synthetic.yaml --out runs/ablation
    python -m workbench probe --data-root data/synth --train 1200
    python -m workbench fidelity --checkpoint checkpoints/demo.pt --data-root data/synth

Errors are one line on stderr: exit status 1 for bad files, checkpoints or data, 2 for bad arguments.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import sys
import typing
from pathlib import Path
from typing import Sequence

from workbench.checkpoints import CheckpointError
from workbench.data.augment import TRANSFORMS

DEFAULT_CHECKPOINT = Path("checkpoints") / "demo.pt"
HISTOGRAM_WIDTH = 40  # characters of the longest bar in `predict`'s histograms


# The train flags are generated from TrainConfig's fields (types, defaults, the comment beside each field as its
# help) with argparse rather than tyro / simple-parsing: those would change the documented syntax (`--amp false`,
# `none`, both `--batch-size` and `--batch_size`), and YAML values and flags must share one parser (coerce_field).
def _config_fields():
    from workbench.config import TrainConfig

    return TrainConfig, dataclasses.fields(TrainConfig), typing.get_type_hints(TrainConfig)


def _type_name(annotation) -> str:
    args = typing.get_args(annotation)
    kinds = [a.__name__ for a in args if a is not type(None)] if args else [annotation.__name__]
    return "|".join(kinds) + ("|none" if type(None) in args else "")


@functools.lru_cache(maxsize=1)
def _field_helps() -> dict[str, str]:
    """The comment beside each field in TrainConfig's source: its documentation."""
    import inspect

    from workbench.config import TrainConfig

    helps = {}
    for line in inspect.getsource(TrainConfig).splitlines():
        declaration, _, comment = line.strip().partition("  # ")
        if ":" in declaration and comment:
            helps[declaration.split(":", 1)[0]] = comment.strip().replace("%", "%%")
    return helps


def _add_train(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a model (every TrainConfig field can be overridden)",
        usage="python -m workbench train [--config FILE.yaml] [--resume [CHECKPOINT]] [--no-progress] [--FIELD VALUE ...]",
        description="Train from a YAML config; --FIELD VALUE overrides any field of it "
        "(booleans: true/false, none for unset). Under torchrun it trains with DDP.",
    )  # fmt: skip
    parser.add_argument("--config", help="YAML file of TrainConfig fields (default: the paper's recipe)")
    parser.add_argument("--resume", nargs="?", const=True, default=False, metavar="CHECKPOINT",
                        help="continue from out_dir/last.pt, or from CHECKPOINT")  # fmt: skip
    parser.add_argument("--no-progress", action="store_true", help="no progress bars or per-epoch lines")
    _, fields, types = _config_fields()
    group = parser.add_argument_group("config fields (override the YAML)")
    for item in fields:
        names = [f"--{item.name}"] + ([f"--{item.name.replace('_', '-')}"] if "_" in item.name else [])
        group.add_argument(*names, dest=f"field_{item.name}", default=argparse.SUPPRESS,
                           type=_field_parser(item.name, types[item.name]), metavar=_type_name(types[item.name]).upper(),
                           help=f"{_field_helps().get(item.name, '')} (default {item.default!r})")  # fmt: skip
    parser.set_defaults(func=_train)


def _field_parser(name: str, annotation):
    """argparse ``type=`` for a config field: a bad value is an argument error (exit status 2)."""
    from workbench.config import coerce_field

    def parse(text: str):
        try:
            return coerce_field(name, annotation, text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error).removeprefix("config: ")) from None

    parse.__name__ = _type_name(annotation)  # what argparse names in "invalid <type> value"
    return parse


def _train(args: argparse.Namespace) -> int:
    from workbench.config import TrainConfig
    from workbench.train import train

    overrides = {key[len("field_"):]: value for key, value in vars(args).items() if key.startswith("field_")}
    config = TrainConfig.from_yaml(args.config, **overrides) if args.config else TrainConfig.from_dict(overrides)
    result = train(config, resume=args.resume, progress=not args.no_progress)
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"checkpoint: {result.checkpoint}" + (f"  best: {result.best_checkpoint}" if result.best_checkpoint else ""))
        if result.metrics:
            _print_metrics(result.metrics, "validation")
    return 0


def _print_metrics(metrics: dict, name: str) -> None:
    from workbench.metrics import results_table

    for table in ("I", "II"):
        print(results_table({name: metrics}, table=table).to_string(float_format=lambda v: f"{v:.4f}"))


def _device(text: str) -> str:
    """argparse ``type=`` for --device: an unknown or absent device is an argument error, found before any checkpoint is read."""
    from workbench.runtime import check_device

    try:
        return check_device(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive_int(text: str) -> int:
    """argparse ``type=`` for counts that must be >= 1 (--batch-size)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _add_evaluate(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="metrics of a checkpoint on a split (Tables I-II)")
    parser.add_argument("--checkpoint", required=True, help="checkpoint file (.pt)")
    parser.add_argument("--data-root", "--data_root", dest="data_root", required=True,
                        help="dataset folder (csv) or the folder the config's AVA/Photo.net paths start from")  # fmt: skip
    parser.add_argument("--split", default="test", choices=("train", "val", "test"), help="split (default test)")
    parser.add_argument("--tta", action="store_true", help="average the test-time views (six for full)")
    parser.add_argument("--no-theme", action="store_true", help="predict without the photos' themes")
    parser.add_argument("--device", default="auto", type=_device, help="auto, cpu, cuda or cuda:N (default auto)")
    parser.add_argument("--batch-size", type=_positive_int, default=None, help="photos per batch (default: training's)")
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader workers (default 0)")
    parser.set_defaults(func=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    from workbench.evaluation import evaluate_checkpoint

    metrics = evaluate_checkpoint(
        args.checkpoint, data_root=args.data_root, split=args.split, tta=args.tta, themes=not args.no_theme,
        device=args.device, batch_size=args.batch_size, num_workers=args.num_workers, progress=True,
    )  # fmt: skip
    _print_metrics(metrics, f"{Path(args.checkpoint).name} ({args.split}{', tta' if args.tta else ''})")
    return 0


def _add_predict(subparsers) -> None:
    parser = subparsers.add_parser("predict", help="score distributions of photos")
    parser.add_argument("--checkpoint", default=None, help=f"checkpoint file (default {DEFAULT_CHECKPOINT} if present)")
    parser.add_argument("--theme", default=None, help="theme name the photos were taken for (default: none)")
    parser.add_argument("--view", default=None, choices=TRANSFORMS,
                        help="how the photo is shown to the model (default: the transform it was trained on, as evaluate shows it)")  # fmt: skip
    parser.add_argument("--tta", action="store_true", help="average the test-time views")
    parser.add_argument("--device", default="cpu", type=_device, help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("files", nargs="+", metavar="FILE", help="photos")
    parser.set_defaults(func=_predict)


def _histogram(distribution) -> list[str]:
    top = max(float(max(distribution)), 1e-12)
    return [
        f"  {score:>2} {'█' * round(HISTOGRAM_WIDTH * float(p) / top):<{HISTOGRAM_WIDTH}} {float(p):.3f}"
        for score, p in enumerate(distribution, 1)
    ]


def _predict(args: argparse.Namespace) -> int:
    import difflib

    from workbench.data.images import ImageError
    from workbench.predict import Predictor, summarize

    path = args.checkpoint
    if path is None:
        candidates = [DEFAULT_CHECKPOINT, Path(__file__).resolve().parents[1] / DEFAULT_CHECKPOINT]
        path = next((str(c) for c in candidates if c.is_file()), None)
        if path is None:
            return _usage_error("predict", f"no --checkpoint given and {DEFAULT_CHECKPOINT} does not exist")
    predictor = Predictor.from_checkpoint(path, args.device)
    theme = args.theme
    if theme is not None:
        names = list(predictor.theme_names)
        try:
            predictor.theme_id(theme)
        except ValueError:
            if not names:
                return _usage_error("predict", f"--theme {theme!r}: this model was trained without themes")
            folded = {name.casefold(): name for name in reversed(names)}
            close = [folded[m] for m in difflib.get_close_matches(theme.casefold(), list(folded), n=5, cutoff=0.5)]
            hint = f"; close matches: {', '.join(map(repr, close))}" if close else f"; known themes: {', '.join(names[:10])}{', ...' if len(names) > 10 else ''}"
            return _usage_error("predict", f"unknown theme {theme!r}{hint}")
    print(predictor.describe())
    status = 0
    for file in args.files:
        try:
            distribution = predictor.predict([file], themes=theme, view=args.view, tta=args.tta)[0]
        except (ImageError, FileNotFoundError, IsADirectoryError, PermissionError) as error:
            message = (str(error).strip().splitlines() or [type(error).__name__])[0]
            print(f"error: {message if str(file) in message else f'{file}: {message}'}", file=sys.stderr)
            status = 1
            continue
        summary = summarize(distribution)
        print(f"{file}: mean {summary['mean']:.2f}  std {summary['std']:.2f}")
        print("\n".join(_histogram(distribution)))
    return status


def _add_export(subparsers) -> None:
    parser = subparsers.add_parser("export", help="a checkpoint without its optimizer state, for prediction")
    parser.add_argument("--checkpoint", required=True, help="checkpoint to export (e.g. runs/demo/best.pt)")
    parser.add_argument("--out", required=True, help="file to write (e.g. checkpoints/demo.pt)")
    parser.add_argument("--half", action="store_true",
                        help="store the weights in float16 (half the file); refused if predictions move by more than 1e-3")
    parser.set_defaults(func=_export)


def _export(args: argparse.Namespace) -> int:
    from workbench.checkpoints import inference_payload, load_checkpoint, model_from_checkpoint, save_checkpoint

    payload = load_checkpoint(args.checkpoint)
    model_from_checkpoint(payload, args.checkpoint)  # refuse to export what would not load
    kept = inference_payload(payload)
    if args.half:
        from workbench.checkpoints import half_precision_weights

        try:
            kept["model"] = half_precision_weights(payload, tolerance=1e-3)
        except ValueError as error:
            print(f"python -m workbench export: error: {error}", file=sys.stderr)
            return 1
    path = save_checkpoint(args.out, kept)
    print(f"wrote {path} ({path.stat().st_size / 2**20:.1f} MiB)")
    return 0


def _usage_error(command: str, message: str) -> int:
    print(f"python -m workbench {command}: error: {message}", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m workbench", description=__doc__.split("\n\n")[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="{train,evaluate,predict,export,synth,ablation,probe,fidelity}")
    _add_train(subparsers)
    _add_evaluate(subparsers)
    _add_predict(subparsers)
    _add_export(subparsers)
    subparsers.add_parser("synth", help="write the synthetic benchmark (python -m workbench synth --help)", add_help=False)
    subparsers.add_parser("ablation", help="Tables III-V across seeds (python -m workbench ablation --help)", add_help=False)
    subparsers.add_parser("probe", help="what each view's pixels carry, without a CNN (python -m workbench probe --help)", add_help=False)
    subparsers.add_parser("fidelity", help="a synthetic-benchmark model against the truth: by view, theme, attribute (python -m workbench fidelity --help)", add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "synth":
        from workbench.data.synth import main as synth_main

        return synth_main(argv[1:])
    if argv and argv[0] == "ablation":
        from workbench.ablation import main as ablation_main

        return ablation_main(argv[1:])
    if argv and argv[0] == "fidelity":
        from workbench.fidelity import main as fidelity_main

        return fidelity_main(argv[1:])
    if argv and argv[0] == "probe":
        from workbench.view_probe import main as probe_main

        return probe_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, FileNotFoundError, IsADirectoryError, PermissionError) as error:  # CheckpointError, ImageError
        kind = "checkpoint error" if isinstance(error, CheckpointError) else "error"
        lines = str(error).strip().splitlines() or [type(error).__name__]
        print(f"{kind}: {lines[0]}", file=sys.stderr)  # one line; the rest is library detail
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
