"""The DP-synthesis parts (primps_core.dp) on real Fashion-MNIST batches: the accountant against opacus'
own reference values and the published TF-Privacy table, per-example clipping against an independent
per-example computation, Poisson batches, the semantic query's counts and sensitivity, the diffusion
model's per-example independence and sampling, and one clear error for every impossible budget."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from primps_core.data.fashion import CLASSES, load_fashion
from primps_core.dp import diffusion, privacy, semantic, training
from primps_core.eval import classifier


@pytest.fixture(scope="module")
def fashion():
    return load_fashion("train") + load_fashion("test")


def test_fashion_subset_is_balanced_and_disjoint_splits_are_labelled(fashion):
    train_images, train_labels, test_images, test_labels = fashion
    assert train_images.shape == (10000, 28, 28) and test_images.shape == (2000, 28, 28)
    assert np.bincount(train_labels).tolist() == [1000] * len(CLASSES)
    assert np.bincount(test_labels).tolist() == [200] * len(CLASSES)
    assert 40 < train_images.mean() < 120          # dark backgrounds, bright garments


def test_fashion_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="build_data.py --only fashion-mnist"):
        load_fashion("train", tmp_path / "missing.npz")
    (tmp_path / "corrupt.npz").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="corrupt.npz is not a readable .npz"):
        load_fashion("train", tmp_path / "corrupt.npz")
    np.savez(tmp_path / "wrong.npz", train_images=np.zeros((3, 32, 32), np.uint8), train_labels=np.zeros(3))
    with pytest.raises(ValueError, match=r"uint8 \(N, 28, 28\)"):
        load_fashion("train", tmp_path / "wrong.npz")
    with pytest.raises(ValueError, match="split"):
        load_fashion("validation")


def test_accountant_equals_opacus_reference_values():
    """opacus 1.6's own tests (accountants_test.py): sigma 1.5, q 0.04, 2,250 steps, delta 1e-5."""
    mechanism = [(1.5, 0.04, 2250)]
    assert privacy.epsilon_spent(mechanism, 1e-5, "rdp") == pytest.approx(7.32911117143, abs=1e-7)
    assert privacy.epsilon_spent(mechanism, 1e-5, "prv") == pytest.approx(6.777395712150674, rel=2e-3)


@pytest.mark.parametrize("sigma, epochs, published", [(1.1, 60, 3.01), (1.3, 15, 1.19), (0.7, 45, 7.10)])
def test_rdp_curve_reproduces_the_published_tf_privacy_table(sigma, epochs, published):
    """TF-Privacy's tutorial table (N = 60,000, batch 256, delta 1e-5), computed with Mironov's RDP-to-DP
    conversion over its orders; opacus' accountant converts more tightly, so it reports less."""
    from opacus.accountants.analysis.rdp import compute_rdp
    orders = [1 + x / 10.0 for x in range(1, 100)] + list(range(12, 64))
    steps = math.ceil(epochs * 60000 / 256)
    rdp = compute_rdp(q=256 / 60000, noise_multiplier=sigma, steps=steps, orders=orders)
    classic = min(r + math.log(1 / 1e-5) / (order - 1) for r, order in zip(rdp, orders))
    assert round(classic, 2) == published
    assert 0.75 * published < privacy.epsilon_spent([(sigma, 256 / 60000, steps)], 1e-5) < published


def test_noise_multiplier_spends_the_budget_after_the_semantic_query():
    config = privacy.PrivacyConfig(epsilon=1.0, delta=1e-5, batch_size=256, steps=300)
    alone = privacy.noise_multiplier(config, 10000)
    query = (semantic.QUERY_SIGMA, 1.0, 1)
    after = privacy.noise_multiplier(config, 10000, prior=(query,))
    assert after > alone                               # the query's share leaves less for DP-SGD
    for sigma, prior in ((alone, ()), (after, (query,))):
        spent = privacy.epsilon_spent([*prior, (sigma, 256 / 10000, 300)], 1e-5)
        assert 0.99 < spent <= 1.0
        assert privacy.epsilon_spent([*prior, (0.98 * sigma, 256 / 10000, 300)], 1e-5) > 1.0
    assert privacy.noise_multiplier(privacy.PrivacyConfig(epsilon=math.inf), 10000) == 0.0


