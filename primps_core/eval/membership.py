"""Membership-inference attacks on GANs and the metrics that score them.

An attack maps each query image to a score, higher meaning "more likely a training member", and
returns ``AttackScores`` for a known member set and a known non-member set; the metrics then read
only (labels, scores), so every attack is scored the same way.

- Black-box attacks see only generated images. ``samples`` is either a uint8 image array or a
  generator module, sampled with ``gan.sampling.sample_images(G, n_samples, seed)``:
  ``gan_leaks`` and ``gan_leaks_calibrated`` (Chen et al., CCS 2020) use the distance to the
  nearest sample, ``monte_carlo`` (Hilprecht et al., PoPETs 2019) the share of samples near the query.
- The white-box attack ``logan`` (Hayes et al., PoPETs 2019) reads the discriminator's logit.

Distances are L2 between flattened images with pixels scaled to [0, 1]. They are computed from
the integer pixel values in float64, where every square and sum is an exact integer, so they are
exact up to the final square root: a copy of a query is at distance 0 and equal distances tie.
Queries and samples are compared block by block (``_BLOCK_VALUES`` float64 values per block of
pixels or of distances), so memory stays bounded for any number of queries and samples: about
190 MB at peak for 6,000 queries x 20,000 samples of 16 px, whose full matrix alone is 915 MB.

The metrics (ROC, AUC, TPR at a fixed FPR, stratified bootstrap intervals) are plain numpy and
match scikit-learn's definitions, which is not a runtime dependency.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch

from .. import checks
from ..gan.sampling import sample_images, to_tensor

DEFAULT_SAMPLES = 10_000         # images drawn from a generator passed as ``samples``
DEFAULT_PERCENTILE = 0.1         # Monte-Carlo epsilon: this percentile of all query-to-sample distances
_BLOCK_VALUES = 1 << 21          # float64 values per block of pixels or of distances (16 MiB)
_MAX_BLOCK_ROWS = 1024           # queries per block


@dataclass(frozen=True)
class AttackScores:
    """Per-image scores of one attack on a member set and a non-member set; higher = more likely a member."""

    members: np.ndarray
    nonmembers: np.ndarray

    def __post_init__(self):
        for name in ("members", "nonmembers"):
            scores = np.asarray(getattr(self, name), dtype=np.float64)
            if scores.ndim != 1 or len(scores) == 0:
                raise ValueError(f"{name} scores must be a non-empty 1-D array, got shape {scores.shape}")
            object.__setattr__(self, name, scores)

    def labels_and_scores(self) -> tuple[np.ndarray, np.ndarray]:
        """All scores with their labels: 1 for members, 0 for non-members (members first)."""
        labels = np.concatenate([np.ones(len(self.members), np.int64), np.zeros(len(self.nonmembers), np.int64)])
        return labels, np.concatenate([self.members, self.nonmembers])


# ----------------------------------------------------------------------------- inputs

def _check_images(images, name: str) -> np.ndarray:
    """``images`` as a uint8 (N, H, W, 3) array with N > 0, or an error naming ``name``."""
    array = np.asarray(images)
    if array.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 images, got dtype {array.dtype}")
    if array.ndim != 4 or array.shape[-1] != 3:
        raise ValueError(f"{name} must be an image array (N, H, W, 3), got shape {array.shape}")
    if len(array) == 0:
        raise ValueError(f"{name} is empty: an attack needs at least one image in each set")
    return array


def _check_same_shape(reference: np.ndarray, reference_name: str, **others: np.ndarray) -> None:
    """An error if any of ``others`` holds images of another (H, W, 3) than ``reference``."""
    for name, images in others.items():
        if images.shape[1:] != reference.shape[1:]:
            raise ValueError(f"image shape of {name} {images.shape[1:]} differs from that of "
                             f"{reference_name} {reference.shape[1:]}")


def as_samples(source: np.ndarray | torch.nn.Module, n: int, seed: int) -> np.ndarray:
    """Generated images of ``source``: a uint8 image array as it is (``n``, ``seed`` unused), or
    ``n`` samples of a generator module drawn from latents seeded by ``seed``."""
    if isinstance(source, torch.nn.Module):
        return sample_images(source, checks.integer(n, "n_samples", 1), seed)
    return _check_images(source, "samples")


def _attack_inputs(source: np.ndarray | torch.nn.Module, members, nonmembers, n_samples: int,
                   seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Checked (samples, members, nonmembers) of a black-box attack."""
    members, nonmembers = _check_images(members, "members"), _check_images(nonmembers, "nonmembers")
    samples = as_samples(source, n_samples, seed)
    _check_same_shape(samples, "the samples", members=members, nonmembers=nonmembers)
    return samples, members, nonmembers


