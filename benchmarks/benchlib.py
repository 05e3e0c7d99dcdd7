"""Helpers shared by the Python benchmark drivers in this folder."""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
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


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def port_open(port, host="127.0.0.1"):
    """True if something accepts TCP connections at host:port."""
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False


def wait_until(done, what, timeout, poll=0.02):
    """Polls done() every `poll` seconds; returns the monotonic time at which it first held."""
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not within {timeout}s")
        time.sleep(poll)
    return time.monotonic()


class Demo:
    """`kagami demo` on free loopback ports, in its own process group, as a context manager:
    `with Demo(data_dir, "--mode", "sync") as d: d.uri, d.status(), d.behind()`."""

    def __init__(self, data_dir, *extra, ready_timeout=300):
        self.data_dir, self.extra, self.ready_timeout = data_dir, list(extra), ready_timeout

    def __enter__(self):
        pnbd, snbd, padm, sadm, wan = free_ports(5)
        self.admin = f"127.0.0.1:{padm}"
        self.standby_admin = f"127.0.0.1:{sadm}"
        self.uri = f"nbd://127.0.0.1:{pnbd}/vol0"
        cmd = [os.path.join(REPO, "kagami"), "demo", "--data-dir", self.data_dir,
               "--primary-nbd", f"127.0.0.1:{pnbd}", "--standby-nbd", f"127.0.0.1:{snbd}",
               "--primary-admin", self.admin, "--standby-admin", self.standby_admin,
               "--wan", f"127.0.0.1:{wan}"] + self.extra
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True)
        self.started = time.monotonic()
        deadline = self.started + self.ready_timeout
        for line in self.proc.stdout:
            if "ready" in line:
                break
            if time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError("kagami demo did not get ready")
        else:
            raise RuntimeError("kagami demo exited before it was ready")
        self.ready = time.monotonic()
        return self

    def status(self, admin=None):
        return status(admin or self.admin)

    def behind(self):
        """Bytes the primary journaled that the standby does not hold yet."""
        return sum(v.get("lagBytes") or 0 for v in self.status()["volumes"])

    def lag_seconds(self):
        return max((v.get("lagSeconds") or 0) for v in self.status()["volumes"])

    def __exit__(self, *exc):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass
        if self.data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def bootstrap(work, *extra, ready_timeout=300):
    """Two site configurations (tokyo.yaml, the primary; hiroshima.yaml, the standby) written by a
    `kagami demo` that is stopped once ready, for drivers that run each site as its own `kagami run`
    process. Returns (primary nbd port, primary admin, standby admin)."""
    with Demo(work, *extra, ready_timeout=ready_timeout) as demo:
        primary_nbd = int(demo.uri.rsplit(":", 1)[1].split("/")[0])
        admins = (demo.admin, demo.standby_admin)
        demo.data_dir = None  # keep what it wrote
    return primary_nbd, admins[0], admins[1]


class Site:
    """One `kagami run --config CONFIG` process in its own process group, optionally pinned to
    `cpus` (taskset's list, e.g. "0"), its output in LOGDIR/NAME.log."""

    def __init__(self, name, config, admin, logdir, cpus=None):
        self.name, self.config, self.admin, self.logdir, self.cpus = name, config, admin, logdir, cpus
        self.proc = None

    def start(self, timeout=300):
        out = open(os.path.join(self.logdir, self.name + ".log"), "ab")
        env = dict(os.environ, KAGAMI_SKIP_BUILD="1")
        pin = ["taskset", "-c", self.cpus] if self.cpus else []
        self.proc = subprocess.Popen(pin + [os.path.join(REPO, "kagami"), "run", "--config", self.config],
                                     stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.wait(lambda s: True, "admin answering", timeout)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None

    def status(self):
        return status(self.admin)

    def wait(self, ok, what, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"site {self.name} exited while waiting for {what}")
            try:
                s = self.status()
                if ok(s):
                    return s
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"timed out waiting for {what} of site {self.name}")
