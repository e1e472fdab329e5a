"""One training loop for every private (and non-private) model of the DP study.

``train`` takes a model, a function drawing the rows of a batch of dataset indices (the tensors a
step reads, one row per example: images, labels, the step's random draws), a function giving the
per-row losses of any subset of those rows, and a ``PrivacyConfig``. Batches are Poisson samples
of the dataset (``privacy.poisson_batches``);
a private run wraps the model and Adam with opacus (per-example clipping, Gaussian noise) and
charges every step to the accountant; a non-private one (``epsilon = inf``) trains on the same
batches without either. The returned record holds the noise multiplier, the epsilon actually
spent (from the accountant, composed with the ``prior`` mechanisms such as PrivImage's semantic
query) and the loss curve. An exponential moving average of the weights (post-processing: free
in privacy) is what a run samples from.

The per-example loss may return more rows than the batch has examples when some rows do not
depend on private data (the GAN's fake images): opacus clips every row, the noise is scaled to
the clipping norm, and one private example still moves the sum by at most the norm, as long as
the number of such rows does not depend on the batch (``dpgan`` uses the expected batch size).

A private step may pass its rows through the model in parts of at most ``rows_per_pass`` rows
(opacus' virtual steps: each part's per-row gradients are clipped and summed, then freed; the noise
is added once, at the last part). The clipped sum, hence the step, is the same as in one pass (up
to float rounding), since every row is clipped on its own and the rows are drawn before the split;
only the memory of the per-row gradients shrinks. Per-row gradients of a whole batch are tensors of
hundreds of megabytes, which glibc maps and unmaps afresh every step: the parts are also faster.
"""
from __future__ import annotations

import copy
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import torch

from .. import checks
from ..progress import bar as progress_bar
from .privacy import Mechanism, PrivacyConfig, epsilon_spent, make_private, noise_multiplier, poisson_batches

RowDraw = Callable[[torch.Tensor, torch.Generator], tuple[torch.Tensor, ...]]   # (index, generator) -> rows
RowLoss = Callable[..., torch.Tensor]                                             # (module, *rows) -> losses


@dataclass
class TrainingRecord:
    noise_multiplier: float
    mechanisms: list = field(default_factory=list)
    epsilon: float = 0.0
    losses: list = field(default_factory=list)          # mean loss of each step
    wall_s: float = 0.0
    examples_seen: int = 0


def ema_update(average: torch.nn.Module, model: torch.nn.Module, step: int, decay: float) -> None:
    """EMA with a ramp-up (min(decay, (1 + step) / (10 + step))) so short runs are not dominated by the start."""
    beta = min(decay, (1 + step) / (10 + step))
    with torch.no_grad():
        for a, p in zip(average.parameters(), model.parameters()):
            a.lerp_(p.detach(), 1 - beta)


def train(model: torch.nn.Module, draw: RowDraw, row_losses: RowLoss, n: int, config: PrivacyConfig, *, lr: float,
          seed: int, prior: tuple[Mechanism, ...] = (), ema_decay: float = 0.999, after_step: Callable | None = None,
          progress: bool = True, label: str = "dp-sgd", betas: tuple = (0.9, 0.999),
          rows_per_pass: int | None = None) -> tuple[torch.nn.Module, TrainingRecord]:
    """Train ``model`` in place for ``config.steps`` steps on a dataset of ``n`` examples; return its
    EMA copy and the run's record. Each step draws its rows (``draw(index, generator)``) and takes
    the mean of ``row_losses(module, *rows)``, in parts of ``rows_per_pass`` rows when private
    (None: one pass). ``after_step(step, module)`` runs after each optimiser step (the GAN's
    generator update)."""
    if rows_per_pass is not None:
        checks.integer(rows_per_pass, "rows_per_pass", 1)
    sigma = noise_multiplier(config, n, prior)
    rate = config.sample_rate(n)
    torch.manual_seed(seed)
    average = copy.deepcopy(model).requires_grad_(False)
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr, betas=betas)
    module = model
    if config.private:
        module, optimizer = make_private(model, optimizer, noise_multiplier=sigma, max_grad_norm=config.max_grad_norm,
                                         expected_batch_size=config.batch_size, seed=seed + 1)
    record = TrainingRecord(noise_multiplier=sigma)
    generator = torch.Generator().manual_seed(seed + 2)
    start = time.perf_counter()
    batches = poisson_batches(n, rate, config.steps, seed)
    for step, index in enumerate(progress_bar(batches, total=config.steps, desc=label, disable=not progress, leave=False)):
        optimizer.zero_grad(set_to_none=True)
        rows = draw(index, generator)
        parts = _parts(len(rows[0]), rows_per_pass if config.private else None)
        total = 0.0
        for k, part in enumerate(parts):
            losses = row_losses(module, *(r[part] for r in rows))
            _backward(losses.mean() if len(losses) else losses.sum())
            total += float(losses.detach().sum())
            if k < len(parts) - 1:                # clip and sum this part's rows; noise and step at the last
                optimizer.signal_skip_step(do_skip=True)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
        optimizer.step()
        ema_update(average, model, step, ema_decay)
        if after_step is not None:
            after_step(step, module)
        record.losses.append(total / max(len(rows[0]), 1))
        record.examples_seen += len(index)
    record.wall_s = time.perf_counter() - start
    record.mechanisms = [*prior, (sigma, rate, config.steps)] if config.private else list(prior)
    record.epsilon = epsilon_spent(record.mechanisms, config.delta, config.accountant) if config.private else float("inf")
    return average, record


def _parts(rows: int, size: int | None) -> list[slice]:
    """Consecutive slices of at most ``size`` rows covering ``rows`` rows (one, possibly empty, slice
    when ``size`` is None or the rows fit)."""
    if size is None or rows <= size:
        return [slice(0, rows)]
    return [slice(start, min(start + size, rows)) for start in range(0, rows, size)]


def _backward(loss: torch.Tensor) -> None:
    with warnings.catch_warnings():        # opacus' hooks on a model whose inputs need no gradient
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        warnings.filterwarnings("ignore", message="CPU Autocast only supports")     # opacus' torch.func path on
        warnings.filterwarnings("ignore", message="In CPU autocast, but the target")  # integer labels: harmless
        loss.backward()
