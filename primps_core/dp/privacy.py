"""Differential privacy with opacus: the budget, its checks, the accountant and DP-SGD's parts.

A private run is described by a ``PrivacyConfig`` (target epsilon and delta, the per-sample
clipping norm, the expected Poisson batch size and the number of steps). Everything private in a
run is a *mechanism* ``(noise_multiplier, sample_rate, steps)`` composed in one opacus accountant:
DP-SGD's steps (sample rate = expected batch / N) and, for PrivImage's selection, the noised
semantic histogram (one step at sample rate 1, see ``dp.semantic``). ``noise_multiplier`` finds the
DP-SGD noise that spends exactly what is left of the target after the earlier mechanisms;
``epsilon_spent`` is what a finished run reports, read from the accountant, never assumed.

DP-SGD itself is opacus': ``make_private`` wraps the model in a ``GradSampleModule`` (per-sample
gradients) and the optimiser in a ``DPOptimizer`` (per-sample clipping to ``max_grad_norm``,
Gaussian noise of std ``noise_multiplier * max_grad_norm``, averaging over the *expected* batch
size); ``poisson_batches`` draws the batches with opacus' ``UniformWithReplacementSampler``
(every example joins each batch independently with probability ``sample_rate``), the sampling
that the accountant's amplification assumes. A non-private run (``epsilon = inf``) uses the same
batches without clipping or noise.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Iterator

import torch

from .. import checks

ACCOUNTANTS = ("rdp", "prv")
Mechanism = tuple[float, float, int]         # (noise multiplier, sample rate, steps)


@dataclass(frozen=True)
class PrivacyConfig:
    """The privacy budget of one run and the DP-SGD settings that spend it.

    ``epsilon = math.inf`` means a non-private run (same batches, no clipping or noise).
    ``batch_size`` is the *expected* size of a Poisson batch; ``steps`` the number of DP-SGD steps.
    """

    epsilon: float
    delta: float = 1e-5
    max_grad_norm: float = 1.0
    batch_size: int = 256
    steps: int = 100
    accountant: str = "rdp"

    def __post_init__(self):
        if not isinstance(self.epsilon, (int, float)) or math.isnan(self.epsilon) or self.epsilon <= 0:
            raise ValueError(f"epsilon must be a positive number (or inf for a non-private run), got {self.epsilon!r}")
        if not isinstance(self.delta, (int, float)) or not 0 < self.delta < 1:
            raise ValueError(f"delta must be in (0, 1), got {self.delta!r}")
        if not isinstance(self.max_grad_norm, (int, float)) or not 0 < self.max_grad_norm < math.inf:
            raise ValueError(f"the clipping norm max_grad_norm (--clip) must be a positive finite number, got {self.max_grad_norm!r}")
        checks.integer(self.batch_size, "batch_size", 1)
        checks.integer(self.steps, "steps", 1)
        checks.choice(self.accountant, "accountant", ACCOUNTANTS)

    @property
    def private(self) -> bool:
        return math.isfinite(self.epsilon)

    def check_dataset(self, n: int) -> None:
        """The budget must make sense for a dataset of ``n`` examples: delta < 1/n (else one example
        may leak outright) and an expected batch no larger than the data."""
        n = checks.integer(n, "dataset size", 1)
        if self.private and self.delta >= 1 / n:
            raise ValueError(f"delta must be below 1/N = {1 / n:.3g} for a dataset of {n} examples, got {self.delta!r}")
        if self.batch_size > n:
            raise ValueError(f"batch_size {self.batch_size} is larger than the dataset ({n} examples)")

    def sample_rate(self, n: int) -> float:
        return self.batch_size / n


def _accountant(name: str, mechanisms: list[Mechanism]):
    from opacus.accountants import PRVAccountant, RDPAccountant
    accountant = RDPAccountant() if name == "rdp" else PRVAccountant()
    accountant.history = [(float(sigma), float(rate), int(steps)) for sigma, rate, steps in mechanisms]
    return accountant


def epsilon_spent(mechanisms: list[Mechanism], delta: float, accountant: str = "rdp") -> float:
    """Epsilon at ``delta`` of the composition of ``mechanisms``, from opacus' accountant."""
    checks.choice(accountant, "accountant", ACCOUNTANTS)
    if not mechanisms:
        return 0.0
    with warnings.catch_warnings():            # opacus warns when the optimal RDP order is at the edge
        warnings.simplefilter("ignore")
        return float(_accountant(accountant, list(mechanisms)).get_epsilon(delta))


def noise_multiplier(config: PrivacyConfig, n: int, prior: tuple[Mechanism, ...] = ()) -> float:
    """The smallest DP-SGD noise multiplier (to 1e-4 relative) whose ``config.steps`` steps at sample
    rate ``batch_size / n``, composed after the ``prior`` mechanisms, spend at most
    ``config.epsilon``, found by bisection on the accountant. 0 for a non-private config. An error
    when the prior mechanisms alone spend the budget."""
    config.check_dataset(n)
    if not config.private:
        return 0.0
    spent_before = epsilon_spent(list(prior), config.delta, config.accountant)
    if spent_before >= config.epsilon:
        raise ValueError(f"the earlier mechanisms already spend epsilon {spent_before:.3g} of the target {config.epsilon}")
    rate = config.sample_rate(n)

    def epsilon(sigma: float) -> float:
        return epsilon_spent([*prior, (sigma, rate, config.steps)], config.delta, config.accountant)

    low, high = 0.0, 1.0
    while epsilon(high) > config.epsilon:
        low, high = high, 2 * high
        if high > 1e4:
            raise ValueError(f"no noise multiplier reaches epsilon {config.epsilon} in {config.steps} steps")
    while high - low > 1e-4 * high:
        middle = (low + high) / 2
        low, high = (middle, high) if epsilon(middle) > config.epsilon else (low, middle)
    return high


def make_private(module: torch.nn.Module, optimizer: torch.optim.Optimizer, *, noise_multiplier: float,
                 max_grad_norm: float, expected_batch_size: int, seed: int):
    """opacus' per-sample-gradient wrapper of ``module`` and its DP optimiser (clip, noise, average over
    the expected batch); the noise is drawn from a generator seeded by ``seed`` (reproducible runs,
    not opacus' secure mode). Per-sample gradients come from torch.func (opacus' functorch mode):
    about a fifth faster than its layer hooks on the diffusion UNet on CPU."""
    from opacus import GradSampleModule
    from opacus.optimizers import DPOptimizer
    wrapped = module if isinstance(module, GradSampleModule) else GradSampleModule(module, force_functorch=True)
    generator = torch.Generator().manual_seed(seed)
    private = DPOptimizer(optimizer, noise_multiplier=noise_multiplier, max_grad_norm=max_grad_norm,
                          expected_batch_size=expected_batch_size, generator=generator)
    return wrapped, private


def poisson_batches(n: int, sample_rate: float, steps: int, seed: int) -> Iterator[torch.Tensor]:
    """``steps`` index batches of a dataset of ``n``: each example joins each batch independently with
    probability ``sample_rate`` (opacus' sampler); a batch may be empty."""
    from opacus.utils.uniform_sampler import UniformWithReplacementSampler
    if not 0 < sample_rate <= 1:
        raise ValueError(f"sample_rate must be in (0, 1], got {sample_rate!r}")
    generator = torch.Generator().manual_seed(seed)
    sampler = UniformWithReplacementSampler(num_samples=n, sample_rate=sample_rate, generator=generator, steps=steps)
    for batch in sampler:
        yield torch.as_tensor(batch, dtype=torch.long)
