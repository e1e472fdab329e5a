"""Command line: ``primps <command> ...`` (or ``python -m primps_core``); ``--help`` lists the commands.

One convention for every command: progress and warnings on stderr; the result on stdout, as one
JSON line (``--json`` where a command's default is text); exit status 0 on success, 1 for bad
input or a failed run (one line on stderr saying what was wrong), 2 for a usage error.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import warnings

from . import __version__, checks, threads
from .presets import PRESETS


class Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line, like every other error, with exit status 2."""

    def error(self, message):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser().parse_args(argv))


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
    pre.add_argument("--seed", type=int, default=0, help="seed of the pretraining run (the study's units are seeds "
                                                         "0, 1, 2, ...; transfer --pretrain-seed chooses one)")
    pre.add_argument("--iterations", type=int, default=None, help="override the preset's iterations")
    pre.add_argument("--resolution", type=int, default=None, help="side of the training images (default: the preset's)")

    tune = command("transfer", "fine-tune on a target from a pretraining source or scratch; prints JSON", runs=True,
                   device="auto", threads=True)
    tune.add_argument("--target", required=True, help="embedded target name, or a folder / zip / .npz of images")
    tune.add_argument("--init", required=True, help="scratch, or the pretraining source")
    tune.add_argument("--pretrain-seed", type=int, default=0, help="which pretraining run of --init to start from "
                                                                   "(its seed; default 0)")
    tune.add_argument("--freeze-d", type=int, default=0, help="FreezeD: discriminator stages to freeze")
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


class Terminated(BaseException):
    """Raised in the main thread when the process receives SIGTERM, so that every ``finally`` and
    cleanup handler runs (temporaries removed, a training run's checkpoint kept) as for Ctrl-C."""


def _terminate(signum, frame):
    raise Terminated()


def run_command(args) -> int:
    """Run the parsed command. Every failure a user can cause (bad values, unreadable or oversized
    inputs, unwritable or full outputs, missing devices) ends as one line on stderr and exit
    status 1; Ctrl-C and SIGTERM end with one line and 130 or 143, after the command's cleanup."""
    try:                               # before torch loads: OpenMP reads its wait policy then
        count = threads.plan(args.threads) if hasattr(args, "threads") else None
    except ValueError as error:
        return fail(error)
    from .study.reproduce import NotebookFailed
    commands = {"reproduce": reproduce_command, "readme": readme_command, "fid": score_command,
                "synth": synth_command, "pretrain": training_command, "transfer": training_command,
                "decisive": decisive_command, "sample": sample_command, "dp-train": dp_train_command,
                "many-classes-train": many_classes_train_command}
    main_thread = threading.current_thread() is threading.main_thread()    # only it may set handlers
    previous = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        if getattr(args, "device", None) is not None:
            args.device = checks.device(args.device)
        if count is not None:
            threads.configure(count)
        return commands[args.command](args)
    except (ValueError, TypeError, OSError, NotebookFailed) as error:
        return fail(error)
    except MemoryError:
        return fail("out of memory: the input or the requested sizes are too large for this machine")
    except KeyboardInterrupt:
        return fail("interrupted (Ctrl-C); temporary files were removed", status=130)
    except Terminated:
        return fail("terminated (SIGTERM); temporary files were removed", status=143)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, previous)


def emit(result: dict) -> None:
    """Print a command's result as one JSON line on stdout."""
    import json
    print(json.dumps(result), flush=True)


def fail(error, status: int = 1) -> int:
    """Print ``error`` as one line on stderr and return ``status``."""
    print("error: " + " ".join(str(error).split()), file=sys.stderr, flush=True)
    return status


def reproduce_command(args) -> int:
    """Run the notebooks named by ``--only`` (all by default) on the preset."""
    from .study.reproduce import format_table, reproduce
    only = None if args.only is None else [o.strip() for o in args.only.split(",") if o.strip()]
    if only == []:
        raise ValueError(f"--only {args.only!r} names no notebook; give prefixes such as 01,02")
    runs = reproduce(args.preset, only, kernel=args.kernel, device=args.device, cluster=args.cluster)
    print(format_table(runs), file=sys.stderr)
    emit({"preset": args.preset, "notebooks": [{"notebook": run.name, "status": run.status,
                                                "seconds": round(run.seconds, 1)} for run in runs]})
    return 0


