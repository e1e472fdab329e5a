"""Command line: ``python -m primps_core <command> ...``; ``--help`` lists the commands."""
from __future__ import annotations

import argparse
import sys

from .presets import PRESETS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m primps_core", description="GAN pretraining on Primitives-PS: the study's command line.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("reproduce", help="execute the notebooks with papermill and rewrite their figures")
    run.add_argument("--preset", required=True, choices=list(PRESETS), help="sizes to run at (cpu = canonical, writes figures/)")
    run.add_argument("--only", default=None, help="comma-separated notebook prefixes, e.g. 01,02")
    run.add_argument("--kernel", default=None, help="Jupyter kernel (default: primps if registered, else python3)")
    score = commands.add_parser("fid", help="FID (and optionally KID, precision/recall) between two image sets; prints JSON")
    score.add_argument("a", help="reference set: folder, zip, .npz or embedded dataset name")
    score.add_argument("b", help="compared set: folder, zip, .npz or embedded dataset name")
    score.add_argument("--kid", action="store_true", help="also KID (mean and std over subsets)")
    score.add_argument("--pr", action="store_true", help="also improved precision/recall (k=3)")
    score.add_argument("--resolution", type=int, default=None, help="centre-crop and resize both sets to R x R first")
    score.add_argument("--device", default="cpu")
    args = parser.parse_args(argv)

    if args.command == "reproduce":
        from .reproduce import NotebookFailed, reproduce
        only = [o.strip() for o in args.only.split(",") if o.strip()] if args.only else None
        try:
            reproduce(args.preset, only, kernel=args.kernel)
        except (NotebookFailed, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    if args.command == "fid":
        return score_command(args)
    return 0


def score_command(args) -> int:
    """Print one JSON object with the metrics between ``args.a`` and ``args.b``."""
    import json

    from .metrics import evaluate
    names = ["fid"] + ["kid"] * args.kid + ["pr"] * args.pr
    try:
        result = evaluate(args.a, args.b, names, resolution=args.resolution, device=args.device)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps({"a": args.a, "b": args.b, **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
