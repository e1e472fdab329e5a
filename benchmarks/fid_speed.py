"""Inception feature throughput: primps_core.eval.metrics's backends against the shipped TorchScript module.

All run the same network on the same 299x299 inputs (emoji-food images resized with the NVIDIA
bilinear protocol), same batch size, same threads, in one run: the shipped module called plainly,
the frozen TorchScript path (GPUs) and ONNX Runtime (the CPU default). Reports images/s, the
speed-up, the time over the compute floor (the network's FLOPs per image, counted with torch's
FlopCounterMode, at this machine's measured float32 matrix-multiply rate), the largest relative
feature difference, and the FID between two embedded targets with each backend.

    .venv/bin/python benchmarks/fid_speed.py [--images 96] [--batch 32]

Writes benchmarks/results/fid_speed.md.
"""
from __future__ import annotations

import argparse
import datetime
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from primps_core.data import sources
from primps_core.eval import metrics
from primps_core.study.reproduce import cpu_model

RESULTS = Path(__file__).resolve().parent / "results" / "fid_speed.md"


def images_per_second(run, x: torch.Tensor, batch: int, repeats: int = 3) -> tuple[float, np.ndarray]:
    """Best of ``repeats`` passes over ``x`` in batches; returns (images/s, features of the last pass)."""
    run(x[:batch])                                   # warm-up (and TorchScript profiling runs)
    run(x[:batch])
    best, feats = 0.0, None
    for _ in range(repeats):
        start = time.perf_counter()
        feats = np.concatenate([run(x[i:i + batch]) for i in range(0, len(x), batch)])
        best = max(best, len(x) / (time.perf_counter() - start))
    return best, feats


def matmul_flops_per_second(size: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=96)
    parser.add_argument("--batch", type=int, default=32)
    args = parser.parse_args()
    images = sources.load_images("emoji-food")[: args.images]
    x = metrics.inception_input(images)

    warnings.simplefilter("ignore", DeprecationWarning)
    plain_module = torch.jit.load(str(metrics.inception_weights_path())).eval()

    def plain(batch):
        with torch.no_grad():
            return plain_module(batch).numpy()

    plain_rate, plain_feats = images_per_second(plain, x, args.batch)
    rows, differences = [], {}
    for backend, label in (("torchscript", "frozen, optimize_for_inference, channels_last"),
                           ("onnxruntime", "ONNX Runtime, the CPU default")):
        extractor = metrics.InceptionFeatures(batch_size=args.batch, backend=backend)

        def ours(batch):
            with torch.inference_mode():
                return extractor.network(batch)
        rate, feats = images_per_second(ours, x, args.batch)
        differences[backend] = np.abs(feats - plain_feats).max() / np.abs(plain_feats).max()
        rows.append((f"primps_core.eval.metrics, {backend} ({label})", rate))

    extractor = metrics.InceptionFeatures(batch_size=args.batch)
    extractor(images[:args.batch], progress=False)                   # warm-up: the session's first run
    start = time.perf_counter()
    end_to_end = extractor(images, progress=False)
    rows.append(("primps_core.eval.metrics end to end from uint8 64 px (resize included)",
                 len(images) / (time.perf_counter() - start)))
    assert np.abs(end_to_end - plain_feats).max() <= 1e-4 * np.abs(plain_feats).max()

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        plain_module(x[:1])
    flops = counter.get_total_flops()
    peak = matmul_flops_per_second()
    floor_rate = peak / flops
    fid_torchscript, fid_onnx = target_fid("torchscript"), target_fid("onnxruntime")

    lines = [f"# Inception feature throughput ({datetime.date.today()})", "",
             f"CPU: {cpu_model()}, torch {torch.__version__}, {torch.get_num_threads()} threads; "
             f"{len(images)} images, batch {args.batch}, inputs already 299x299 (end to end includes the resize). "
             f"All rows measured in one run; the floor is {flops / 1e9:.1f} GFLOP/image at this run's float32 "
             f"matmul rate ({peak / 1e9:.0f} GFLOP/s).", "",
             "| extractor | images/s | ms/image | speed-up over the shipped module | time / floor |",
             "|---|---|---|---|---|",
             f"| shipped TorchScript module, plain (`jit.load`, `no_grad`, NCHW) | {plain_rate:.2f} | "
             f"{1000 / plain_rate:.0f} | 1.00x | {floor_rate / plain_rate:.2f} |"]
    for label, rate in rows:
        lines.append(f"| {label} | {rate:.2f} | {1000 / rate:.0f} | {rate / plain_rate:.2f}x | {floor_rate / rate:.2f} |")
    lines.append(f"| floor | {floor_rate:.2f} | {1000 / floor_rate:.0f} | {floor_rate / plain_rate:.2f}x | 1.00 |")
    lines += ["", "Largest feature difference from the shipped module, relative to the largest feature: "
              + ", ".join(f"{backend} {value:.1e}" for backend, value in differences.items()) + ".",
              f"FID between the embedded targets emoji-food and emoji-animals: torchscript {fid_torchscript:.4f}, "
              f"onnxruntime {fid_onnx:.4f} (difference {abs(fid_onnx - fid_torchscript):.1e}).", ""]
    table = "\n".join(lines)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(table)
    print(table)


def target_fid(backend: str) -> float:
    """FID between two embedded targets with one backend's features (no cache)."""
    extractor = metrics.InceptionFeatures(backend=backend)
    a, b = (extractor(sources.load_images(name), progress=False) for name in ("emoji-food", "emoji-animals"))
    return metrics.fid_from_features(a, b)["fid"]


if __name__ == "__main__":
    main()
