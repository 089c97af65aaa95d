"""Benchmark the explorer: a timeline slider step, an uploaded photo compared across four
variants, and cold start to the first page.

    python benchmarks/bench_explorer.py --runs RUNS_ROOT [--run NAME] [--photo PHOTO.jpg]

Targets: a slider step takes under 100 ms of server time. An upload of up to 513 pixels is
compared across four variants in under 2 s (median, models loaded, predictions not cached).
The run should have at least four variants, for example
``python -m training train --preset cpu --variants none,all-chandrop-sched,spp-uout,decoder-dropblock``.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from explorer.cache import ByteBudgetLRU  # noqa: E402
from explorer.inference import PREDICTION_BUDGET_BYTES  # noqa: E402
from explorer.services import Services  # noqa: E402
from explorer.views.compare import compare  # noqa: E402
from explorer.views.timeline import timeline_frames  # noqa: E402


def _median_ms(samples: list[float]) -> str:
    median, worst = statistics.median(samples) * 1000, max(samples) * 1000
    return f"median {median:.0f} ms, max {worst:.0f} ms (n={len(samples)})"


def bench_slider(services: Services, run: str, variants: list[str], repeats: int) -> list[float]:
    """Time ``timeline_frames`` (the server work of one slider step) over every epoch, cycling."""
    store = services.store
    epochs = store.epochs(store.key(run, variants[0]))
    timeline_frames(services, run, variants, epochs[0])  # warm the JSON cache once
    samples = []
    for index in range(repeats):
        started = time.perf_counter()
        timeline_frames(services, run, variants, epochs[index % len(epochs)])
        samples.append(time.perf_counter() - started)
    return samples


def bench_compare(services: Services, run: str, variants: list[str], photo: Path, repeats: int) -> tuple:
    """Time ``compare`` on an uploaded photo: once cold (models not loaded), then ``repeats``
    times with models loaded and the prediction cache emptied before each call."""
    started = time.perf_counter()
    compare(services, run, str(photo), None, variants, "best", 0.6, 0)
    cold = time.perf_counter() - started
    samples = []
    for _ in range(repeats):
        services.predictor.cache = ByteBudgetLRU(PREDICTION_BUDGET_BYTES, lambda p: p.nbytes)
        started = time.perf_counter()
        compare(services, run, str(photo), None, variants, "best", 0.6, 0)
        samples.append(time.perf_counter() - started)
    return cold, samples


def bench_cold_start(runs_root: Path) -> float:
    """Start ``python app.py`` and return the seconds until the page returns HTTP 200."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"}
    started = time.perf_counter()
    server = subprocess.Popen(
        [sys.executable, "app.py", "--runs", str(runs_root), "--port", str(port)],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    response.read()
                    return time.perf_counter() - started
            except OSError:
                if server.poll() is not None:
                    raise RuntimeError("the explorer exited during start-up") from None
                time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=Path, required=True, help="runs root, as given to app.py --runs")
    parser.add_argument("--run", default=None, help="run name under the root (default: the first found)")
    parser.add_argument("--photo", type=Path, default=None, help="photo to upload (default: a VOC val JPEG)")
    parser.add_argument("--repeats", type=int, default=20, help="timed repetitions (default: 20)")
    args = parser.parse_args()

    services = Services.create(args.runs)
    names = services.store.run_names()
    if not names:
        parser.error(f"no run under {args.runs}")
    run = args.run or names[0]
    variants = services.store.default_variants(run)
    photo = args.photo
    if photo is None:
        data = Path(os.environ.get("DROPSEG_DATA", REPO_ROOT.parent / "shared" / "data"))
        photo = next((data / "VOCdevkit" / "VOC2012" / "JPEGImages").glob("*.jpg"))

    config = services.store.run_record(run)["config"]
    print(f"run {run}: preset {config['preset']}, backbone {config['backbone']}")
    print(f"variants: {', '.join(variants)}")
    print(f"slider step (timeline_frames): {_median_ms(bench_slider(services, run, variants, args.repeats))}")
    cold, samples = bench_compare(services, run, variants, photo, max(3, args.repeats // 4))
    print(f"compare upload {photo.name} across {len(variants)} variants: cold {cold:.2f} s")
    print(f"compare, models loaded, predictions not cached: {_median_ms(samples)}")
    print(f"cold start to first page: {bench_cold_start(args.runs):.1f} s")


if __name__ == "__main__":
    main()
