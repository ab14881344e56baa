#!/usr/bin/env python3
"""Download throughput, CPU and memory: hfkit's `hf download` against Python's `hf` 2.4.0, curl and others.

Generates (once, reused afterwards) a huggingface_hub cache folder holding three public model
repos of random data, serves it with `hf serve --cache` (release binary), and downloads every
repo with every client into a fresh, empty HF_HOME, alternating clients within each round (the
order rotates from round to round). Per (link, repo, client) it reports the median throughput
(decimal MB/s = repo bytes / wall seconds, start-up and metadata calls included), the median
CPU seconds per GB (user + sys of the client's process tree, via GNU time's wait4), the median
peak RSS of the client process (ru_maxrss, via GNU time's wait4; see run_measured) and the
ratio to curl (and to curl16). On a shared machine throughput is noisy; CPU seconds per GB and
the ratios within one alternating run are the numbers to trust.

    python3 bench/download.py [--runs N] [--link loopback|delayed|both] [--repos a,b] [--clients a,b]
                              [--syscalls]

Repos (under /tmp/hfkit-bench-cache, or $HFKIT_BENCH_DATA):
    bench/big     one 1536 MiB and one 480 MiB LFS file, 12 small regular files
    bench/single  one 400 MiB LFS file
    bench/many    1,000 small regular files (1-8 KiB, some in subfolders)

Clients:
    hfkit      target/release/hf download <repo> --quiet   (built first with cargo if missing)
    python-hf  .venv/bin/hf download <repo> --quiet        (huggingface_hub 2.4.0, XET disabled)
    curl       one curl process, one file at a time over one connection (single-stream baseline)
    curl16     bench/single only: one curl, 16 parallel Range requests of the 400 MiB file

Links:
    loopback   server on 127.0.0.1, clients on the host
    delayed    /work/shared/tools/linkdelay (40 ms RTT, 1 Gbit/s user-space delay line):
               server in netns ld-srv on 198.18.0.1, clients in netns ld-cli; the link is
               brought up and down by this script (RTT_MS / RATE_MBIT pass through). Default
               runs on this link: 1.

Extra clients: HFKIT_BENCH_CLIENTS="name=command template;name2=..." where the template may use
(hf-hub's `hfrs`, built outside the repository:
 HFKIT_BENCH_CLIENTS="hfrs=/tmp/hfhub-target/release/hfrs download {repo} --quiet")
{endpoint}, {repo} and {home}; it is split like a shell line (no shell runs it) and runs with
HF_ENDPOINT, HF_HOME (= {home}, empty) and the HF_HUB_DISABLE_* variables set, e.g.
    HFKIT_BENCH_CLIENTS="hfkit-c16=env HF_HUB_DOWNLOAD_CONNECTIONS=16 target/release/hf download {repo} -q"
Its bytes on disk under {home} are checked against the repo size like every client's.
HF_HUB_DOWNLOAD_{CONNECTIONS,CHUNK_SIZE,WORKERS} from the caller's environment are passed on.

--syscalls adds, after the timed rounds, one more run of every client on every repo under
`strace -c -f` (not timed: strace slows it down) and reports its system calls per GB: all of
them, the wake-ups (futex, epoll_wait / poll) and the reads and writes of data. Unlike MB/s,
these counts hardly move with the load of the machine, so they compare two builds.

A run longer than --timeout seconds (default 600) is killed; the remaining runs of that client
on that repo are skipped and the table says so. Results: bench/results/download-<link>.{json,txt}.
"""

import argparse
import hashlib
import json
import os
import random
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import delayline

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HF = os.path.join(ROOT, "target", "release", "hf")
PY_HF = os.path.join(ROOT, ".venv", "bin", "hf")
CURL = "/usr/bin/curl"
TIME = "/usr/bin/time"  # GNU time, for the peak RSS of the client (see run_measured)
DATA = os.environ.get("HFKIT_BENCH_DATA", "/tmp/hfkit-bench-cache")
WORK = "/tmp/hfkit-bench-run"
RESULTS = os.path.join(ROOT, "bench", "results")
LAYOUT_VERSION = 1
MiB = 1 << 20
PIECE = 8 * MiB

