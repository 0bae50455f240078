"""Explain a whole test set on every GPU of a node: Integrated Gradients and Grad-CAM for
each image, gathered into dataset-level answers (does the model point at the shortcut?).

One process per GPU (or per CPU share), launched by torchrun or srun:

    torchrun --standalone --nproc_per_node=4 hpc/attribute_dataset.py --out runs/ig
    srun --ntasks-per-node=4 --gpus-per-task=1 python hpc/attribute_dataset.py --out runs/ig
    python hpc/attribute_dataset.py --out runs/ig          # one process (a laptop)

Each process explains its shard of the images (``utils.shard_indices``), the shards
are gathered (``utils.gather_shards``), and process 0 writes ``attributions.npz`` (every
map, prediction and label) and ``summary.json`` (dataset-level scores, timings, the
throughput of a bare forward+backward pass on the same batch, peak memory).

The data: the MNIST test digits of ``utils.load_dataset("mnist")`` twice, as they are
and with the shortcut marker of ``mnist_cnn_shortcut`` stamped on every image (the
clean copies are the control).
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools.train_weights import SHORTCUT  # noqa: E402
from utils import (  # noqa: E402
    MnistCNN,
    add_marker,
    gather_shards,
    grad_cam,
    init_distributed,
    load_dataset,
    load_weights,
    marker_region,
    mass_in_region,
    pointing_game,
    shard_indices,
    upsample_cam,
)

#: The shortcut of ``mnist_cnn_shortcut``, as it was trained (stamped here on every image).
MARKER = {key: SHORTCUT[key] for key in ("size", "corner", "value")}
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def make_images(n_images: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return images ``(2n, 1, 28, 28)``, labels and the marked flag: n clean, n marked."""
    data = load_dataset("mnist")
    clean, labels = data.X_test[:n_images], data.y_test[:n_images]
    marked, _ = add_marker(clean, labels, target_class=None, **MARKER)
    images = np.concatenate([clean, marked]).astype(np.float32)
    flag = np.repeat([False, True], len(clean))
    return images, np.concatenate([labels, labels]), flag


def explain_batch(model: torch.nn.Module, x: torch.Tensor, steps: int, precision: str,
                  internal_batch: int) -> dict[str, np.ndarray]:  # fmt: skip
    """Predict, then explain the predicted class with IG (black baseline) and Grad-CAM."""
    from captum.attr import IntegratedGradients

    dtype = PRECISIONS[precision]
    autocast = torch.autocast(x.device.type, dtype=dtype, enabled=dtype is not None)
    with torch.no_grad(), autocast:
        pred = model(x).float().argmax(1)
    with autocast:
        ig = IntegratedGradients(model).attribute(
            x.requires_grad_(), baselines=torch.zeros_like(x), target=pred, n_steps=steps,
            internal_batch_size=internal_batch)  # fmt: skip
        cam = grad_cam(model, model.target_layer, x.detach(), pred.tolist())
    return {"pred": pred.cpu().numpy(), "ig": ig.detach().float().sum(1).cpu().numpy(),
            "gradcam": upsample_cam(cam, (28, 28))}  # fmt: skip


def forward_backward_rate(model: torch.nn.Module, x: torch.Tensor, repeats: int = 5) -> float:
    """Images per second of a bare forward + backward pass (input gradient) on ``x``."""
    def once() -> None:
        inp = x.detach().requires_grad_()
        model(inp).max(1).values.sum().backward()

    once()  # warm-up
    _sync(x.device)
    start = time.perf_counter()
    for _ in range(repeats):
        once()
    _sync(x.device)
    model.zero_grad(set_to_none=True)
    return repeats * len(x) / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def summarise(results: dict[str, np.ndarray]) -> dict[str, object]:
    """Dataset-level answers from the gathered maps: clean images vs marked ones."""
    marker = marker_region((28, 28), size=MARKER["size"], corner=MARKER["corner"])
    seen = marker_region((28, 28), size=8, corner=MARKER["corner"])  # what the conv units see
    out: dict[str, object] = {}
    for group, rows in (("clean", ~results["marked"]), ("marked", results["marked"])):
        scores = {"n_images": int(rows.sum()),
                  "share_predicted_7": float(np.mean(results["pred"][rows] == 7))}  # fmt: skip
        for method in ("ig", "gradcam"):
            maps = results[method][rows]
            hits = pointing_game(maps, seen, axis=(-2, -1))
            scores[f"{method}_peak_on_marker"] = float(hits.mean())
            scores[f"{method}_mass_on_marker"] = mass_in_region(maps, marker)
        out[group] = scores
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder for the results")
    parser.add_argument("--n-images", type=int, default=None, help="test digits (default all)")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=32, help="IG integration steps")
    parser.add_argument("--precision", choices=sorted(PRECISIONS), default="fp32")
    parser.add_argument("--model", default="mnist_cnn_shortcut")
    args = parser.parse_args(argv)
    if args.batch_size < 1 or args.steps < 1 or (args.n_images is not None and args.n_images < 1):
        parser.error("--batch-size, --steps and --n-images must be positive")

    rank, world_size, device = init_distributed()
    torch.manual_seed(0)
    images, labels, marked = make_images(args.n_images)
    model = load_weights(MnistCNN(), args.model).to(device).eval()
    mine = shard_indices(len(images), rank, world_size)

    _sync(device)
    start = time.perf_counter()
    parts: list[dict[str, np.ndarray]] = []
    for lo in range(0, len(mine), args.batch_size):
        x = torch.as_tensor(images[mine[lo : lo + args.batch_size]], device=device)
        parts.append(explain_batch(model, x, args.steps, args.precision, args.batch_size))
    _sync(device)
    seconds = time.perf_counter() - start
    local = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    rate = forward_backward_rate(model, torch.as_tensor(images[mine[: args.batch_size]],
                                                        device=device))  # fmt: skip
    peak_mb = (torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda"
               else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)  # fmt: skip
    local["seconds"] = np.full(len(mine), seconds)
    local["fwd_bwd_rate"] = np.full(len(mine), rate)
    local["peak_mb"] = np.full(len(mine), peak_mb)
    every = gather_shards(mine, local, len(images))

    if rank == 0:
        args.out.mkdir(parents=True, exist_ok=True)
        results = {"label": labels, "marked": marked, **every}
        wall = float(every["seconds"].max())  # the slowest process sets the pace
        summary = {
            "world_size": world_size, "device": str(device),
            "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU",
            "precision": args.precision, "batch_size": args.batch_size, "steps": args.steps,
            "n_images": len(images), "seconds": wall,
            "images_per_second": len(images) / wall,
            "forward_backward_images_per_second": float(np.mean(np.unique(every["fwd_bwd_rate"]))),
            "peak_mb_per_process": float(every["peak_mb"].max()),
            "threads_per_process": torch.get_num_threads(),
            **summarise(results),
        }  # fmt: skip
        # IG needs `steps` forward+backward passes per image (Grad-CAM and the prediction
        # add two more): the bare passes of all processes are the ceiling on this hardware.
        passes = summary["images_per_second"] * (args.steps + 2)
        limit = summary["forward_backward_images_per_second"] * world_size
        summary["share_of_forward_backward_limit"] = passes / limit
        np.savez_compressed(args.out / "attributions.npz",
                            **{k: v for k, v in results.items()
                               if k not in ("seconds", "fwd_bwd_rate", "peak_mb")})  # fmt: skip
        (args.out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(json.dumps(summary, indent=2))
    if world_size > 1:
        torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
