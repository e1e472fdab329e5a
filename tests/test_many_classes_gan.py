"""CTF-GAN's parts (gan.ctf), the model family of notebook 08 (many classes): class-conditional
normalisation that starts as the unconditional generator, SS-GAN's rotation head, and the LQ -> HQ
transfer, each trained briefly on real glyphs."""
import math

import numpy as np
import pytest
import torch

from primps_core.data import glyphs
from primps_core.gan import ctf
from primps_core.gan.models import Generator, ModelConfig, ProjectionDiscriminator

CONFIG = ModelConfig(architecture="resnet", resolution=32, base_channels=8, max_channels=32, mbstd_group=1)


@pytest.fixture(scope="module")
def pairs():
    """High- and low-quality glyphs of 12 classes in model space (N, 3, 32, 32), with labels."""
    clean = glyphs.load_glyphs()[0]
    high, labels = glyphs.high_quality(clean, np.arange(0, 3755, 313), per_class=16, seed=0)
    low = glyphs.low_quality(high, seed=1)

    def to_model(images):
        return torch.from_numpy(images.astype(np.float32) / 127.5 - 1)[:, None].expand(-1, 3, -1, -1).contiguous()
    return to_model(high), to_model(low), torch.as_tensor(labels)


def test_class_norm_generator_starts_as_the_unconditional_one_and_then_depends_on_the_class():
    torch.manual_seed(0)
    plain = Generator(CONFIG)
    conditional = ctf.ClassNormGenerator(CONFIG, classes=50)
    missing, unexpected = conditional.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all(name.startswith(("scales", "shifts")) for name in missing)
    z = torch.randn(6, CONFIG.latent_dim)
    with torch.no_grad():
        assert torch.allclose(conditional(z, torch.tensor([0, 1, 2, 3, 4, 49])), plain(z), atol=1e-6)
        for table in (*conditional.scales, *conditional.shifts):
            table.weight.normal_(0, 0.3)
        by_class = [conditional(z[:1], torch.tensor([k])) for k in (0, 1)]
        assert not torch.allclose(*by_class, atol=1e-3)
        alone = conditional(z[2:3], torch.tensor([7]))
        assert torch.allclose(conditional(z, torch.full((6,), 7))[2:3], alone, atol=1e-5)   # no batch coupling


def test_rotations_are_the_four_quarter_turns_and_the_head_learns_them_on_glyphs(pairs):
    high, _, labels = pairs
    images, turns = ctf.rotated(high[:3])
    assert images.shape == (12, 3, 32, 32) and turns.tolist() == [0] * 3 + [1] * 3 + [2] * 3 + [3] * 3
    assert torch.equal(images[3], torch.rot90(high[0], 1, dims=(1, 2))) and torch.equal(images[6], high[0].flip(1).flip(2))
    torch.manual_seed(0)
    discriminator = ctf.RotationDiscriminator(CONFIG, classes=12)
    missing, unexpected = discriminator.load_state_dict(ProjectionDiscriminator(CONFIG, 12).state_dict(), strict=False)
    assert not unexpected and {name.split(".")[0] for name in missing} == {"rotation"}
    with torch.no_grad():
        start = float(ctf.rotation_loss(discriminator, high[:64]))
    assert abs(start - math.log(4)) < 0.3                             # untrained: about chance
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=2e-3)
    for step in range(60):
        batch = high[torch.randint(0, len(high), (32,), generator=torch.Generator().manual_seed(step))]
        optimizer.zero_grad()
        ctf.rotation_loss(discriminator, batch).backward()
        optimizer.step()
    with torch.no_grad():
        assert float(ctf.rotation_loss(discriminator, high[64:128])) < 0.75 * start    # held-out glyphs


def test_feature_transfer_starts_as_the_identity_and_learns_to_undo_the_degradation(pairs):
    high, low, labels = pairs
    torch.manual_seed(0)
    transfer = ctf.FeatureTransfer(classes=12, width=16)
    with torch.no_grad():
        assert torch.equal(transfer(low[:8], labels[:8]), low[:8])
        identity = float((low[96:] - high[96:]).abs().mean())
    optimizer = torch.optim.Adam(transfer.parameters(), lr=2e-3)
    for step in range(150):
        index = torch.randint(0, 96, (32,), generator=torch.Generator().manual_seed(step))
        optimizer.zero_grad()
        ctf.transfer_loss(transfer, low[index], high[index], labels[index]).backward()
        optimizer.step()
    with torch.no_grad():
        held_out = float(ctf.transfer_loss(transfer, low[96:], high[96:], labels[96:]))
    assert held_out < 0.8 * identity                                  # closer to HQ than the LQ input was