def decisive_command(args) -> int:
    """Run the decisive experiment at the preset; print its claims as one JSON line."""
    from .study import decisive
    from .study.pipeline import Context
    from .viz import plots
    context = Context(runs_dir=args.runs, device=args.device, progress=True, cluster=args.cluster)
    outcome = decisive.run(args.preset, args.out, context)
    plots.decisive_figures(outcome, args.out)
    emit({"preset": args.preset, "out": str(args.out), "claims": outcome["claims"]})
    return 0


def dp_train_command(args) -> int:
    """Run (or load) one DP fine-tuning run of notebook 07's design and print its scores as JSON."""
    from .study import dp_stages
    from .study.pipeline import Context
    checks.choice(args.pretrain, "--pretrain", dp_stages.SOURCES)
    config = dp_stages.run_config(args.pretrain, args.epsilon, args.seed, args.preset, delta=args.delta,
                                     max_grad_norm=args.clip, steps=args.steps, batch_size=args.batch_size)
    result = dp_stages.dp_run_stage(config, preset=args.preset, context=Context(runs_dir=args.runs, device=args.device))
    value = result.value
    emit({"model": args.model, "pretrain": args.pretrain, "epsilon": args.epsilon, "delta": config.privacy.delta,
          "epsilon_spent": value["epsilon_spent"], "noise_multiplier": value["noise_multiplier"],
          "fid": value["fid"], "kid": value["kid_mean"], "accuracy": value["accuracy"], "mia_auc": value["mia_auc"],
          "run": str(result.path)})
    return 0


def many_classes_train_command(args) -> int:
    """Run (or load) one class-conditional run of notebook 08's design, print its scores as JSON and
    write ``--samples-per-class`` images of every class to ``--out``."""
    import numpy as np

    from . import paths
    from .data import class_sources
    from .study import many_classes, many_classes_parts
    from .study.pipeline import Context
    checks.integer(args.samples_per_class, "--samples-per-class", 0)
    if bool(args.samples_per_class) != (args.out is not None):
        raise ValueError("--samples-per-class and --out go together: how many samples of each class, and where")
    out = None
    if args.out is not None:
        if not str(args.out).lower().endswith(".npz"):
            raise ValueError(f"--out must name an .npz file (images and labels arrays), got {args.out!r}")
        out = paths.check_output(args.out, force=args.force, what="an .npz file",
                                 ours=lambda path: path.is_file() and path.suffix.lower() == ".npz")
    checks.choice(args.dataset, "--dataset", tuple(class_sources.DATASETS))
    if args.classes is not None and args.dataset != class_sources.GlyphImages.name:
        raise ValueError(f"--classes chooses a subset of the glyphs; {args.dataset} has its own classes")
    config = many_classes_parts.run_config(args.hq_fraction, args.lq, args.self_supervision, args.init, args.seed,
                                           args.preset, classes=args.classes, dataset=args.dataset,
                                           pretrain_seed=args.pretrain_seed)
    result = many_classes.many_classes_run_stage(config, preset=args.preset,
                                                 context=Context(runs_dir=args.runs, device=args.device))
    if out is not None:
        labels = np.repeat(np.arange(config.scale.classes), args.samples_per_class)
        images = many_classes_parts.generate(many_classes_parts.load_generator(result, config), labels, args.seed)
        def write(temporary: str) -> None:
            with open(temporary, "wb") as handle:
                np.savez(handle, images=images, labels=labels)
        paths.atomic_write(out, write, replace=args.force)
    value = result.value
    emit({"dataset": args.dataset, "classes": config.scale.classes, "hq_fraction": config.hq_fraction, "lq": config.lq,
          "self_supervision": config.self_supervision, "init": args.init, "seed": args.seed,
          **{key: value[key] for key in ("accuracy", "removed_accuracy", "fid", "intra_fid")},
          "run": str(result.path), "samples": None if out is None else str(out)})
    return 0


