#!/usr/bin/env python3
"""Replicated throughput of a Kagami pair against a qemu-storage-daemon mirror, in the same run.

Issue 20 (a) and (c). Both sides do the same job on the same cores: a host writes through an NBD
export, and a standby on loopback ends up holding every write.

- Kagami: `kagami demo` (a primary and a standby, one JVM, the standby's journal synced), fio's
  nbd engine writing to the primary.
- The peer: qemu-storage-daemon exporting a raw file over NBD to fio, with a `blockdev-mirror` job
  from it to a qemu-nbd standby serving another raw file (copy-mode background for async, the
  peer's `write-blocking` mode for sync). The mirror copies a dirty bitmap, so it never sends a block
  twice while it is dirty; the standby never flushes.

Measure (async): the bytes fio wrote in FIO_RUNTIME seconds, divided by the time from fio's start
until the standby holds all of them (Kagami: the primary's lagBytes is 0; qsd: the mirror job's
offset has reached its length and the job is ready). Each side is warm: an unmeasured run of every
workload first, then a wait until the standby is caught up. The regions are large enough that no
write lands on a block written before in the same run (fio's random map; the 1 MiB run over more
than it can fill), so a dirty-bitmap mirror cannot save work by copying a block's final state only;
the hot-spot workload (4k random writes into 64 MiB) is where it can, and is printed on its own row.

Measure (sync): fio's acknowledged throughput and p99 completion latency at QD16; every
acknowledged write is on the standby by then in both modes.

Prints a table with the ratio kagami / qsd for each row; asserts nothing.

Env: FIO_RUNTIME (15), FIO_WARMUP (5), KAGAMI_BENCH_ROUNDS (1: rounds of both sides, alternating
which goes first), KAGAMI_BENCH_SIZE (16G, sparse: the volume and the files; a measured run writes only its first half), KAGAMI_BENCH_MODES
("async sync").
"""
import json, os, shutil, signal, socket, subprocess, sys, tempfile, time

from benchlib import REPO, Demo, free_ports, wait_until

RUNTIME = int(os.environ.get("FIO_RUNTIME", "15"))
WARMUP = int(os.environ.get("FIO_WARMUP", "5"))
ROUNDS = int(os.environ.get("KAGAMI_BENCH_ROUNDS", "1"))
SIZE = os.environ.get("KAGAMI_BENCH_SIZE", "16G")
MODES = os.environ.get("KAGAMI_BENCH_MODES", "async sync").split()
DRAIN_TIMEOUT = 600

# name -> fio arguments; the offsets fio may write to are given per workload.
WORKLOADS = {
    "randwrite-4k": ["--rw=randwrite", "--bs=4k", "--iodepth=16"],
    "seqwrite-1m": ["--rw=write", "--bs=1M", "--iodepth=16"],
    "hotspot-4k": ["--rw=randwrite", "--bs=4k", "--iodepth=16", "--norandommap"],
}
SYNC_WORKLOADS = ["randwrite-4k"]


def log(msg):
    print(f"replicated-vs-qsd: {msg}", file=sys.stderr, flush=True)


