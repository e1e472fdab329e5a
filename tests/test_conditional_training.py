"""Class-conditional training (notebook 08): labelled image sets, the conditional path of the one
training loop, its start from an unconditional checkpoint, and SS-GAN's rotation loss."""
import io
import json
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from primps_core.data import images as image_files, sources
from primps_core.gan import training
from primps_core.gan.models import ModelConfig

TINY = ModelConfig(resolution=16, base_channels=8, max_channels=16, latent_dim=16, mbstd_group=2)


def halves(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Grey 16-px images of two classes that differ only in which half is bright: class 0 the left
    half, class 1 the right; the bright level varies per image."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % 2
    images = np.zeros((count, 16, 16), np.uint8)
    for image, label, level in zip(images, labels, rng.integers(170, 256, count)):
        image[:, 8 * label:8 * label + 8] = level
    return images, labels


def labelled_npz(path, images, labels):
    np.savez(path, images=images, labels=labels)
    return sources.resolve(path)


def config(source, **changes):
    base = dict(model=TINY, iterations=6, batch_size=8, r1_interval=4, log_every=2, sample_every=6,
                checkpoint_every=3, ema_images=200, classes=2)
    return training.TrainConfig(source=source, **{**base, **changes})


def test_a_labelled_npz_and_a_stylegan2_zip_give_each_image_its_own_class(tmp_path):
    images = np.repeat(np.arange(0, 250, 10, dtype=np.uint8)[:, None, None], 8, 1).repeat(8, 2)   # image i: grey 10 i
    labels = np.arange(25) % 7
    batch = sources.labelled_stream(labelled_npz(tmp_path / "set.npz", images, labels), 8, seed=3)
    seen, classes = batch(20, 30)                                # crosses an epoch boundary
    assert seen.shape == (30, 8, 8, 3) and np.array_equal(classes, (seen[:, 0, 0, 0] // 10) % 7)
    assert np.array_equal(batch(20, 30)[1], classes)              # deterministic in (set, seed, index)

    with zipfile.ZipFile(tmp_path / "set.zip", "w") as archive:     # StyleGAN2-ADA's format, members unsorted
        names = [f"{k // 10:05d}/img{k:08d}.png" for k in range(12)][::-1]
        for name in names:
            buffer = io.BytesIO()
            Image.fromarray(np.full((8, 8), 20 * int(name[-6:-4]), np.uint8)).save(buffer, format="PNG")
            archive.writestr(name, buffer.getvalue())
        archive.writestr("dataset.json", json.dumps({"labels": [[name, int(name[-6:-4]) % 3] for name in names]}))
    zipped = image_files.load_images(tmp_path / "set.zip")
    assert np.array_equal(image_files.load_labels(tmp_path / "set.zip"), (zipped[:, 0, 0, 0] // 20) % 3)


def test_unlabelled_or_mislabelled_sets_are_one_clear_error(tmp_path):
    images, labels = halves(8)
    np.savez(tmp_path / "plain.npz", images=images)
    with pytest.raises(ValueError, match="labels"):
        sources.labelled_stream(sources.resolve(tmp_path / "plain.npz"), 16, 0)
    with pytest.raises(ValueError, match="one non-negative integer class per image"):
        sources.labelled_stream(labelled_npz(tmp_path / "short.npz", images, labels[:5]), 16, 0)
    with pytest.raises(ValueError, match="classes up to 1, but the run has 1 classes"):
        sources.labelled_stream(labelled_npz(tmp_path / "set.npz", images, labels), 16, 0, classes=1)
    with pytest.raises(ValueError, match="endless synthetic stream without classes"):
        sources.labelled_stream(sources.resolve("primitives-ps"), 16, 0)
    image_files.save_images(np.repeat(images[..., None], 3, -1), tmp_path / "unlabelled.zip")   # "labels": null
    with pytest.raises(ValueError, match="has no class labels"):
        image_files.load_labels(tmp_path / "unlabelled.zip")
    with pytest.raises(ValueError, match="needs a class-conditional run"):
        config(sources.resolve(tmp_path / "set.npz"), classes=0, self_supervision=1.0)


def test_runs_without_classes_keep_their_records_so_cached_runs_still_load(tmp_path):
    source = labelled_npz(tmp_path / "set.npz", *halves(8))
    plain = config(source, classes=0).record()
    assert "classes" not in plain and "self_supervision" not in plain
    conditional = config(source, self_supervision=1.0).record()
    assert conditional["classes"] == 2 and conditional["self_supervision"] == 1.0


def test_a_conditional_run_starts_as_the_unconditional_checkpoint_it_is_given(tmp_path):
    source = labelled_npz(tmp_path / "set.npz", *halves(16))
    plain = training.train(config(source, classes=0, iterations=3), tmp_path / "plain", progress=False)
    started = training.Trainer(config(source, self_supervision=1.0), init=training.load_checkpoint(tmp_path / "plain" / training.CHECKPOINT))
    z = torch.randn(4, TINY.latent_dim)
    with torch.no_grad():
        for label in (0, 1):
            assert torch.equal(started.G_ema(z, torch.full((4,), label)), plain.G_ema(z))
            assert torch.equal(started.G(z, torch.full((4,), label)), plain.G(z))
    wider = config(source, classes=0, model=ModelConfig(resolution=16, base_channels=16, max_channels=16, latent_dim=16))
    with pytest.raises(ValueError, match="generator weights do not fit"):
        training.Trainer(config(source), init={**training.Trainer(wider).state_dict()})


def test_self_supervision_trains_the_rotation_head_only_when_switched_on(tmp_path):
    images, labels = halves(16)
    source = labelled_npz(tmp_path / "set.npz", images, labels)
    for weight in (0.0, 1.0):
        trainer = training.Trainer(config(source, self_supervision=weight))
        head = trainer.D.rotation.weight.detach().clone()
        stats = trainer.step(np.repeat(images[:8, ..., None], 3, -1), labels[:8])
        assert torch.equal(trainer.D.rotation.weight, head) == (weight == 0)
        assert ("rotation_d" in stats and "rotation_g" in stats) == (weight > 0)
        with pytest.raises(ValueError, match="takes the classes of its real images"):
            trainer.step(np.repeat(images[:8, ..., None], 3, -1))


def test_a_conditional_run_learns_which_half_each_class_lights(tmp_path):
    """Known answer: after a short run, samples of class 0 are brighter on the left than the right and
    samples of class 1 the reverse; with the classes shuffled against the images, they are not."""
    images, labels = halves(64)
    trained = {}
    for name, y in (("true", labels), ("shuffled", np.random.default_rng(0).permutation(labels))):
        source = labelled_npz(tmp_path / f"{name}.npz", images, y)
        trainer = training.train(config(source, iterations=150, checkpoint_every=150, sample_every=150, log_every=50,
                                        lr=0.004), tmp_path / name, progress=False)
        z = torch.randn(64, TINY.latent_dim, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():
            contrast = [float((g[..., :8].mean() - g[..., 8:].mean())) for g in
                        (trainer.G_ema(z, torch.full((64,), k)) for k in (0, 1))]
        trained[name] = contrast[0] - contrast[1]         # > 0: class 0 left-bright, class 1 right-bright
    assert trained["true"] > 0.5 and abs(trained["shuffled"]) < 0.5 * trained["true"]
