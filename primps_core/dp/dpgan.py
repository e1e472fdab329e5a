"""The study's GAN as a DP generator: the discriminator trained with DP-SGD, the generator through it.

Only the discriminator reads private images, so only its updates are privatised (DP-GAN, Xie et
al. 2018; opacus' DCGAN example): each step, one batch of rows goes through D in one pass and is
charged once: the Poisson batch of real images (loss softplus(-D(x, y))) and a *fixed* number of
generated images, the expected batch size (loss softplus(D(G(z), y))), whose count must not
depend on the real batch, or one private image would change two rows. Every row is clipped, the
noise is scaled to the clipping norm, and one private image still moves the sum by at most that
norm. The generator then takes a step through the privatised D on fresh latents with D's
parameters frozen: post-processing, free in privacy.

Models: the class-conditional pair of ``gan.models`` (the label embedding added to the latent; the
projection discriminator), minibatch std off (``mbstd_group = 1``: a group statistic would mix
examples, so no gradient would be one example's own) and no R1 penalty (opacus has no
per-example second derivatives). Fashion-MNIST's 28x28 grey images are padded with black to 32
px and given three equal channels; samples are cropped back and averaged over the channels.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .. import checks
from ..gan.models import ConditionalGenerator, ModelConfig, ProjectionDiscriminator
from .privacy import Mechanism, PrivacyConfig
from .training import TrainingRecord, ema_update, train

SIDE, PAD = 28, 2


@dataclass(frozen=True)
class GANConfig:
    model: ModelConfig                 # at 32 px; mbstd_group must be 1
    classes: int = 10
    lr: float = 2e-3
    betas: tuple = (0.0, 0.99)
    rows_per_pass: int | None = 32     # rows per opacus pass (memory of per-row gradients; the step is the same)

    def __post_init__(self):
        if self.model.resolution != SIDE + 2 * PAD:
            raise ValueError(f"the DP GAN works at {SIDE + 2 * PAD} px (28 px images padded), got {self.model.resolution}")
        if self.model.mbstd_group != 1:
            raise ValueError("the DP discriminator needs mbstd_group = 1: a group statistic mixes examples")
        checks.integer(self.classes, "classes", 1)
        if self.rows_per_pass is not None:
            checks.integer(self.rows_per_pass, "rows_per_pass", 1)


def build(config: GANConfig, seed: int) -> tuple[ConditionalGenerator, ProjectionDiscriminator]:
    torch.manual_seed(seed)
    return ConditionalGenerator(config.model, config.classes), ProjectionDiscriminator(config.model, config.classes)


def to_model_space(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 28, 28) -> float (N, 3, 32, 32) in [-1, 1], black padding."""
    x = torch.from_numpy(np.asarray(images, np.float32) / 127.5 - 1.0)[:, None]
    return F.pad(x, (PAD, PAD, PAD, PAD), value=-1.0).expand(-1, 3, -1, -1)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """float (N, 3, 32, 32) -> uint8 (N, 28, 28): cropped, the channels averaged."""
    grey = x[:, :, PAD:PAD + SIDE, PAD:PAD + SIDE].mean(1).clamp(-1, 1)
    return ((grey + 1) * 127.5).round().to(torch.uint8).cpu().numpy()


@torch.no_grad()
def sample(generator: ConditionalGenerator, labels, seed: int = 0) -> np.ndarray:
    """One image per label; image i depends only on (seed, i)."""
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    z = torch.randn(len(labels), generator.config.latent_dim, generator=torch.Generator().manual_seed(seed))
    was_training = generator.training
    generator.eval()
    images = np.concatenate([to_uint8(generator(zc, yc)) for zc, yc in zip(z.split(500), labels.split(500))]) \
        if len(labels) else np.zeros((0, SIDE, SIDE), np.uint8)
    generator.train(was_training)
    return images


def train_dp_gan(generator: ConditionalGenerator, discriminator: ProjectionDiscriminator, images: np.ndarray,
                 labels: np.ndarray, budget: PrivacyConfig, config: GANConfig, *, seed: int,
                 prior: tuple[Mechanism, ...] = (), progress: bool = True) -> tuple[ConditionalGenerator, TrainingRecord]:
    """Train the pair on (images, labels) with ``budget``; return the generator's EMA and the record
    (its epsilon covers every discriminator step, the ``prior`` mechanisms composed in)."""
    x, y = to_model_space(images), torch.as_tensor(np.asarray(labels), dtype=torch.long)
    fakes = budget.batch_size
    g_optimizer = torch.optim.Adam(generator.parameters(), lr=config.lr, betas=config.betas)
    average = copy.deepcopy(generator).requires_grad_(False)
    latents = torch.Generator().manual_seed(seed + 3)

    def fake_batch() -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.randn(fakes, config.model.latent_dim, generator=latents)
        return z, torch.randint(0, config.classes, (fakes,), generator=latents)

    def discriminator_rows(index, _generator):
        z, fake_labels = fake_batch()
        with torch.no_grad():
            fake = generator(z, fake_labels)
        real = torch.arange(len(index) + fakes) < len(index)
        return torch.cat([x[index], fake]), torch.cat([y[index], fake_labels]), real

    def discriminator_losses(module, inputs, classes, real):
        logits = module(inputs, classes)
        return torch.where(real, F.softplus(-logits), F.softplus(logits))

    def generator_step(step: int, module) -> None:
        parameters = [p for p in module.parameters() if p.requires_grad]
        for p in parameters:
            p.requires_grad_(False)
        private = hasattr(module, "disable_hooks")          # opacus' wrapper: no per-example capture here
        if private:
            module.disable_hooks()
        z, fake_labels = fake_batch()
        g_optimizer.zero_grad(set_to_none=True)
        F.softplus(-module(generator(z, fake_labels), fake_labels)).mean().backward()
        g_optimizer.step()
        if private:
            module.enable_hooks()
        for p in parameters:
            p.requires_grad_(True)
        ema_update(average, generator, step, 0.999)

    _, record = train(discriminator, discriminator_rows, discriminator_losses, len(x), budget, lr=config.lr, seed=seed,
                      prior=prior, after_step=generator_step, progress=progress, label=f"dp-gan eps={budget.epsilon}",
                      betas=config.betas, rows_per_pass=config.rows_per_pass)
    return average, record