def training_command(args) -> int:
    """Run (or load, or resume) a pretraining or transfer stage and print its result as JSON."""
    import json

    from .data import sources
    from .study import runs
    from .study.pipeline import Context
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1       # launched by torchrun
    device = args.device
    if args.device.startswith("cuda") and distributed:
        device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}"
    if distributed:
        import torch.distributed
        torch.distributed.init_process_group("nccl" if args.device.startswith("cuda") else "gloo")
    status = 1
    try:
        context = Context(runs_dir=args.runs, device=device, progress=True)
        out = run_output(args.out, args.force) if args.command == "transfer" and args.out else None
        if args.command == "pretrain":
            data = sources.resolve(checks.choice(args.source, "pretraining source", runs.PRETRAIN_SOURCES))
            result = runs.pretrain(data, args.preset, args.seed, args.iterations, context=context,
                                   resolution=args.resolution)
        else:
            data = sources.resolve(args.target, {"skip_bad": True} if args.skip_bad else ())
            config = runs.transfer_config(data, args.init, args.preset, args.seed, args.freeze_d, args.iterations,
                                          resolution=args.resolution, pretrain_seed=args.pretrain_seed)
            note_resizing(data, config.train.model.resolution)
            result = runs.run_transfer(config, context)
            if out is not None and int(os.environ.get("RANK", "0")) == 0:
                copy_run(result.path, out, replace=args.force)
        if int(os.environ.get("RANK", "0")) == 0:
            print(json.dumps({**result.value, "data": data.label, "data_digest": data.digest or None,
                              **skipped_record(data), "resolution": runs.load_generator(result).config.resolution,
                              "run_dir": str(result.path), "cached": result.cached}))
        status = 0
    finally:
        if distributed:
            from .gan.training import end_worker
            end_worker(status)
    return status


def note_resizing(data, resolution: int) -> None:
    """Say on stderr when one's own images (read from their headers, not decoded) are not all of
    the side they will be trained at."""
    if data.kind != "files":
        return
    from .data import sources
    sizes = sources.image_sizes(data)
    if not sizes:                  # no readable header: loading the set says what is wrong
        return
    sides = sorted({min(size) for size in sizes})
    if sides != [resolution]:
        shown = f"{sides[0]} px" if len(sides) == 1 else f"of {len(sides)} sizes, {sides[0]} to {sides[-1]} px"
        print(f"note: the {sum(sizes.values()):,} images of {data.label} are {shown}; training centre-crops them to "
              f"squares and resizes them to {resolution} px (--resolution sets the size)", file=sys.stderr)


def run_output(out, force: bool):
    """``--out`` checked before training: new, or with ``force`` an earlier copy of a run (it holds
    ``config.json`` and ``log.jsonl``), never a folder of other files."""
    from . import paths
    return paths.check_output(out, force=force, what="a copy of a run folder",
                              ours=lambda path: (path / "config.json").is_file() and (path / "log.jsonl").is_file())


