"""Membership-inference attacks on real 16 px images with known answers (a generator that copies its
members, one independent of them, an overfitted discriminator, an untrained one); the ROC metrics
against scikit-learn; the bounded-memory distance code against brute force."""
import numpy as np
import pytest
import scipy.spatial.distance
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score, roc_curve

from primps_core.data import photos as photo_data
from primps_core.eval import membership
from primps_core.gan.models import Discriminator, Generator, ModelConfig
from primps_core.gan.sampling import sample_images, to_tensor

TINY = ModelConfig(resolution=16, base_channels=8, max_channels=16, latent_dim=16)


@pytest.fixture(scope="module")
def patches():
    """Members, non-members, other images and reference images: disjoint, of one distribution."""
    images = photo_data.natural_patches(800, resolution=16, seed=0, split="pretrain")
    return {"members": images[:200], "nonmembers": images[200:400], "others": images[400:600],
            "reference": images[600:]}


@pytest.fixture
def single_thread():
    """One torch thread for tiny models (faster on a shared CPU), restored afterwards."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def attack_auc(scores: membership.AttackScores) -> float:
    return membership.auc(*scores.labels_and_scores())


def random_scores(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels and overlapping scores with many ties (rounded to one decimal)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 150 + 50 * seed)
    labels[:2] = (0, 1)
    return labels, np.round(rng.normal(0.7 * labels, 1.0), 1)


# ----------------------------------------------------------------------------- metrics

@pytest.mark.parametrize("seed", range(5))
def test_roc_auc_and_tpr_match_scikit_learn(seed):
    labels, scores = random_scores(seed)
    fpr, tpr = membership.roc(labels, scores)
    sk_fpr, sk_tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr, rtol=0, atol=1e-15)
    np.testing.assert_allclose(tpr, sk_tpr, rtol=0, atol=1e-15)
    assert membership.auc(labels, scores) == pytest.approx(roc_auc_score(labels, scores), abs=1e-12)
    for budget in (0.01, 0.05, 0.1, 0.5, 1.0):
        assert membership.tpr_at_fpr(labels, scores, budget) == max(t for f, t in zip(sk_fpr, sk_tpr) if f <= budget)


def test_auc_is_the_mann_whitney_probability_with_ties_counted_half():
    labels, scores = random_scores(7)
    members, nonmembers = scores[labels == 1], scores[labels == 0]
    pairs = (members[:, None] > nonmembers).mean() + 0.5 * (members[:, None] == nonmembers).mean()
    assert membership.auc(labels, scores) == pytest.approx(pairs, abs=1e-12)
    assert membership.auc([1, 0, 1, 0], [2.0, 2.0, 2.0, 2.0]) == 0.5


def test_bootstrap_interval_contains_the_estimate_narrows_with_n_and_is_reproducible():
    def interval(n, seed=0):
        rng = np.random.default_rng(n)
        labels = np.r_[np.ones(n, int), np.zeros(n, int)]
        scores = rng.normal(labels * 1.0, 1.0)
        return membership.auc(labels, scores), membership.bootstrap_ci(labels, scores, membership.auc, n_boot=300, seed=seed)

    small, (small_lo, small_hi) = interval(40)
    large, (large_lo, large_hi) = interval(400)
    assert small_lo < small < small_hi and large_lo < large < large_hi
    assert large_hi - large_lo < (small_hi - small_lo) / 2          # ~sqrt(10) narrower
    assert interval(40)[1] == interval(40)[1]
    assert interval(40, seed=1)[1] != interval(40)[1]


def test_bootstrap_resamples_each_class_to_its_own_count():
    labels = np.r_[np.ones(7, int), np.zeros(30, int)]
    scores = np.arange(37.0)
    assert membership.bootstrap_ci(labels, scores, lambda l, s: l.sum(), n_boot=50) == (7.0, 7.0)


# ----------------------------------------------------------------------------- distances

def test_blocked_distances_match_brute_force(monkeypatch):
    images = photo_data.natural_patches(60, resolution=16, seed=3, split="heldout")
    queries, samples = images[:23], np.r_[images[:5], images[23:]]          # 5 queries copied
    monkeypatch.setattr(membership, "_BLOCK_VALUES", 16 * 16 * 3 * 8)         # 3 x 6 blocks of <= 8 x 8 pairs
    brute = scipy.spatial.distance.cdist(queries.reshape(23, -1) / 255.0, samples.reshape(len(samples), -1) / 255.0)
    nearest = membership.nearest_distances(queries, samples)
    np.testing.assert_allclose(nearest, brute.min(axis=1), rtol=1e-12)
    assert (nearest[:5] == 0).all() and (nearest[5:] > 0).all()
    for percentile in (0.0, 0.1, 1.0, 37.5, 100.0):
        assert membership.distance_percentile(queries, samples, percentile) == pytest.approx(
            np.percentile(brute, percentile), rel=1e-12)
    epsilon = float(np.percentile(brute, 5))
    scores = membership.monte_carlo(samples, queries[:10], queries[10:], epsilon=epsilon)
    np.testing.assert_allclose(np.r_[scores.members, scores.nonmembers], (brute <= epsilon + 1e-12).mean(axis=1))


# ----------------------------------------------------------------------------- black-box attacks

BLACK_BOX = {
    "gan_leaks": lambda samples, data: membership.gan_leaks(samples, data["members"], data["nonmembers"]),
    "gan_leaks_calibrated": lambda samples, data: membership.gan_leaks_calibrated(
        samples, data["reference"], data["members"], data["nonmembers"]),
    "monte_carlo": lambda samples, data: membership.monte_carlo(samples, data["members"], data["nonmembers"]),
}


@pytest.mark.parametrize("attack", BLACK_BOX)
def test_black_box_attack_detects_a_memorising_generator(attack, patches):
    copies = np.r_[patches["members"], patches["others"]]
    result = membership.summary(BLACK_BOX[attack](copies, patches), n_boot=200)
    assert result["auc"] > 0.95 and result["auc_lo"] > 0.9
    assert (result["n_members"], result["n_nonmembers"]) == (200, 200)


@pytest.mark.parametrize("attack", BLACK_BOX)
def test_black_box_attack_is_at_chance_against_an_independent_generator(attack, patches):
    assert attack_auc(BLACK_BOX[attack](patches["others"], patches)) == pytest.approx(0.5, abs=0.15)


def test_generator_module_is_sampled_reproducibly(patches):
    torch.manual_seed(0)
    generator = Generator(TINY)
    members, nonmembers = patches["members"][:20], patches["nonmembers"][:20]
    samples = membership.as_samples(generator, 64, seed=5)
    assert samples.dtype == np.uint8 and samples.shape == (64, 16, 16, 3)
    np.testing.assert_array_equal(samples, sample_images(generator, 64, 5))
    scores = membership.gan_leaks(generator, members, nonmembers, n_samples=64, seed=5)
    again = membership.gan_leaks(generator, members, nonmembers, n_samples=64, seed=5)
    np.testing.assert_array_equal(scores.members, again.members)
    np.testing.assert_array_equal(scores.nonmembers, again.nonmembers)
    np.testing.assert_array_equal(scores.members, membership.gan_leaks(samples, members, nonmembers).members)
    other_seed = membership.gan_leaks(generator, members, nonmembers, n_samples=64, seed=6)
    assert not np.array_equal(scores.members, other_seed.members)
    calibrated = membership.gan_leaks_calibrated(generator, generator, members, nonmembers, n_samples=64, seed=5)
    assert (calibrated.members == 0).all() and (calibrated.nonmembers == 0).all()


# ----------------------------------------------------------------------------- white-box attack

@pytest.fixture(scope="module")
def heldout():
    images = photo_data.natural_patches(416, resolution=16, seed=0, split="heldout")
    return {"members": images[:16], "others": images[16:216], "nonmembers": images[216:]}


def overfitted_discriminator(members: np.ndarray, others: np.ndarray, steps: int = 300) -> Discriminator:
    """A tiny D trained to rate ``members`` real and ``others`` fake until it memorises the members."""
    torch.manual_seed(0)
    discriminator = Discriminator(TINY)
    optimizer = torch.optim.Adam(discriminator.parameters(), lr=2e-3)
    real, fake = to_tensor(members), to_tensor(others)
    draws = torch.Generator().manual_seed(0)
    for _ in range(steps):
        negatives = fake[torch.randint(len(fake), (32,), generator=draws)]
        loss = F.softplus(-discriminator(real)).mean() + F.softplus(discriminator(negatives)).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return discriminator


def test_logan_detects_an_overfitted_discriminator(heldout, single_thread):
    discriminator = overfitted_discriminator(heldout["members"], heldout["others"]).train()
    scores = membership.logan(discriminator, heldout["members"], heldout["nonmembers"], batch_size=64)
    assert attack_auc(scores) > 0.9
    assert discriminator.training                                  # mode restored
    alone = discriminator(to_tensor(heldout["members"][3:4])).item()
    assert scores.members[3] == pytest.approx(alone, abs=1e-5)    # a score is the image's own logit


def test_logan_is_at_chance_with_an_untrained_discriminator(single_thread):
    torch.manual_seed(0)
    images = photo_data.natural_patches(400, resolution=16, seed=1, split="heldout")
    assert attack_auc(membership.logan(Discriminator(TINY), images[:200], images[200:])) == pytest.approx(0.5, abs=0.2)


# ----------------------------------------------------------------------------- errors

def test_bad_inputs_raise_clear_errors(patches):
    members, nonmembers = patches["members"][:5], patches["nonmembers"][:5]
    with pytest.raises(ValueError, match="members is empty"):
        membership.gan_leaks(nonmembers, members[:0], nonmembers)
    with pytest.raises(ValueError, match="image shape of members"):
        membership.gan_leaks(nonmembers[:, :8, :8], members, nonmembers)
    with pytest.raises(ValueError, match="nonmembers must be uint8"):
        membership.monte_carlo(members, members, nonmembers.astype(np.float32))
    with pytest.raises(ValueError, match="epsilon"):
        membership.monte_carlo(members, members, nonmembers, epsilon=-1.0)
    with pytest.raises(ValueError, match="labels must be 0"):
        membership.auc([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="both members"):
        membership.auc([1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="fpr must be in"):
        membership.tpr_at_fpr([0, 1], [0.1, 0.2], 0.0)
    with pytest.raises(ValueError, match="level must be in"):
        membership.bootstrap_ci([0, 1], [0.1, 0.2], membership.auc, level=1.0)
    with pytest.raises(ValueError, match="nonmembers scores"):
        membership.AttackScores(np.ones(3), np.ones(0))
