"""Two processes (torchrun, gloo) compute the same update as one process on the same global batch."""
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from distributed_run import config, flat_weights
from primps_core import training

HERE = Path(__file__).parent


def torchrun(tmp_path: Path, iterations: int) -> torch.Tensor:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                    str(HERE / "distributed_run.py"), str(tmp_path / "run"), str(tmp_path / "weights.pt"), str(iterations)],
                   check=True, env=env, capture_output=True, timeout=300)
    return torch.load(tmp_path / "weights.pt")


def test_one_two_process_step_equals_one_process_with_two_micro_batches(tmp_path):
    two = torchrun(tmp_path, iterations=1)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)        # as each torchrun worker: the same summation order in the kernels
        one = flat_weights(training.train(config(1, micro_batch=4), tmp_path / "single", progress=False))
    finally:
        torch.set_num_threads(threads)
    start = flat_weights(training.Trainer(config(1)))
    assert not torch.allclose(one, start)                               # the step changed the weights
    assert ((two - one).norm() / (one - start).norm()) < 1e-5            # relative to the update itself


def test_a_short_two_process_run_writes_its_run_folder(tmp_path):
    weights = torchrun(tmp_path, iterations=3)
    assert torch.isfinite(weights).all()
    assert training.load_checkpoint(tmp_path / "run" / "checkpoint.pt")["iteration"] == 3
    assert len((tmp_path / "run" / "log.jsonl").read_text().splitlines()) == 1


def test_pretrain_command_runs_under_torchrun_and_finishes_its_stage(tmp_path):
    env = {**os.environ, "PRIMPS_ROOT": str(tmp_path), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           "-m", "primps_core", "pretrain", "--source", "primitives-ps", "--preset", "smoke",
                           "--iterations", "4"], check=True, env=env, capture_output=True, text=True, timeout=300)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    run = Path(result["run_dir"])
    assert result["iterations"] == 4 and run.parent.parent.parent == tmp_path / "runs"
    assert (run / "result.json").exists() and not list(run.parent.glob("*.partial"))
    assert training.load_checkpoint(run / "checkpoint.pt")["iteration"] == 4
