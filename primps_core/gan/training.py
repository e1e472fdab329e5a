"""One GAN training loop for pretraining and transfer: the StyleGAN2 + DiffAugment recipe, scaled down.

Non-saturating logistic loss, lazy R1 on (augmented) reals every ``r1_interval`` steps, Adam with
betas (0, 0.99), an exponential moving average of G with StyleGAN2-ADA's ramp-up, DiffAugment on
everything D sees. Transfer is the same loop started from a pretrained checkpoint (``init``),
optionally with the first ``freeze_d`` discriminator stages frozen (FreezeD).

Class-conditional training (``classes`` > 0, notebook 08) is the same loop on a labelled image set:
the generator with class-conditional normalisation and the projection discriminator of
``gan.ctf``, fake classes drawn uniformly like the latents, and optionally SS-GAN's rotation loss
(``self_supervision``). An unconditional checkpoint initialises it, its new parts starting as
the identity.

Determinism and resume: every random number of iteration ``t`` (latents, augmentation) comes from
generators seeded by (seed, t, purpose), and training images are a deterministic function of
their global index, so a run's state is just its weights, EMA, optimiser moments and iteration.
``train`` resumes from the run folder's checkpoint and ends with the same weights as an
uninterrupted run.

A run folder holds ``config.json``, ``log.jsonl`` (losses, images/s, and whatever ``evaluate``
returns at its interval), ``samples/<iteration>.png`` grids of the EMA generator
(``gan.sampling``), and ``checkpoint.pt`` (written atomically).
"""
from __future__ import annotations

import dataclasses
import io
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from .. import checks
from ..data.sources import DataRef, image_stream, labelled_stream
from ..paths import atomic_write
from ..progress import bar as progress_bar
from .augment import diff_augment, parse_policy
from .ctf import CONDITIONAL_PARTS, ClassNormGenerator, RotationDiscriminator, rotation_loss
from .models import Discriminator, Generator, ModelConfig, freeze_discriminator
from .sampling import save_grid, to_images, to_tensor

_LATENTS_D, _LATENTS_G, _AUGMENT_REAL, _AUGMENT_FAKE, _AUGMENT_G, _SAMPLE_GRID = range(6)
_LABELS_OFFSET = 100                   # fake classes of latent purpose p are drawn for purpose p + 100

LATER_OPTIONS = ("channels_last", "classes", "self_supervision")   # off: absent from the record, as in
                                                                   # runs made before them
SS_GENERATOR_SHARE = 0.2               # SS-GAN: G's rotation weight alpha = 0.2 x D's beta (Chen et al. 2019)


def r1_heuristic(resolution: int, batch_size: int) -> float:
    """StyleGAN2-ADA's R1 weight for its ``auto`` configuration: 0.0002 * R^2 / batch."""
    return 0.0002 * resolution**2 / batch_size


