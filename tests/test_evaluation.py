"""evaluate_model under DDP (gloo, two CPU processes) predicts exactly what one process does."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from workbench.checkpoints import load_checkpoint, model_from_checkpoint
from workbench.data.csv_folder import read_csv_folder
from workbench.data.datasets import AestheticDataset
from workbench.evaluation import evaluate_model

REPO = Path(__file__).resolve().parents[1]

EVALUATE_ON_EACH_RANK = """
import sys
import numpy as np
import torch.distributed as dist
from workbench.checkpoints import load_checkpoint, model_from_checkpoint
from workbench.data.csv_folder import read_csv_folder
from workbench.data.datasets import AestheticDataset
from workbench.evaluation import evaluate_model

checkpoint, root, out = sys.argv[1:4]
dist.init_process_group("gloo")
model = model_from_checkpoint(load_checkpoint(checkpoint))
dataset = AestheticDataset(read_csv_folder(root), "test", transform="full", canvas=128)
results = {}
for tta in (False, True):
    for themes in (True, False):
        pred, target, index = evaluate_model(model, dataset, batch_size=3, tta=tta, themes=themes)
        results.update({f"{tta}-{themes}-pred": pred, f"{tta}-{themes}-target": target, f"{tta}-{themes}-index": index})
np.savez(f"{out}-rank{dist.get_rank()}.npz", **results)
dist.destroy_process_group()
"""


@pytest.mark.slow
def test_ddp_evaluation_equals_single_process_evaluation(tmp_path, write_tiny_folder, make_tiny_checkpoint, tiny_themes):
    root = write_tiny_folder(tmp_path / "data", n_train=2, n_val=2, n_test=9)  # 9: the two ranks get 5 and 4 photos
    checkpoint = make_tiny_checkpoint(tmp_path / "tiny.pt", themes=tiny_themes)
    script = tmp_path / "evaluate_each_rank.py"
    script.write_text(EVALUATE_ON_EACH_RANK)
    torchrun = Path(sys.executable).with_name("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    run = subprocess.run([str(torchrun), "--standalone", "--nproc_per_node=2", str(script), str(checkpoint), str(root), str(tmp_path / "ddp")],
                         env=env, capture_output=True, text=True, cwd=tmp_path)  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]

    model = model_from_checkpoint(load_checkpoint(checkpoint))
    dataset = AestheticDataset(read_csv_folder(root), "test", transform="full", canvas=128)
    ranks = [np.load(tmp_path / f"ddp-rank{rank}.npz") for rank in (0, 1)]
    for tta in (False, True):
        for themes in (True, False):
            pred, target, index = evaluate_model(model, dataset, batch_size=3, tta=tta, themes=themes)
            assert index.tolist() == list(range(9))
            for gathered in ranks:  # every rank returns the whole split, gathered
                np.testing.assert_array_equal(gathered[f"{tta}-{themes}-index"], index)
                np.testing.assert_array_equal(gathered[f"{tta}-{themes}-target"], target)
                np.testing.assert_allclose(gathered[f"{tta}-{themes}-pred"], pred, rtol=0, atol=1e-6)
    assert not np.allclose(ranks[0]["False-True-pred"], ranks[0]["False-False-pred"], atol=1e-4)  # themes did reach the head
