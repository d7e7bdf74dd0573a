"""Train a preset with `tinygrad1d train` for several seeds and summarise the test accuracy.

    python benchmarks/seeds.py --model paper_cnn --seeds 0 1 2 3 4
    python benchmarks/seeds.py --data mnist --model mnist_rows --seeds 0 1 2 3 4

Each seed is a full run of the command line (its own output folder under --out), so the
numbers are exactly what a user gets. Prints one line per seed and mean, spread, min, max.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from tinygrad1d.app import cli


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="mnist1d", choices=["mnist1d", "mnist"])
    ap.add_argument("--model", default="paper_cnn")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    ap.add_argument("--out", default="runs/seeds", help="one folder per seed below this")
    ap.add_argument("extra", nargs=argparse.REMAINDER, help="more `train` options, after --")
    args = ap.parse_args()
    extra = [a for a in args.extra if a != "--"]
    accs, secs = [], []
    for seed in args.seeds:
        out = Path(args.out) / f"{args.data}-{args.model}-seed{seed}"
        code = cli.main(["train", "--data", args.data, "--model", args.model, "--seed", str(seed),
                         "--out", str(out), "--no-progress", *extra])
        if code != 0:
            raise SystemExit(f"seed {seed}: tinygrad1d train exited with {code}")
        m = json.loads((out / "metrics.json").read_text())
        accs.append(100 * m["test_accuracy"])
        secs.append(m["train_seconds"])
        print(f"SEED {seed}: test accuracy {accs[-1]:.2f}%  ({secs[-1]:.0f} s of training)",
              flush=True)
    sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
    print(f"SUMMARY {args.model} on {args.data}, seeds {args.seeds}: "
          f"mean {statistics.mean(accs):.2f}% sd {sd:.2f}  min {min(accs):.2f}  "
          f"max {max(accs):.2f}  (mean {statistics.mean(secs):.0f} s per run)")


if __name__ == "__main__":
    main()
