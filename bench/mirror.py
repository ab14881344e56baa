#!/usr/bin/env python3
"""Pull-through: `hf download` of one large file through `hf serve --upstream` (a cold mirror)
against the same download straight from the upstream (another `hf serve`), alternating; then
ten clients at once on a cold mirror, and, for scale, ten at once straight from the upstream
(on one small machine the clients' own hashing and writing compete for the cores). Reports median seconds and ratios, and how many bytes
of the file the upstream sent per cold phase (one transfer = the file's size).

    python3 bench/mirror.py [--runs N] [--size-mib M]

Uses target/release/hf (build it first). Everything runs on 127.0.0.1 in a temporary folder.
"""

import argparse
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

import hf_serve

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HF = hf_serve.HF
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def sample_cache(cache, size):
    """A cache holding bench/big with one LFS file of `size` bytes."""
    repo = os.path.join(cache, "models--bench--big")
    os.makedirs(os.path.join(repo, "blobs"))
    os.makedirs(os.path.join(repo, "refs"))
    os.makedirs(os.path.join(repo, "snapshots", COMMIT))
    tmp = os.path.join(cache, "weights.tmp")
    digest = hashlib.sha256()
    with open(tmp, "wb") as f:
        block = os.urandom(1 << 20)
        for i in range(size >> 20):
            piece = bytes([i & 0xFF]) + block[1:]
            digest.update(piece)
            f.write(piece)
    sha = digest.hexdigest()
    os.rename(tmp, os.path.join(repo, "blobs", sha))
    os.symlink(f"../../blobs/{sha}", os.path.join(repo, "snapshots", COMMIT, "model.bin"))
    with open(os.path.join(repo, "refs", "main"), "w") as f:
        f.write(COMMIT)


def stop(proc):
    proc.terminate()
    proc.wait()


def download(endpoint, home):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=home)
    began = time.monotonic()
    subprocess.run([HF, "download", "bench/big", "model.bin", "--format", "quiet"], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.monotonic() - began


def upstream_bytes(log):
    """Bytes of model.bin the upstream sent, from its access log."""
    total = 0
    with open(log) as f:
        for line in f:
            if " GET " in line and "model.bin" in line:
                m = re.search(r" bytes=(\d+)", line)
                total += int(m.group(1)) if m else 0
    return total


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size-mib", type=int, default=256)
    opts = parser.parse_args()
    size = opts.size_mib << 20
    work = tempfile.mkdtemp(prefix="hfkit-bench-mirror-")
    try:
        up_cache = os.path.join(work, "upstream")
        sample_cache(up_cache, size)
        up_log = os.path.join(work, "upstream.log")
        upstream, up_url = hf_serve.start(["--cache", up_cache], up_log)
        direct, cold, ten, ten_direct, transfers = [], [], [], [], []
        for run in range(opts.runs):
            home = os.path.join(work, f"direct-{run}")
            direct.append(download(up_url, home))
            shutil.rmtree(home)

            mirror_cache = os.path.join(work, f"mirror-{run}")
            os.makedirs(mirror_cache)
            mirror, url = hf_serve.start(["--cache", mirror_cache, "--upstream", up_url], os.path.join(work, "mirror.log"))
            home = os.path.join(work, f"cold-{run}")
            before = upstream_bytes(up_log)
            cold.append(download(url, home))
            transfers.append((upstream_bytes(up_log) - before) / size)
            stop(mirror)
            shutil.rmtree(home)
            shutil.rmtree(mirror_cache)

            homes = [os.path.join(work, f"ten-direct-{run}-{i}") for i in range(10)]
            with ThreadPoolExecutor(10) as pool:
                ten_direct.append(list(pool.map(lambda h: download(up_url, h), homes)))
            for h in homes:
                shutil.rmtree(h)

            mirror_cache = os.path.join(work, f"mirror10-{run}")
            os.makedirs(mirror_cache)
            mirror, url = hf_serve.start(["--cache", mirror_cache, "--upstream", up_url], os.path.join(work, "mirror10.log"))
            before = upstream_bytes(up_log)
            homes = [os.path.join(work, f"ten-{run}-{i}") for i in range(10)]
            with ThreadPoolExecutor(10) as pool:
                times = list(pool.map(lambda h: download(url, h), homes))
            ten.append(times)
            transfers.append((upstream_bytes(up_log) - before) / size)
            stop(mirror)
            for h in homes:
                shutil.rmtree(h)
            shutil.rmtree(mirror_cache)
        stop(upstream)
        mb = size / 1e6
        d, c = statistics.median(direct), statistics.median(cold)
        slowest = statistics.median(max(t) for t in ten)
        print(f"file: {opts.size_mib} MiB, runs: {opts.runs} (alternating)")
        print(f"direct from upstream : {d:6.2f} s  {mb / d:7.1f} MB/s")
        print(f"one cold mirror client: {c:6.2f} s  {mb / c:7.1f} MB/s  ratio {d / c:.2f}x (target >= 0.9)")
        print(f"ten cold clients      : slowest {slowest:6.2f} s; each at {c / slowest:.2f}x the single cold client "
              f"(target >= 0.8); aggregate {10 * mb / slowest:7.1f} MB/s")
        slowest_direct = statistics.median(max(t) for t in ten_direct)
        print(f"ten clients straight from upstream (same machine, for scale): slowest {slowest_direct:6.2f} s; "
              f"ten cold mirror clients at {slowest_direct / slowest:.2f}x of that")
        print(f"upstream transfers per cold phase (bytes sent / file size): {', '.join(f'{t:.2f}' for t in transfers)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
