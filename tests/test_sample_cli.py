"""`primps sample`: a trained run's images, truncated or not, and interpolation grids, with clear errors."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import train_until_interrupted
from primps_core.__main__ import main
from primps_core.data import sources
from primps_core.data.images import tile
from primps_core.gan import sampling, training
from primps_core.gan.models import ModelConfig
from primps_core.study import runs

TINY = ModelConfig(resolution=16, base_channels=8, max_channels=16, latent_dim=16)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    config = training.TrainConfig(source=sources.resolve("primitives-ps"), model=TINY, iterations=3, batch_size=8,
                                  log_every=1, sample_every=3, checkpoint_every=3)
    training.train(config, folder, progress=False)
    return folder


def test_samples_are_the_ema_generator_at_the_seed_and_truncation(run_dir, tmp_path, capsys):
    assert main(["sample", "--run", str(run_dir), "--n", "6", "--seed", "4", "--out", str(tmp_path / "s.npz")]) == 0
    generator = runs.load_generator(run_dir)
    np.testing.assert_array_equal(sources.load_images(tmp_path / "s.npz"), sampling.sample_images(generator, 6, 4))
    printed = json.loads(capsys.readouterr().out)
    assert printed["images"] == 6 and printed["resolution"] == 16 and printed["out"] == str(tmp_path / "s.npz")
    assert main(["sample", "--run", str(run_dir), "--n", "3", "--truncation", "0.5", "--out", str(tmp_path / "t")]) == 0
    latents = torch.randn(3, TINY.latent_dim, generator=torch.Generator().manual_seed(0)) * 0.5
    with torch.no_grad():
        expected = sampling.to_images(generator(latents))
    np.testing.assert_array_equal(sources.load_images(tmp_path / "t"), expected)


def test_an_interpolation_grid_walks_between_two_latents(run_dir, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["sample", "--run", str(run_dir), "--interpolate", "2", "--steps", "5", "--out", str(out)]) == 0
    grid = sampling.interpolation_images(runs.load_generator(run_dir), 2, 5, seed=0)
    assert grid.shape == (2, 5, 16, 16, 3)
    np.testing.assert_array_equal(np.asarray(Image.open(out)), tile(grid))
    assert tile(grid)[16:32, 32:48].tolist() == grid[1, 2].tolist()           # row 1, step 2
    ends = torch.randn(2, 2, TINY.latent_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        first = sampling.to_images(runs.load_generator(run_dir)(ends[0]))
    assert np.abs(grid[:, 0].astype(int) - first).max() <= 1                   # each row starts at its first latent
    assert json.loads(capsys.readouterr().out)["images"] == 10


@pytest.mark.parametrize("arguments, message", [
    (["--run", "{tmp}/nothing", "--n", "2", "--out", "{tmp}/a.zip"], "not a training run folder"),
    (["--run", "{run}", "--n", "2", "--truncation", "0", "--out", "{tmp}/a.zip"], "truncation must be in (0, 1]"),
    (["--run", "{run}", "--n", "0", "--out", "{tmp}/a.zip"], "n must be"),
    (["--run", "{run}", "--interpolate", "2", "--out", "{tmp}/grid.jpg"], "must end in .png"),
    (["--run", "{run}", "--interpolate", "2", "--steps", "1", "--out", "{tmp}/grid.png"], "steps must be"),
])
def test_bad_sampling_requests_give_one_clear_error_and_write_nothing(run_dir, tmp_path, capsys, arguments, message):
    filled = [a.format(tmp=tmp_path, run=run_dir) for a in arguments]
    assert main(["sample", *filled]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error:") and message in error and error.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_auto_device_is_the_best_one_this_machine_has():
    from primps_core import checks
    from primps_core.study.pipeline import Context
    best = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert checks.device("auto") == Context(device="auto").device == best
    assert checks.device("cpu") == Context().device == "cpu"


def test_sampling_an_unfinished_run_says_where_it_stopped(tmp_path, capsys):
    config = training.TrainConfig(source=sources.resolve("primitives-ps"), model=TINY, iterations=4, batch_size=8,
                                  log_every=1, sample_every=4, checkpoint_every=2)
    train_until_interrupted(config, tmp_path / "run.partial", at=3)
    assert main(["sample", "--run", str(tmp_path / "run.partial"), "--n", "2", "--out", str(tmp_path / "s.npz")]) == 0
    written = capsys.readouterr()
    assert f"note: {tmp_path / 'run.partial'} is an unfinished run: its checkpoint is at iteration 2 of 4" in written.err
    assert json.loads(written.out)["images"] == 2
