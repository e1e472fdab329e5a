"""The port of the official Primitives-PS generators (synth/official.py): known answers and the
original's documented behaviour, measured on the images it makes."""
import hashlib

import numpy as np
import pytest

from primps_core.synth import official

# SHA-256 (16 hex digits) of images(function, 3, seed=0) at 256 px. Recorded after the port gave,
# for seeds 0-19 of every function, the same bytes as the original noise_dataset.py functions run
# with numpy's global generator seeded alike (a one-off check: the original's module imports lmdb
# and torchvision, so it is not run here).
KNOWN = {"rgb_noise": "c83cbf4a9df03bc1", "pink_leaves": "6a4cf884984463cd",
         "dead_leaves": "a74dd54458855cc6", "pink_and_salient": "63d9fee4f0de4795"}


@pytest.mark.parametrize("function", official.FUNCTIONS)
def test_images_are_the_recorded_bytes(function):
    images = official.images(function, 3, seed=0)
    assert images.shape == (3, 256, 256, 3) and images.dtype == np.uint8
    assert hashlib.sha256(images.tobytes()).hexdigest()[:16] == KNOWN[function]


def test_noise_is_normalised_over_all_channels_at_once():
    """One min and max for the three channels: together they span 0..255, but the channel with the
    steepest exponents dominates and in most images the weakest one is nearly flat (std under 0.02
    of the range; per-channel normalisation would stretch every channel to 0..255)."""
    noise = official.images("rgb_noise", 40, size=64)
    assert all(image.min() == 0 and image.max() == 255 for image in noise)
    weakest = (noise / 255).std(axis=(1, 2)).min(axis=1)
    assert (weakest < 0.02).mean() > 0.5


def test_dead_leaves_background_is_grey():
    """The first drawn level fills all three channels, so a tenth or more of every image (what the
    shapes leave of the background) is grey; a shape's random colour is grey once in 65,025."""
    for image in official.images("dead_leaves", 12, size=64):
        pixels = image.reshape(-1, 3)
        assert ((pixels[:, 0] == pixels[:, 1]) & (pixels[:, 1] == pixels[:, 2])).mean() > 0.1


def test_the_salient_object_is_textured_and_near_the_centre():
    """pink_and_salient differs from its own background inside the object only: the changed
    pixels' centroid lies within the centre's draw range plus the rectangle's offset."""
    size = 256
    rng = np.random.RandomState(5)
    background = official.renormalize(official.rgb_noise(rng, size))
    state = rng.get_state()
    textured = official.pink_and_salient(np.random.RandomState(5), size)
    rng.set_state(state)
    mask = official.inject_saliency(rng, size, np.zeros((size, size, 3))) > 0
    assert np.array_equal(textured[~mask], background[~mask].astype(float))
    rows, columns = np.nonzero(mask.any(axis=2))
    assert size / 8 <= rows.mean() <= 7 * size / 8 and size / 8 <= columns.mean() <= 7 * size / 8


def test_sizes_seeds_and_functions_are_checked():
    with pytest.raises(ValueError, match="size must be an integer in 8..256, got 512"):
        official.image("pink_leaves", 0, size=512)
    with pytest.raises(ValueError, match="function must be one of"):
        official.image("primitives", 0)
    with pytest.raises(ValueError, match="seed must be an integer in 0"):
        official.image("rgb_noise", -1)
    assert official.image("pink_leaves", 7, size=32).shape == (32, 32, 3)
    np.testing.assert_array_equal(official.image("dead_leaves", 3, size=48), official.image("dead_leaves", 3, size=48))
