#!/usr/bin/env python3
"""Resident memory of a site pair with 1, 8 and 32 volumes under a short write load, default budget.

For each volume count, two sites run as separate `kagami run` processes on loopback, started by
the launcher exactly as an operator starts them (heap and direct memory from `memory.budget`, here
the default; configurations bootstrapped by `kagami demo`, then given N volumes). fio writes to
every volume of the primary at once over NBD (1 MiB sequential writes, QD16 per volume, for
FIO_RUNTIME seconds, default 10), while the sites' resident memory (VmRSS of /proc/PID/status) is
sampled; after the load the standby catches up. Prints one row per volume count: the budget's heap,
the peak resident memory of each site (VmHWM) and what was written. Measures only; asserts nothing
(MemoryBudgetIT asserts the bound for 8 volumes).

Env: FIO_RUNTIME (default 10), KAGAMI_BENCH_VOLUMES (default "1 8 32"), KAGAMI_BENCH_VOLUME_SIZE
(default 256MiB), KAGAMI_BENCH_LOGS (a directory the sites' logs are copied to), KAGAMI_BENCH_BS (fio block size, default 1M), KAGAMI_BENCH_NMT=1 (the primary runs
with Native Memory Tracking; two seconds before the load ends its `jcmd VM.native_memory summary`,
/proc/PID/smaps_rollup and the memory series of /metrics are printed: where the resident memory
goes). Needs: a JDK 25 + Maven (./kagami builds itself), fio with its nbd engine.
"""
import json, os, re, shutil, signal, subprocess, sys, tempfile, time, urllib.request

from benchlib import free_ports

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNTIME = int(os.environ.get("FIO_RUNTIME", "10"))
COUNTS = [int(n) for n in os.environ.get("KAGAMI_BENCH_VOLUMES", "1 8 32").split()]
VOLUME_SIZE = os.environ.get("KAGAMI_BENCH_VOLUME_SIZE", "256MiB")
BS = os.environ.get("KAGAMI_BENCH_BS", "1M")
NMT = os.environ.get("KAGAMI_BENCH_NMT") == "1"
MIB = 1 << 20


def log(msg):
    print(f"memory-budget: {msg}", file=sys.stderr, flush=True)