@pytest.mark.parametrize("options, message", [
    (dict(epsilon=0), "epsilon must be a positive number"),
    (dict(epsilon=-1.0), "epsilon must be a positive number"),
    (dict(epsilon=float("nan")), "epsilon must be a positive number"),
    (dict(epsilon=1.0, delta=0), r"delta must be in \(0, 1\)"),
    (dict(epsilon=1.0, max_grad_norm=0), "clipping norm max_grad_norm .* positive"),
    (dict(epsilon=1.0, batch_size=0), "batch_size"),
    (dict(epsilon=1.0, accountant="moments"), "accountant"),
])
def test_impossible_budgets_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        privacy.PrivacyConfig(**options)


def test_delta_must_be_below_one_over_n():
    config = privacy.PrivacyConfig(epsilon=1.0, delta=5e-3, batch_size=10)
    with pytest.raises(ValueError, match=r"delta must be below 1/N = 0.002 for a dataset of 500"):
        privacy.noise_multiplier(config, 500)
    with pytest.raises(ValueError, match="larger than the dataset"):
        privacy.noise_multiplier(privacy.PrivacyConfig(epsilon=1.0, batch_size=600), 500)


@pytest.mark.filterwarnings("ignore:In CPU autocast, but the target dtype:UserWarning")
def test_per_example_gradients_are_clipped_on_a_real_batch(fashion):
    """opacus' clipped sum equals clipping each example's own gradient (one backward pass per example)."""
    images, labels = fashion[0][:24], fashion[1][:24]
    torch.manual_seed(0)
    model = classifier.SmallCNN(len(CLASSES))
    x, y = classifier._inputs(images), torch.as_tensor(labels)
    reference = []
    for i in range(len(x)):
        model.zero_grad()
        F.cross_entropy(model(x[i:i + 1]), y[i:i + 1]).backward()
        reference.append(torch.cat([p.grad.flatten() for p in model.parameters()]))
    reference = torch.stack(reference)
    clip = float(reference.norm(dim=1).median())                # about half the examples are clipped
    expected = (reference * (clip / reference.norm(dim=1, keepdim=True)).clamp(max=1.0)).sum(0)

    module, optimizer = privacy.make_private(model, torch.optim.SGD(model.parameters(), lr=0.1), noise_multiplier=0.0,
                                             max_grad_norm=clip, expected_batch_size=len(x), seed=0)
    with pytest.warns(UserWarning, match="Full backward hook"):     # opacus, on inputs that need no gradient
        F.cross_entropy(module(x), y).backward()
    per_example = torch.cat([p.grad_sample.flatten(1) for p in module.parameters()], dim=1)
    assert torch.allclose(per_example, reference, atol=1e-5)
    optimizer.clip_and_accumulate()
    clipped_sum = torch.cat([p.summed_grad.flatten() for p in module.parameters()])
    assert torch.allclose(clipped_sum, expected, atol=1e-4)
    assert 0.2 < (reference.norm(dim=1) > clip).float().mean() < 0.8
    assert (reference * (clip / reference.norm(dim=1, keepdim=True)).clamp(max=1.0)).norm(dim=1).max() <= clip * (1 + 1e-6)


@pytest.mark.filterwarnings("ignore:In CPU autocast, but the target dtype:UserWarning")
def test_a_private_step_in_parts_equals_the_step_in_one_pass(fashion):
    """Rows passed through opacus in parts (virtual steps) are clipped one by one and the noise is
    added once: the weights after private steps match one pass per step; the recorded losses too."""
    images, labels = diffusion.to_model_space(fashion[0][:400]), torch.as_tensor(fashion[1][:400])
    config = privacy.PrivacyConfig(epsilon=8.0, delta=1e-5, batch_size=40, steps=3)

    def draw(index, generator):
        return diffusion.rows(images[index], labels[index], generator)

    trained = {}
    for rows_per_pass in (None, 7):
        torch.manual_seed(0)
        model = diffusion.UNet(diffusion.UNetConfig(channels=8, groups=4))
        start = [p.detach().clone() for p in model.parameters()]
        _, record = training.train(model, draw, diffusion.noised_losses, len(images), config, lr=2e-3, seed=0,
                                   progress=False, rows_per_pass=rows_per_pass)
        trained[rows_per_pass] = [p.detach().clone() for p in model.parameters()], record.losses
    (one_pass, one_losses), (parts, part_losses) = trained[None], trained[7]
    assert any(not torch.equal(a, b) for a, b in zip(start, one_pass))
    assert all(torch.allclose(a, b, atol=1e-6, rtol=1e-4) for a, b in zip(one_pass, parts))
    assert part_losses == pytest.approx(one_losses, rel=1e-5)
    with pytest.raises(ValueError, match="rows_per_pass"):
        training.train(model, draw, diffusion.noised_losses, len(images), config, lr=2e-3, seed=0, progress=False,
                       rows_per_pass=0)


