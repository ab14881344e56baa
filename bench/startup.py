#!/usr/bin/env python3
"""Start-up time of `hf version` and `hf auth token`: our hf against Python's hf 2.4.0.

Runs both clients alternately in one run, in the same scrubbed environment (a temporary
HF_HOME holding a token file, offline, no update check), and reports the median wall time of
each and the ratio. Usage: `python3 bench/startup.py [runs]` from the repository root; it
builds the release binary and uses `.venv` (made by `scripts/test`) for Python's client.
Other clients can join the run: HFKIT_BENCH_EXTRA="name=/path/to/binary;…".
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 21
TOKEN = "hf_benchToken000000000000000000000001"


def main() -> None:
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "hf"], cwd=ROOT, check=True)
    clients = {
        "hfkit": os.path.join(ROOT, "target", "release", "hf"),
        "python-hf-2.4.0": os.path.join(ROOT, ".venv", "bin", "hf"),
    }
    for extra in filter(None, os.environ.get("HFKIT_BENCH_EXTRA", "").split(";")):
        name, path = extra.split("=", 1)
        clients[name] = path
    home = tempfile.mkdtemp(prefix="hfkit-bench-")
    with open(os.path.join(home, "token"), "w") as f:
        f.write(TOKEN)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": home,
        "HF_HOME": home,
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "NO_COLOR": "1",
    }
    commands = [["version"], ["auth", "token"]]
    times = {(c, " ".join(cmd)): [] for c in clients for cmd in commands}
    for _ in range(RUNS):
        for cmd in commands:
            for name, binary in clients.items():  # alternate clients within each round
                start = time.perf_counter()
                out = subprocess.run([binary, *cmd], env=env, capture_output=True)
                elapsed = time.perf_counter() - start
                if out.returncode != 0:
                    sys.exit(f"{name} {' '.join(cmd)} failed: {out.stderr.decode()}")
                times[(name, " ".join(cmd))].append(elapsed * 1000)
    print(f"start-up, median of {RUNS} alternating runs (ms)")
    print(f"{'command':<14} " + " ".join(f"{n:>16}" for n in clients) + "   ratio (python/hfkit)")
    for cmd in commands:
        key = " ".join(cmd)
        medians = {n: statistics.median(times[(n, key)]) for n in clients}
        ratio = medians["python-hf-2.4.0"] / medians["hfkit"]
        print(f"hf {key:<11} " + " ".join(f"{medians[n]:>16.1f}" for n in clients) + f"   {ratio:>8.0f}x")


if __name__ == "__main__":
    main()