SMALL_NAMES = [
    "config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
    "special_tokens_map.json", "vocab.txt", "merges.txt", "README.md", ".gitattributes",
    "model.safetensors.index.json", "preprocessor_config.json", "chat_template.jinja",
]


def repo_specs():
    """(repo, [(path, size, lfs)]) — the definition; sizes are deterministic."""
    rng = random.Random(20240601)
    big = [("model-00001-of-00002.safetensors", 1536 * MiB, True),
           ("model-00002-of-00002.safetensors", 480 * MiB, True)]
    big += [(name, rng.randint(1024, 6 * 1024), False) for name in SMALL_NAMES]
    single = [("model.safetensors", 400 * MiB, True)]
    many = []
    for i in range(1000):
        folder = ("", "data/", "data/train/", "docs/", "assets/img/")[i % 5]
        many.append((f"{folder}file_{i:04d}.txt", rng.randint(1024, 8 * 1024), False))
    return {"bench/big": big, "bench/single": single, "bench/many": many}


# ---------------------------------------------------------------- data set

def _write_blob(blobs, size, lfs, text):
    """Random content of `size` bytes into a temp file in `blobs`; returns its blob name."""
    h = hashlib.sha256() if lfs else hashlib.sha1(b"blob %d\0" % size)
    fd, tmp = tempfile.mkstemp(dir=blobs, prefix=".tmp-")
    with os.fdopen(fd, "wb") as f:
        left = size
        while left:
            n = min(PIECE, left)
            data = os.urandom(n) if not text else os.urandom((n + 1) // 2).hex()[:n].encode()
            h.update(data)
            f.write(data)
            left -= n
    name = h.hexdigest()
    os.replace(tmp, os.path.join(blobs, name))
    return name


def ensure_data(specs):
    stamp = os.path.join(DATA, "manifest.json")
    want = {"version": LAYOUT_VERSION, "repos": {r: [[p, s, l] for p, s, l in f] for r, f in specs.items()}}
    try:
        with open(stamp) as f:
            if json.load(f) == want:
                return
    except (OSError, ValueError):
        pass
    print(f"generating the data set in {DATA} (once) ...", flush=True)
    shutil.rmtree(DATA, ignore_errors=True)
    os.makedirs(DATA)
    for i, (repo, files) in enumerate(specs.items()):
        base = os.path.join(DATA, "models--" + repo.replace("/", "--"))
        blobs = os.path.join(base, "blobs")
        commit = hashlib.sha1(f"hfkit-bench {repo} {i}".encode()).hexdigest()
        snap = os.path.join(base, "snapshots", commit)
        os.makedirs(blobs)
        os.makedirs(os.path.join(base, "refs"))
        for path, size, lfs in files:
            blob = _write_blob(blobs, size, lfs, text=not lfs)
            link = os.path.join(snap, path)
            os.makedirs(os.path.dirname(link), exist_ok=True)
            depth = path.count("/")
            os.symlink(os.path.join(*([".."] * (depth + 2)), "blobs", blob), link)
        with open(os.path.join(base, "refs", "main"), "w") as f:
            f.write(commit)
    with open(stamp, "w") as f:
        json.dump(want, f)
    print("data set ready", flush=True)


def warm_page_cache():
    """Read every blob once so that no client pays for the server's first, cold read."""
    buf = bytearray(PIECE)
    for dirpath, _, files in os.walk(DATA):
        if os.path.basename(dirpath) == "blobs":
            for name in files:
                with open(os.path.join(dirpath, name), "rb", buffering=0) as f:
                    while f.readinto(buf):
                        pass


# ---------------------------------------------------------------- namespaces / processes

def base_env(endpoint, home):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "HF_HOME": home,
        "HF_ENDPOINT": endpoint,
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
        "HF_HUB_DISABLE_IMPLICIT_TOKEN": "1",
        "NO_COLOR": "1",
        "LANG": "C.UTF-8",
    }
    for k in ("HF_HUB_DOWNLOAD_CONNECTIONS", "HF_HUB_DOWNLOAD_CHUNK_SIZE", "HF_HUB_DOWNLOAD_WORKERS"):
        if k in os.environ:
            env[k] = os.environ[k]
    return env


