"""The command line's options: every command, each option with its help text and one name.

``build_parser()`` is what ``primps`` parses (``primps_core.__main__`` runs the commands). One name
per thing in every command: ``--runs`` for a runs folder, ``--device`` and ``--threads`` wherever a
model runs, ``--force`` to replace an earlier output, ``--pretrain-seed`` where a pretraining run is
chosen; an old spelling is a usage error naming the new one.
"""
from __future__ import annotations

import argparse

from . import __version__
from .presets import PRESETS


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line, like every other error, with exit status 2."""

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


RENAMED = {"--outdir": "--runs", "--json": None}   # old spellings: their new name (None: no longer needed)


class Renamed(argparse.Action):
    """An old spelling of an option: a usage error naming the new one."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, argparse.SUPPRESS, nargs=0 if RENAMED[option_strings[0]] is None else None,
                         default=argparse.SUPPRESS, help=argparse.SUPPRESS)

    def __call__(self, parser, namespace, values, option_string=None):
        new = RENAMED[option_string]
        if new is None:
            parser.error(f"{option_string} is no longer needed: every command prints its result as one JSON line")
        parser.error(f"{option_string} is now {new}")


def build_parser() -> Parser:
    """The command line: every option has help text, and each thing has one name in every command
    (``--runs`` for a runs folder, ``--device`` and ``--threads`` wherever a model runs, ``--force``
    to replace an earlier output, ``--pretrain-seed`` where a pretraining run is chosen)."""
    parser = Parser(prog="primps", description="GAN pretraining on Primitives-PS: the study's command line.")
    parser.add_argument("--version", action="version", version=f"primps {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str, *, runs: bool = False, device: str | None = None, threads: bool = False,
                cluster: bool = False):
        sub = commands.add_parser(name, help=help, description=help)
        for old in RENAMED:
            sub.add_argument(old, action=Renamed)
        if runs:
            sub.add_argument("--runs", default=None, help="runs folder: the cached runs (default: runs/ in the "
                                                          "repository)")
        if device is not None:
            sub.add_argument("--device", default=device, help="auto (a GPU when there is one), cpu, cuda, cuda:N or "
                                                               "mps")
        if threads:
            sub.add_argument("--threads", type=int, default=None,
                             help="torch threads (default: the cores not busy with other processes)")
        if cluster:
            sub.add_argument("--cluster", default=None, metavar="ADDRESS",
                             help="a Dask scheduler (tcp://host:8786) to run the training jobs on; runs/ must be on "
                                  "a filesystem its workers share (docs/reference.md, On a cluster)")
        return sub

    run = command("reproduce", "execute the notebooks with papermill and rewrite their figures", device=None,
                  cluster=True)
    run.add_argument("--preset", required=True, choices=list(PRESETS), help="sizes to run at (cpu = canonical, writes figures/)")
    run.add_argument("--only", default=None, help="comma-separated notebook prefixes, e.g. 01,02")
    run.add_argument("--kernel", default=None, help="Jupyter kernel (default: primps if registered, else python3)")
    run.add_argument("--device", default=None, help="where the training notebooks train (default: their own, auto: "
                                                    "a GPU when there is one)")
    run.add_argument("--shipped", action="store_true", help="start the pretrained arms from the pretraining runs "
                                                            "shipped in weights/ instead of training them")
    readme = command("readme", "rewrite the generated tables of README.md and docs/ from figures/ and "
                               "benchmarks/results/")
    readme.add_argument("--check", action="store_true", help="only report stale tables (exit 1 if any)")

    synth = command("synth", "write a synthetic dataset (zip in StyleGAN2-ADA format, folder or npz)", device="cpu",
                    threads=True)
    synth.add_argument("--variant", default="primitives-ps", help="ps-noise, primitives, primitives-s or primitives-ps")
    synth.add_argument("--n", type=int, required=True, help="number of images (of the whole dataset when --shard is given)")
    synth.add_argument("--resolution", type=int, default=64, help="side of the images in pixels (default 64)")
    synth.add_argument("--seed", type=int, default=0, help="seed of the dataset: image K depends only on (variant, "
                                                           "options, seed, K)")
    synth.add_argument("--out", required=True, help="output path: name.zip, name.npz or a folder")
    where = synth.add_mutually_exclusive_group()
    where.add_argument("--start", type=int, default=0, help="index of the first image")
    where.add_argument("--shard", default=None, help="i/N: write the i-th of N contiguous parts of the n images")
    synth.add_argument("--format", choices=["zip", "folder", "npz"], default=None, help="default: from the --out suffix")
    synth.add_argument("--option", "-o", action="append", default=[], metavar="KEY=VALUE",
                       help="synthesizer option, e.g. -o n_shapes=10 -o alpha_law=natural (repeatable)")
    synth.add_argument("--force", action="store_true", help="replace an earlier dataset at --out (never other files)")

    pre = command("pretrain", "pretrain a GAN on a synthetic variant or natural patches (cached, resumable)",
                  runs=True, device="auto", threads=True)
    pre.add_argument("--source", required=True, help="ps-noise, primitives, primitives-s, primitives-ps or natural-patches")
    pre.add_argument("--preset", required=True, choices=list(PRESETS), help="sizes (model, batch, iterations)")
    pre.add_argument("--seed", type=int, default=None, help="seed of the pretraining run (default: the study's unit "
                                                            "0; its units are seeds 10, 11, 12, ...; transfer "
                                                            "--pretrain-seed chooses one)")
    pre.add_argument("--iterations", type=int, default=None, help="override the preset's iterations")
    pre.add_argument("--resolution", type=int, default=None, help="side of the training images (default: the preset's)")

    tune = command("transfer", "fine-tune on a target from a pretraining source or scratch; prints JSON", runs=True,
                   device="auto", threads=True)
    tune.add_argument("--target", required=True, help="embedded target name, or a folder / zip / .npz of images")
    tune.add_argument("--init", required=True, help="scratch, or the pretraining source")
    tune.add_argument("--pretrain-seed", type=int, default=None, help="which pretraining run of --init to start "
                                                                      "from (its seed; default: the study's unit 0, 10)")
    tune.add_argument("--freeze-d", type=int, default=0, help="FreezeD: discriminator stages to freeze")
    tune.add_argument("--shipped", action="store_true", help="start from the copy of the pretraining run shipped in "
                                                             "weights/ (float16) instead of training it first")
    tune.add_argument("--preset", required=True, choices=list(PRESETS), help="sizes (model, batch, iterations)")
    tune.add_argument("--seed", type=int, default=0, help="seed of the fine-tuning (for scratch, also its initial weights)")
    tune.add_argument("--iterations", type=int, default=None, help="override the preset's transfer iterations")
    tune.add_argument("--out", default=None, help="also copy the run folder (config, log, samples, checkpoint) here")
    tune.add_argument("--force", action="store_true", help="replace an earlier run folder copy at --out (never other files)")
    tune.add_argument("--resolution", type=int, default=None,
                      help="side the target's images are resized to, and the pretraining run's (default: the preset's)")
    tune.add_argument("--skip-bad", action="store_true", help="leave out unreadable image files (counted in the "
                                                              "JSON line) instead of stopping")

    decide = command("decisive", "the decisive transfer experiment: every run, its curves, claims.csv and figures "
                                 "into --out; prints the claims as one JSON line", runs=True, device="auto",
                     cluster=True)
    decide.add_argument("--preset", required=True, choices=list(PRESETS), help="gpu-short: minutes on one GPU")
    decide.add_argument("--out", required=True, help="folder for the CSVs and figures (written as the runs finish)")

    draw = command("sample", "images from a trained run's EMA generator: a dataset, or an interpolation grid as one "
                             "PNG", device="auto", threads=True)
    draw.add_argument("--run", required=True, help="a run folder (runs/<preset>/pretrain|transfer/..., or transfer --out)")
    what = draw.add_mutually_exclusive_group(required=True)
    what.add_argument("--n", type=int, help="number of images, written like synth's datasets (zip, folder or npz)")
    what.add_argument("--interpolate", type=int, metavar="ROWS",
                      help="rows of a grid, each walking from one latent to another, written as one PNG")
    draw.add_argument("--steps", type=int, default=8, help="images per interpolation row")
    draw.add_argument("--out", required=True, help="output: name.zip, name.npz or a folder; name.png for a grid")
    draw.add_argument("--seed", type=int, default=0, help="seed of the latents")
    draw.add_argument("--truncation", type=float, default=1.0, help="psi in (0, 1]: latents scaled toward their mean")
    draw.add_argument("--force", action="store_true", help="replace an earlier output of the same kind at --out")

    score = command("fid", "FID (and optionally KID, precision/recall) between two image sets, or either against "
                           "saved statistics; prints JSON", device="auto", threads=True)
    score.add_argument("a", help="reference: folder, zip, .npz of images, embedded dataset name, or an .npz of FID "
                                 "statistics (mu, sigma: pytorch-fid's format)")
    score.add_argument("b", nargs="?", default=None, help="compared set (the same kinds); optional with --save-stats")
    score.add_argument("--save-stats", default=None, metavar="FILE.npz",
                       help="also write the reference set's mu and sigma in pytorch-fid's format")
    score.add_argument("--batch-size", type=int, default=None, help="images per Inception batch (memory, not results)")
    score.add_argument("--force", action="store_true", help="replace an earlier statistics file at --save-stats")
    score.add_argument("--kid", action="store_true", help="also KID (mean and std over subsets)")
    score.add_argument("--pr", action="store_true", help="also improved precision/recall (k=3)")
    score.add_argument("--resolution", type=int, default=None, help="centre-crop and resize both sets to R x R first")
    score.add_argument("--skip-bad", action="store_true", help="leave out unreadable image files (counted in the "
                                                               "JSON line) instead of stopping")
    score.add_argument("--cache-dir", default=None, help="where the sets' Inception features are cached (default: "
                                                         "runs/cache/features inside the repository, else "
                                                         "~/.cache/primps/features)")

    dp = command("dp-train", "fine-tune a class-conditional diffusion model on Fashion-MNIST with DP-SGD after a "
                             "pretraining source (cached); prints the spent epsilon, FID, accuracy and membership AUC "
                             "as JSON", runs=True, threads=True)
    dp.add_argument("--device", default="auto", help="where the scores' Inception network runs: auto, cpu, cuda, "
                                                     "cuda:N or mps (DP-SGD itself trains on the CPU)")
    dp.add_argument("--model", default="diffusion", choices=["diffusion"], help="the generator family")
    dp.add_argument("--pretrain", default="primitives-ps", help="none, primitives-ps, natural-patches, "
                                                                "primitives-ps-selected or natural-patches-selected")
    dp.add_argument("--epsilon", type=float, required=True, help="target epsilon (inf: the non-private baseline)")
    dp.add_argument("--delta", type=float, default=None, help="target delta (default: the preset's, 1e-5)")
    dp.add_argument("--clip", type=float, default=1.0, help="per-example gradient norm bound of DP-SGD")
    dp.add_argument("--steps", type=int, default=None, help="DP-SGD steps (default: the preset's)")
    dp.add_argument("--batch-size", type=int, default=None, help="expected Poisson batch (default: the preset's)")
    dp.add_argument("--seed", type=int, default=0, help="seed of the DP fine-tuning")
    dp.add_argument("--preset", default="cpu", choices=list(PRESETS), help="sizes (model, pretraining, samples)")

    many = command("many-classes-train", "train (or load) a class-conditional GAN on rendered Chinese characters "
                                         "(or Fashion-MNIST) with part of the classes' HQ images removed (notebook "
                                         "08; cached); prints its scores as JSON and can write samples", runs=True,
                   device="auto", threads=True)
    many.add_argument("--dataset", default="cjk-glyphs", help="cjk-glyphs (rendered Chinese characters) or "
                                                              "fashion-mnist (its ten classes)")
    many.add_argument("--classes", type=int, default=None, help="glyph classes, spread over the 3,755 GB2312 "
                                                                "level-1 characters (default: the preset's)")
    many.add_argument("--hq-fraction", type=float, default=1.0, help="fraction of the classes that keep their "
                                                                     "high-quality images, in (0, 1]")
    many.add_argument("--lq", default="none", help="the other classes' low-quality images: none, naive (used as they "
                                                   "are) or transfer (mapped by the LQ -> HQ feature transfer)")
    many.add_argument("--self-supervision", action="store_true", help="add SS-GAN's rotation loss")
    many.add_argument("--init", default="scratch", help="scratch or primitives-ps")
    many.add_argument("--pretrain-seed", type=int, default=None, help="which pretraining run of --init to start "
                                                                      "from (default: --seed, as notebook 08)")
    many.add_argument("--seed", type=int, default=0, help="seed of the run")
    many.add_argument("--preset", default="cpu", choices=list(PRESETS), help="sizes (model, images, iterations)")
    many.add_argument("--samples-per-class", type=int, default=0, help="also write this many generated images of "
                                                                       "every class to --out")
    many.add_argument("--out", default=None, help="an .npz for the samples (images and labels arrays)")
    many.add_argument("--force", action="store_true", help="replace an earlier samples file at --out")
    return parser
