#!/usr/bin/env python3
"""`hf cache ls` on a large cache: hfkit against Python's `hf` 2.4.0, alternating, medians.

Builds once (reused afterwards) a synthetic huggingface_hub cache under /tmp/hfkit-bench-ls
(or $HFKIT_BENCH_LS_DATA): 200 model repos, 2 revisions each (400), 25 files per revision
(10,000 snapshot files), half of each revision's blobs shared with the other revision,
relative symlinks and refs as huggingface_hub writes them. With `--layout shared`, the same
cache (in `<data>-shared`) with its 10 LFS files per revision moved into huggingface_hub
2.4's shared blob store by 2.4's own `publish_blob_to_shared_store`, as a cache downloaded
with hf_xet is. Then runs `hf cache ls` and `hf cache ls --revisions` with each client,
alternating, and reports median wall times, median CPU times (user + system, what a loaded
machine or one core sees: our scan runs on every core, Python's on one) and their ratios.
Both clients run offline with the update check off, in a scrubbed environment. With
`--syscalls`, also counts each client's system calls once with `strace -c -f`.

    python3 bench/cache_ls.py [runs] [--layout plain|shared] [--syscalls]   (default 11 runs)
"""

import argparse
import hashlib
import os
import re
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("HFKIT_BENCH_LS_DATA", "/tmp/hfkit-bench-ls")
REPOS, REVISIONS, FILES = 200, 2, 25
LFS = 10  # files per revision stored as LFS (sha256 etag): the ones a shared store holds


