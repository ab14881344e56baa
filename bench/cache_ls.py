#!/usr/bin/env python3
"""`hf cache ls` on a large cache: hfkit against Python's `hf` 2.4.0, alternating, medians.

Builds once (reused afterwards) a synthetic huggingface_hub cache under /tmp/hfkit-bench-ls
(or $HFKIT_BENCH_LS_DATA): 200 model repos, 2 revisions each (400), 25 files per revision
(10,000 snapshot files), half of each revision's blobs shared with the other revision,
relative symlinks and refs as huggingface_hub writes them. Then runs `hf cache ls` and
`hf cache ls --revisions` with each client, alternating, and reports median wall times and
the ratio. Both clients run offline with the update check off, in a scrubbed environment.

    python3 bench/cache_ls.py [runs]       (default 11)
"""

import hashlib
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("HFKIT_BENCH_LS_DATA", "/tmp/hfkit-bench-ls")
REPOS, REVISIONS, FILES = 200, 2, 25


def build(cache: str) -> None:
    marker = os.path.join(os.path.dirname(cache), ".complete")
    if os.path.exists(marker):
        return
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
                shared = f < FILES // 2
                content = f"repo {r} file {f} rev {0 if shared else v}".encode() * 20
                etag = hashlib.sha1(content).hexdigest()
                blob = os.path.join(repo, "blobs", etag)
                if not os.path.exists(blob):
                    with open(blob, "wb") as out:
                        out.write(content)
                name = f"sub/file{f}.txt" if f % 5 == 0 else f"file{f}.txt"
                depth = name.count("/") + 2
                os.symlink("../" * depth + "blobs/" + etag, os.path.join(snap, name))
            with open(os.path.join(repo, "refs", "main" if v == REVISIONS - 1 else f"v{v}"), "w") as ref:
                ref.write(commit)
    open(marker, "w").close()


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 11
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "hf"], cwd=ROOT, check=True)
    cache = os.path.join(DATA, "hub")
    t0 = time.time()
    build(cache)
    print(f"cache ready in {time.time() - t0:.1f}s: {REPOS} repos, {REPOS * REVISIONS} revisions, "
          f"{REPOS * REVISIONS * FILES} files", flush=True)
    env = {"PATH": os.environ["PATH"], "HOME": DATA, "HF_HOME": DATA, "HF_HUB_OFFLINE": "1",
           "HF_HUB_DISABLE_UPDATE_CHECK": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "NO_COLOR": "1"}
    clients = {"hfkit": os.path.join(ROOT, "target", "release", "hf"), "python-hf": os.path.join(ROOT, ".venv", "bin", "hf")}
    variants = [["cache", "ls"], ["cache", "ls", "--revisions"]]
    times = {(c, " ".join(v)): [] for c in clients for v in variants}
    outputs = {}
    for _ in range(runs):
        for variant in variants:
            for name, binary in clients.items():
                start = time.perf_counter()
                out = subprocess.run([binary, *variant, "--format", "json"], env=env, capture_output=True)
                times[(name, " ".join(variant))].append(time.perf_counter() - start)
                if out.returncode != 0:
                    sys.exit(f"{name} failed: {out.stderr.decode()}")
                outputs[(name, " ".join(variant))] = out.stdout
    lines = [f"hf cache ls on {REPOS} repos / {REPOS * REVISIONS} revisions / {REPOS * REVISIONS * FILES} files, "
             f"median of {runs} alternating runs", f"{'command':<24} {'hfkit ms':>10} {'python ms':>10} {'ratio':>8}"]
    for variant in variants:
        key = " ".join(variant)
        ours, theirs = (statistics.median(times[(c, key)]) * 1000 for c in clients)
        # Relative times ("31 seconds ago") depend on the instant each run happened.
        def norm(raw: bytes) -> bytes:
            return re.sub(rb'"[^"]* ago"', b'"<time>"', raw)
        same = "same JSON" if norm(outputs[("hfkit", key)]) == norm(outputs[("python-hf", key)]) else "JSON DIFFERS"
        lines.append(f"hf {key:<21} {ours:>10.1f} {theirs:>10.1f} {theirs / ours:>7.1f}x  {same}")
    text = "\n".join(lines)
    print(text)
    os.makedirs(os.path.join(ROOT, "bench", "results"), exist_ok=True)
    with open(os.path.join(ROOT, "bench", "results", "cache-ls.txt"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
