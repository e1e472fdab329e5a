"""Generator and discriminator: shapes at every resolution, minibatch std, batch independence, FreezeD."""
import pytest
import torch

from primps_core.gan import models


@pytest.mark.parametrize("architecture", models.ARCHITECTURES)
@pytest.mark.parametrize("resolution", [16, 32, 64])
def test_shapes_and_ranges(architecture, resolution):
    config = models.ModelConfig(architecture=architecture, resolution=resolution, base_channels=8, max_channels=32)
    generator, discriminator = models.build(config)
    z = torch.randn(6, config.latent_dim)
    images = generator(z)
    assert images.shape == (6, 3, resolution, resolution) and images.abs().max() <= 1
    assert discriminator(images).shape == (6,)
    assert config.sizes()[0] == 4 and config.sizes()[-1] == resolution
    assert len(discriminator.stages) == len(generator.stages) == len(config.sizes()) - 1


def test_minibatch_stddev_known_answer():
    x = torch.zeros(4, 2, 1, 1)
    x[:, 0, 0, 0] = torch.tensor([0.0, 0.0, 2.0, 4.0])        # groups of 2: samples (0, 2) and (1, 3)
    out = models.minibatch_stddev(x, group=2)
    assert out.shape == (4, 3, 1, 1)
    # std over (0, 2) = 1, over (0, 4) = 2 in feature 0; feature 1 is constant (std ~ 1e-4); mean over features
    expected = torch.tensor([1.0, 2.0, 1.0, 2.0]) / 2 + 1e-4 / 2
    assert torch.allclose(out[:, 2, 0, 0], expected, atol=1e-5)
    assert models.minibatch_stddev(torch.randn(5, 3, 2, 2), group=4).shape == (5, 4, 2, 2)   # 5: groups of 1


def test_generator_samples_do_not_depend_on_the_batch():
    generator = models.Generator(models.ModelConfig(resolution=16, base_channels=8))
    z = torch.randn(8, 128)
    assert torch.allclose(generator(z)[:3], generator(z[:3]), atol=1e-5)         # up to convolution rounding


def test_freeze_discriminator_freezes_the_input_side_stages_only():
    discriminator = models.Discriminator(models.ModelConfig(resolution=32, base_channels=8))
    models.freeze_discriminator(discriminator, 2)
    trainable = [all(p.requires_grad for p in stage.parameters()) for stage in discriminator.stages]
    assert trainable == [False, False, True]
    assert all(p.requires_grad for p in discriminator.final.parameters())
    with pytest.raises(ValueError, match="freeze_d must be an integer in 0..3"):
        models.freeze_discriminator(discriminator, 4)


@pytest.mark.parametrize("field, value, message", [("architecture", "stylegan3", "architecture"),
                                                   ("resolution", 48, "resolution must be one of 16, 32"),
                                                   ("base_channels", 0, "base_channels")])
def test_bad_configs_are_named(field, value, message):
    with pytest.raises(ValueError, match=message):
        models.ModelConfig(**{field: value})
