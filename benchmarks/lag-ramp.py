#!/usr/bin/env python3
"""Async replication lag against the write rate, from a fresh start and warm (issue 20 d).

1. Capacity: on a warmed-up `kagami demo`, fio writes 4k random blocks at QD16 as fast as it can for
   FIO_RUNTIME seconds; the replicated capacity is the bytes written divided by the time until the
   standby holds all of them.
2. A freshly started demo (nothing compiled yet, as after an appliance restart) is then written at
   20, 40, 60 and 80 % of that capacity (fio --rate), STEP seconds each, without a pause between
   steps; the primary's lagSeconds (/status) is sampled every 100 ms. The same ramp then runs again
   on the now warm demo.

Prints per step the rate asked and done, and lag p50 / p99 / max; asserts nothing.
Goal (issue 20 d): p99 <= 1 s at every step, fresh and warm.

Env: FIO_RUNTIME (15: the capacity run), FIO_WARMUP (10), KAGAMI_RAMP_STEP (15 s),
KAGAMI_RAMP_STEPS ("20 40 60 80": percent of capacity).
"""
import json, os, sys, tempfile, threading, time, subprocess

from benchlib import Demo, wait_until

RUNTIME = int(os.environ.get("FIO_RUNTIME", "15"))
WARMUP = int(os.environ.get("FIO_WARMUP", "10"))
STEP = int(os.environ.get("KAGAMI_RAMP_STEP", "15"))
STEPS = [int(p) for p in os.environ.get("KAGAMI_RAMP_STEPS", "20 40 60 80").split()]


def log(msg):
    print(f"lag-ramp: {msg}", file=sys.stderr, flush=True)


def fio(uri, runtime, out, rate_kib=None):
    args = ["fio", "--name=w", "--ioengine=nbd", f"--uri={uri}", "--rw=randwrite", "--bs=4k", "--iodepth=16",
            "--size=1G", "--time_based", f"--runtime={runtime}", "--output-format=json", f"--output={out}"]
    if rate_kib:
        args.append(f"--rate={rate_kib}k")
    started = time.monotonic()
    subprocess.run(args, check=True, timeout=runtime + 120, stdout=subprocess.DEVNULL)
    return started, json.load(open(out))["jobs"][0]["write"]


def percentile(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


class LagSampler(threading.Thread):
    """Samples the primary's lagSeconds every 100 ms until stopped."""

    def __init__(self, demo):
        super().__init__(daemon=True)
        self.demo, self.samples, self.halt = demo, [], threading.Event()

    def run(self):
        while not self.halt.wait(0.1):
            try:
                self.samples.append(self.demo.lag_seconds())
            except OSError:
                pass  # a slow answer is not a lag sample


def ramp(demo, capacity_mib, work, label):
    rows = []
    for pct in STEPS:
        rate = capacity_mib * pct / 100
        sampler = LagSampler(demo)
        sampler.start()
        _, job = fio(demo.uri, STEP, os.path.join(work, f"{label}-{pct}.json"), rate_kib=int(rate * 1024))
        sampler.halt.set()
        sampler.join()
        lag = sampler.samples
        row = {"pct": pct, "asked_mib_s": rate, "done_mib_s": job["bw_bytes"] / (1 << 20), "samples": len(lag),
               "p50": percentile(lag, 50), "p99": percentile(lag, 99), "max": max(lag) if lag else float("nan")}
        log(f"{label} {pct}%: {row['done_mib_s']:.1f} of {rate:.1f} MiB/s, lag p50 {row['p50']:.3f} p99 {row['p99']:.3f}"
            f" max {row['max']:.3f} s ({len(lag)} samples)")
        rows.append(row)
    return rows


def main():
    work = tempfile.mkdtemp(prefix="kagami-lag-ramp.")
    try:
        with Demo(os.path.join(work, "capacity")) as demo:
            if WARMUP:
                fio(demo.uri, WARMUP, os.path.join(work, "warm.json"))
                wait_until(lambda: demo.behind() == 0, "catching up after the warm-up", 600)
            started, job = fio(demo.uri, RUNTIME, os.path.join(work, "capacity.json"))
            held = wait_until(lambda: demo.behind() == 0, "holding the capacity run", 600)
            capacity = job["io_bytes"] / (1 << 20) / (held - started)
            log(f"replicated capacity: {capacity:.1f} MiB/s (acked {job['bw_bytes'] / (1 << 20):.1f} MiB/s,"
                f" held {held - started - RUNTIME:.1f}s after the writes)")
        with Demo(os.path.join(work, "ramp")) as demo:
            fresh = ramp(demo, capacity, work, "fresh")
            wait_until(lambda: demo.behind() == 0, "catching up between the ramps", 600)
            warm = ramp(demo, capacity, work, "warm")
    finally:
        subprocess.run(["rm", "-rf", work])
    print()
    print(f"method: 4k randwrite QD16 at a fixed rate (fio --rate), {STEP}s a step, lagSeconds sampled every 100 ms;"
          f" replicated capacity {capacity:.1f} MiB/s (warm, {RUNTIME}s run, until the standby held it)")
    print(f"{'start':<6} {'step':>5} {'asked MiB/s':>12} {'done MiB/s':>11} {'lag p50 s':>10} {'lag p99 s':>10} {'lag max s':>10}")
    for label, rows in (("fresh", fresh), ("warm", warm)):
        for r in rows:
            print(f"{label:<6} {r['pct']:>4}% {r['asked_mib_s']:>12.1f} {r['done_mib_s']:>11.1f} {r['p50']:>10.3f} {r['p99']:>10.3f} {r['max']:>10.3f}")
    worst = max(r["p99"] for r in fresh + warm)
    print(f"worst p99 {worst:.3f} s; goal (issue 20 d): p99 <= 1 s at every step up to 80 %, fresh and warm")
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, f"lag-ramp-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json")
    with open(out, "w") as f:
        json.dump({"capacity_mib_s": capacity, "step_s": STEP, "fresh": fresh, "warm": warm}, f, indent=1)
    print(f"results: {out}")


if __name__ == "__main__":
    main()
