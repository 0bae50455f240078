"""Explanations at scale: sharding and gathering match one process exactly, and two CPU
processes under torchrun (Gloo) give the single-process attributions and summary."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from torch.utils.data.distributed import DistributedSampler

import utils
from tools.notebooks import ROOT

SCRIPT = ROOT / "hpc" / "attribute_dataset.py"
ARGS = ["--n-images", "12", "--batch-size", "5", "--steps", "8"]


@pytest.mark.parametrize("n", [1, 7, 10, 13])
@pytest.mark.parametrize("world_size", [1, 2, 3, 4])
def test_shards_match_the_distributed_sampler_and_cover_the_data(n, world_size):
    shards = [utils.shard_indices(n, r, world_size) for r in range(world_size)]
    for rank, shard in enumerate(shards):
        sampler = DistributedSampler(range(n), num_replicas=world_size, rank=rank, shuffle=False)
        assert shard.tolist() == list(sampler)
    assert sorted(set(np.concatenate(shards).tolist())) == list(range(n))


def test_gather_alone_restores_dataset_order_and_rejects_gaps():
    idx = np.array([2, 0, 1, 0])  # a padded shard, out of order
    out = utils.gather_shards(idx, {"v": np.array([20, 0, 10, 0]), "m": np.eye(4)}, n=3)
    assert out["v"].tolist() == [0, 10, 20] and out["m"].shape == (3, 4)
    with pytest.raises(ValueError, match="do not cover"):
        utils.gather_shards(np.array([0, 2]), {"v": np.array([0, 2])}, n=3)
    with pytest.raises(ValueError, match="first axis"):
        utils.gather_shards(np.array([0, 1]), {"v": np.array([0])}, n=2)
    with pytest.raises(ValueError, match="rank"):
        utils.shard_indices(5, 2, 2)


def _run(command, out):
    proc = subprocess.run([*command, "--out", str(out), *ARGS], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return dict(np.load(out / "attributions.npz")), json.loads((out / "summary.json").read_text())


def test_two_gloo_processes_equal_one(tmp_path):
    alone, alone_summary = _run([sys.executable, str(SCRIPT)], tmp_path / "one")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                "--nproc_per_node=2", str(SCRIPT)]  # fmt: skip
    pair, pair_summary = _run(torchrun, tmp_path / "two")
    assert pair_summary["world_size"] == 2 and alone_summary["world_size"] == 1
    assert set(alone) == set(pair) and len(alone["pred"]) == 24
    np.testing.assert_array_equal(alone["pred"], pair["pred"])
    np.testing.assert_array_equal(alone["marked"], pair["marked"])
    for method in ("ig", "gradcam"):
        np.testing.assert_allclose(alone[method], pair[method], rtol=1e-4, atol=1e-6)
    for group in ("clean", "marked"):
        for key, value in alone_summary[group].items():
            assert pair_summary[group][key] == pytest.approx(value, rel=1e-4, abs=1e-6), key
    # the summary is what the gathered maps say (brute force, per image)
    seen = utils.marker_region((28, 28), size=8)
    marked = pair["marked"]
    hits = [float(np.unravel_index(np.abs(m).argmax(), m.shape) in
                  {tuple(p) for p in np.argwhere(seen)}) for m in pair["ig"][marked]]  # fmt: skip
    assert pair_summary["marked"]["ig_peak_on_marker"] == pytest.approx(np.mean(hits))
    assert pair_summary["marked"]["share_predicted_7"] == pytest.approx(
        np.mean(pair["pred"][marked] == 7))
