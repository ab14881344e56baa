"""The 40 ms link of `/work/shared/tools/linkdelay` for the benchmarks (`download.py`,
`mirror.py`): bring it up and down, and start a process inside one of its two network
namespaces (`ld-srv` holds 198.18.0.1, `ld-cli` 198.18.0.2; each has its own loopback)."""

import ctypes
import os
import subprocess
import sys

LINKDELAY = "/work/shared/tools/linkdelay/linkdelay.sh"
SERVER_HOST = "198.18.0.1"
CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def enter(name):
    """preexec_fn joining network namespace `name` (what `ip netns exec` does, minus the
    extra process image whose RSS would count in ru_maxrss); `None` stays where it is."""
    if name is None:
        return None

    def join():
        fd = os.open(f"/var/run/netns/{name}", os.O_RDONLY)
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            os._exit(120)
        os.close(fd)
    return join


def up():
    """Brings the link up (root); refuses to touch a link someone else brought up. Returns
    linkdelay's description of it."""
    if subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout.split().count("ld-srv"):
        sys.exit("linkdelay is already up (netns ld-srv exists): not touching someone else's link")
    result = subprocess.run([LINKDELAY, "up"], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"linkdelay up failed:\n{result.stdout}{result.stderr}")
    return result.stdout.strip()


def down():
    """Takes the link down; returns the delay line's counters (drops, queue) as one line."""
    result = subprocess.run([LINKDELAY, "down"], capture_output=True, text=True)
    return " ".join(result.stderr.split())
