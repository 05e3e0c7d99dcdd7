#!/usr/bin/env python3
"""4k write latency of sync mode against async mode, on loopback, measured in the same run.

Runs `kagami demo --mode async`, then `kagami demo --mode sync`, each with fio's nbd engine doing
4k random writes (after an unmeasured warm-up) at queue depth 1 and 16, and prints the p50/p99
completion latencies and the ratio sync/async of the p99 (goal: sync <= 2x async). Sync mode adds
a WAN round trip and a standby journal sync to every acknowledgement; on loopback the round trip
is small, so the standby's sync dominates.

Env: FIO_RUNTIME (default 15), FIO_WARMUP (default 5), KAGAMI_STANDBY_DATA_DIR (the standby's
data on another filesystem, e.g. /dev/shm, as if it had a disk of its own).
"""
import json, os, shutil, signal, subprocess, sys, tempfile, time

from benchlib import free_ports

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNTIME = int(os.environ.get("FIO_RUNTIME", "15"))
WARMUP = int(os.environ.get("FIO_WARMUP", "5"))


def log(msg):
    print(f"sync-latency: {msg}", file=sys.stderr, flush=True)




def fio(uri, depth, runtime, out):
    args = ["fio", "--name=lat", "--ioengine=nbd", f"--uri={uri}", "--rw=randwrite", "--bs=4k", f"--iodepth={depth}", "--size=1G",
            "--time_based", f"--runtime={runtime}", "--output-format=json", f"--output={out}"]
    subprocess.run(args, check=True, timeout=runtime + 120, stdout=subprocess.DEVNULL)
    w = json.load(open(out))["jobs"][0]["write"]
    p = w["clat_ns"]["percentile"]
    return w["iops"], p["50.000000"] / 1000, p["99.000000"] / 1000


def measure(mode, work):
    pnbd, snbd, padm, sadm, wan = free_ports(5)
    data = os.path.join(work, mode)
    cmd = [os.path.join(REPO, "kagami"), "demo", "--mode", mode, "--data-dir", data, "--primary-nbd", f"127.0.0.1:{pnbd}", "--standby-nbd", f"127.0.0.1:{snbd}",
           "--primary-admin", f"127.0.0.1:{padm}", "--standby-admin", f"127.0.0.1:{sadm}", "--wan", f"127.0.0.1:{wan}"]
    standby_dir = os.environ.get("KAGAMI_STANDBY_DATA_DIR")
    if standby_dir:
        cmd += ["--standby-data-dir", os.path.join(standby_dir, f"kagami-sync-latency-{os.getpid()}-{mode}")]
    demo = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        for line in demo.stdout:
            if "ready" in line:
                break
            if time.monotonic() > deadline:
                sys.exit("sync-latency: the demo did not get ready")
        uri = f"nbd://127.0.0.1:{pnbd}/vol0"
        rows = {}
        for depth in (1, 16):
            if WARMUP:
                fio(uri, depth, WARMUP, os.path.join(work, "warmup.json"))
            log(f"{mode}: 4k randwrite QD{depth} for {RUNTIME}s")
            rows[depth] = fio(uri, depth, RUNTIME, os.path.join(work, f"{mode}-{depth}.json"))
        return rows
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        try:
            demo.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
        if standby_dir:
            shutil.rmtree(os.path.join(standby_dir, f"kagami-sync-latency-{os.getpid()}-{mode}"), ignore_errors=True)


def main():
    work = tempfile.mkdtemp(prefix="kagami-sync-latency.")
    try:
        a = measure("async", work)
        s = measure("sync", work)
        print()
        print(f"{'QD':>3} {'async IOPS':>11} {'p50 us':>8} {'p99 us':>8} {'sync IOPS':>10} {'p50 us':>8} {'p99 us':>8} {'p99 sync/async':>15}")
        for d in (1, 16):
            print(f"{d:>3} {a[d][0]:>11.0f} {a[d][1]:>8.0f} {a[d][2]:>8.0f} {s[d][0]:>10.0f} {s[d][1]:>8.0f} {s[d][2]:>8.0f} {s[d][2] / a[d][2]:>15.2f}")
        print("goal: sync p99 <= 2x async p99")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