def test_poisson_batches_have_the_expected_size_and_repeat_by_seed():
    batches = [b.tolist() for b in privacy.poisson_batches(1000, 0.05, 400, seed=3)]
    sizes = np.array([len(b) for b in batches])
    assert len(batches) == 400 and abs(sizes.mean() - 50) < 1.5 and sizes.std() > 4   # binomial, not fixed
    assert batches == [b.tolist() for b in privacy.poisson_batches(1000, 0.05, 400, seed=3)]
    assert any(len(b) == 0 for b in privacy.poisson_batches(50, 0.01, 50, seed=0))      # empty batches occur


def test_semantic_histogram_counts_and_its_sensitivity_is_sqrt_k():
    scores = np.array([[3, 2, 1, 0], [0, 1, 2, 3], [1, 3, 2, 0]], float)
    labels = np.array([0, 1, 1])
    assert semantic.histogram(scores, labels, 2, k=1).tolist() == [[1, 0, 0, 0], [0, 1, 0, 1]]
    assert semantic.histogram(scores, labels, 2, k=2).tolist() == [[1, 1, 0, 0], [0, 1, 2, 1]]
    for k in (1, 2, 3):
        without = semantic.histogram(scores[:2], labels[:2], 2, k)
        assert np.linalg.norm(semantic.histogram(scores, labels, 2, k) - without) == pytest.approx(math.sqrt(k))
    assert semantic.select(np.array([[5, 1, 9, 0], [7, 2, 1, 8]]), per_label=1).tolist() == [[2], [3]]
    assert semantic.select(np.array([[5, 1, 9, 0], [7, 2, 1, 8]]), per_label=2).tolist() == [[2, 0], [3, 0]]
    index, labels = semantic.labelled_subset(np.array([0, 2, 3, 2, 1, 3]), np.array([[2], [3], [2]]))
    assert index.tolist() == [1, 3, 2, 5, 1, 3] and labels.tolist() == [0, 0, 1, 1, 2, 2]
    noise = semantic.noised(np.zeros((200, 50)), sigma=2.0, k=4, seed=0)
    assert noise.std() == pytest.approx(4.0, rel=0.02)


def test_semantic_query_on_real_data_selects_classes_and_charges_one_gaussian_step(fashion):
    pool_images, pool_labels, classes = semantic.pool("primitives-ps", 360, seed=0)
    assert pool_images.shape == (360, 28, 28) and classes == len(semantic.SYNTHETIC_CLASSES)
    result = semantic.query(pool_images, pool_labels, classes, fashion[0][:500], fashion[1][:500], len(CLASSES),
                            epochs=1, seed=0)
    assert 1 <= len(result.selected) <= len(CLASSES) and set(result.selected) <= set(range(classes))
    assert result.noisy_counts.shape == (len(CLASSES), classes)
    assert result.mechanism == (semantic.QUERY_SIGMA, 1.0, 1)
    assert 0 < privacy.epsilon_spent([result.mechanism], 1e-5) < 0.2