class Server:
    def __init__(self, host, netns):
        self.log = os.path.join(WORK, "server.log")
        self.out = os.path.join(WORK, "server.out")
        with open(self.out, "w") as out, open(self.log, "w") as err:
            self.proc = subprocess.Popen(
                [HF, "serve", "--cache", DATA, "--host", host, "--port", "0", "--format", "agent"],
                stdout=out, stderr=err, stdin=subprocess.DEVNULL, preexec_fn=delayline.enter(netns),
                env={"PATH": os.environ.get("PATH", ""), "HOME": WORK, "NO_COLOR": "1"})
        deadline = time.time() + 60
        self.url = None
        while time.time() < deadline and self.proc.poll() is None:
            with open(self.out) as f:
                for line in f:
                    if line.startswith("url="):
                        self.url = line.strip().split("=", 1)[1]
            if self.url:
                break
            time.sleep(0.1)
        if not self.url:
            self.stop()
            sys.exit(f"hf serve did not start:\n{open(self.log).read()}{open(self.out).read()}")

    def cpu_s(self):
        """User + system CPU seconds the server has used so far (every thread), from /proc."""
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def dir_bytes(path):
    total = 0
    for dirpath, _, files in os.walk(path):
        for name in files:
            p = os.path.join(dirpath, name)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def run_measured(argv, env, cwd, netns, timeout, log):
    """Run argv: (wall seconds, peak RSS KiB, CPU seconds, exit status or None on timeout).

    CPU seconds are user + sys of the client and every descendant it waited for (GNU time's
    %U and %S come from wait4's rusage, which includes reaped children).

    The peak RSS comes from GNU time (%M, its wait4 of the client), not from our own wait4 of
    the spawned pid: a child forked from this Python process inherits its high-water mark
    (fork copies the mm; exec keeps the old peak in ru_maxrss), so our wait4 would report
    max(python's peak, client's peak). /usr/bin/time is small (~1 MiB), so its floor is harmless.
    """
    rss_file = log + ".rss"
    wrapped = [TIME, "-f", "%M %U %S", "-o", rss_file, *argv] if os.path.exists(TIME) else argv
    with open(log, "wb") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(wrapped, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, preexec_fn=delayline.enter(netns),
                                start_new_session=True)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                os.wait4(proc.pid, 0)
                proc.returncode = -9
                return time.perf_counter() - start, None, None, None
            time.sleep(0.005)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
    rss = usage.ru_maxrss
    cpu = usage.ru_utime + usage.ru_stime
    if wrapped is not argv:
        try:
            with open(rss_file) as f:
                fields = f.read().strip().splitlines()[-1].split()
            rss, cpu = int(fields[0]), float(fields[1]) + float(fields[2])
        except (OSError, ValueError, IndexError):
            rss = cpu = None
    return elapsed, rss, cpu, proc.returncode


# ---------------------------------------------------------------- clients

def curl_config(endpoint, repo, files, home):
    path = os.path.join(home, "curl.cfg")
    with open(path, "w") as f:
        for p, _, _ in files:
            f.write(f'url = "{endpoint}/{repo}/resolve/main/{p}"\n')
            f.write(f'output = "{os.path.join(home, "out", p)}"\n')
    return path


def client_argv(name, template, endpoint, repo, files, home):
    if name == "hfkit":
        return [HF, "download", repo, "--quiet"]
    if name == "python-hf":
        return [PY_HF, "download", repo, "--quiet"]
    if name == "curl":
        cfg = curl_config(endpoint, repo, files, home)
        return [CURL, "-q", "-s", "-S", "-f", "--create-dirs", "-K", cfg]
    if name == "curl16":
        (path, size, _), = files
        url = f"{endpoint}/{repo}/resolve/main/{path}"
        argv = [CURL, "-q", "-s", "-S", "--parallel", "--parallel-max", "16"]
        n = 16
        for i in range(n):
            a, b = size * i // n, size * (i + 1) // n - 1
            if i:
                argv.append("--next")
            argv += ["-f", "-r", f"{a}-{b}", "-o", os.path.join(home, f"part_{i}"), url]
        return argv
    return shlex.split(template.format(endpoint=endpoint, repo=repo, home=home))


def parse_extra():
    extra = {}
    for item in filter(None, os.environ.get("HFKIT_BENCH_CLIENTS", "").split(";")):
        name, template = item.split("=", 1)
        extra[name.strip()] = template.strip()
    return extra


# ---------------------------------------------------------------- one link

