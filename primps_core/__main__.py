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
    args = parser.parse_args(argv)

    if args.command == "reproduce":
        from .reproduce import NotebookFailed, reproduce
        only = [o.strip() for o in args.only.split(",") if o.strip()] if args.only else None
        try:
            reproduce(args.preset, only, kernel=args.kernel)
        except (NotebookFailed, ValueError) as error:
            print(f"error: {error}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
