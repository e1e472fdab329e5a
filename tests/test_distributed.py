"""Two processes (torchrun, gloo) compute the same update as one process on the same global batch."""
import json
import os
import subprocess
import sys
from pathlib import Path

import torch

from distributed_run import config, flat_weights
from primps_core.gan import training

HERE = Path(__file__).parent


def torchrun(*arguments: str, **env: str) -> str:
    """Run ``arguments`` as a two-process gloo job; its stdout, or a failure that shows its stderr."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", **env}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           *arguments], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, f"torchrun exited {done.returncode}:\n{done.stderr[-5000:]}"
    return done.stdout


def train_two_processes(tmp_path: Path, iterations: int) -> torch.Tensor:
    torchrun(str(HERE / "distributed_run.py"), str(tmp_path / "run"), str(tmp_path / "weights.pt"), str(iterations))
    return torch.load(tmp_path / "weights.pt")


def test_one_two_process_step_equals_one_process_with_two_micro_batches(tmp_path):
    two = train_two_processes(tmp_path, iterations=1)
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
    weights = train_two_processes(tmp_path, iterations=3)
    assert torch.isfinite(weights).all()
    assert training.load_checkpoint(tmp_path / "run" / "checkpoint.pt")["iteration"] == 3
    assert len((tmp_path / "run" / "log.jsonl").read_text().splitlines()) == 1


def test_pretrain_command_runs_under_torchrun_and_finishes_its_stage(tmp_path):
    stdout = torchrun("-m", "primps_core", "pretrain", "--source", "primitives-ps", "--preset", "smoke",
                      "--iterations", "4", PRIMPS_ROOT=str(tmp_path))
    result = json.loads(stdout.strip().splitlines()[-1])
    run = Path(result["run_dir"])
    assert result["iterations"] == 4 and run.parent.parent.parent == tmp_path / "runs"
    assert (run / "result.json").exists() and not list(run.parent.glob("*.partial"))
    assert training.load_checkpoint(run / "checkpoint.pt")["iteration"] == 4


def test_every_rank_gets_rank0s_stage_result_even_when_rank0_finishes_last(tmp_path):
    (tmp_path / "reports").mkdir()
    torchrun(str(HERE / "distributed_stage.py"), str(tmp_path / "runs"), str(tmp_path / "reports"))
    lines = [json.loads(path.read_text()) for path in (tmp_path / "reports").iterdir()]
    by_rank = {line["rank"]: line for line in lines}
    assert sorted(by_rank) == [0, 1]
    for line in lines:
        assert line["collective"] == line["again"] == {"rank": 0, "x": 1} and line["single"] == {"rank": 0, "x": 2}
        assert line["cached"] == [False, True]
    assert by_rank[0]["ran"] == ["collective", "single"]
    assert by_rank[1]["ran"] == ["collective"]                 # a plain stage runs on rank 0 alone
    stages = tmp_path / "runs" / "smoke"
    assert sorted(p.name for p in stages.iterdir()) == ["collective", "single"]
    for folder in stages.iterdir():                             # one finished folder each and its lock, nothing else
        (finished,) = folder.glob("[!.]*")
        assert [p.name for p in folder.glob(".*")] == [f".{finished.name}.lock"]
        assert (finished / "result.json").exists() and (finished / "stage.json").exists()
    (collective,) = (stages / "collective").glob("[!.]*")
    assert (collective / "written_by_rank0.txt").exists()