@dataclass(frozen=True)
class TrainConfig:
    source: DataRef                    # what it trains on (data.sources.resolve), options included
    model: ModelConfig = field(default_factory=ModelConfig)
    iterations: int = 1000
    batch_size: int = 32               # global batch per iteration, over all processes
    micro_batch: int = 0               # images per forward pass; 0: batch_size / processes
    lr: float = 0.002
    betas: tuple[float, float] = (0.0, 0.99)
    r1_gamma: float = 1.0
    r1_interval: int = 16
    ema_images: int = 10_000           # EMA half-life in images (StyleGAN2-ADA's ema_kimg * 1000)
    ema_rampup: float = 0.05           # half-life at most this fraction of the images seen so far
    augment: str = "color,translation,cutout"
    freeze_d: int = 0
    seed: int = 0
    log_every: int = 50
    sample_every: int = 500
    checkpoint_every: int = 500
    channels_last: bool = False        # NHWC tensors for oneDNN's convolutions: faster on CPU, same maths
                                       # up to float reordering (benchmarks/train_speed.py)
    classes: int = 0                   # > 0: class-conditional on a labelled set with this many classes
    self_supervision: float = 0.0      # SS-GAN's rotation loss weight in D (beta; G's is 0.2 beta), conditional only

    def __post_init__(self):
        if not isinstance(self.source, DataRef):
            raise TypeError(f"source must be a DataRef (data.sources.resolve), got {self.source!r}")
        for name in ("iterations", "batch_size", "r1_interval", "ema_images", "log_every", "sample_every",
                     "checkpoint_every"):
            checks.integer(getattr(self, name), name, 1)
        checks.integer(self.micro_batch, "micro_batch (0: automatic)", 0)
        checks.integer(self.seed, "seed", 0)
        checks.integer(self.freeze_d, "freeze_d", 0)
        if not self.lr > 0 or self.r1_gamma < 0:
            raise ValueError(f"lr must be > 0 and r1_gamma >= 0, got lr={self.lr}, r1_gamma={self.r1_gamma}")
        parse_policy(self.augment)
        checks.boolean(self.channels_last, "channels_last")
        checks.integer(self.classes, "classes (0: unconditional)", 0)
        if not self.self_supervision >= 0 or (self.self_supervision and not self.classes):
            raise ValueError(f"self_supervision must be >= 0 and needs a class-conditional run (classes > 0), got "
                             f"self_supervision={self.self_supervision}, classes={self.classes}")

    def record(self) -> dict:
        """The config as plain JSON values, as run folders, checkpoints and stage hashes hold it. The
        data reference is written as ``source`` (its name) and ``source_options``, plus
        ``source_digest`` for a file set: the layout runs were keyed by before references existed,
        so their cached runs still load. Options added since (``LATER_OPTIONS``) are written only
        when switched on, for the same reason."""
        record = dataclasses.asdict(self)
        for name in LATER_OPTIONS:
            if not record[name]:
                del record[name]
        source = record.pop("source")
        record.update(source=source["name"], source_options=source["options"])
        if source["digest"]:
            record["source_digest"] = source["digest"]
        return json.loads(json.dumps(record))


def end_worker(status: int = 0) -> None:
    """End a torchrun worker: destroy its process group, flush, and exit without interpreter
    finalisation.

    About one two-process gloo job in ten aborted (SIGABRT, "terminate called without an active
    exception") after ``destroy_process_group`` had returned on both ranks and every file was
    written: gloo's C++ worker threads torn down during finalisation (pytorch/pytorch#190489).
    Skipping finalisation once the output is flushed leaves nothing undone.
    """
    import sys
    torch.distributed.destroy_process_group()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


def _sum_over_processes(tensors: list[torch.Tensor]) -> None:
    """All-reduce (sum) ``tensors`` in place as one flat buffer: one collective per step instead of
    one per parameter tensor, whose fixed latency dominated (one run over 2 single-thread gloo
    processes at 32 px: 145 images/s per tensor, 205-216 flat). Element-wise sums are unchanged."""
    flat = torch.cat([t.reshape(-1) for t in tensors])
    torch.distributed.all_reduce(flat)
    offset = 0
    for tensor in tensors:
        tensor.copy_(flat[offset:offset + tensor.numel()].view_as(tensor))
        offset += tensor.numel()


def generator_for(seed: int, iteration: int, purpose: int, rank: int = 0) -> torch.Generator:
    """A torch generator seeded by (seed, iteration, purpose, rank) only."""
    state = np.random.SeedSequence([seed, iteration, purpose, rank]).generate_state(2, dtype=np.uint64)
    return torch.Generator().manual_seed(int(state[0] >> np.uint64(1)))


def generator_network(config: TrainConfig) -> Generator:
    """A new generator of ``config``: class-conditional when ``config.classes`` > 0."""
    return ClassNormGenerator(config.model, config.classes) if config.classes else Generator(config.model)


def discriminator_network(config: TrainConfig) -> Discriminator:
    """A new discriminator of ``config``: projection and rotation heads when ``config.classes`` > 0."""
    return RotationDiscriminator(config.model, config.classes) if config.classes else Discriminator(config.model)


