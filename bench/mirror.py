#!/usr/bin/env python3
"""Pull-through: `hf download` of one large file through `hf serve --upstream` (a cold mirror)
against the same download straight from the upstream (another `hf serve`), alternating; then
ten clients at once on a cold mirror, and, for scale, ten at once straight from the upstream
(on one small machine the clients' own hashing and writing compete for the cores). Reports
median seconds and ratios, and how many bytes of the file the upstream sent per cold phase (one
transfer = the file's size).

    python3 bench/mirror.py [--runs N] [--size-mib M] [--link loopback|delayed] [--nice-clients N]
                            [--clients-on-tmpfs]

    loopback  upstream, mirror and clients on 127.0.0.1: every byte costs CPU three times
              (upstream, mirror, client) on the same cores, so the machine's cores are the limit.
    delayed   what a mirror is for: the upstream across the internet, here behind linkdelay's
              40 ms, 1 Gbit/s line (netns ld-srv, 198.18.0.1), the mirror on the team's network
              with its clients (netns ld-cli, its own loopback). Needs root.

Ten clients on one small machine are not ten machines: their own work competes with the
mirror's. Two switches take a part of it away, for every phase alike: --nice-clients N runs
every client at niceness N (their receiving and hashing yield the cores to the servers), and
--clients-on-tmpfs puts their HF_HOME in /dev/shm (their 2.5 GB of writes leave the servers'
disk alone). Measured: ten curl clients writing to /dev/null leave the one upstream transfer
as fast as one client does (2.8-2.9 s against 3.0-3.3 s); ten `hf download` clients writing
to the same disk slowed it to 3.8-4.3 s, and the niceness alone did not change that.

Uses target/release/hf (build it first; HFKIT_BENCH_HF names another build). Everything runs in a temporary folder.
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

import delayline
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


# Scheduling niceness of every client (--nice-clients): on one small machine, a stand-in for
# clients on machines of their own, which do not take the mirror's cores.
CLIENT_NICE = 0


def client_start(netns):
    """preexec_fn of a client: into `netns`, at CLIENT_NICE."""
    enter = delayline.enter(netns)

    def start():
        if enter:
            enter()
        if CLIENT_NICE:
            os.nice(CLIENT_NICE)
    return start


def settle():
    """Writes back what earlier phases left dirty in the page cache (ten clients write 2.5 GB),
    so that no phase is throttled by the disk for the phase before it."""
    os.sync()


def download(endpoint, home, netns=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=home)
    began = time.monotonic()
    subprocess.run([HF, "download", "bench/big", "model.bin", "--format", "quiet"], env=env, check=True,
                   stdout=subprocess.DEVNULL, preexec_fn=client_start(netns))
    return time.monotonic() - began


def upstream_gets(log):
    """The upstream's GETs of model.bin so far, from its access log (each line starts with
    the unix time it was written, when the body ended): (bytes sent, start, end)."""
    gets = []
    with open(log) as f:
        for line in f:
            if " GET " in line and "model.bin" in line:
                sent = re.search(r" bytes=(\d+)", line)
                ms = re.search(r" ms=([\d.]+)", line)
                end = float(line.split()[0])
                start = end - (float(ms.group(1)) / 1000 if ms else 0.0)
                gets.append((int(sent.group(1)) if sent else 0, start, end))
    return gets


def phase(log, before):
    """The upstream's work since `before` GETs: (bytes sent, seconds from the first GET's start
    to the last one's end: how long the one shared transfer took)."""
    gets = upstream_gets(log)[before:]
    if not gets:
        return 0, 0.0
    return sum(g[0] for g in gets), max(g[2] for g in gets) - min(g[1] for g in gets)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--size-mib", type=int, default=256)
    parser.add_argument("--link", choices=["loopback", "delayed"], default="loopback")
    parser.add_argument("--clients-on-tmpfs", action="store_true",
                        help="put every client's HF_HOME in /dev/shm, so that the clients' writes (2.5 GB for "
                             "ten) do not share the servers' disk, as clients on machines of their own would not")
    parser.add_argument("--nice-clients", type=int, default=0, metavar="N",
                        help="run every client (direct and through the mirror alike) at niceness N, so that "
                             "the servers are served first, as if the clients had machines of their own")
    parser.add_argument("--single-only", action="store_true",
                        help="measure only the direct download and the one cold mirror client (no ten-client phases)")
    opts = parser.parse_args()
    global CLIENT_NICE
    CLIENT_NICE = opts.nice_clients
    size = opts.size_mib << 20
    work = tempfile.mkdtemp(prefix="hfkit-bench-mirror-")
    homes_dir = tempfile.mkdtemp(prefix="hfkit-bench-mirror-homes-", dir="/dev/shm") if opts.clients_on_tmpfs else work
    # Where the upstream and the team's side (mirror and clients) live.
    up_ns = team_ns = None
    up_args = []
    link = "loopback (127.0.0.1)"
    if opts.link == "delayed":
        link = delayline.up()
        up_ns, team_ns, up_args = "ld-srv", "ld-cli", ["--host", delayline.SERVER_HOST]
    upstream = None
    try:
        up_cache = os.path.join(work, "upstream")
        sample_cache(up_cache, size)
        up_log = os.path.join(work, "upstream.log")
        upstream, up_url = hf_serve.start(["--cache", up_cache, *up_args], up_log, up_ns)
        direct, cold, ten, ten_direct, transfers, ten_upstream, cold_upstream = [], [], [], [], [], [], []
        for run in range(opts.runs):
            home = os.path.join(homes_dir, f"direct-{run}")
            settle()
            direct.append(download(up_url, home, team_ns))
            shutil.rmtree(home)

            mirror_cache = os.path.join(work, f"mirror-{run}")
            os.makedirs(mirror_cache)
            mirror, url = hf_serve.start(["--cache", mirror_cache, "--upstream", up_url], os.path.join(work, "mirror.log"),
                                         team_ns)
            home = os.path.join(homes_dir, f"cold-{run}")
            before = len(upstream_gets(up_log))
            settle()
            cold.append(download(url, home, team_ns))
            sent, seconds = phase(up_log, before)
            transfers.append(sent / size)
            cold_upstream.append(seconds)
            stop(mirror)
            shutil.rmtree(home)
            shutil.rmtree(mirror_cache)

            if opts.single_only:
                continue
            homes = [os.path.join(homes_dir, f"ten-direct-{run}-{i}") for i in range(10)]
            settle()
            with ThreadPoolExecutor(10) as pool:
                ten_direct.append(list(pool.map(lambda h: download(up_url, h, team_ns), homes)))
            for h in homes:
                shutil.rmtree(h)

            mirror_cache = os.path.join(work, f"mirror10-{run}")
            os.makedirs(mirror_cache)
            mirror, url = hf_serve.start(["--cache", mirror_cache, "--upstream", up_url],
                                         os.path.join(work, "mirror10.log"), team_ns)
            before = len(upstream_gets(up_log))
            homes = [os.path.join(homes_dir, f"ten-{run}-{i}") for i in range(10)]
            settle()
            with ThreadPoolExecutor(10) as pool:
                times = list(pool.map(lambda h: download(url, h, team_ns), homes))
            ten.append(times)
            sent, seconds = phase(up_log, before)
            transfers.append(sent / size)
            ten_upstream.append(seconds)
            stop(mirror)
            for h in homes:
                shutil.rmtree(h)
            shutil.rmtree(mirror_cache)
        mb = size / 1e6
        d, c = statistics.median(direct), statistics.median(cold)
        print(f"file: {opts.size_mib} MiB, runs: {opts.runs} (alternating); link to the upstream: {link}; "
              f"clients at niceness {CLIENT_NICE}, their HF_HOME on {'tmpfs' if opts.clients_on_tmpfs else 'the disk'}")
        print(f"direct from upstream : {d:6.2f} s  {mb / d:7.1f} MB/s")
        print(f"one cold mirror client: {c:6.2f} s  {mb / c:7.1f} MB/s  ratio {d / c:.2f}x (target >= 0.9); "
              f"its upstream transfer took {statistics.median(cold_upstream):.2f} s")
        print(f"  per run: direct {', '.join(f'{t:.2f}' for t in direct)} s; one cold mirror client "
              f"{', '.join(f'{t:.2f}' for t in cold)} s, its upstream transfer "
              f"{', '.join(f'{t:.2f}' for t in cold_upstream)} s")
        if opts.single_only:
            print(f"upstream transfers per cold phase (bytes sent / file size): {', '.join(f'{t:.2f}' for t in transfers)}")
            return
        slowest = statistics.median(max(t) for t in ten)
        print(f"ten cold clients      : slowest {slowest:6.2f} s; each at {c / slowest:.2f}x the single cold client "
              f"(target >= 0.8); aggregate {10 * mb / slowest:7.1f} MB/s")
        print(f"  ten cold clients' times, median of runs: fastest {statistics.median(min(t) for t in ten):.2f} s, "
              f"median {statistics.median(statistics.median(t) for t in ten):.2f} s; the one upstream transfer "
              f"took {statistics.median(ten_upstream):.2f} s")
        slowest_direct = statistics.median(max(t) for t in ten_direct)
        print(f"ten clients straight from upstream (same machine, for scale): slowest {slowest_direct:6.2f} s; "
              f"ten cold mirror clients at {slowest_direct / slowest:.2f}x of that")
        print(f"upstream transfers per cold phase (bytes sent / file size): {', '.join(f'{t:.2f}' for t in transfers)}")
    finally:
        if upstream:
            stop(upstream)
        if opts.link == "delayed":
            counters = delayline.down()
            if counters:
                print(f"linkdelay counters: {counters}")
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(homes_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
