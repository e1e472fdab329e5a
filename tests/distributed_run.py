"""Launched by tests/test_distributed.py under torchrun: train a tiny run, rank 0 saves its weights."""
import sys

import torch
import torch.distributed as dist

from primps_core.data import sources
from primps_core.gan import training
from primps_core.gan.models import ModelConfig

TINY = ModelConfig(resolution=16, base_channels=8, max_channels=16, latent_dim=16)


def config(iterations: int, micro_batch: int = 0) -> training.TrainConfig:
    return training.TrainConfig(source=sources.resolve("primitives-ps"), model=TINY, iterations=iterations, batch_size=8,
                                micro_batch=micro_batch, r1_interval=1, ema_images=200, checkpoint_every=2)


def flat_weights(trainer: training.Trainer) -> torch.Tensor:
    return torch.cat([p.detach().ravel() for m in (trainer.G, trainer.D, trainer.G_ema) for p in m.parameters()])


if __name__ == "__main__":
    dist.init_process_group("gloo")
    trainer = training.train(config(int(sys.argv[3])), sys.argv[1], progress=False)
    if dist.get_rank() == 0:
        torch.save(flat_weights(trainer), sys.argv[2])
    training.end_worker()
