"""Command line: ``primps <command> ...`` (or ``python -m primps_core``); ``--help`` lists the commands.

One convention for every command: progress and warnings on stderr; the result on stdout, as one
JSON line; exit status 0 on success, 1 for bad input or a failed run (one line on stderr saying
what was wrong), 2 for a usage error. The options are ``cli.build_parser``'s.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
import warnings

from . import checks, threads
from .cli import build_parser


def main(argv: list[str] | None = None) -> int:
    return run_command(build_parser().parse_args(argv))


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
    runs = reproduce(args.preset, only, kernel=args.kernel, device=args.device, cluster=args.cluster,
                     shipped=args.shipped)
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
            seed = runs.PRETRAIN_SEED if args.seed is None else args.seed
            result = runs.pretrain(data, args.preset, seed, args.iterations, context=context,
                                   resolution=args.resolution)
        else:
            data = sources.resolve(args.target, {"skip_bad": True} if args.skip_bad else ())
            config = runs.transfer_config(data, args.init, args.preset, args.seed, args.freeze_d, args.iterations,
                                          resolution=args.resolution,
                                          pretrain_seed=runs.PRETRAIN_SEED if args.pretrain_seed is None else args.pretrain_seed,
                                          from_shipped=args.shipped)
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