def proc_status(pid, field):
    """A /proc/PID/status field in bytes (VmRSS, VmHWM), 0 once the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class Site:
    def __init__(self, name, config, admin, logdir):
        self.name, self.config, self.admin, self.logdir = name, config, admin, logdir
        self.proc = None

    def start(self, java_opts=""):
        out = open(os.path.join(self.logdir, self.name + ".log"), "ab")
        env = dict(os.environ, KAGAMI_SKIP_BUILD="1")
        if java_opts:
            env["KAGAMI_JAVA_OPTS"] = (env.get("KAGAMI_JAVA_OPTS", "") + " " + java_opts).strip()
        # The launcher execs the JVM: this pid is the site's JVM.
        self.proc = subprocess.Popen([os.path.join(REPO, "kagami"), "run", "--config", self.config], stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.wait(lambda s: True, "admin answering")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def status(self):
        with urllib.request.urlopen(f"http://{self.admin}/status", timeout=5) as r:
            return json.load(r)

    def wait(self, ok, what, timeout=300):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                sys.exit(f"memory-budget: site {self.name} exited while waiting for {what}; see {self.logdir}/{self.name}.log")
            try:
                s = self.status()
                if ok(s):
                    return s
            except OSError:
                pass
            time.sleep(0.2)
        sys.exit(f"memory-budget: timed out waiting for {what}")

    def metrics(self):
        with urllib.request.urlopen(f"http://{self.admin}/metrics", timeout=5) as r:
            return r.read().decode()

    def offheap_used(self):
        """Off-heap bytes the site holds now (Netty's direct memory and the JDK's), 0 if unknown."""
        try:
            m = re.search(r'(?m)^kagami_memory_share_used_bytes\{share="offheap"[^}]*\} (\S+)$', self.metrics())
            return int(float(m.group(1))) if m else 0
        except OSError:
            return 0

    def budget_line(self):
        with open(os.path.join(self.logdir, self.name + ".log")) as f:
            m = re.search(r"memory budget .*", f.read())
        return m.group(0) if m else "?"


def bootstrap(work, n):
    """Two site configurations with n volumes each (kagami demo writes them, with certificates)."""
    pnbd, snbd, padm, sadm, wan = free_ports(5)
    demo = subprocess.Popen(
        [os.path.join(REPO, "kagami"), "demo", "--data-dir", work, "--volume-size", VOLUME_SIZE, "--primary-nbd", f"127.0.0.1:{pnbd}", "--standby-nbd", f"127.0.0.1:{snbd}",
         "--primary-admin", f"127.0.0.1:{padm}", "--standby-admin", f"127.0.0.1:{sadm}", "--wan", f"127.0.0.1:{wan}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, text=True)
    deadline = time.monotonic() + 300
    for line in demo.stdout:
        if "ready" in line or time.monotonic() > deadline:
            break
    os.killpg(demo.pid, signal.SIGTERM)
    demo.wait(60)
    for name in ("tokyo", "hiroshima"):
        path = os.path.join(work, name + ".yaml")
        with open(path) as f:
            text = f.read()
        m = re.search(r"  - \{name: vol0, size: (\d+), mode: async\}\n", text)
        vols = "".join(f"  - {{name: vol{i}, size: {m.group(1)}, mode: async}}\n" for i in range(n))
        with open(path, "w") as f:
            f.write(text.replace(m.group(0), vols))
    primary = Site("tokyo", os.path.join(work, "tokyo.yaml"), f"127.0.0.1:{padm}", work)
    standby = Site("hiroshima", os.path.join(work, "hiroshima.yaml"), f"127.0.0.1:{sadm}", work)
    return primary, standby, pnbd


def measure(n):
    work = tempfile.mkdtemp(prefix=f"kagami-memory-bench-{n}.")
    sites = []
    try:
        log(f"{n} volume(s): bootstrapping two sites in {work}")
        primary, standby, pnbd = bootstrap(work, n)
        sites += [primary, standby]
        standby.start()
        primary.start("-XX:NativeMemoryTracking=summary" if NMT else "")
        primary.wait(lambda s: s["link"]["connected"], "the link")
        idle = proc_status(primary.proc.pid, "VmRSS")
        args = ["fio", "--ioengine=nbd", "--rw=write", f"--bs={BS}", "--iodepth=16", "--time_based", f"--runtime={RUNTIME}",
                "--output-format=json", f"--output={os.path.join(work, 'fio.json')}"]
        for i in range(n):
            args += [f"--name=vol{i}", f"--uri=nbd://127.0.0.1:{pnbd}/vol{i}", f"--size={VOLUME_SIZE.replace('iB', '')}"]
        log(f"{n} volume(s): fio {BS} seqwrite QD16 on every volume for {RUNTIME}s")
        fio = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        peak = 0
        offheap = 0
        started = time.monotonic()
        scraped = started
        snapshot = not NMT
        while fio.poll() is None:
            peak = max(peak, proc_status(primary.proc.pid, "VmRSS"))
            if time.monotonic() - scraped >= 1:
                scraped = time.monotonic()
                offheap = max(offheap, primary.offheap_used())
            if not snapshot and time.monotonic() - started > RUNTIME - 2:
                snapshot = True
                where_memory_goes(primary, n)
            time.sleep(0.2)
        if fio.returncode != 0:
            for site in sites:
                with open(os.path.join(work, site.name + ".log"), errors="replace") as f:
                    lines = [l for l in f if ("WARNING" in l or "SEVERE" in l or "Error" in l or "Exception" in l)]
                    log(f"{site.name}.log warnings and errors:\n" + "".join(lines[:12]))
            sys.exit(f"memory-budget: fio failed ({fio.returncode})")
        jobs = json.load(open(os.path.join(work, "fio.json")))["jobs"]
        written = sum(j["write"]["io_bytes"] for j in jobs)
        target = [v["lastJournaledSeq"] for v in primary.status()["volumes"]]
        standby.wait(lambda s: all(v["lastAppliedSeq"] >= t for v, t in zip(s["volumes"], target)), "the standby to catch up", timeout=600)
        return {
            "volumes": n,
            "budget": primary.budget_line(),
            "idle": idle,
            "primary_peak": max(peak, proc_status(primary.proc.pid, "VmHWM")),
            "offheap": offheap,
            "primary_end": proc_status(primary.proc.pid, "VmRSS"),
            "standby_peak": proc_status(standby.proc.pid, "VmHWM"),
            "written": written,
        }
    finally:
        for s in sites:
            s.stop()
        keep = os.environ.get("KAGAMI_BENCH_LOGS")
        if keep:
            os.makedirs(keep, exist_ok=True)
            for s in sites:
                shutil.copy(os.path.join(work, s.name + ".log"), os.path.join(keep, f"{s.name}-{n}.log"))
        shutil.rmtree(work, ignore_errors=True)


def where_memory_goes(site, n):
    """Native Memory Tracking, smaps_rollup and the memory series of /metrics, while under load."""
    pid = site.proc.pid
    out = [f"--- {n} volume(s), primary under load: VmRSS {proc_status(pid, 'VmRSS') // MIB} MiB"]
    jcmd = os.path.join(os.path.dirname(os.path.realpath(shutil.which("java") or "java")), "jcmd")
    if os.environ.get("JAVA_HOME"):
        jcmd = os.path.join(os.environ["JAVA_HOME"], "bin", "jcmd")
    nmt = subprocess.run([jcmd, str(pid), "VM.native_memory", "summary", "scale=MB"], capture_output=True, text=True, timeout=60).stdout
    # The category lines only (committed memory of each), not the detail below them.
    out += [l for l in nmt.splitlines() if re.match(r"^(Total|-\s+\S.*\(reserved=)", l.strip()) or l.startswith("Total")]
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            out += ["smaps_rollup: " + " ".join(l.split()[0] + l.split()[1] for l in f if l.split()[0] in ("Rss:", "Anonymous:", "Pss_File:", "Pss_Anon:"))]
    except OSError:
        pass
    try:
        scrape = site.metrics()
    except OSError as e:
        scrape = ""
        out.append(f"/metrics did not answer: {e}")
    out += [l for l in scrape.splitlines() if (l.startswith("jvm_buffer_memory_used_bytes") or l.startswith("kagami_memory_share_used_bytes") or l.startswith("jvm_memory_committed_bytes")) and not l.startswith("#")]
    print("\n".join(out), flush=True)


def main():
    if shutil.which("fio") is None:
        sys.exit("memory-budget: fio not found (scripts/test installs it)")
    subprocess.run([os.path.join(REPO, "kagami"), "--version"], check=True, stdout=subprocess.DEVNULL)  # builds on first use
    rows = [measure(n) for n in COUNTS]
    print()
    print(f"{'volumes':>7} {'written MiB':>11} {'primary idle':>12} {'primary peak':>12} {'primary end':>11} {'standby peak':>12} {'off-heap peak':>13}   (MiB; default budget)")
    for r in rows:
        print(f"{r['volumes']:>7} {r['written'] // MIB:>11} {r['idle'] // MIB:>12} {r['primary_peak'] // MIB:>12} {r['primary_end'] // MIB:>11} {r['standby_peak'] // MIB:>12} {r['offheap'] // MIB:>13}")
    for r in rows:
        print(f"{r['volumes']:>3} volume(s): {r['budget']}")


if __name__ == "__main__":
    main()