def bench_link(link, runs, repos, clients, specs, timeout, syscalls=False):
    netns_srv = netns_cli = None
    host = "127.0.0.1"
    notes = []
    link_desc = "loopback (127.0.0.1)"
    if link == "delayed":
        link_desc = delayline.up()
        netns_srv, netns_cli, host = "ld-srv", "ld-cli", delayline.SERVER_HOST
    server = None
    results = []
    try:
        warm_page_cache()
        server = Server(host, netns_srv)
        endpoint = server.url
        print(f"\n== link: {link_desc}; server {endpoint}; {runs} run(s) per client", flush=True)
        for repo in repos:
            files = specs[repo]
            total = sum(s for _, s, _ in files)
            names = [c for c in clients if c[0] != "curl16" or repo == "bench/single"]
            samples = {c: [] for c, _ in names}
            failures = {c: [] for c, _ in names}
            server_cpu = {c: [] for c, _ in names}
            skipped = set()
            for rnd in range(runs):
                order = names[rnd % len(names):] + names[:rnd % len(names)]
                for name, template in order:
                    if name in skipped:
                        continue
                    home = tempfile.mkdtemp(prefix="home-", dir=WORK)
                    try:
                        env = base_env(endpoint, home)
                        argv = client_argv(name, template, endpoint, repo, files, home)
                        log = os.path.join(WORK, f"last-{name}.log")
                        os.sync()
                        srv_before = server.cpu_s()
                        wall, rss, cpu, rc = run_measured(argv, env, home, netns_cli, timeout, log)
                        srv_after = server.cpu_s()
                        srv_cpu = srv_after - srv_before if None not in (srv_before, srv_after) else None
                        got = dir_bytes(home) - (os.path.getsize(os.path.join(home, "curl.cfg"))
                                                 if name == "curl" else 0)
                        with open(log, "rb") as f:
                            tail = f.read()[-1500:].decode(errors="replace")
                        if rc is None:
                            skipped.add(name)
                            failures[name].append(f"timed out after {timeout:.0f}s; remaining runs skipped")
                            print(f"  {repo:<13} {name:<10} TIMEOUT ({timeout:.0f}s), {got/1e6:.0f} MB on disk", flush=True)
                        elif rc != 0 or got < total:
                            failures[name].append(f"exit {rc}, {got} of {total} bytes on disk: {tail.strip()}")
                            print(f"  {repo:<13} {name:<10} FAILED exit {rc}, {got}/{total} bytes\n{tail}", flush=True)
                        else:
                            samples[name].append((wall, rss, got, cpu))
                            server_cpu[name].append(srv_cpu)
                            print(f"  {repo:<13} {name:<10} run {rnd+1}: {wall:7.2f} s  {total/1e6/wall:8.1f} MB/s"
                                  f"  {(cpu or 0):6.2f} cpu s  {(rss or 0)/1024:7.1f} MiB"
                                  f"  server {(srv_cpu or 0):5.2f} cpu s", flush=True)
                    finally:
                        # The homes of many-file repos stay until the benchmark ends (they
                        # go with WORK): on ext4 without a journal (this machine's disk) an
                        # inode deleted in the last minutes is passed over when a new one is
                        # allocated (`recently_deleted`), so removing 3,000 files made every
                        # file creation of the next client slower, the more so the more inodes
                        # it creates per file (1,000 small files: 0.2-0.5 s after a quiet
                        # minute, 2.5 s right after the previous run's home was removed).
                        if len(files) <= 100:
                            shutil.rmtree(home, ignore_errors=True)
            traced = {}
            for name, template in names if syscalls else []:
                home = tempfile.mkdtemp(prefix="home-", dir=WORK)
                try:
                    argv = client_argv(name, template, endpoint, repo, files, home)
                    counts = count_syscalls(argv, base_env(endpoint, home), home, netns_cli,
                                            os.path.join(WORK, f"strace-{name}.log"))
                    traced[name] = counts and syscall_summary(counts, total)
                    if counts:
                        t = traced[name]
                        print(f"  {repo:<13} {name:<10} syscalls/GB: {t['all_per_gb']} (wake-ups {t['wakeups_per_gb']},"
                              f" futex {t['futex_per_gb']}, reads {t['reads_per_gb']}, writes {t['writes_per_gb']})",
                              flush=True)
                finally:
                    shutil.rmtree(home, ignore_errors=True)
            for name, _ in names:
                s = samples[name]
                results.append({
                    "syscalls": traced.get(name),
                    "link": link, "repo": repo, "client": name, "repo_bytes": total, "files": len(files),
                    "runs_ok": len(s), "wall_s": [round(w, 4) for w, _, _, _ in s],
                    "peak_rss_kib": [r for _, r, _, _ in s],
                    "cpu_s": [c for _, _, _, c in s],
                    "median_wall_s": statistics.median([w for w, _, _, _ in s]) if s else None,
                    "median_mb_s": statistics.median([total / 1e6 / w for w, _, _, _ in s]) if s else None,
                    "median_cpu_s": _median([c for _, _, _, c in s if c is not None]),
                    "median_cpu_s_per_gb": _median([c / (total / 1e9) for _, _, _, c in s if c is not None]),
                    "median_server_cpu_s": _median([c for c in server_cpu[name] if c is not None]),
                    "median_rss_mib": _median([r / 1024 for _, r, _, _ in s if r is not None]),
                    "failures": failures[name],
                })
                if failures[name]:
                    notes.append(f"{repo} {name}: " + " | ".join(f.splitlines()[0][:300] for f in failures[name]))
    finally:
        if server:
            server.stop()
            with open(server.log) as f:
                srv_err = f.read().strip()
            srv_err = "\n".join(l for l in srv_err.splitlines()
                                 if not l.startswith("Hint:") and " access " not in l)
            if srv_err:
                notes.append("server stderr: " + srv_err[-800:])
        if link == "delayed":
            counters = delayline.down()
            if counters:
                notes.append("linkdelay counters: " + counters)
    for r in results:  # ratios against the baselines of the same repo
        for base in ("curl", "curl16", "hfrs"):
            b = next((x for x in results if x["repo"] == r["repo"] and x["client"] == base), None)
            ok = b and b["median_mb_s"] and r["median_mb_s"]
            r[f"ratio_vs_{base}"] = round(r["median_mb_s"] / b["median_mb_s"], 3) if ok else None
    return link_desc, results, notes


