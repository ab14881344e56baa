#!/usr/bin/env python3
"""`hf serve` against nginx serving the same bytes as static files: 64 concurrent clients each
download a whole repo (a few large files and many small ones), from one server then the other,
alternating, in one run. Reports the aggregate throughput of each phase, the ratio, errors
(a status other than 200, a short body, a client that failed) and each server's peak memory
(the largest resident set of its processes, VmHWM, summed over nginx's master and workers).

    python3 bench/serve.py [--runs N] [--clients C] [--large N --large-mib M] [--small N]

Needs target/release/hf (`cargo build --release -p hf`), Debian's nginx (`apt-get install -y
nginx`; run from its binary with a config of our own, never as a system service) and curl.
The clients are curl processes, one per client, each fetching every file of the repo in its
own shuffled order over one keep-alive connection into /dev/null, so the client's cost is the
same for both servers. hf serve answers `GET /{repo}/resolve/main/{path}` from a cache (ref
resolution, access check, access log line per request); nginx answers the same URL from the
same snapshot folder (through a symlink), with sendfile and an access log too.
Everything runs on 127.0.0.1 in a temporary folder (the data is built once into
/tmp/hfkit-bench-serve and reused).
"""

import argparse
import hashlib
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import hf_serve

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HF = hf_serve.HF
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
DATA = "/tmp/hfkit-bench-serve"
COMMIT = "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e"
REPO = "bench/mixed"


def git_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def build_cache(cache, large, large_mib, small):
    """A cache holding bench/mixed: `large` LFS files of `large_mib` MiB and `small` regular
    files of 1-64 KiB (some in folders). Returns [(path, size)]."""
    repo = os.path.join(cache, "models--bench--mixed")
    snap = os.path.join(repo, "snapshots", COMMIT)
    os.makedirs(os.path.join(repo, "blobs"), exist_ok=True)
    os.makedirs(os.path.join(repo, "refs"), exist_ok=True)
    rng = random.Random(7)
    files = []

    def place(path, data, lfs):
        etag = hashlib.sha256(data).hexdigest() if lfs else git_sha1(data)
        blob = os.path.join(repo, "blobs", etag)
        with open(blob, "wb") as f:
            f.write(data)
        link = os.path.join(snap, path)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(os.path.relpath(blob, os.path.dirname(link)), link)
        files.append((path, len(data)))

    block = os.urandom(1 << 20)
    for i in range(large):
        data = b"".join(bytes([(i * 31 + j) & 0xFF]) + block[1:] for j in range(large_mib))
        place(f"model-{i:05d}-of-{large:05d}.safetensors", data, True)
    for i in range(small):
        size = rng.randint(1 << 10, 64 << 10)
        data = os.urandom(size)
        folder = f"shard{i % 8}/" if i % 3 == 0 else ""
        place(f"{folder}file-{i:04d}.json", data, False)
    with open(os.path.join(repo, "refs", "main"), "w") as f:
        f.write(COMMIT)
    return files


def data(opts):
    """The cache (built once per shape) and its file list."""
    shape = f"{opts.large}x{opts.large_mib}-{opts.small}"
    cache = os.path.join(DATA, shape, "hub")
    listing = os.path.join(DATA, shape, "files.txt")
    if not os.path.exists(listing):
        shutil.rmtree(os.path.join(DATA, shape), ignore_errors=True)
        files = build_cache(cache, opts.large, opts.large_mib, opts.small)
        with open(listing + ".tmp", "w") as f:
            f.writelines(f"{p}\t{s}\n" for p, s in files)
        os.rename(listing + ".tmp", listing)
    with open(listing) as f:
        files = [(p, int(s)) for p, s in (line.rstrip("\n").split("\t") for line in f)]
    return cache, files


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_nginx(work, cache):
    """nginx (as packaged by Debian) serving the snapshot at /bench/mixed/resolve/main/."""
    root = os.path.join(work, "nginx-root")
    os.makedirs(os.path.join(root, REPO, "resolve"))
    os.symlink(os.path.join(cache, "models--bench--mixed", "snapshots", COMMIT),
               os.path.join(root, REPO, "resolve", "main"))
    port = free_port()
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(f"""
user root;
worker_processes auto;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
    access_log {work}/nginx-access.log;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
""")
    proc = subprocess.Popen([NGINX, "-c", conf, "-p", work], stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(work, "nginx.out"), "w"))
    url = f"http://127.0.0.1:{port}"
    for _ in range(100):
        if subprocess.run(["curl", "-s", "-o", "/dev/null", url + "/"]).returncode == 0:
            return proc, url
        time.sleep(0.1)
    proc.kill()
    sys.exit(f"nginx did not start; see {work}/nginx-error.log and {work}/nginx.out")


