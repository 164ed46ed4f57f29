"""Labels and scans: how fast labels render and how fast the loading dock's scans answer.

Run by hand (not part of the test suite), from the repository root:

    python bench/labels.py                          # everything, both backends
    python bench/labels.py --backends sqlite --duration 5
    python bench/labels.py --profile                # also py-spy the server during scans
    python bench/labels.py --redis                  # also scans with the Redis cache

Measures, each beside a limit taken in the same run (the machine is noisy):

* PNG and SVG labels per second, in-process, one thread (50 mm at 300 dpi),
  against the plain ``qrcode`` library making the same symbol (automatic mask);
* seconds for a 1,000-label A4 PDF sheet, in-process;
* POST /v1/scan under ``wrk -t2 -c16 --latency -s bench/scan.lua``: a scratch
  database per backend seeded with a few hundred items through the API,
  ``retrace serve --workers 2``, scans of label URLs and of typed codes by a
  recycler's key; the limit is GET /healthz on the same server with the same
  wrk settings (HTTP and FastAPI alone, no database). With ``--redis [URL]``,
  again against a server with the read-through cache in that Redis.

Goals on the 2-core machine: >= 200 PNG labels/s, a 1,000-label sheet in < 10 s,
scans at >= 1,000 req/s and >= 50 % of /healthz with p99 < 25 ms; with the Redis
cache, >= 80 % of /healthz with p99 < 20 ms.

The rendering runs are in ``_labels_render.py``, the scan load run in
``_labels_scan.py``; wrk, py-spy and the table are in ``_harness.py``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

# This file is named like the package it measures: take the script's folder off
# the import path so that ``import labels`` finds the package, not this file.
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))
sys.path.append(str(HERE))  # for _harness; the package `labels` wins, being first

from _harness import print_table  # noqa: E402 - after the import path is fixed (see above)
from _labels_render import bench_rendering  # noqa: E402
from _labels_scan import bench_scans  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backends",
        default="sqlite,postgresql",
        help="comma-separated: sqlite, postgresql (empty: rendering only)",
    )
    parser.add_argument("--labels", type=int, default=300, help="labels per rendering run")
    parser.add_argument("--sheet", type=int, default=1000, help="labels on the PDF sheet")
    parser.add_argument("--items", type=int, default=400, help="items seeded for the scans")
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--duration", type=float, default=10.0, help="wrk seconds per run")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections")
    parser.add_argument(
        "--profile", action="store_true", help="record the workers with py-spy during the scans"
    )
    parser.add_argument(
        "--redis",
        nargs="?",
        const="redis://127.0.0.1:6379/0",
        default=None,
        metavar="URL",
        help="also measure the scans with the read-through cache in this Redis "
        "(default URL: %(const)s)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args()
    backends = [b for b in args.backends.split(",") if b]
    if backends and shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2

    print("rendering labels in-process ...", flush=True)
    rows = bench_rendering(args.labels, args.sheet)
    workdir = Path(tempfile.mkdtemp(prefix="retrace-bench-labels-"))
    try:
        for backend in backends:
            print(f"scans on {backend} ...", flush=True)
            folder = workdir / backend
            folder.mkdir()
            rows += bench_scans(backend, args, folder)
    finally:
        if args.keep:
            print(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print_table(rows)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\nload average (1, 5, 15 min): {load} on {os.cpu_count()} cores; "
        "figures are comparable only with the limits of the same run"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