def test_unet_treats_examples_independently_and_sampling_does_not_depend_on_the_batch():
    torch.manual_seed(0)
    model = diffusion.UNet(diffusion.UNetConfig(channels=8, groups=4)).eval()
    x, t, y = torch.randn(6, 1, 28, 28), torch.randint(0, 1000, (6,)), torch.tensor([0, 1, 2, 3, 4, 10])
    with torch.no_grad():
        whole = model(x, t, y)
        one = torch.cat([model(x[i:i + 1], t[i:i + 1], y[i:i + 1]) for i in range(6)])
    assert whole.shape == (6, 1, 28, 28) and torch.allclose(whole, one, atol=1e-5)
    samples = diffusion.sample(model, [0, 1, 2, 10], steps=4, seed=1)
    assert samples.shape == (4, 28, 28) and samples.dtype == np.uint8
    assert np.array_equal(samples, diffusion.sample(model, [0, 1, 2, 10], steps=4, seed=1, batch_size=3))
    with pytest.raises(ValueError, match="labels must be in 0..10"):
        diffusion.sample(model, [11])


def test_private_training_learns_real_images_and_reports_the_spent_epsilon(fashion):
    images, labels = diffusion.to_model_space(fashion[0][:2000]), torch.as_tensor(fashion[1][:2000])
    held_out = diffusion.to_model_space(fashion[2][:200]), torch.as_tensor(fashion[3][:200])

    def draw(index, generator):
        return diffusion.rows(images[index], labels[index], generator)

    def held_out_loss(model):
        with torch.no_grad():
            return float(diffusion.losses(model, *held_out, torch.Generator().manual_seed(0)).mean())

    for epsilon in (math.inf, 8.0):
        torch.manual_seed(0)
        model = diffusion.UNet(diffusion.UNetConfig(channels=8, groups=4))
        before = held_out_loss(model)
        config = privacy.PrivacyConfig(epsilon=epsilon, delta=1e-5, batch_size=32, steps=40)
        average, record = training.train(model, draw, diffusion.noised_losses, len(images), config, lr=2e-3, seed=0,
                                         progress=False)
        assert held_out_loss(model) < 0.7 * before
        assert held_out_loss(average) < before
        assert len(record.losses) == 40 and 40 * 32 * 0.8 < record.examples_seen < 40 * 32 * 1.2
        if math.isinf(epsilon):
            assert record.noise_multiplier == 0 and math.isinf(record.epsilon)
        else:
            assert record.noise_multiplier > 0 and 0.99 * epsilon < record.epsilon <= epsilon


def test_classifier_learns_fashion_mnist_and_scores_chance_on_shuffled_labels(fashion):
    train_images, train_labels, test_images, test_labels = fashion
    accuracy = classifier.downstream_accuracy(train_images[::5], train_labels[::5], test_images, test_labels,
                                              len(CLASSES), epochs=2)
    assert accuracy > 0.7
    shuffled = np.random.default_rng(0).permutation(train_labels[::5])
    assert classifier.downstream_accuracy(train_images[::5], shuffled, test_images, test_labels, len(CLASSES),
                                          epochs=2) < 0.2


def test_the_dp_gan_charges_each_discriminator_step_once_and_trains_its_generator_through_it(fashion):
    from primps_core.dp import dpgan
    from primps_core.gan.models import ModelConfig
    config = dpgan.GANConfig(ModelConfig(architecture="resnet", resolution=32, base_channels=8, mbstd_group=1))
    with pytest.raises(ValueError, match="mbstd_group = 1"):
        dpgan.GANConfig(ModelConfig(resolution=32))
    images, labels = fashion[0][:2000], fashion[1][:2000]
    assert np.array_equal(dpgan.to_uint8(dpgan.to_model_space(images[:5])), images[:5])    # pad, crop: lossless
    budget = privacy.PrivacyConfig(epsilon=5.0, batch_size=32, steps=6)
    generator, discriminator = dpgan.build(config, seed=0)
    before = [p.detach().clone() for p in generator.parameters()]
    average, record = dpgan.train_dp_gan(generator, discriminator, images, labels, budget, config, seed=0, progress=False)
    assert 0.99 * 5 < record.epsilon <= 5 and record.mechanisms == [(record.noise_multiplier, 32 / 2000, 6)]
    assert any(not torch.equal(a, b) for a, b in zip(before, generator.parameters()))     # G trained through D
    samples = dpgan.sample(average, [0, 1, 9, 9], seed=1)
    assert samples.shape == (4, 28, 28) and np.array_equal(samples, dpgan.sample(average, [0, 1, 9, 9], seed=1))
