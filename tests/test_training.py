"""The training loop: run folder contents, determinism, resume after SIGKILL, transfer with FreezeD."""
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from primps_core.data import images as image_files, sources
from primps_core.gan import sampling, training
from primps_core.gan.models import ModelConfig

TINY = ModelConfig(resolution=16, base_channels=8, max_channels=16, latent_dim=16)


def config(**changes):
    base = dict(source="primitives-ps", model=TINY, iterations=12, batch_size=8, r1_interval=4, log_every=2,
                sample_every=6, checkpoint_every=4, ema_images=200)
    merged = {**base, **changes}
    return training.TrainConfig(**{**merged, "source": sources.resolve(merged["source"])})


def weights(trainer):
    return torch.cat([p.detach().ravel() for module in (trainer.G, trainer.D, trainer.G_ema) for p in module.parameters()])


def test_run_folder_holds_config_log_samples_and_checkpoint(tmp_path):
    trainer = training.train(config(), tmp_path, evaluate=lambda g: {"mean_pixel": float(g(torch.zeros(2, 16)).mean())},
                             eval_every=6, progress=False)
    assert trainer.iteration == 12
    assert json.loads((tmp_path / "config.json").read_text())["source"] == "primitives-ps"
    log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in log] == [2, 4, 6, 8, 10, 12]
    assert all(np.isfinite(r["loss_d"]) and np.isfinite(r["loss_g"]) and r["images_per_s"] > 0 for r in log)
    assert [("r1" in r) for r in log] == [True, False, True, False, True, False]     # lazy R1 at steps 0, 4, 8
    assert "mean_pixel" in log[2] and "mean_pixel" in log[5] and "mean_pixel" not in log[3]
    assert sorted(p.name for p in (tmp_path / "samples").iterdir()) == ["000006.png", "000012.png"]
    assert training.load_checkpoint(tmp_path / "checkpoint.pt")["iteration"] == 12
    assert not [p for p in tmp_path.rglob(".*")]                     # no temporary files left


def test_training_is_deterministic_and_learns_something(tmp_path):
    a = training.train(config(), tmp_path / "a", progress=False)
    b = training.train(config(), tmp_path / "b", progress=False)
    assert torch.equal(weights(a), weights(b))
    c = training.train(config(seed=1), tmp_path / "c", progress=False)
    assert not torch.equal(weights(a), weights(c))
    fresh = training.Trainer(config())
    assert not torch.equal(weights(a), weights(fresh))