def load_weights(network: torch.nn.Module, state: dict, name: str) -> None:
    """Load ``state`` into ``network``; a conditional network may start from an unconditional one's
    weights, its class parts (``gan.ctf.CONDITIONAL_PARTS``) left as initialised. Anything else
    that does not match is one clear error naming the network."""
    try:
        missing, unexpected = network.load_state_dict(state, strict=False)
    except RuntimeError as error:                    # tensors of other shapes: another width or resolution
        shapes = [line.strip() for line in str(error).splitlines() if "size mismatch" in line]
        raise ValueError(f"the {name} weights do not fit this run's {name}: {shapes[0] if shapes else error}") from None
    new_parts = isinstance(network, (ClassNormGenerator, RotationDiscriminator))
    mismatched = unexpected + [key for key in missing if not (new_parts and key.startswith(CONDITIONAL_PARTS))]
    if mismatched:
        raise ValueError(f"the {name} weights do not fit this run's {name}: "
                         f"{', '.join(mismatched[:4])}{' ...' if len(mismatched) > 4 else ''} differ")


class Trainer:
    """Models, optimisers and the step of one run; ``state_dict`` is everything a resume needs."""

    def __init__(self, config: TrainConfig, init: dict | None = None, device: str | torch.device = "cpu"):
        self.config = config
        with torch.random.fork_rng():                # initial weights from the seed, global RNG untouched
            torch.manual_seed(config.seed)
            self.G, self.D = generator_network(config), discriminator_network(config)
        if init is not None:                         # each network from its own copy, as the official code
            load_weights(self.G, init["G"], "generator")
            load_weights(self.D, init["D"], "discriminator")
        self.G_ema = generator_network(config)
        self.G_ema.load_state_dict(self.G.state_dict())
        if init is not None:
            load_weights(self.G_ema, init["G_ema"], "generator")
        self.G_ema.requires_grad_(False)
        self.device = torch.device(device)
        for model in (self.G, self.D, self.G_ema):
            model.to(self.device)
            if config.channels_last:
                model.to(memory_format=torch.channels_last)
        freeze_discriminator(self.D, config.freeze_d)
        self._split_batch()
        adam = dict(lr=config.lr, betas=config.betas)
        self.opt_g = torch.optim.Adam(self.G.parameters(), **adam)
        self.opt_d = torch.optim.Adam([p for p in self.D.parameters() if p.requires_grad], **adam)
        self.iteration = 0

    def _split_batch(self) -> None:
        """Micro-batches of the global batch, and which of them this process computes.

        One process with k micro-batches and k processes with one each compute the same update:
        the same images, latents and augmentations per micro-batch, gradients summed over all.
        """
        distributed = torch.distributed.is_available() and torch.distributed.is_initialized()
        self.rank, self.world = (torch.distributed.get_rank(), torch.distributed.get_world_size()) if distributed else (0, 1)
        size = self.config.micro_batch or self.config.batch_size // self.world
        if size < 1 or self.config.batch_size % (size * self.world):
            raise ValueError(f"batch_size {self.config.batch_size} must be a multiple of micro_batch {size} "
                             f"x {self.world} processes")
        self.micro_batch, self.micro_batches = size, self.config.batch_size // size
        per_rank = self.micro_batches // self.world
        self.local_micro_batches = range(self.rank * per_rank, (self.rank + 1) * per_rank)

    def local_slice(self) -> tuple[int, int]:
        """(offset within the global batch, count) of this process's images."""
        return self.local_micro_batches.start * self.micro_batch, len(self.local_micro_batches) * self.micro_batch

    def state_dict(self) -> dict:
        return {"G": self.G.state_dict(), "D": self.D.state_dict(), "G_ema": self.G_ema.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(), "iteration": self.iteration,
                "config": self.config.record()}

    def load_state_dict(self, state: dict) -> None:
        for name in ("G", "D", "G_ema", "opt_g", "opt_d"):
            getattr(self, name).load_state_dict(state[name])      # optimiser moments follow the parameters' device
        self.iteration = state["iteration"]

    def latents(self, purpose: int, micro: int) -> torch.Tensor:
        """Latents of micro-batch ``micro``: a slice of the iteration's global batch of latents."""
        size = self.micro_batch
        z = torch.randn(self.config.batch_size, self.config.model.latent_dim,
                        generator=generator_for(self.config.seed, self.iteration, purpose))
        return z[micro * size:(micro + 1) * size].to(self.device)

    def fake_labels(self, purpose: int, micro: int) -> torch.Tensor | None:
        """Classes of micro-batch ``micro``'s fakes, uniform over the classes (None: unconditional)."""
        if not self.config.classes:
            return None
        size = self.micro_batch
        y = torch.randint(self.config.classes, (self.config.batch_size,),
                          generator=generator_for(self.config.seed, self.iteration, purpose + _LABELS_OFFSET))
        return y[micro * size:(micro + 1) * size].to(self.device)

    def fakes(self, purpose: int, micro: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Micro-batch ``micro``'s fake images of ``self.G`` and their classes."""
        labels = self.fake_labels(purpose, micro)
        z = self.latents(purpose, micro)
        return (self.G(z) if labels is None else self.G(z, labels)), labels

    def judge(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """D's logits of ``x`` (of classes ``labels`` when conditional)."""
        return self.D(x) if labels is None else self.D(x, labels)

    def rotation_penalty(self, x: torch.Tensor) -> torch.Tensor:
        """SS-GAN's rotation loss on the four quarter turns of the first quarter of ``x``: its signal
        at the cost of one extra pass over the batch instead of four."""
        return rotation_loss(self.D, x[:max(1, len(x) // 4)])

    def augment(self, x: torch.Tensor, purpose: int, micro: int) -> torch.Tensor:
        return diff_augment(x, self.config.augment, generator_for(self.config.seed, self.iteration, purpose, micro))

    def discriminator_loss(self, reals: torch.Tensor, micro: int, lazy_r1: bool,
                           labels: torch.Tensor | None = None) -> tuple[torch.Tensor, dict]:
        """Logistic loss on augmented reals (of classes ``labels``) and fakes, the rotation loss on
        the augmented reals when self-supervised, plus lazy R1 on the augmented reals."""
        config = self.config
        with torch.no_grad():
            fakes, fake_labels = self.fakes(_LATENTS_D, micro)
        real_input = self.augment(reals, _AUGMENT_REAL, micro).detach().requires_grad_(lazy_r1)
        real_logits = self.judge(real_input, labels)
        loss = (F.softplus(self.judge(self.augment(fakes, _AUGMENT_FAKE, micro), fake_labels)).mean()
                + F.softplus(-real_logits).mean())
        stats = {"loss_d": loss.item()}
        if config.self_supervision:
            rotation = self.rotation_penalty(real_input.detach())
            loss = loss + config.self_supervision * rotation
            stats["rotation_d"] = rotation.item()
        if lazy_r1:
            (gradient,) = torch.autograd.grad(real_logits.sum(), real_input, create_graph=True)
            penalty = gradient.square().sum(dim=(1, 2, 3)).mean()
            loss = loss + penalty * (config.r1_gamma / 2 * config.r1_interval)
            stats["r1"] = penalty.item()
        return loss, stats

    def generator_loss(self, micro: int) -> tuple[torch.Tensor, dict]:
        """Non-saturating loss through the discriminator, plus the rotation loss of the augmented
        fakes when self-supervised."""
        fakes, labels = self.fakes(_LATENTS_G, micro)
        seen = self.augment(fakes, _AUGMENT_G, micro)
        loss = F.softplus(-self.judge(seen, labels)).mean()
        stats = {"loss_g": loss.item()}
        if self.config.self_supervision:
            rotation = self.rotation_penalty(seen)
            loss = loss + SS_GENERATOR_SHARE * self.config.self_supervision * rotation
            stats["rotation_g"] = rotation.item()
        return loss, stats

    def _accumulate(self, losses, parameters, optimiser) -> dict:
        """Backward every micro-batch's loss / (number of micro-batches in the world), sum over ranks, step."""
        optimiser.zero_grad(set_to_none=True)
        stats: dict[str, list[float]] = {}
        for micro in self.local_micro_batches:
            loss, values = losses(micro)
            (loss / self.micro_batches).backward()
            for key, value in values.items():
                stats.setdefault(key, []).append(value)
        if self.world > 1:
            _sum_over_processes([p.grad for p in parameters if p.grad is not None])
        optimiser.step()
        return {key: float(np.mean(values)) for key, values in stats.items()}

    def step(self, reals: np.ndarray, labels: np.ndarray | None = None) -> dict:
        """One iteration on this rank's images (and their classes, when conditional): D step, G step
        (D frozen), EMA update."""
        if (labels is None) != (not self.config.classes):
            wanted = "the classes of its real images" if self.config.classes else "no classes"
            raise ValueError(f"a run with classes={self.config.classes} takes {wanted}")
        reals_tensor = to_tensor(reals).to(self.device)      # an NHWC array's view: already channels-last strides
        if self.config.channels_last:
            reals_tensor = reals_tensor.contiguous(memory_format=torch.channels_last)
        size = self.micro_batch
        local = {micro: reals_tensor[k * size:(k + 1) * size] for k, micro in enumerate(self.local_micro_batches)}
        classes = None if labels is None else torch.as_tensor(labels, dtype=torch.long, device=self.device)
        local_classes = {micro: None if classes is None else classes[k * size:(k + 1) * size]
                         for k, micro in enumerate(self.local_micro_batches)}
        lazy_r1 = self.config.r1_gamma > 0 and self.iteration % self.config.r1_interval == 0
        trainable_d = [p for p in self.D.parameters() if p.requires_grad]
        stats = self._accumulate(lambda m: self.discriminator_loss(local[m], m, lazy_r1, local_classes[m]),
                                 trainable_d, self.opt_d)
        self.D.requires_grad_(False)
        stats.update(self._accumulate(self.generator_loss, list(self.G.parameters()), self.opt_g))
        self.D.requires_grad_(True)
        freeze_discriminator(self.D, self.config.freeze_d)
        self.update_ema()
        self.iteration += 1
        return stats

    def update_ema(self) -> None:
        """EMA of G with half-life ``ema_images``, ramped up over the first images (StyleGAN2-ADA)."""
        config = self.config
        seen = (self.iteration + 1) * config.batch_size
        half_life = min(config.ema_images, seen * config.ema_rampup)
        beta = 0.5 ** (config.batch_size / max(half_life, 1e-8))
        with torch.no_grad():
            for average, current in zip(self.G_ema.parameters(), self.G.parameters()):
                average.copy_(current.lerp(average, beta))


CHECKPOINT = "checkpoint.pt"     # a run folder's resumable state


def save_checkpoint(trainer: Trainer, path: Path) -> None:
    """Write the trainer's state atomically. It is serialised in memory (a few MB) and written as
    plain bytes, so a full disk is an ordinary ``OSError`` naming the file (``torch.save`` to a file
    reports it as a cryptic ``RuntimeError`` from its zip writer)."""
    buffer = io.BytesIO()
    torch.save(trainer.state_dict(), buffer)
    atomic_write(path, lambda temporary: Path(temporary).write_bytes(buffer.getbuffer()))


def load_checkpoint(path) -> dict:
    """A checkpoint written by ``train``; one clear error for a missing or unreadable file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:           # torch raises many types for a corrupt file
        raise ValueError(f"{path} is not a readable checkpoint: {error}") from None


def _read_log(path: Path, upto: int) -> list[str]:
    """Lines of an existing log up to iteration ``upto`` (a resumed run rewrites what followed)."""
    if not path.is_file():
        return []
    return [line for line in path.read_text().splitlines() if line and json.loads(line)["iteration"] <= upto]


def _resume_or_start(config: TrainConfig, run_dir: Path, init, device) -> Trainer:
    """The trainer of ``run_dir``: resumed from its checkpoint, or new (from ``init`` for transfer)."""
    config_json = json.dumps(config.record(), indent=2, sort_keys=True)
    checkpoint = run_dir / CHECKPOINT
    if checkpoint.is_file():
        state = load_checkpoint(checkpoint)
        if json.dumps(state["config"], indent=2, sort_keys=True) != config_json:
            raise ValueError(f"{run_dir} holds a run with another config; use a new folder")
        trainer = Trainer(config, device=device)
        trainer.load_state_dict(state)
        return trainer
    trainer = Trainer(config, load_checkpoint(init) if isinstance(init, (str, os.PathLike)) else init, device)
    if trainer.rank == 0:
        atomic_write(run_dir / "config.json", lambda temporary: Path(temporary).write_text(config_json + "\n"))
    return trainer


def training_batches(config: TrainConfig) -> Callable[[int, int], tuple[np.ndarray, ...]]:
    """``batch(start, n)``: the real images ``start .. start + n - 1`` of the run, with their
    classes when it is class-conditional (a labelled set, checked against ``config.classes``)."""
    if not config.classes:
        images = image_stream(config.source, config.model.resolution, config.seed)
        return lambda start, n: (images(start, n),)
    return labelled_stream(config.source, config.model.resolution, config.seed, classes=config.classes)


def grid_inputs(config: TrainConfig) -> tuple[torch.Tensor, ...]:
    """The generator's inputs for a run's fixed 32-image sample grids: seeded latents, and for a
    class-conditional run eight classes spread over its classes, one per column."""
    latents = torch.randn(32, config.model.latent_dim, generator=generator_for(config.seed, 0, _SAMPLE_GRID))
    if not config.classes:
        return (latents,)
    classes = torch.linspace(0, config.classes - 1, 8).round().long()
    return latents, classes.repeat(4)


def train(config: TrainConfig, run_dir, *, init=None, evaluate: Callable | None = None, eval_every: int = 0,
          evaluate_start: bool = False, progress: bool = True, device: str | torch.device = "cpu") -> Trainer:
    """Train (or resume) the run in ``run_dir`` to ``config.iterations``; return the trainer.

    ``init``: a checkpoint path or dict to start from (transfer; its EMA generator and D). If
    ``run_dir`` already holds a checkpoint of the same config, training resumes from it.
    ``evaluate(G_ema) -> dict`` is called every ``eval_every`` iterations and at the end, and with
    ``evaluate_start`` on the initial generator too (logged as iteration 0: where a transfer starts
    from, the level a fresh GAN must improve on); its numbers go to the log. Under torch.distributed
    every process trains its share of each batch and only rank 0 writes files.
    """
    run_dir = Path(run_dir)
    (run_dir / "samples").mkdir(parents=True, exist_ok=True)
    batches = training_batches(config)
    trainer = _resume_or_start(config, run_dir, init, device)
    lead = trainer.rank == 0
    log_path = run_dir / "log.jsonl"
    log_lines = _read_log(log_path, trainer.iteration)
    if evaluate is not None and evaluate_start and lead and trainer.iteration == 0:
        log_lines = [json.dumps({"iteration": 0, "images": 0, **evaluate(trainer.G_ema)})]
        atomic_write(log_path, lambda temporary: Path(temporary).write_text(log_lines[0] + "\n"))
    fixed_inputs = [x.to(trainer.device) for x in grid_inputs(config)]
    if progress and lead and trainer.iteration:
        print(f"resuming {run_dir} at iteration {trainer.iteration:,} of {config.iterations:,}", file=sys.stderr,
              flush=True)
    bar = progress_bar(total=config.iterations, initial=trainer.iteration, desc=f"train {config.source.label}",
                       unit="it", disable=not (progress and lead))
    started, start_iteration = time.perf_counter(), trainer.iteration
    offset, count = trainer.local_slice()
    sums: dict[str, list[float]] = {}
    while trainer.iteration < config.iterations:
        stats = trainer.step(*batches(trainer.iteration * config.batch_size + offset, count))
        for key, value in stats.items():
            sums.setdefault(key, []).append(value)
        done = trainer.iteration
        rate = (done - start_iteration) * config.batch_size / (time.perf_counter() - started)
        bar.update(1)
        bar.set_postfix(img_s=f"{rate:.0f}", loss_d=f"{stats['loss_d']:.2f}")
        if not lead:
            continue
        record = {}
        if done % config.log_every == 0 or done == config.iterations:     # means over the steps since the last line
            record = {"iteration": done, "images": done * config.batch_size, "images_per_s": rate,
                      **{key: float(np.mean(values)) for key, values in sums.items()}}
            sums = {}
        if evaluate is not None and (done == config.iterations or (eval_every and done % eval_every == 0)):
            record = {"iteration": done, "images": done * config.batch_size, **record, **evaluate(trainer.G_ema)}
        if done % config.sample_every == 0 or done == config.iterations:
            with torch.no_grad():
                save_grid(to_images(trainer.G_ema(*fixed_inputs)), run_dir / "samples" / f"{done:06d}.png")
        if record:
            log_lines.append(json.dumps(record))
            atomic_write(log_path, lambda temporary: Path(temporary).write_text("\n".join(log_lines) + "\n"))
        if done % config.checkpoint_every == 0 or done == config.iterations:
            save_checkpoint(trainer, run_dir / CHECKPOINT)
    bar.close()
    return trainer
