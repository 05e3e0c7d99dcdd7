"""Helpers shared by the Python benchmark drivers in this folder."""
import json
import random
import socket
import sys
import time
import urllib.request


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1, below Linux's ephemeral range."""
    held = []
    while len(held) < n:
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", random.randrange(20000, 32768)))
            held.append(s)
        except OSError:
            s.close()
    ports = [s.getsockname()[1] for s in held]
    for s in held:
        s.close()
    return ports


def status(admin):
    """A site's GET /status (plain HTTP admin port) as a dict."""
    with urllib.request.urlopen(f"http://{admin}/status", timeout=3) as r:
        return json.load(r)


def await_status(admin, ok, what, timeout, procs, who="bench"):
    """Polls the site's status until ok(status) holds; exits (naming who) on a deadline or a dead process."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        for p in procs:
            if p.poll() is not None:
                sys.exit(f"{who}: a process exited ({p.args}) while waiting for {what}")
        try:
            last = status(admin)
            if ok(last):
                return last
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"{who}: timed out waiting for {what}; last status {last}")
