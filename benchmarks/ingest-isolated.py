#!/usr/bin/env python3
"""The primary's ingest with its standby isolated, against qemu-nbd on the same resources (issue 20 b).

The two sites run as separate `kagami run` processes (configurations bootstrapped by `kagami
demo`), pinned as if on two hosts: the primary and fio on CPU 0, the standby on CPU 1, its data in
KAGAMI_STANDBY_DATA_DIR when set (another filesystem, e.g. /dev/shm, as if it had a disk of its
own). The baseline, qemu-nbd serving a raw file on the primary's filesystem, gets exactly the
primary's resources: it and fio on CPU 0. Each workload runs unmeasured first (FIO_WARMUP), then
FIO_RUNTIME seconds measured; rounds alternate which side goes first. What is compared is what the
host sees: fio's acknowledged throughput. Kagami acknowledges a write once its local journal holds
it (async), so the standby's speed does not enter, only the primary's own cost per write.

Prints MiB/s for both and the ratio kagami/qemu-nbd per workload (goal, issue 20 b: >= 1.0 at 4k
and at 1 MiB); asserts nothing.

Env: FIO_RUNTIME (15), FIO_WARMUP (5), KAGAMI_BENCH_ROUNDS (2), KAGAMI_BENCH_CPUS ("0 1": the
primary's CPU and the standby's), KAGAMI_STANDBY_DATA_DIR.
"""
import json, os, shutil, subprocess, sys, tempfile, time

from benchlib import Site, bootstrap, free_ports, port_open, wait_until

RUNTIME = int(os.environ.get("FIO_RUNTIME", "15"))
WARMUP = int(os.environ.get("FIO_WARMUP", "5"))
ROUNDS = int(os.environ.get("KAGAMI_BENCH_ROUNDS", "2"))
PRIMARY_CPU, STANDBY_CPU = os.environ.get("KAGAMI_BENCH_CPUS", "0 1").split()
WORKLOADS = {
    "randwrite-4k": ["--rw=randwrite", "--bs=4k", "--iodepth=16"],
    "seqwrite-1m": ["--rw=write", "--bs=1M", "--iodepth=16"],
}
VOLUME = "4GiB"


def log(msg):
    print(f"ingest-isolated: {msg}", file=sys.stderr, flush=True)


def fio(uri, workload, runtime, out):
    args = ["taskset", "-c", PRIMARY_CPU, "fio", "--name=w", "--ioengine=nbd", f"--uri={uri}", "--size=4G",
            "--time_based", f"--runtime={runtime}", "--output-format=json", f"--output={out}"] + WORKLOADS[workload]
    subprocess.run(args, check=True, timeout=runtime + 120, stdout=subprocess.DEVNULL)
    return json.load(open(out))["jobs"][0]["write"]["bw_bytes"] / (1 << 20)


def measure(uri, work, who):
    rows = {}
    for w in WORKLOADS:
        if WARMUP:
            fio(uri, w, WARMUP, os.path.join(work, "warm.json"))
        subprocess.run(["sync"], timeout=300)  # no workload starts under another's write-back
        rows[w] = fio(uri, w, RUNTIME, os.path.join(work, f"{who}-{w}.json"))
        log(f"{who} {w}: {rows[w]:.1f} MiB/s")
    return rows


def kagami(work, standby_dir):
    extra = ["--volume-size", VOLUME]
    if standby_dir:
        extra += ["--standby-data-dir", standby_dir]
    port, padm, sadm = bootstrap(work, *extra)
    standby = Site("hiroshima", os.path.join(work, "hiroshima.yaml"), sadm, work, cpus=STANDBY_CPU)
    primary = Site("tokyo", os.path.join(work, "tokyo.yaml"), padm, work, cpus=PRIMARY_CPU)
    try:
        standby.start()
        primary.start()
        primary.wait(lambda s: s["link"]["connected"], "the link", 120)
        return measure(f"nbd://127.0.0.1:{port}/vol0", work, "kagami")
    finally:
        primary.stop()
        standby.stop()


def qemu_nbd(work):
    image = os.path.join(work, "baseline.raw")
    with open(image, "wb") as f:
        f.truncate(4 << 30)
    (port,) = free_ports(1)
    proc = subprocess.Popen(["taskset", "-c", PRIMARY_CPU, "qemu-nbd", "-f", "raw", "-b", "127.0.0.1", "-p", str(port),
                             "-t", image], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: port_open(port), "qemu-nbd listening", 30)
        return measure(f"nbd://127.0.0.1:{port}/", work, "qemu-nbd")
    finally:
        proc.terminate()
        proc.wait(30)


def main():
    for tool in ("fio", "qemu-nbd", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"ingest-isolated: {tool} not found")
    if os.cpu_count() < 2:
        sys.exit("ingest-isolated: needs two CPUs (one for the primary, one for the standby)")
    results = {"kagami": [], "qemu-nbd": []}
    for r in range(ROUNDS):
        for who in (("kagami", "qemu-nbd") if r % 2 == 0 else ("qemu-nbd", "kagami")):
            work = tempfile.mkdtemp(prefix="kagami-ingest.")
            standby_dir = None
            if os.environ.get("KAGAMI_STANDBY_DATA_DIR"):
                standby_dir = tempfile.mkdtemp(prefix="kagami-ingest-standby.", dir=os.environ["KAGAMI_STANDBY_DATA_DIR"])
            try:
                log(f"round {r + 1}: {who}")
                results[who].append(kagami(work, standby_dir) if who == "kagami" else qemu_nbd(work))
            finally:
                shutil.rmtree(work, ignore_errors=True)
                if standby_dir:
                    shutil.rmtree(standby_dir, ignore_errors=True)
    print()
    print(f"method: primary + fio on CPU {PRIMARY_CPU}, standby on CPU {STANDBY_CPU}; qemu-nbd + fio on CPU {PRIMARY_CPU};"
          f" fio nbd QD16, {RUNTIME}s after a {WARMUP}s warm-up, {ROUNDS} round(s), acknowledged throughput")
    print(f"{'workload':<14} {'kagami MiB/s':>13} {'qemu-nbd MiB/s':>15} {'kagami/qemu-nbd':>16}   per round")
    summary = {}
    for w in WORKLOADS:
        k = [row[w] for row in results["kagami"]]
        q = [row[w] for row in results["qemu-nbd"]]
        km, qm = sum(k) / len(k), sum(q) / len(q)
        rounds = " ".join(f"{a / b:.2f}" for a, b in zip(k, q))
        print(f"{w:<14} {km:>13.1f} {qm:>15.1f} {km / qm:>16.2f}   {rounds}")
        summary[w] = {"kagami": km, "qemu-nbd": qm, "ratio": km / qm}
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, f"ingest-isolated-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json")
    with open(out, "w") as f:
        json.dump({"summary": summary, "runs": results, "runtime": RUNTIME, "warmup": WARMUP}, f, indent=1)
    print(f"results: {out}")
    print("goal (issue 20 b): >= 1.0 at 4k and at 1 MiB")


if __name__ == "__main__":
    main()