def size_bytes(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


def fio(uri, workload, runtime, out, warmup=False):
    args = ["fio", "--name=w", "--ioengine=nbd", f"--uri={uri}", "--time_based", f"--runtime={runtime}",
            "--output-format=json", f"--output={out}"] + WORKLOADS[workload]
    if workload == "hotspot-4k":
        args += ["--size=64M"]
    else:
        # The measured run writes the first half, its warm-up the second: no block twice.
        args += ["--size=50%", "--offset=50%" if warmup else "--offset=0"]
    started = time.monotonic()
    subprocess.run(args, check=True, timeout=runtime + 120, stdout=subprocess.DEVNULL)
    job = json.load(open(out))["jobs"][0]["write"]
    return started, job


class Kagami:
    name = "kagami"

    def __init__(self, work, mode):
        size = SIZE + "iB" if SIZE[-1] in "KMGT" else SIZE
        self.demo = Demo(os.path.join(work, f"kagami-{mode}"), "--mode", mode, "--volume-size", size)

    def __enter__(self):
        self.demo.__enter__()
        self.uri = self.demo.uri
        return self

    def behind(self):
        return self.demo.behind()

    def __exit__(self, *exc):
        self.demo.__exit__(*exc)


class Qmp:
    """The smallest QMP client: one command at a time, events skipped."""

    def __init__(self, path):
        deadline = time.monotonic() + 30
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.file = self.sock.makefile("rw")
        json.loads(self.file.readline())  # greeting
        self.call("qmp_capabilities")

    def call(self, command, **arguments):
        self.file.write(json.dumps({"execute": command, "arguments": arguments}) + "\n")
        self.file.flush()
        while True:
            reply = json.loads(self.file.readline())
            if "event" in reply:
                continue
            if "error" in reply:
                raise RuntimeError(f"QMP {command}: {reply['error']}")
            return reply["return"]


class Qsd:
    name = "qsd"

    def __init__(self, work, mode):
        self.work, self.mode = work, mode

    def __enter__(self):
        src, tgt = os.path.join(self.work, "qsd-src.raw"), os.path.join(self.work, "qsd-tgt.raw")
        for f in (src, tgt):
            with open(f, "wb") as fh:
                fh.truncate(size_bytes(SIZE))
        export_port, standby_port = free_ports(2)
        self.uri = f"nbd://127.0.0.1:{export_port}/vol0"
        self.standby = subprocess.Popen(
            ["qemu-nbd", "-f", "raw", "-x", "vol0", "-b", "127.0.0.1", "-p", str(standby_port), "-t", tgt],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        qmp = os.path.join(self.work, "qmp.sock")
        self.daemon = subprocess.Popen(
            ["qemu-storage-daemon",
             "--blockdev", f"driver=file,node-name=src-file,filename={src}",
             "--blockdev", "driver=raw,node-name=src,file=src-file",
             "--nbd-server", f"addr.type=inet,addr.host=127.0.0.1,addr.port={export_port}",
             "--export", "type=nbd,id=exp0,node-name=src,name=vol0,writable=on",
             "--chardev", f"socket,path={qmp},server=on,wait=off,id=qmp0", "--monitor", "chardev=qmp0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.qmp = Qmp(qmp)
        deadline = time.monotonic() + 30
        while True:
            try:
                self.qmp.call("blockdev-add", **{"driver": "nbd", "node-name": "tgt", "export": "vol0",
                                                 "server": {"type": "inet", "host": "127.0.0.1", "port": str(standby_port)}})
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        copy_mode = "write-blocking" if self.mode == "sync" else "background"
        self.qmp.call("blockdev-mirror", **{"job-id": "m0", "device": "src", "target": "tgt", "sync": "full",
                                            "copy-mode": copy_mode})
        wait_until(lambda: self.behind() == 0, "the mirror's first pass", DRAIN_TIMEOUT)
        return self

    def behind(self):
        jobs = [j for j in self.qmp.call("query-block-jobs") if j["device"] == "m0"]
        if not jobs:
            raise RuntimeError("the mirror job is gone")
        j = jobs[0]
        return (j["len"] - j["offset"]) if j["ready"] else max(1, j["len"] - j["offset"])

    def __exit__(self, *exc):
        for p in (self.daemon, self.standby):
            p.terminate()
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in ("qsd-src.raw", "qsd-tgt.raw", "qmp.sock"):
            try:
                os.unlink(os.path.join(self.work, f))
            except FileNotFoundError:
                pass


def run_async(side, work):
    rows = {}
    for w in WORKLOADS:
        if WARMUP:
            fio(side.uri, w, WARMUP, os.path.join(work, "warm.json"), warmup=True)
            wait_until(lambda: side.behind() == 0, f"{side.name} catching up after the warm-up", DRAIN_TIMEOUT)
        started, job = fio(side.uri, w, RUNTIME, os.path.join(work, f"{side.name}-{w}.json"))
        held = wait_until(lambda: side.behind() == 0, f"{side.name} holding {w}", DRAIN_TIMEOUT)
        mib = job["io_bytes"] / (1 << 20)
        rows[w] = {"acked_mib_s": job["bw_bytes"] / (1 << 20), "replicated_mib_s": mib / (held - started),
                   "drain_s": held - started - RUNTIME, "mib": mib}
        log(f"{side.name} async {w}: acked {rows[w]['acked_mib_s']:.1f} MiB/s, replicated {rows[w]['replicated_mib_s']:.1f} MiB/s"
            f" ({mib:.0f} MiB held {rows[w]['drain_s']:.1f}s after the writes)")
    return rows


def run_sync(side, work):
    rows = {}
    for w in SYNC_WORKLOADS:
        if WARMUP:
            fio(side.uri, w, WARMUP, os.path.join(work, "warm.json"), warmup=True)
        _, job = fio(side.uri, w, RUNTIME, os.path.join(work, f"{side.name}-sync-{w}.json"))
        p99 = job["clat_ns"]["percentile"]["99.000000"] / 1e6
        rows[w] = {"acked_mib_s": job["bw_bytes"] / (1 << 20), "p99_ms": p99}
        log(f"{side.name} sync {w}: {rows[w]['acked_mib_s']:.1f} MiB/s, p99 {p99:.1f} ms")
    return rows


def mean(xs):
    return sum(xs) / len(xs)


def main():
    for tool in ("fio", "qemu-nbd", "qemu-storage-daemon"):
        if shutil.which(tool) is None:
            sys.exit(f"replicated-vs-qsd: {tool} not found (Debian: fio, qemu-utils, qemu-system-common)")
    work = tempfile.mkdtemp(prefix="kagami-vs-qsd.")
    results = {m: {"kagami": [], "qsd": []} for m in MODES}
    try:
        for r in range(ROUNDS):
            for mode in MODES:
                order = (Kagami, Qsd) if r % 2 == 0 else (Qsd, Kagami)
                for cls in order:
                    log(f"round {r + 1}: {cls.name} {mode}")
                    with cls(work, mode) as side:
                        results[mode][cls.name].append((run_async if mode == "async" else run_sync)(side, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"method: fio nbd QD16, {RUNTIME}s measured after a {WARMUP}s warm-up, {ROUNDS} round(s), volume {SIZE};"
          " async: bytes written / time until the standby holds them; sync: acknowledged throughput")
    print(f"{'mode':<6} {'workload':<22} {'kagami MiB/s':>13} {'qsd MiB/s':>10} {'kagami/qsd':>11} {'kagami p99 ms':>14} {'qsd p99 ms':>11}")
    summary = {}
    for mode in MODES:
        key = "replicated_mib_s" if mode == "async" else "acked_mib_s"
        for w in (WORKLOADS if mode == "async" else SYNC_WORKLOADS):
            k = mean([row[w][key] for row in results[mode]["kagami"]])
            q = mean([row[w][key] for row in results[mode]["qsd"]])
            kp = qp = ""
            if mode == "sync":
                kp = f"{mean([row[w]['p99_ms'] for row in results[mode]['kagami']]):.1f}"
                qp = f"{mean([row[w]['p99_ms'] for row in results[mode]['qsd']]):.1f}"
            label = w + (" (hot spot)" if w == "hotspot-4k" else "")
            print(f"{mode:<6} {label:<22} {k:>13.1f} {q:>10.1f} {k / q:>11.2f} {kp:>14} {qp:>11}")
            summary[f"{mode}.{w}"] = {"kagami": k, "qsd": q, "ratio": k / q}
    os.makedirs(os.path.join(REPO, "benchmarks", "results"), exist_ok=True)
    out = os.path.join(REPO, "benchmarks", "results", f"replicated-vs-qsd-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json")
    with open(out, "w") as f:
        json.dump({"runtime": RUNTIME, "warmup": WARMUP, "rounds": ROUNDS, "size": SIZE, "summary": summary,
                   "runs": results}, f, indent=1)
    print(f"results: {out}")
    print("goal (issue 20): async ratios >= 2.0 (floor 1.0) for randwrite-4k and seqwrite-1m; sync >= 2.0 with p99 <= 10 ms")


if __name__ == "__main__":
    main()
