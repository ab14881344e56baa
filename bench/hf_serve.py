"""Starts the release `hf serve` for the benchmarks (`mirror.py`, `serve.py`): on a free port,
its log in a file, and its address read from its first line (`--format agent` prints `url=…`)."""

import os
import subprocess
import sys

import delayline

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# HFKIT_BENCH_HF: another build to measure (e.g. a copy of main's, for an A/B run).
HF = os.environ.get("HFKIT_BENCH_HF") or os.path.join(ROOT, "target", "release", "hf")


def start(args, log, netns=None):
    """`hf serve ARGS… --port 0`, logging to the file `log`, inside network namespace `netns`
    when given (see `delayline`): the process and its URL."""
    out = open(log, "w")
    proc = subprocess.Popen([HF, "serve", "--port", "0", "--format", "agent", *args],
                            stdout=subprocess.PIPE, stderr=out, text=True, preexec_fn=delayline.enter(netns))
    line = proc.stdout.readline().strip()
    if not line.startswith("url="):
        proc.kill()
        sys.exit(f"hf serve did not start: {line!r}; see {log}")
    return proc, line[4:]