# ----------------------------------------------------------------------------- distances

def _flat(images: np.ndarray) -> torch.Tensor:
    """uint8 images as float64 rows of integer pixel values."""
    return torch.from_numpy(images.reshape(len(images), -1)).to(torch.float64)


def _distance_blocks(queries: np.ndarray, samples: np.ndarray) -> Iterator[tuple[slice, torch.Tensor]]:
    """``(rows, distances)`` blocks covering all pairs: the distances of ``queries[rows]`` to one
    block of samples, L2 with pixels in [0, 1] (exact, see the module docstring)."""
    dim = queries[0].size
    rows_per_block = max(1, min(_MAX_BLOCK_ROWS, _BLOCK_VALUES // dim))
    samples_per_block = max(1, min(_BLOCK_VALUES // rows_per_block, _BLOCK_VALUES // dim))
    for start in range(0, len(queries), rows_per_block):
        rows = slice(start, start + rows_per_block)
        block = _flat(queries[rows])
        for first in range(0, len(samples), samples_per_block):
            yield rows, torch.cdist(block, _flat(samples[first:first + samples_per_block])) / 255.0


def nearest_distances(queries: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Distance from each query to its nearest sample (L2, pixels in [0, 1])."""
    queries, samples = _check_images(queries, "queries"), _check_images(samples, "samples")
    _check_same_shape(samples, "samples", queries=queries)
    nearest = torch.full((len(queries),), float("inf"), dtype=torch.float64)
    for rows, distances in _distance_blocks(queries, samples):
        nearest[rows] = torch.minimum(nearest[rows], distances.min(dim=1).values)
    return nearest.numpy()


def _smallest(values: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` smallest of ``values``, unordered."""
    return values if len(values) <= k else np.partition(values, k - 1)[:k]


def distance_percentile(queries: np.ndarray, samples: np.ndarray, percentile: float) -> float:
    """The ``percentile`` (0-100, linear interpolation as ``np.percentile``) of all query-to-sample distances.

    Exact without holding all distances: only the smallest ``percentile``% of them are kept, so
    memory grows with the percentile, which the Monte-Carlo heuristic keeps low.
    """
    queries, samples = _check_images(queries, "queries"), _check_images(samples, "samples")
    _check_same_shape(samples, "samples", queries=queries)
    if not 0 <= percentile <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {percentile!r}")
    position = percentile / 100 * (len(queries) * len(samples) - 1)
    low = int(position)
    keep = min(len(queries) * len(samples), low + 2)
    smallest = np.empty(0)
    for _, distances in _distance_blocks(queries, samples):
        smallest = _smallest(np.concatenate([smallest, _smallest(distances.numpy().ravel(), keep)]), keep)
    smallest.sort()
    high = min(low + 1, len(smallest) - 1)
    return float(smallest[low] + (smallest[high] - smallest[low]) * (position - low))


def _fraction_within(queries: np.ndarray, samples: np.ndarray, epsilon: float) -> np.ndarray:
    """Per query, the fraction of samples at distance <= ``epsilon``."""
    counts = np.zeros(len(queries))
    for rows, distances in _distance_blocks(queries, samples):
        counts[rows] += (distances <= epsilon).sum(dim=1).numpy()
    return counts / len(samples)


# ----------------------------------------------------------------------------- attacks

def gan_leaks(samples: np.ndarray | torch.nn.Module, members, nonmembers, *, n_samples: int = DEFAULT_SAMPLES,
              seed: int = 0) -> AttackScores:
    """Full black-box GAN-Leaks (Chen et al., CCS 2020): minus the distance to the nearest sample.

    A generator that memorised a training image reproduces it, so members lie closer to the
    generated set than unseen images of the same distribution.
    """
    samples, members, nonmembers = _attack_inputs(samples, members, nonmembers, n_samples, seed)
    return AttackScores(-nearest_distances(members, samples), -nearest_distances(nonmembers, samples))


def gan_leaks_calibrated(samples: np.ndarray | torch.nn.Module, reference_samples: np.ndarray | torch.nn.Module,
                         members, nonmembers, *, n_samples: int = DEFAULT_SAMPLES, seed: int = 0) -> AttackScores:
    """Calibrated GAN-Leaks (Chen et al., CCS 2020): ``-(d_target(x) - d_reference(x))``.

    ``reference_samples`` come from a generator trained on data disjoint from the members but of
    the same distribution. Subtracting its nearest distance removes how easily any generator
    reconstructs a query (a flat patch is near many samples), leaving what the target adds. Both
    generators, if given as modules, are sampled with the same ``n_samples`` and ``seed``.
    """
    target = gan_leaks(samples, members, nonmembers, n_samples=n_samples, seed=seed)
    reference = gan_leaks(reference_samples, members, nonmembers, n_samples=n_samples, seed=seed)
    return AttackScores(target.members - reference.members, target.nonmembers - reference.nonmembers)


def monte_carlo(samples: np.ndarray | torch.nn.Module, members, nonmembers, *, epsilon: float | None = None,
                percentile: float = DEFAULT_PERCENTILE, n_samples: int = DEFAULT_SAMPLES,
                seed: int = 0) -> AttackScores:
    """Monte-Carlo attack (Hilprecht et al., PoPETs 2019): the fraction of samples within ``epsilon``.

    This estimates the generator's probability mass in a small ball around the query, which
    overfitting concentrates on members. Without ``epsilon``, it is the ``percentile`` of all
    query-to-sample distances pooled over members and non-members: the paper's percentile
    heuristic, which uses no membership labels. The default, 0.1 (a thousandth of the pairs), keeps
    the ball small: at the 1st percentile, samples that were 200 training patches (16 px natural
    patches) plus 200 others gave AUC only 0.74 against 200 non-members, as the copy of a flat
    patch was one of many samples in its ball; at 0.1 the AUC was 1. Distances equal to
    ``epsilon`` count as within it.
    """
    samples, members, nonmembers = _attack_inputs(samples, members, nonmembers, n_samples, seed)
    if epsilon is None:
        epsilon = distance_percentile(np.concatenate([members, nonmembers]), samples, percentile)
    elif not (np.isfinite(epsilon) and epsilon >= 0):
        raise ValueError(f"epsilon must be a finite distance >= 0, got {epsilon!r}")
    return AttackScores(_fraction_within(members, samples, epsilon), _fraction_within(nonmembers, samples, epsilon))


def _logits(discriminator: torch.nn.Module, images: np.ndarray, batch_size: int) -> np.ndarray:
    """The discriminator's logit of each image, every image scored alone (a batch of one)."""
    device = next(discriminator.parameters()).device
    score_alone = torch.func.vmap(lambda image: discriminator(image[None])[0])
    was_training = discriminator.training
    discriminator.eval()
    try:
        with torch.no_grad():
            return torch.cat([score_alone(to_tensor(images[start:start + batch_size]).to(device))
                              for start in range(0, len(images), batch_size)]).double().cpu().numpy()
    finally:
        discriminator.train(was_training)


def logan(discriminator: torch.nn.Module, members, nonmembers, *, batch_size: int = 256) -> AttackScores:
    """White-box LOGAN (Hayes et al., PoPETs 2019): the discriminator's logit on the query.

    An overfitted discriminator rates its training images as more real than unseen ones. Each
    image is scored alone (vectorised with ``torch.func.vmap``), so a score depends on its image
    only, not on the batch: with minibatch-stddev the statistic then sees a group of one.
    """
    members, nonmembers = _check_images(members, "members"), _check_images(nonmembers, "nonmembers")
    _check_same_shape(members, "members", nonmembers=nonmembers)
    checks.integer(batch_size, "batch_size", 1)
    return AttackScores(_logits(discriminator, members, batch_size), _logits(discriminator, nonmembers, batch_size))


# ----------------------------------------------------------------------------- metrics

def _check_labels_scores(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    """``labels`` (0/1, both present) and ``scores`` (no NaN) as 1-D arrays of one length."""
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    if labels.ndim != 1 or scores.shape != labels.shape:
        raise ValueError(f"labels and scores must be 1-D of one length, got shapes {labels.shape} and {scores.shape}")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"labels must be 0 (non-member) or 1 (member), got values {np.unique(labels)[:10]}")
    if labels.min() == labels.max():
        raise ValueError(f"labels must contain both members (1) and non-members (0), got only {labels[0]}")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN")
    return labels.astype(np.int64), scores


def roc(labels, scores) -> tuple[np.ndarray, np.ndarray]:
    """The exact ROC curve (fpr, tpr), one point per distinct score plus (0, 0).

    The threshold steps down through the distinct scores, so tied scores enter together, as
    scikit-learn's ``roc_curve(..., drop_intermediate=False)``.
    """
    labels, scores = _check_labels_scores(labels, scores)
    order = np.argsort(-scores, kind="stable")
    scores, labels = scores[order], labels[order]
    last_of_each_score = np.r_[np.flatnonzero(scores[1:] != scores[:-1]), len(scores) - 1]
    true_positives = np.cumsum(labels)[last_of_each_score]
    false_positives = last_of_each_score + 1 - true_positives
    return (np.r_[0, false_positives] / false_positives[-1], np.r_[0, true_positives] / true_positives[-1])


def auc(labels, scores) -> float:
    """Area under the ROC curve: the probability that a random member outscores a random
    non-member, ties counted half (the Mann-Whitney statistic)."""
    fpr, tpr = roc(labels, scores)
    return float(np.trapezoid(tpr, fpr))


def tpr_at_fpr(labels, scores, fpr: float) -> float:
    """The highest TPR among ROC points with FPR <= ``fpr``.

    No interpolation between points: this is the best operating point an attacker can actually
    set with a threshold without exceeding the false-positive budget, so it never overstates
    the attack (at low FPR interpolation would credit points no threshold reaches).
    """
    if not 0 < fpr <= 1:
        raise ValueError(f"fpr must be in (0, 1], got {fpr!r}")
    curve_fpr, curve_tpr = roc(labels, scores)
    return float(curve_tpr[curve_fpr <= fpr].max())


def bootstrap_ci(labels, scores, statistic: Callable[[np.ndarray, np.ndarray], float], n_boot: int = 1000,
                 level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(labels, scores)`` at confidence ``level``.

    Members and non-members are resampled separately, each with replacement to its own count,
    so every replicate keeps both classes and the class balance of the data.
    """
    labels, scores = _check_labels_scores(labels, scores)
    checks.integer(n_boot, "n_boot", 1)
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    rng = np.random.default_rng(seed)
    positive, negative = scores[labels == 1], scores[labels == 0]
    replicate_labels = np.r_[np.ones(len(positive), np.int64), np.zeros(len(negative), np.int64)]
    values = [statistic(replicate_labels, np.r_[rng.choice(positive, len(positive)),
                                                rng.choice(negative, len(negative))]) for _ in range(n_boot)]
    low, high = np.percentile(values, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)


def summary(scores: AttackScores, n_boot: int = 1000, seed: int = 0) -> dict:
    """AUC with its 95% stratified bootstrap interval, TPR at 1% and 10% FPR, and the set sizes."""
    labels, values = scores.labels_and_scores()
    low, high = bootstrap_ci(labels, values, auc, n_boot=n_boot, seed=seed)
    return {"auc": auc(labels, values), "auc_lo": low, "auc_hi": high,
            "tpr_at_1fpr": tpr_at_fpr(labels, values, 0.01), "tpr_at_10fpr": tpr_at_fpr(labels, values, 0.10),
            "n_members": len(scores.members), "n_nonmembers": len(scores.nonmembers)}
