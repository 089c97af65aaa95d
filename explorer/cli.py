"""Command line of the explorer: ``python app.py [--runs DIR|hf://OWNER/NAME] [--host H] [--port P]``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from .app import build_app
from .hub import is_hub_location, parse_hub_location
from .services import Services
from .store import StoreError
from .weights import DEFAULT_BUDGET_MB

__all__ = ["main", "parse_args"]

_logger = logging.getLogger(__name__)

# Environment variable with the default of --runs, so that a container or Space sets it without
# changing the command.
RUNS_ENV = "DROPSEG_RUNS"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python app.py", description="Explore dropseg run folders in a browser."
    )
    parser.add_argument(
        "--runs",
        default=os.environ.get(RUNS_ENV, "checkpoints"),
        help="a run folder, a folder holding run folders up to two levels down, or a Hugging Face Hub "
        f"model repository hf://OWNER/NAME[@REVISION] (default: ${RUNS_ENV}, else checkpoints)",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7860, help="TCP port to listen on (default: 7860)")
    parser.add_argument(
        "--cache-mb",
        type=int,
        default=DEFAULT_BUDGET_MB,
        help=f"memory budget of loaded models in MiB (default: {DEFAULT_BUDGET_MB})",
    )
    args = parser.parse_args(argv)
    if args.cache_mb < 0:
        parser.error(f"--cache-mb must be non-negative, got {args.cache_mb}")
    if not 0 < args.port < 65536:
        parser.error(f"--port must be in 1..65535, got {args.port}")
    if is_hub_location(args.runs):
        try:
            parse_hub_location(args.runs)
        except ValueError as error:
            parser.error(str(error))
    else:
        args.runs = Path(args.runs)
    return args


def main(argv: list[str] | None = None) -> None:
    """Start the explorer server and block until it is stopped."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    try:
        services = Services.create(args.runs, args.cache_mb)
    except StoreError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    runs_found = services.store.run_names()
    _logger.info(
        "serving %d run(s) from %s on %s:%d", len(runs_found), services.store.root, args.host, args.port
    )
    app = build_app(services)
    app.queue(default_concurrency_limit=4)
    app.launch(server_name=args.host, server_port=args.port, show_error=False, footer_links=["api"])