def test_the_initial_generator_is_scored_at_iteration_0_once_and_the_training_is_unchanged(tmp_path):
    """An evaluation at the start (what a transfer starts from) scores the untrained generator,
    moves no weight, and is not repeated when an interrupted run resumes."""
    from conftest import train_until_interrupted
    seen = []

    def evaluate(generator):
        seen.append(torch.cat([p.detach().ravel() for p in generator.parameters()]).clone())
        return {"mean_pixel": float(generator(torch.zeros(2, 16)).mean())}

    plain = training.train(config(), tmp_path / "plain", progress=False)
    options = dict(evaluate=evaluate, eval_every=4, evaluate_start=True)
    train_until_interrupted(config(), tmp_path / "scored", at=6, **options)
    assert len(seen) == 2 and torch.equal(seen[0], torch.cat([p.ravel() for p in training.Trainer(config()).G_ema.parameters()]))
    scored = training.train(config(), tmp_path / "scored", progress=False, **options)     # resumes at 4
    assert len(seen) == 4 and torch.equal(weights(scored), weights(plain))
    log = [json.loads(line) for line in (tmp_path / "scored" / "log.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in log if "mean_pixel" in r] == [0, 4, 8, 12]
    assert [r["iteration"] for r in log] == [0, 2, 4, 6, 8, 10, 12]


SLOW_RUN = """
import sys, time
import torch
torch.set_num_threads(1)        # as the reference: another thread count may sum the kernels in another order
from primps_core.gan import training
from test_training import config
step = training.Trainer.step
training.Trainer.step = lambda self, reals: (time.sleep(0.15), step(self, reals))[1]
training.train(config(), sys.argv[1], progress=False)
"""


@pytest.fixture
def one_thread():
    """torch on one thread for the test, as its subprocesses (a command run earlier in this process may
    have left another count, and another count may sum the kernels in another order)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_a_run_killed_with_sigkill_resumes_to_the_same_weights(tmp_path, one_thread):
    reference = training.train(config(), tmp_path / "reference", progress=False)
    run = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([os.path.dirname(__file__), os.environ.get("PYTHONPATH", "")])}
    process = subprocess.Popen([sys.executable, "-c", SLOW_RUN, str(run)], env=env)
    deadline = time.time() + 120
    while not (run / "checkpoint.pt").exists() and time.time() < deadline:
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    killed_at = training.load_checkpoint(run / "checkpoint.pt")["iteration"]
    assert 4 <= killed_at < 12                                          # killed mid-run
    resumed = training.train(config(), run, progress=False)
    assert torch.equal(weights(resumed), weights(reference))
    iterations = [json.loads(line)["iteration"] for line in (run / "log.jsonl").read_text().splitlines()]
    assert iterations == [2, 4, 6, 8, 10, 12]


def test_transfer_starts_from_a_checkpoint_and_freezed_keeps_the_first_stages(tmp_path):
    pretrained = training.train(config(), tmp_path / "pretrain", progress=False)
    target = np.random.default_rng(0).integers(0, 256, (10, 16, 16, 3), dtype=np.uint8)
    image_files.save_images(target, tmp_path / "target.zip")
    transfer = config(source=str(tmp_path / "target.zip"), iterations=4, freeze_d=1)
    checkpoint = training.load_checkpoint(tmp_path / "pretrain" / "checkpoint.pt")
    started = training.Trainer(transfer, init=checkpoint)                # G, D and G_ema each from its own copy
    for name in ("G", "D", "G_ema"):
        assert all(torch.equal(a, b) for a, b in zip(getattr(started, name).state_dict().values(),
                                                     checkpoint[name].values()))
    assert any(not torch.equal(a, b) for a, b in zip(checkpoint["G"].values(), checkpoint["G_ema"].values()))
    tuned = training.train(transfer, tmp_path / "transfer", init=tmp_path / "pretrain" / "checkpoint.pt", progress=False)
    frozen = [p for p in pretrained.D.stages[0].parameters()]
    assert all(torch.equal(a, b) for a, b in zip(frozen, tuned.D.stages[0].parameters()))
    assert not all(torch.equal(a, b) for a, b in zip(pretrained.D.stages[1].parameters(), tuned.D.stages[1].parameters()))


def test_dataset_source_visits_every_image_once_per_epoch(tmp_path):
    five = np.arange(5, dtype=np.uint8)[:, None, None, None].repeat(16, 1).repeat(16, 2).repeat(3, 3)
    image_files.save_images(five, tmp_path / "five")
    source = sources.image_stream(sources.resolve(tmp_path / "five"), 16, seed=0)
    drawn = source(0, 15)[:, 0, 0, 0]
    assert all(sorted(drawn[k:k + 5]) == [0, 1, 2, 3, 4] for k in (0, 5, 10))
    np.testing.assert_array_equal(source(7, 3), source(0, 15)[7:10])


@pytest.mark.parametrize("changes, message", [(dict(iterations=0), "iterations"), (dict(lr=0.0), "lr"),
                                              (dict(augment="color,flip"), "flip")])
def test_bad_configs_are_named(changes, message):
    with pytest.raises(ValueError, match=message):
        config(**changes)


def test_resuming_with_another_config_or_a_corrupt_checkpoint_fails_clearly(tmp_path):
    training.train(config(iterations=4), tmp_path, progress=False)
    with pytest.raises(ValueError, match="another config"):
        training.train(config(iterations=4, lr=0.001), tmp_path, progress=False)
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="bad.pt is not a readable checkpoint"):
        training.load_checkpoint(tmp_path / "bad.pt")
    with pytest.raises(FileNotFoundError, match="missing.pt does not exist"):
        training.load_checkpoint(tmp_path / "missing.pt")


def test_channels_last_is_the_same_maths_up_to_float_reordering():
    """The first step's losses and gradients agree to float precision; a later step's differ only
    because Adam's first updates amplify rounding (benchmarks/train_equivalence.py compares whole
    runs over seeds). The option is absent from the record when off, so earlier runs keep their keys."""
    model = ModelConfig(resolution=32, base_channels=16, max_channels=64, latent_dim=32)
    plain, fast = (training.Trainer(config(model=model, channels_last=flag)) for flag in (False, True))
    convolutions = [p for p in fast.D.parameters() if p.dim() == 4 and p.shape[2] > 1]
    assert convolutions and all(p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
                                for p in convolutions)
    reals = sampling.to_tensor(sources.image_stream(plain.config.source, 32, 0)(0, 8))
    gradients = []
    for trainer in (plain, fast):
        x = reals.contiguous(memory_format=torch.channels_last) if trainer.config.channels_last else reals
        loss, stats = trainer.discriminator_loss(x, 0, lazy_r1=True)
        loss.backward()
        gradients.append((stats, torch.cat([p.grad.ravel() for p in trainer.D.parameters()])))
    (stats_a, grad_a), (stats_b, grad_b) = gradients
    for key in stats_a:
        assert stats_b[key] == pytest.approx(stats_a[key], rel=1e-5), key
    assert (grad_a - grad_b).abs().max() <= 1e-4 * grad_a.abs().max()
    assert "channels_last" not in plain.config.record() and fast.config.record()["channels_last"] is True
    with pytest.raises(TypeError, match="channels_last must be True or False"):
        config(channels_last=1)


# The synthesizer's defaults before they became the official code's: the study's own reading, kept as
# options, which draws the same images, byte for byte, as the synthesizer of commit ccdbe3a.
# Six tiny steps' weights with the code of the canonical figures, by CPU vendor (/proc/cpuinfo): AMD EPYC
# (recorded at 68effa0), Intel Xeon with AVX-512 (HEAD of 2026-12-07, whose default path is that code's).
CANONICAL_STEP_DIGESTS = {"AuthenticAMD": "bcfc499a7fba8170", "GenuineIntel": "758a937492e90f34"}


def cpu_vendor() -> str:
    """The CPU's vendor_id from /proc/cpuinfo ("unknown" where there is none)."""
    try:
        lines = open("/proc/cpuinfo").read().splitlines()
    except OSError:
        return "unknown"
    return next((line.split(":", 1)[1].strip() for line in lines if line.startswith("vendor_id")), "unknown")


EARLIER_SYNTHESIZER = {"geometry": "continuous", "antialias": True, "normalisation": "per-channel",
                       "zero_frequency": "none", "drawn_at": "native"}


def test_the_default_step_still_makes_the_weights_the_canonical_runs_were_made_with(one_thread):
    """Six steps of a tiny run, one thread: the SHA-256 of all weights, recorded with the code that
    made figures/ (commit ccdbe3a). A new option must leave the default path alone: channels_last
    once made every step feed D contiguous NCHW reals instead of the NHWC view it had, which changed
    every pretraining run of the canonical preset (this digest changed with it). The images are the
    earlier synthesizer's, drawn with today's options: the same digest also shows that those options
    reproduce it byte for byte.

    The digest depends on the CPU's float kernels (torch's and MKL's code paths differ by vendor),
    so it is recorded per vendor: each one is what the code of the canonical figures gives there."""
    import hashlib
    source = sources.resolve("primitives-ps", EARLIER_SYNTHESIZER)
    trainer = training.Trainer(config(model=ModelConfig(resolution=16, base_channels=8, max_channels=16,
                                                        latent_dim=16), iterations=6, batch_size=8, r1_interval=4,
                                      source=source))
    stream = sources.image_stream(trainer.config.source, 16, 0)
    for k in range(6):
        trainer.step(stream(k * 8, 8))
    digest = hashlib.sha256(weights(trainer).numpy().tobytes()).hexdigest()[:16]
    vendor = cpu_vendor()
    assert vendor in CANONICAL_STEP_DIGESTS, (
        f"no digest recorded for a {vendor} CPU ({torch.backends.cpu.get_cpu_capability()}): record the one the "
        f"code of the canonical figures gives here ({digest} with this code, if it still leaves the default path alone)")
    assert digest == CANONICAL_STEP_DIGESTS[vendor]