WAKEUPS = ("futex", "epoll_wait", "epoll_pwait", "poll", "ppoll", "select", "pselect6")
READS = ("read", "recvfrom", "recvmsg", "readv")
WRITES = ("write", "pwrite64", "pwritev", "pwritev2", "writev", "sendto", "sendmsg", "copy_file_range", "sendfile")


def count_syscalls(argv, env, cwd, netns, log):
    """System calls of one run of argv by name (`strace -c -f`), or None when strace failed."""
    out_file = log + ".strace"
    with open(log, "wb") as out:
        proc = subprocess.run(["strace", "-c", "-f", "-o", out_file, *argv], env=env, cwd=cwd,
                              stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                              preexec_fn=delayline.enter(netns))
    if proc.returncode != 0:
        return None
    counts = {}
    with open(out_file) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
                counts[parts[-1]] = int(parts[3])
    return counts


def syscall_summary(counts, repo_bytes):
    per_gb = lambda names: round(sum(counts.get(n, 0) for n in names) / (repo_bytes / 1e9))
    return {"all_per_gb": round(sum(counts.values()) / (repo_bytes / 1e9)), "wakeups_per_gb": per_gb(WAKEUPS),
            "futex_per_gb": per_gb(("futex",)), "reads_per_gb": per_gb(READS), "writes_per_gb": per_gb(WRITES),
            "counts": counts}


def _median(values):
    return statistics.median(values) if values else None


