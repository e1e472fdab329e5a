"""DiffAugment: each transform's invariant against an independent check, determinism, gradients."""
import numpy as np
import pytest
import torch

from primps_core.gan import augment


def images(n=6, size=32, seed=0):
    return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(seed)) * 2 - 1


def shifted(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``image`` (C, H, W) moved by (dy, dx) with zero fill, written with slices."""
    out = np.zeros_like(image)
    h, w = image.shape[1:]
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = image[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out


def test_translation_is_a_zero_filled_integer_shift_of_at_most_an_eighth():
    x = images()
    y = augment.rand_translation(x, torch.Generator().manual_seed(1)).numpy()
    found = []
    for source, result in zip(x.numpy(), y):
        matches = [(dy, dx) for dy in range(-4, 5) for dx in range(-4, 5) if np.array_equal(shifted(source, dy, dx), result)]
        assert len(matches) == 1
        found.append(matches[0])
    assert len(set(found)) > 1


def test_cutout_zeroes_one_half_size_square_and_nothing_else():
    x = images(n=32) + 3                                        # no zeros anywhere before
    y = augment.rand_cutout(x, torch.Generator().manual_seed(2))
    for source, result in zip(x, y):
        zero = (result == 0).all(dim=0)
        rows, cols = torch.nonzero(zero.any(dim=1)).ravel(), torch.nonzero(zero.any(dim=0)).ravel()
        assert zero.sum() == len(rows) * len(cols) and len(rows) <= 16 and len(cols) <= 16   # one rectangle
        assert len(rows) >= 8 and len(cols) >= 8                                          # at least a corner of it
        assert torch.equal(result[:, ~zero], source[:, ~zero])


def test_colour_transforms_keep_their_invariants():
    x = images()
    generator = torch.Generator().manual_seed(3)
    offset = augment.rand_brightness(x, generator) - x
    assert torch.allclose(offset, offset[:, :1, :1, :1].expand_as(offset), atol=1e-6)
    assert offset.abs().max() <= 0.5
    saturated = augment.rand_saturation(x, generator)
    assert torch.allclose(saturated.mean(dim=1), x.mean(dim=1), atol=1e-5)
    contrasted = augment.rand_contrast(x, generator)
    assert torch.allclose(contrasted.mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)), atol=1e-5)


def test_policy_is_deterministic_given_the_generator_and_differentiable():
    x = images().requires_grad_(True)
    a = augment.diff_augment(x, generator=torch.Generator().manual_seed(5))
    b = augment.diff_augment(x, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and not torch.equal(a, augment.diff_augment(x, generator=torch.Generator().manual_seed(6)))
    a.square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert torch.equal(augment.diff_augment(x, policy=""), x)
    with pytest.raises(ValueError, match="unknown DiffAugment policy 'flip'"):
        augment.diff_augment(x, policy="color,flip")