def copy_run(run_dir, out, replace: bool) -> None:
    """Copy a finished run folder to the checked ``out`` atomically (``replace``: over an earlier copy)."""
    import shutil

    from . import paths
    staging = paths.temporary(out, folder=True)
    try:
        shutil.copytree(run_dir, staging, dirs_exist_ok=True)
        paths.replace_atomically(staging, out, replace=replace)
    except shutil.Error as error:          # copytree gathers per-file errors into one list
        raise OSError(f"could not copy the run folder to {out}: {error.args[0][0][2]}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def readme_command(args) -> int:
    """Rewrite (or check) the README's generated blocks; name the stale ones."""
    from .study.readme import update
    try:
        stale = update(check=args.check)
    except (ValueError, FileNotFoundError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    emit({"check": args.check, "stale" if args.check else "rewrote": stale})
    if args.check and stale:
        print(f"stale generated blocks: {'; '.join(stale)} (run `primps readme`)", file=sys.stderr)
        return 1
    print(f"README.md and docs/: {'rewrote ' + '; '.join(stale) if stale else 'up to date'}", file=sys.stderr)
    return 0


def parse_option(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` with VALUE read as a Python literal (10, False, (0.5, 2.0)) or else as text."""
    import ast
    key, separator, value = text.partition("=")
    if not separator or not key:
        raise ValueError(f"options are KEY=VALUE, got {text!r}")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def synth_command(args) -> int:
    """Write the requested synthetic dataset (or shard) with a progress bar."""
    from .data.export import parse_shard, shard_range, write_dataset
    options = dict(parse_option(text) for text in args.option)
    start, n = args.start, args.n
    if args.shard is not None:
        checks.integer(n, "n", 1)
        start, n = shard_range(n, *parse_shard(args.shard))
        if n == 0:
            raise ValueError(f"shard {args.shard} of {args.n} images is empty: use fewer shards")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        path = write_dataset(args.out, n, variant=args.variant, resolution=args.resolution, seed=args.seed,
                             start=start, format=args.format, device=args.device, overwrite=args.force,
                             progress=True, **options)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    emit({"path": str(path), "first_index": start, "last_index": start + n - 1, "variant": args.variant,
          "resolution": args.resolution, "seed": args.seed, "options": options})
    return 0


def sample_command(args) -> int:
    """Write ``--n`` images of a run's EMA generator (or an interpolation grid) and print what was written."""
    from . import paths
    from .data.images import ImageWriter
    from .gan import sampling
    from .study import runs
    if args.n is not None and str(args.out).lower().endswith(".png"):
        raise ValueError(f"--n writes a dataset (name.zip, name.npz or a folder), not {args.out!r}: a .png is "
                         f"written by --interpolate ROWS")
    generator = runs.load_generator(args.run).to(args.device)
    seed = checks.integer(args.seed, "seed", 0)
    note = runs.unfinished(args.run)
    if note:
        print(f"note: {note}; sampling its generator as it stands", file=sys.stderr)
    if args.n is not None:
        images = sampling.sample_images(generator, checks.integer(args.n, "n", 1), seed, args.truncation)
        metadata = {"primps": {"run": str(args.run), "seed": seed, "truncation": args.truncation}}
        with ImageWriter(args.out, n=len(images), overwrite=args.force, metadata=metadata) as writer:
            writer.write(images)
        out, count = writer.path, len(images)
    else:
        grid = sampling.interpolation_images(generator, args.interpolate, args.steps, seed, args.truncation)
        if not str(args.out).lower().endswith(".png"):
            raise ValueError(f"an interpolation grid is one PNG: --out must end in .png, got {args.out!r}")
        out = paths.check_output(args.out, force=args.force, what="a PNG file",
                                 ours=lambda path: path.is_file() and path.suffix.lower() == ".png")
        sampling.save_grid(grid.reshape(-1, *grid.shape[2:]), out, columns=grid.shape[1], replace=args.force)
        count = grid.shape[0] * grid.shape[1]
    emit({"run": str(args.run), "out": str(out), "images": count, "resolution": generator.config.resolution,
          "seed": seed, "truncation": args.truncation})
    return 0


def score_command(args) -> int:
    """Print one JSON object with the metrics between ``args.a`` and ``args.b`` and what each set is
    (a file set by the SHA-256 digest of its images, the key of its cached features); with
    ``--save-stats`` also write the reference set's FID statistics. Either side may be a statistics
    file: FID only then (KID and precision/recall need the features themselves)."""
    from . import paths
    from .data import sources
    from .eval import metrics
    if args.b is None and args.save_stats is None:
        raise ValueError("give a second set to compare with, or --save-stats to only save the reference statistics")
    if args.save_stats is not None:
        if metrics.is_statistics(args.a):
            raise ValueError(f"{args.a} already holds statistics: --save-stats needs images")
        stats_path = paths.check_output(args.save_stats, force=args.force, what="an .npz of FID statistics",
                                        ours=metrics.is_statistics)
    sides = [name for name in (args.a, args.b) if name is not None]
    saved = [name for name in sides if metrics.is_statistics(name)]
    if saved and (args.kid or args.pr):
        raise ValueError(f"{saved[0]} holds only FID statistics (mu, sigma): KID and precision/recall need images")
    options = dict(resolution=args.resolution, device=args.device, progress=True, batch_size=args.batch_size,
                   cache_dir=metrics.DEFAULT_CACHE if args.cache_dir is None else args.cache_dir)
    bad = {"skip_bad": True} if args.skip_bad else ()
    refs = {name: None if name in saved else sources.resolve(name, bad) for name in sides}
    found = {name: None if ref is None else metrics.features(ref, **options) for name, ref in refs.items()}
    if args.b is not None and not saved:
        for note in comparison_notes(refs[args.a], refs[args.b], len(found[args.a]), len(found[args.b]),
                                     args.resolution):
            print(f"note: {note}", file=sys.stderr)
    result = {"a": args.a}
    if args.save_stats is not None:
        metrics.save_statistics(stats_path, found[args.a], replace=args.force)
        result["saved_stats"] = str(stats_path)
    if args.b is not None:
        result["b"] = args.b
        if saved:
            a, b = (metrics.load_statistics(name) if name in saved else metrics.feature_statistics(found[name])
                    for name in (args.a, args.b))
            result["fid"] = metrics.frechet_distance(*a, *b)
        else:
            real, fake = found[args.a], found[args.b]
            result.update({"n_real": len(real), "n_fake": len(fake)})
            for name in ["fid"] + ["kid"] * args.kid + ["pr"] * args.pr:
                result.update(metrics.METRICS[name](real, fake))
    result.update({f"{key}_digest": refs[name].digest or None for key, name in (("a", args.a), ("b", args.b))
                   if name is not None and refs[name] is not None})
    for key, name in (("a", args.a), ("b", args.b)):
        if name is not None and refs[name] is not None and args.skip_bad:
            result[f"{key}_skipped"] = len(sources.skipped_files(refs[name]))
    emit(result)
    return 0


FID_DIMENSIONS = 2048      # Inception pool features: fewer images than this leave the covariances singular


def comparison_notes(a, b, n_a: int, n_b: int, resolution: int | None) -> list[str]:
    """What makes an FID between the sets ``a`` and ``b`` (``DataRef``s of ``n_a`` and ``n_b`` images)
    hard to read: sides of different resolutions, and image counts too small for FID's statistics."""
    notes = []
    if resolution is None:
        sizes = {ref.label: native_side(ref) for ref in (a, b)}
        if len(set(sizes.values()) - {None}) > 1:
            notes.append(f"the sets differ in resolution ({', '.join(f'{k}: {v} px' for k, v in sizes.items())}); "
                         f"Inception sees both resized to 299 px, so the lost detail of the smaller counts as a "
                         f"difference: pass --resolution R to compare at one size")
    if min(n_a, n_b) < FID_DIMENSIONS:
        notes.append(f"FID of {n_a:,} against {n_b:,} images: with fewer than {FID_DIMENSIONS:,} images (the "
                     f"features' dimension) the covariances are singular and FID is biased upward, the more the "
                     f"fewer the images; compare FIDs only at equal image counts (KID, --kid, is unbiased)")
    return notes


def native_side(ref) -> int | None:
    """The side of a set's images as stored (read from the files' headers), or None when its images
    have several sizes or the set is no image files."""
    from .data import sources
    if not ref.finite:
        return None
    sizes = sources.image_sizes(ref)
    sides = {min(size) for size in sizes}
    return sides.pop() if len(sides) == 1 else None


def skipped_record(data) -> dict:
    """``{"skipped": N}`` when unreadable files of ``data`` were left out by ``--skip-bad``."""
    from .data import sources
    if not dict(data.options).get("skip_bad"):
        return {}
    return {"skipped": len(sources.skipped_files(data))}


def entry() -> None:
    """The ``primps`` console script."""
    sys.exit(main())


if __name__ == "__main__":
    entry()