def tree_pids(pid):
    """`pid` and its descendants (nginx's workers)."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return pids


def peak_rss_mib(pid):
    total = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


def phase(work, name, url, files, clients, run):
    """`clients` curl processes at once, each fetching every file; (seconds, bytes, errors)."""
    procs = []
    expected = dict(files)
    began = time.monotonic()
    for c in range(clients):
        order = files[:]
        random.Random(run * 1000 + c).shuffle(order)
        config = os.path.join(work, f"{name}-{c}.curl")
        with open(config, "w") as f:
            for path, _ in order:
                f.write(f'url = "{url}/{REPO}/resolve/main/{path}"\noutput = "/dev/null"\n')
        procs.append(subprocess.Popen(
            ["curl", "-s", "-K", config, "-w", "%{http_code} %{size_download} %{url_effective}\\n"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
    outputs = [p.communicate()[0] for p in procs]
    seconds = time.monotonic() - began
    errors, total = 0, 0
    for proc, out in zip(procs, outputs):
        lines = out.splitlines()
        errors += proc.returncode != 0
        errors += max(0, len(files) - len(lines))
        for line in lines:
            code, size, effective = line.split(" ", 2)
            path = effective.split("/resolve/main/", 1)[-1]
            ok = code == "200" and int(size) == expected.get(path, -1)
            errors += not ok
            total += int(size)
    return seconds, total, errors


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--large", type=int, default=3)
    parser.add_argument("--large-mib", type=int, default=64)
    parser.add_argument("--small", type=int, default=300)
    opts = parser.parse_args()
    if not os.path.exists(HF):
        sys.exit(f"build {HF} first: cargo build --release -p hf")
    cache, files = data(opts)
    repo_bytes = sum(s for _, s in files)
    work = tempfile.mkdtemp(prefix="hfkit-bench-serve-")
    nginx = hf = None
    try:
        nginx, nginx_url = start_nginx(work, cache)
        hf, hf_url = hf_serve.start(["--cache", cache], os.path.join(work, "hf-serve.log"))
        results = {"nginx": [], "hf serve": []}
        errors = {"nginx": 0, "hf serve": 0}
        for run in range(opts.runs):
            order = [("nginx", nginx_url), ("hf serve", hf_url)]
            if run % 2:
                order.reverse()
            for name, url in order:
                seconds, total, errs = phase(work, name.replace(" ", "-"), url, files, opts.clients, run)
                results[name].append(total / seconds / 1e6)
                errors[name] += errs
                print(f"run {run + 1} {name:8}: {seconds:6.2f} s  {total / seconds / 1e6:8.1f} MB/s  errors {errs}",
                      flush=True)
        peak = {"nginx": peak_rss_mib(nginx.pid), "hf serve": peak_rss_mib(hf.pid)}
        n, h = statistics.median(results["nginx"]), statistics.median(results["hf serve"])
        print(f"repo: {len(files)} files, {repo_bytes / 1e6:.1f} MB ({opts.large} x {opts.large_mib} MiB + "
              f"{opts.small} of 1-64 KiB); {opts.clients} concurrent clients (curl, one keep-alive connection "
              f"each, whole repo); runs: {opts.runs} (alternating)")
        print(f"nginx    : median {n:8.1f} MB/s aggregate  errors {errors['nginx']}  peak memory "
              f"{peak['nginx']:6.1f} MiB (master + workers)")
        print(f"hf serve : median {h:8.1f} MB/s aggregate  errors {errors['hf serve']}  peak memory "
              f"{peak['hf serve']:6.1f} MiB")
        print(f"ratio hf serve / nginx: {h / n:.2f}x (target >= 1.0; errors 0; peak memory < 100 MiB)")
        print("per run (MB/s): nginx " + ", ".join(f"{x:.0f}" for x in results["nginx"])
              + "; hf serve " + ", ".join(f"{x:.0f}" for x in results["hf serve"]))
    finally:
        for proc in (hf, nginx):
            if proc:
                proc.terminate()
                proc.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
