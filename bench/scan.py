#!/usr/bin/env python3
"""`hf auth scan` over a tree of 100,000 files against ripgrep searching the same pattern.

Builds (once) a git work tree in /tmp/hfkit-bench-scan: 100,000 text files of 0.5-2 KiB in
1,000 folders, 200 binary files, an ignored `build/` folder of 10,000 more files, hidden
`.env` files, a few real-format tokens and look-alikes. Then runs, alternating in one run:

  hf auth scan --no-history --json TREE
  rg --hidden -g '!.git' --json -e PATTERN TREE   (Debian's ripgrep: apt install ripgrep)

Both honour .gitignore the same way (the `ignore` crate is ripgrep's), read hidden files,
skip `.git` and binary files, and print every match. The history is left out of the ratio
(rg does not read it); one run with history is shown on its own. Prints the median wall time
and CPU time (user + system, steady under load) of each and the ratios, and checks that both
found the same set of (file, line) places.
Usage: `python3 bench/scan.py [runs]` from the repository root (builds the release binary).
"""

import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
TREE = "/tmp/hfkit-bench-scan"
FILES = 100_000
# The same rule as hfkit::leaks::pattern, minus the placeholder filter (the tree has none
# that the filter would drop, so both report the same places).
PATTERN = r"(?:^|[^A-Za-z0-9_])((?:hf_|api_org_)[A-Za-z0-9]{34})(?:$|[^A-Za-z0-9_])"
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def token(rng: random.Random, prefix: str = "hf_") -> str:
    return prefix + "".join(rng.choice(LETTERS) for _ in range(34))


def build_tree() -> None:
    marker = os.path.join(TREE, ".complete")
    if os.path.exists(marker):
        return
    shutil.rmtree(TREE, ignore_errors=True)
    os.makedirs(TREE)
    subprocess.run(["git", "init", "-q", TREE], check=True)
    rng = random.Random(42)
    words = [
        "import", "from", "def", "return", "model", "token", "config", "hf_hub_download", "self",
        "tensor", "dataset", "for", "in", "if", "else", "None", "True", "print", "os.environ",
    ]
    with open(os.path.join(TREE, ".gitignore"), "w") as f:
        f.write("build/\n*.log\n")

    def text_file(path: str, extra: str = "") -> None:
        lines = []
        size = rng.randint(512, 2048)
        while sum(len(l) + 1 for l in lines) < size:
            lines.append(" ".join(rng.choice(words) for _ in range(rng.randint(3, 12))))
        if extra:
            lines.insert(rng.randint(0, len(lines)), extra)
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")

    planted = 0
    for i in range(FILES):
        folder = os.path.join(TREE, f"pkg{i // 100:03d}")
        os.makedirs(folder, exist_ok=True)
        extra = ""
        if i % 9973 == 0:
            extra = f"HF_TOKEN = '{token(rng)}'"
            planted += 1
        elif i % 7919 == 0:
            extra = "not a token: hf_" + "x" * 34 + "_and_more"
        text_file(os.path.join(folder, f"mod{i % 100:02d}.py"), extra)
    for i in range(0, 1000, 100):
        with open(os.path.join(TREE, f"pkg{i // 100:03d}", ".env"), "w") as f:
            f.write(f"HF_TOKEN={token(rng)}\n")
            planted += 1
    os.makedirs(os.path.join(TREE, "build"))
    for i in range(10_000):
        text_file(os.path.join(TREE, "build", f"gen{i}.py"), f"t = '{token(rng)}'")
    for i in range(200):
        with open(os.path.join(TREE, f"pkg{i:03d}", "weights.bin"), "wb") as f:
            f.write(b"\0\1\2" + rng.randbytes(4096) + token(rng).encode())
    with open(marker, "w") as f:
        f.write(f"{planted}\n")


CPU: dict[str, list[float]] = {}


def timed(cmd: list[str], name: str = "") -> tuple[float, bytes]:
    """Wall time and output; the child's CPU time (user + system) is kept under `name`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if name:
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        CPU.setdefault(name, []).append(cpu)
    if out.returncode not in (0, 1):
        sys.exit(f"{cmd[0]} failed with status {out.returncode}")
    return elapsed, out.stdout


def hf_places(stdout: bytes) -> set[tuple[str, int]]:
    return {(os.path.relpath(f["path"], TREE), f["line"]) for f in json.loads(stdout)["findings"]}


def rg_places(stdout: bytes) -> set[tuple[str, int]]:
    places = set()
    for line in stdout.splitlines():
        event = json.loads(line)
        if event["type"] == "match":
            path = event["data"]["path"]["text"]
            places.add((os.path.relpath(path, TREE), event["data"]["line_number"]))
    return places


def main() -> None:
    rg = shutil.which("rg")
    if rg is None:
        sys.exit("ripgrep is needed: apt install ripgrep")
    subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "hf"], cwd=ROOT, check=True)
    hf = os.path.join(ROOT, "target", "release", "hf")
    build_tree()
    commands = {
        "hfkit": [hf, "auth", "scan", "--no-history", "--json", TREE],
        "ripgrep": [rg, "--hidden", "-g", "!.git", "--json", "-e", PATTERN, TREE],
    }
    # Warm the page cache once with each, and check they agree.
    places = {name: parse(timed(cmd)[1]) for (name, cmd), parse in zip(commands.items(), (hf_places, rg_places))}
    if places["hfkit"] != places["ripgrep"]:
        print("the two disagree:", sorted(places["hfkit"] ^ places["ripgrep"])[:10])
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(RUNS):
        for name, cmd in commands.items():
            times[name].append(timed(cmd, name)[0])
    history = timed([hf, "auth", "scan", "--json", TREE])[0]
    version = subprocess.run([rg, "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    hf_median = statistics.median(times["hfkit"])
    rg_median = statistics.median(times["ripgrep"])
    print(f"tree: {FILES:,} files (+10,000 ignored, 200 binary), {len(places['hfkit'])} places found; {os.cpu_count()} cores")
    print(f"hfkit   hf auth scan --no-history  median {hf_median * 1000:8.1f} ms  (runs: {RUNS})")
    print(f"ripgrep {version:<26} median {rg_median * 1000:8.1f} ms")
    print(f"ratio hfkit/ripgrep: {hf_median / rg_median:.2f}")
    # CPU time (user + system) does not depend on what else the machine runs at the moment.
    hf_cpu, rg_cpu = statistics.median(CPU["hfkit"]), statistics.median(CPU["ripgrep"])
    print(f"CPU (user+sys) median: hfkit {hf_cpu * 1000:.0f} ms, ripgrep {rg_cpu * 1000:.0f} ms, ratio {hf_cpu / rg_cpu:.2f}")
    print(f"hfkit with history (empty history here): {history * 1000:.1f} ms")


if __name__ == "__main__":
    main()
