"""Pretraining runs shipped in the repository (``weights/``), so that losing ``runs/`` costs at
most the fine-tuning, and a user can fine-tune from Primitives-PS without pretraining first.

``export`` writes a finished pretraining run compactly: G, its EMA and D in float16 (about 2.8 MB
a run at the cpu preset, where optimiser moments would triple it), its config record and its
scored curve, as ``weights/<preset>/<source>-seed<seed>.pt``, and lists it in
``weights/MANIFEST.json`` with its SHA-256, the pretraining stage folder it came from and the
command that made it. ``shipped_pretrain_stage`` turns a shipped file back into a run folder a transfer can
start from (float32 weights, the run's log and scores), verifying the digest first.

Starting from a shipped run is always explicit: ``primps transfer --shipped``, ``primps reproduce
--shipped`` (``make reproduce SHIPPED=1``), which sets ``ENVIRONMENT`` for the notebooks' kernels.
A transfer from shipped weights is keyed by their digest, so it never shares a cached run with a
transfer from the pretraining run itself: float16 rounding changes the weights (by at most 2^-11
of each), and GAN training amplifies any change, so its scores are a new draw, not a copy.

    python -m primps_core.study.shipped [--preset cpu]   # exports the decisive arms' finished runs
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import torch

from .. import paths
from ..gan import training
from .pipeline import Context, stage

ENVIRONMENT = "PRIMPS_SHIPPED"       # "1": notebooks start their pretrained arms from the shipped runs
MANIFEST = "MANIFEST.json"
NETWORKS = ("G", "G_ema", "D")


def weights_dir() -> Path:
    return paths.ROOT / "weights"


def wanted() -> bool:
    """True when this process was asked to start from shipped runs (``ENVIRONMENT`` is ``1``)."""
    return os.environ.get(ENVIRONMENT, "") == "1"


def read_manifest(directory: Path | None = None) -> dict:
    path = (directory or weights_dir()) / MANIFEST
    return json.loads(path.read_text()) if path.is_file() else {"files": {}}


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass(frozen=True)
class RestoreConfig:
    pretrain: object           # the runs.PretrainConfig the shipped run was trained with
    sha256: str                # the shipped file's digest

    @property
    def train(self):
        """The training config of the run it restores (as a pretraining config's ``train``)."""
        return self.pretrain.train


def find(pretrain_folder: str, preset: str, directory: Path | None = None) -> tuple[str, dict] | None:
    """The shipped file (path relative to ``weights/``) and manifest entry of the pretraining run
    whose stage folder is ``pretrain_folder``, or None."""
    return next(((name, entry) for name, entry in read_manifest(directory)["files"].items()
                 if entry["preset"] == preset and entry["pretrain_folder"] == pretrain_folder), None)


def lookup(pretrain_folder: str, preset: str, directory: Path | None = None) -> tuple[str, dict]:
    """``find``, with one clear error naming what is shipped when nothing matches."""
    found = find(pretrain_folder, preset, directory)
    if found is not None:
        return found
    shipped = ", ".join(sorted(read_manifest(directory)["files"])) or "nothing"
    raise ValueError(f"no shipped weights for pretraining run {preset}/pretrain/{pretrain_folder} (weights/ holds "
                     f"{shipped}); run without --shipped to train it")


@stage("shipped_pretrain", version=1)
def shipped_pretrain_stage(config: RestoreConfig, out_dir: Path, context: Context) -> dict:
    """A run folder from the shipped file of digest ``config.sha256``: ``checkpoint.pt`` with the
    float32 weights (no optimiser moments: a transfer starts fresh ones), ``log.jsonl`` with the
    run's evaluations; the result is the run's, plus where it came from."""
    name = next((name for name, entry in read_manifest()["files"].items() if entry["sha256"] == config.sha256), None)
    if name is None:
        raise ValueError(f"weights/{MANIFEST} lists no file of SHA-256 {config.sha256}")
    path = weights_dir() / name
    if not path.is_file() or sha256(path) != config.sha256:
        raise ValueError(f"{path} is missing or not the file weights/{MANIFEST} lists (SHA-256 differs): "
                         "restore it from git (git checkout -- weights)")
    state = torch.load(path, map_location="cpu", weights_only=True)
    checkpoint = {**{network: {key: value.float() for key, value in state[network].items()} for network in NETWORKS},
                  "iteration": state["iteration"], "config": state["config"]}
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    paths.atomic_write(out_dir / training.CHECKPOINT, lambda temporary: Path(temporary).write_bytes(buffer.getbuffer()))
    log = "".join(json.dumps(point) + "\n" for point in state["result"]["curve"])
    paths.atomic_write(out_dir / "log.jsonl", lambda temporary: Path(temporary).write_text(log))
    return {**state["result"], "shipped": f"weights/{name}", "sha256": config.sha256}


def export(folder: Path, preset: str, name: str, directory: Path | None = None, command: str = "") -> Path:
    """Write the finished pretraining run in stage folder ``folder`` as ``<directory>/<preset>/<name>.pt``
    (float16 networks, config, iteration, result) and list it in the manifest."""
    folder, directory = Path(folder), directory or weights_dir()
    if not (folder / "result.json").is_file():
        raise ValueError(f"{folder} is not a finished pretraining run (no result.json)")
    state = training.load_checkpoint(folder / training.CHECKPOINT)
    shipped = {**{network: {key: value.half() for key, value in state[network].items()} for network in NETWORKS},
               "iteration": state["iteration"], "config": state["config"],
               "result": json.loads((folder / "result.json").read_text())}
    buffer = io.BytesIO()
    torch.save(shipped, buffer)
    relative = f"{preset}/{name}.pt"
    (directory / preset).mkdir(parents=True, exist_ok=True)
    paths.atomic_write(directory / relative, lambda temporary: Path(temporary).write_bytes(buffer.getbuffer()))
    manifest = read_manifest(directory)
    manifest["files"][relative] = {"sha256": sha256(directory / relative), "bytes": len(buffer.getbuffer()),
                                   "preset": preset, "pretrain_folder": folder.name, "source": state["config"]["source"],
                                   "seed": state["config"]["seed"], "command": command, "commit": _commit()}
    manifest["files"] = dict(sorted(manifest["files"].items()))
    text = json.dumps(manifest, indent=2) + "\n"
    paths.atomic_write(directory / MANIFEST, lambda temporary: Path(temporary).write_text(text))
    return directory / relative


def _commit() -> str:
    """The repository's commit (with ``+`` when the tree has changes), or "" outside git."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=paths.ROOT, capture_output=True, text=True, check=True).stdout.strip()
    try:
        return git("rev-parse", "--short", "HEAD") + ("+" if git("status", "--porcelain", "--untracked-files=no") else "")
    except (OSError, subprocess.CalledProcessError):
        return ""


def main() -> None:
    import argparse

    from . import decisive
    parser = argparse.ArgumentParser(description="export the decisive arms' finished pretraining runs to weights/")
    parser.add_argument("--preset", default=paths.CANONICAL_PRESET)
    args = parser.parse_args()
    for labels, job in decisive.pretrain_plan(args.preset):
        written = export(job.path(), args.preset, f"{labels['arm']}-seed{job.config.train.seed}",
                         command=f"python -m primps_core.study.shipped --preset {args.preset}")
        print(f"wrote {written} ({written.stat().st_size / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