def render(link, link_desc, runs, results, notes):
    lines = [f"download, link {link}: {link_desc}",
             f"median of {runs} alternating run(s); MB/s = repo bytes (1e6) / wall s; CPU = user+sys of the client's"
             " process tree; RSS = peak of the client process; srv CPU = CPU s of the server (hf serve) during the run"
             " (on loopback client and server share the cores: wall >= (CPU + srv CPU) / cores)",
             "",
             f"{'repo':<13} {'client':<12} {'size MB':>8} {'files':>5} {'runs':>4} {'wall s':>8} {'MB/s':>8} "
             f"{'CPU s':>6} {'CPU s/GB':>8} {'srv CPU':>7} {'RSS MiB':>8} {'x curl':>7} {'x curl16':>8} {'x hfrs':>7}"]
    fmt = lambda v, spec: "-" if v is None else format(v, spec)
    for r in results:
        lines.append(f"{r['repo']:<13} {r['client']:<12} {r['repo_bytes']/1e6:>8.1f} {r['files']:>5} "
                     f"{r['runs_ok']:>4} {fmt(r['median_wall_s'], '8.2f')} {fmt(r['median_mb_s'], '8.1f')} "
                     f"{fmt(r['median_cpu_s'], '6.2f')} {fmt(r['median_cpu_s_per_gb'], '8.2f')} "
                     f"{fmt(r.get('median_server_cpu_s'), '7.2f')} "
                     f"{fmt(r['median_rss_mib'], '8.1f')} {fmt(r['ratio_vs_curl'], '7.2f')} "
                     f"{fmt(r['ratio_vs_curl16'], '8.2f')} {fmt(r['ratio_vs_hfrs'], '7.2f')}")
    traced = [r for r in results if r.get("syscalls")]
    if traced:
        lines += ["", "system calls per GB, one run under strace -c -f (wake-ups: futex + epoll_wait/poll;"
                  " reads: read/recvfrom/recvmsg; writes: write/pwritev/sendto/...)",
                  f"{'repo':<13} {'client':<12} {'all':>9} {'wake-ups':>9} {'futex':>9} {'reads':>9} {'writes':>9}"]
        for r in traced:
            t = r["syscalls"]
            lines.append(f"{r['repo']:<13} {r['client']:<12} {t['all_per_gb']:>9} {t['wakeups_per_gb']:>9} "
                         f"{t['futex_per_gb']:>9} {t['reads_per_gb']:>9} {t['writes_per_gb']:>9}")
    if notes:
        lines += ["", "notes:"] + [f"  {n}" for n in notes]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, help="runs per client and repo (default 3 loopback, 1 delayed)")
    ap.add_argument("--link", choices=["loopback", "delayed", "both"], default="loopback")
    ap.add_argument("--repos", default="bench/big,bench/single,bench/many")
    ap.add_argument("--clients", help="comma-separated subset of clients (default all)")
    ap.add_argument("--tag", default="", help="suffix of the result files (download-<link>-<tag>.*)")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per run before it is killed")
    ap.add_argument("--syscalls", action="store_true", help="also count each client's system calls once (strace)")
    args = ap.parse_args()

    if os.geteuid() != 0 and args.link != "loopback":
        sys.exit("the delayed link needs root (network namespaces)")
    if not os.path.exists(HF):
        subprocess.run(["cargo", "build", "--release", "--quiet", "-p", "hf"], cwd=ROOT, check=True)
    if not os.path.exists(PY_HF):
        sys.exit(f"{PY_HF} missing: run `bash scripts/test` first to make .venv")
    specs = repo_specs()
    repos = [r for r in args.repos.split(",") if r]
    for r in repos:
        if r not in specs:
            sys.exit(f"unknown repo {r}; known: {', '.join(specs)}")
    clients = [("hfkit", None), ("python-hf", None), ("curl", None), ("curl16", None)]
    clients += list(parse_extra().items())
    if args.clients:
        keep = args.clients.split(",")
        clients = [c for c in clients if c[0] in keep]
    ensure_data(specs)
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    os.makedirs(RESULTS, exist_ok=True)
    links = ["loopback", "delayed"] if args.link == "both" else [args.link]
    try:
        for link in links:
            runs = args.runs or (3 if link == "loopback" else 1)
            started = time.time()
            link_desc, results, notes = bench_link(link, runs, repos, clients, specs, args.timeout, args.syscalls)
            text = render(link, link_desc, runs, results, notes)
            print("\n" + text, flush=True)
            with open(os.path.join(RESULTS, f"download-{link}{'-' + args.tag if args.tag else ''}.txt"), "w") as f:
                f.write(text)
            with open(os.path.join(RESULTS, f"download-{link}{'-' + args.tag if args.tag else ''}.json"), "w") as f:
                json.dump({"link": link, "link_desc": link_desc, "runs": runs,
                           "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cores": os.cpu_count(),
                           "elapsed_s": round(time.time() - started, 1),
                           "results": results, "notes": notes}, f, indent=1)
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