def build(cache: str, shared: bool) -> None:
    marker = os.path.join(os.path.dirname(cache), ".complete")
    if os.path.exists(marker):
        return
    lfs = []
    os.makedirs(cache, exist_ok=True)
    for r in range(REPOS):
        repo = os.path.join(cache, f"models--bench--repo{r:03d}")
        for sub in ("blobs", "refs", "snapshots"):
            os.makedirs(os.path.join(repo, sub), exist_ok=True)
        for v in range(REVISIONS):
            commit = hashlib.sha1(f"{r}-{v}".encode()).hexdigest()
            snap = os.path.join(repo, "snapshots", commit)
            os.makedirs(os.path.join(snap, "sub"), exist_ok=True)
            for f in range(FILES):
                common = f < FILES // 2
                content = f"repo {r} file {f} rev {0 if common else v}".encode() * 20
                if f >= FILES - LFS:
                    etag = hashlib.sha256(content).hexdigest()
                else:
                    etag = hashlib.sha1(content).hexdigest()
                blob = os.path.join(repo, "blobs", etag)
                if not os.path.exists(blob):
                    with open(blob, "wb") as out:
                        out.write(content)
                    if f >= FILES - LFS:
                        lfs.append(blob)
                name = f"sub/file{f}.txt" if f % 5 == 0 else f"file{f}.txt"
                depth = name.count("/") + 2
                os.symlink("../" * depth + "blobs/" + etag, os.path.join(snap, name))
            with open(os.path.join(repo, "refs", "main" if v == REVISIONS - 1 else f"v{v}"), "w") as ref:
                ref.write(commit)
    if shared:
        # huggingface_hub 2.4's own function, as hf_xet downloads use it.
        script = (
            "import hashlib, sys\n"
            "from huggingface_hub.utils._shared_blobs import publish_blob_to_shared_store\n"
            "for blob in sys.stdin.read().split():\n"
            "    data = open(blob, 'rb').read()\n"
            "    xet = hashlib.sha256(b'xet:' + data).hexdigest()\n"
            "    assert publish_blob_to_shared_store(blob_path=blob, xet_hash=xet, cache_dir=sys.argv[1], expected_size=len(data))\n"
        )
        python = os.path.join(ROOT, ".venv", "bin", "python")
        subprocess.run([python, "-c", script, cache], input="\n".join(lfs).encode(), check=True)
    open(marker, "w").close()


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess]:
    """Wall and CPU seconds (user + system, every thread) of one run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, out


def syscalls(cmd: list[str], env: dict[str, str]) -> dict[str, int]:
    """System calls of one run, by name (`strace -c -f`)."""
    out = subprocess.run(["strace", "-c", "-f", "-o", "/dev/stdout", *cmd], env=env, capture_output=True, text=True)
    counts = {}
    for line in out.stdout.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
            counts[parts[-1]] = int(parts[3])
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description="hf cache ls: hfkit against Python's hf")
    parser.add_argument("runs", type=int, nargs="?", default=11)
    parser.add_argument("--layout", choices=["plain", "shared"], default="plain")
    parser.add_argument("--syscalls", action="store_true")
    opts = parser.parse_args()
    runs, layout = opts.runs, opts.layout
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "hf"], cwd=ROOT, check=True)
    data = DATA + ("-shared" if layout == "shared" else "")
    cache = os.path.join(data, "hub")
    t0 = time.time()
    build(cache, layout == "shared")
    print(f"cache ready in {time.time() - t0:.1f}s: {REPOS} repos, {REPOS * REVISIONS} revisions, "
          f"{REPOS * REVISIONS * FILES} files, {layout} layout", flush=True)
    env = {"PATH": os.environ["PATH"], "HOME": data, "HF_HOME": data, "HF_HUB_OFFLINE": "1",
           "HF_HUB_DISABLE_UPDATE_CHECK": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "NO_COLOR": "1"}
    clients = {"hfkit": os.path.join(ROOT, "target", "release", "hf"), "python-hf": os.path.join(ROOT, ".venv", "bin", "hf")}
    variants = [["cache", "ls"], ["cache", "ls", "--revisions"]]
    walls = {(c, " ".join(v)): [] for c in clients for v in variants}
    cpus = {(c, " ".join(v)): [] for c in clients for v in variants}
    outputs = {}
    for _ in range(runs):
        for variant in variants:
            for name, binary in clients.items():
                wall, cpu, out = timed([binary, *variant, "--format", "json"], env)
                walls[(name, " ".join(variant))].append(wall)
                cpus[(name, " ".join(variant))].append(cpu)
                if out.returncode != 0:
                    sys.exit(f"{name} failed: {out.stderr.decode()}")
                outputs[(name, " ".join(variant))] = out.stdout
    load = os.getloadavg()[0]
    lines = [f"hf cache ls on {REPOS} repos / {REPOS * REVISIONS} revisions / {REPOS * REVISIONS * FILES} files "
             f"({layout} layout), median of {runs} alternating runs, {os.cpu_count()} cores, load {load:.1f}",
             f"{'command':<24} {'hfkit ms':>9} {'python ms':>10} {'wall':>6} {'hfkit cpu':>10} {'python cpu':>11} {'cpu':>6}"]
    for variant in variants:
        key = " ".join(variant)
        ours, theirs = (statistics.median(walls[(c, key)]) * 1000 for c in clients)
        ours_cpu, theirs_cpu = (statistics.median(cpus[(c, key)]) * 1000 for c in clients)

        # Relative times ("31 seconds ago") depend on the instant each run happened.
        def norm(raw: bytes) -> bytes:
            return re.sub(rb'"[^"]* ago"', b'"<time>"', raw)
        same = "same JSON" if norm(outputs[("hfkit", key)]) == norm(outputs[("python-hf", key)]) else "JSON DIFFERS"
        lines.append(f"hf {key:<21} {ours:>9.1f} {theirs:>10.1f} {theirs / ours:>5.1f}x {ours_cpu:>10.1f} "
                     f"{theirs_cpu:>11.1f} {theirs_cpu / ours_cpu:>5.1f}x  {same}")
    if opts.syscalls:
        files = REPOS * REVISIONS * FILES
        for name, binary in clients.items():
            counts = syscalls([binary, "cache", "ls", "--format", "json"], env)
            top = sorted(counts.items(), key=lambda kv: -kv[1])[:6]
            lines.append(f"syscalls of {name}: {sum(counts.values())} ({sum(counts.values()) / files:.2f} per file); "
                         + ", ".join(f"{k} {v}" for k, v in top))
    text = "\n".join(lines)
    print(text)
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    suffix = "" if layout == "plain" else "-shared"
    with open(os.path.join(ROOT, "bench", "results", f"cache-ls{suffix}.txt"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
