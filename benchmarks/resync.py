#!/usr/bin/env python3
"""Delta resync against a full copy, measured in the same run (issue: resync after overflow).

Two sites run as separate `kagami run` processes on loopback (configurations bootstrapped by
`kagami demo`). The volume (KAGAMI_BENCH_VOLUME, default 4GiB) is filled with random data from
nbdkit's `random` plugin and replicated. Then:

  delta: the standby stops; fio rewrites ~1% of the volume (KAGAMI_BENCH_CHANGED, default 1) in
         256 KiB random writes; the history overflows its 16 MiB capacity into the changed-region
         map; the standby starts and the time until it is in sync again is measured.
  full:  the standby stops and loses its disk (journal and volume); it starts and the whole volume
         is copied; the time until it is in sync is measured.

Prints both times and the ratio full/delta (goal >= 20x). Measures only; asserts nothing.
Needs: a JDK 25 + Maven (./kagami builds itself), fio, nbdcopy (libnbd-bin), nbdkit.
"""
import os, shutil, signal, subprocess, sys, tempfile, time

from benchlib import Site as BaseSite, free_ports

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOLUME = os.environ.get("KAGAMI_BENCH_VOLUME", "4GiB")
CHANGED_PERCENT = float(os.environ.get("KAGAMI_BENCH_CHANGED", "1"))
TIMEOUT = int(os.environ.get("KAGAMI_BENCH_TIMEOUT", "900"))


def log(msg):
    print(f"resync-bench: {msg}", file=sys.stderr, flush=True)




def size_bytes(text):
    units = {"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
    for u, m in units.items():
        if text.endswith(u):
            return int(text[: -len(u)]) * m
    return int(text)


class Site(BaseSite):
    """A site whose waits end the benchmark with a message (and use its own timeout)."""

    def wait(self, ok, what, timeout=TIMEOUT):
        try:
            return super().wait(ok, what, timeout)
        except RuntimeError as e:
            sys.exit(f"resync-bench: {e}")


def vol0(s):
    return s["volumes"][0]


def link_up(primary):
    """Waits for the primary's link to the restarted standby; returns when it was seen up.

    The copy starts with the connection; the shipper's reconnect back-off and the standby's JVM
    start-up are the same for both cases and not part of what is compared."""
    primary.wait(lambda s: s["link"]["connected"], "the link to the standby")
    return time.monotonic()


def in_sync(primary, standby):
    """Both sides caught up: no resync due, nothing unacknowledged, everything applied."""
    p = vol0(primary.status())
    target = p["lastJournaledSeq"]
    primary.wait(lambda s: "resync" not in vol0(s) and vol0(s)["lastAckedByPeerSeq"] >= target and vol0(s)["lagBytes"] == 0 and vol0(s)["state"] == "replicating", "primary in sync")
    standby.wait(lambda s: vol0(s)["lastAppliedSeq"] >= target and vol0(s)["state"] == "replicating", "standby applied and consistent")


def main():
    for tool in ("fio", "nbdcopy", "nbdkit"):
        if shutil.which(tool) is None:
            sys.exit(f"resync-bench: {tool} not found (scripts/test installs it)")
    work = tempfile.mkdtemp(prefix="kagami-resync-bench.")
    sites = []
    try:
        pnbd, snbd, padm, sadm, wan = free_ports(5)
        log(f"bootstrapping two sites in {work} (kagami demo writes their configurations)")
        demo = subprocess.Popen(
            [os.path.join(REPO, "kagami"), "demo", "--data-dir", work, "--volume-size", VOLUME, "--primary-nbd", f"127.0.0.1:{pnbd}", "--standby-nbd", f"127.0.0.1:{snbd}",
             "--primary-admin", f"127.0.0.1:{padm}", "--standby-admin", f"127.0.0.1:{sadm}", "--wan", f"127.0.0.1:{wan}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, text=True, env=dict(os.environ, KAGAMI_SKIP_BUILD=os.environ.get("KAGAMI_SKIP_BUILD", "")))
        deadline = time.monotonic() + 300
        for line in demo.stdout:
            if "ready" in line or time.monotonic() > deadline:
                break
        os.killpg(demo.pid, signal.SIGTERM)
        demo.wait(60)
        tokyo = os.path.join(work, "tokyo.yaml")
        with open(tokyo) as f:
            text = f.read()
        with open(tokyo, "w") as f:
            f.write(text.replace("mode: async}", "mode: async, historyCapacity: 16MiB}"))
        primary = Site("tokyo", tokyo, f"127.0.0.1:{padm}", work)
        standby = Site("hiroshima", os.path.join(work, "hiroshima.yaml"), f"127.0.0.1:{sadm}", work)
        sites += [primary, standby]
        standby.start()
        primary.start()
        primary.wait(lambda s: s["link"]["connected"], "the link")
        uri = f"nbd://127.0.0.1:{pnbd}/vol0"
        log(f"filling the {VOLUME} volume with random data and replicating it")
        subprocess.run(["nbdcopy", "--", "[", "nbdkit", "--exit-with-parent", "random", f"size={size_bytes(VOLUME)}", "seed=42", "]", uri], check=True, timeout=TIMEOUT)
        in_sync(primary, standby)

        # Delta: ~1% changed while the standby is away.
        standby.stop()
        changed = int(size_bytes(VOLUME) * CHANGED_PERCENT / 100) // (256 << 10) * (256 << 10)
        log(f"standby stopped; rewriting {changed >> 20} MiB ({CHANGED_PERCENT}%) in 256 KiB random writes")
        subprocess.run(["fio", "--name=change", "--ioengine=nbd", f"--uri={uri}", "--rw=randwrite", "--bs=256k", f"--io_size={changed}", "--iodepth=8",
                        "--randrepeat=0", "--norandommap=0", "--output=/dev/null"], check=True, timeout=TIMEOUT)
        primary.wait(lambda s: vol0(s)["state"] == "bitmap" and vol0(s).get("resync", {}).get("remainingBytes", 0) > 0, "the history to overflow into the changed-region map")
        dirty = vol0(primary.status())["resync"]["remainingBytes"]
        standby.start()
        t0 = link_up(primary)
        in_sync(primary, standby)
        delta = time.monotonic() - t0

        # Full: the standby loses its disk.
        standby.stop()
        for d in ("journal", "volumes"):
            shutil.rmtree(os.path.join(work, "hiroshima", d), ignore_errors=True)
        log("standby stopped and wiped; measuring a full copy")
        standby.start()
        t0 = link_up(primary)
        in_sync(primary, standby)
        full = time.monotonic() - t0

        print()
        print(f"{'case':<28}{'copied':>14}{'seconds':>10}")
        print(f"{'delta resync (' + str(CHANGED_PERCENT) + '% changed)':<28}{dirty / 2**20:>10.1f} MiB{delta:>10.1f}")
        print(f"{'full copy':<28}{size_bytes(VOLUME) / 2**20:>10.1f} MiB{full:>10.1f}")
        print(f"full / delta: {full / delta:.1f}x  (goal >= 20x)")
        print("(each time: from the link coming up after the standby's start until both sites report it in sync)")
    finally:
        for s in sites:
            s.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
