#!/usr/bin/env python3
"""What the 40 ms line delivers to the best raw HTTP client: the ceiling `download.py`'s
40 ms rows are read against.

The line's nominal rate (1 Gbit/s, 1500-byte packets) is 120.7 MB/s of TCP payload, but no
client reaches it: the delay line's queue drops packets when many streams share it. This
script measures what a client that never waits can get: N connections, each keeping K range
requests of R bytes outstanding on the same connection (HTTP/1.1 pipelining, which `hf serve`
answers in order), received into one buffer and thrown away: no hashing, no disk, no idle
round trip between two requests. K=1 is a client that asks for the next range only after the
current one ended, as every client built on reqwest or curl does.

    python3 bench/line_ceiling.py [--runs N]      (root: it brings up linkdelay's line)

Serves the 400 MiB file of `download.py`'s data (`/tmp/hfkit-bench-cache`, made by
`download.py` on its first run) with `hf serve --cache` (target/release/hf, or HFKIT_BENCH_HF)
behind the line. Results in `results/line-ceiling.txt`.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import delayline  # noqa: E402
import hf_serve  # noqa: E402

DATA = "/tmp/hfkit-bench-cache"
FILE = "/bench/single/resolve/main/model.safetensors"
# (connections, requests outstanding per connection, bytes per request)
SHAPES = [(8, 1, 3 << 20), (8, 2, 3 << 20), (8, 2, 3 << 19), (8, 3, 1 << 20), (12, 2, 1 << 20), (2, 1, 200 << 20), (1, 1, 1 << 30)]
NOMINAL_MB_S = 1e9 / 8 * 1448 / 1500 / 1e6  # TCP payload of 1500-byte packets at 1 Gbit/s


def client(url, connections, outstanding, request_bytes, size):
    """Fetches bytes 0..size of url as described above; returns the seconds it took."""
    u = urllib.parse.urlparse(url)
    lock = threading.Lock()
    next_start = [0]
    failures = []

    def take():
        with lock:
            start = next_start[0]
            if start >= size:
                return None
            next_start[0] = min(size, start + request_bytes)
            return start, next_start[0]

    def ask(sock, span):
        sock.sendall(f"GET {u.path} HTTP/1.1\r\nHost: {u.netloc}\r\nRange: bytes={span[0]}-{span[1] - 1}\r\n\r\n"
                     .encode())

    def connection():
        try:
            sock = socket.create_connection((u.hostname, u.port))
            buf = memoryview(bytearray(1 << 20))
            pending, asked = b"", []
            for _ in range(outstanding):
                span = take()
                if span:
                    ask(sock, span)
                    asked.append(span)
            while asked:
                start, end = asked.pop(0)
                while b"\r\n\r\n" not in pending:
                    got = sock.recv(65536)
                    if not got:
                        raise OSError("the server closed the connection")
                    pending += got
                head, pending = pending.split(b"\r\n\r\n", 1)
                if b" 206 " not in head.split(b"\r\n")[0]:
                    raise OSError(f"not a 206: {head[:80]!r}")
                left = end - start
                used = min(left, len(pending))
                left, pending = left - used, pending[used:]
                span = take()
                if span:  # the next request goes out before this body is read
                    ask(sock, span)
                    asked.append(span)
                while left:
                    n = sock.recv_into(buf[:min(len(buf), left)])
                    if not n:
                        raise OSError("the server closed the connection")
                    left -= n
            sock.close()
        except OSError as e:
            failures.append(str(e))

    began = time.monotonic()
    threads = [threading.Thread(target=connection) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        sys.exit(f"failed: {failures[0]}")
    return time.monotonic() - began


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        url, n, k, r, size = sys.argv[2], *map(int, sys.argv[3:7])
        print(f"{client(url, n, k, r, size):.4f}")
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    opts = parser.parse_args()
    if not os.path.isdir(os.path.join(DATA, "models--bench--single")):
        sys.exit(f"no data in {DATA}: run `python3 bench/download.py --runs 1` once first")
    link = delayline.up()
    server = None
    try:
        server, url = hf_serve.start(["--cache", DATA, "--host", delayline.SERVER_HOST], "/tmp/line-ceiling-server.log",
                                     "ld-srv")
        snapshots = os.path.join(DATA, "models--bench--single", "snapshots")
        size = os.path.getsize(os.path.join(snapshots, os.listdir(snapshots)[0], "model.safetensors"))
        times = {shape: [] for shape in SHAPES}
        for _ in range(opts.runs):
            for shape in SHAPES:
                out = subprocess.run([sys.executable, os.path.abspath(__file__), "--client", url + FILE,
                                      *map(str, shape), str(size)],
                                     capture_output=True, text=True, preexec_fn=delayline.enter("ld-cli"), check=True)
                times[shape].append(float(out.stdout))
        print(f"link: {link}; file {size / 1e6:.1f} MB; {opts.runs} alternating runs; nominal TCP payload "
              f"{NOMINAL_MB_S:.1f} MB/s")
        print(f"{'connections':>11} {'outstanding':>11} {'request':>9} {'MB/s':>7} {'x nominal':>9}  per run MB/s")
        for (n, k, r), ts in times.items():
            mb = size / 1e6 / statistics.median(ts)
            print(f"{n:>11} {k:>11} {r / 2**20:>7.1f}Mi {mb:>7.1f} {mb / NOMINAL_MB_S:>9.2f}  "
                  + ", ".join(f"{size / 1e6 / t:.1f}" for t in ts))
    finally:
        if server:
            server.kill()
            server.wait()
        delayline.down()


if __name__ == "__main__":
    main()
