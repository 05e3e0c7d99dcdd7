#!/usr/bin/env python3
"""Wall time of CLI calls: `kagami --version`, `status` and `status --json` against a running site,
with the launcher's CLI settings and, in the same run, with the settings before them.

  now     ./kagami as it is: CLI verbs get their own JVM (small heap, no pre-touch, C1 only, the
          AppCDS archive the launcher creates once per build) and the JDK is found from its
          release file
  before  benchmarks/baseline/kagami-launcher-before-cli-jvm.sh: `java -version` per JDK candidate,
          then the daemon's JVM (2 GiB pre-touched G1 heap, full JIT) for every verb

Both run the same jar (built once, up front, by ./kagami) against the primary of one `./kagami
demo` on free loopback ports, interleaved call by call so that both see the same load. Prints each
call's median and worst wall time and the ratio now/before; asserts nothing (machines are noisy:
compare within one run). The goal is under 1 s per call.

Env: KAGAMI_BENCH_REPEAT (calls per verb and setting, default 7); KAGAMI_JAVA_OPTS applies to the
demo only (e.g. "-Xms512m -Xmx512m" on a machine short of memory), never to the timed calls. Needs a JDK 25, Maven, python3.
"""
import os, shutil, statistics, subprocess, sys, tempfile, time

from benchlib import free_ports

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KAGAMI = os.path.join(REPO, "kagami")
BEFORE = os.path.join(REPO, "benchmarks", "baseline", "kagami-launcher-before-cli-jvm.sh")
REPEAT = int(os.environ.get("KAGAMI_BENCH_REPEAT", "7"))


def log(msg):
    print(f"cli-latency: {msg}", file=sys.stderr, flush=True)


def timed(cmd, env):
    start = time.monotonic()
    r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
    took = time.monotonic() - start
    if r.returncode != 0:
        raise SystemExit(f"cli-latency: {' '.join(cmd)} exited {r.returncode}: {r.stderr.decode()}")
    return took


def main():
    work = tempfile.mkdtemp(prefix="kagami-cli-latency-")
    demo_env = dict(os.environ)
    demo_env["KAGAMI_SKIP_BUILD"] = "1"
    env = dict(os.environ)  # the CLI calls': JVM options as each launcher sets them, nothing added
    for k in ("KAGAMI_ADMIN", "KAGAMI_JAVA_OPTS", "KAGAMI_CLI_JAVA_OPTS", "KAGAMI_CLI_CDS"):
        env.pop(k, None)
    # Build (if needed) and create the CLI's class-data archive before anything is timed.
    subprocess.run([KAGAMI, "--version"], check=True, stdout=subprocess.DEVNULL, timeout=900)
    env["KAGAMI_SKIP_BUILD"] = "1"
    # The baseline launcher finds the jar next to itself: give it a tree whose target/ is ours.
    before_root = os.path.join(work, "before")
    os.makedirs(os.path.join(before_root, "site-manager"))
    os.symlink(os.path.join(REPO, "site-manager", "target"), os.path.join(before_root, "site-manager", "target"))
    shutil.copy(BEFORE, os.path.join(before_root, "kagami"))
    before = os.path.join(before_root, "kagami")

    p = free_ports(6)
    demo_log = open(os.path.join(work, "demo.log"), "w")
    demo = subprocess.Popen(
        [KAGAMI, "demo", "--volume-size", "64MiB", "--primary-nbd", f"127.0.0.1:{p[0]}", "--standby-nbd", f"127.0.0.1:{p[1]}",
         "--primary-admin", f"127.0.0.1:{p[2]}", "--standby-admin", f"127.0.0.1:{p[3]}", "--wan", f"127.0.0.1:{p[4]}",
         "--primary-wan", f"127.0.0.1:{p[5]}", "--data-dir", os.path.join(work, "demo")],
        env=demo_env, stdout=demo_log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while "ready" not in open(os.path.join(work, "demo.log")).read():
            if demo.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("cli-latency: the demo did not get ready:\n" + open(os.path.join(work, "demo.log")).read())
            time.sleep(0.2)  # polling another process's log: there is no event to wait on
        admin = f"127.0.0.1:{p[2]}"
        verbs = {"--version": ["--version"], "status": ["status", "--admin", admin], "status --json": ["status", "--json", "--admin", admin]}
        times = {(v, s): [] for v in verbs for s in ("now", "before")}
        for i in range(REPEAT):
            for v, args in verbs.items():
                times[(v, "now")].append(timed([KAGAMI] + args, env))
                times[(v, "before")].append(timed([before] + args, env))
            log(f"round {i + 1}/{REPEAT} done")
        print(f"{'call':<21} {'before median':>14} {'before max':>11} {'now median':>11} {'now max':>8} {'now/before':>11}")
        for v in verbs:
            b, n = times[(v, "before")], times[(v, "now")]
            print(f"{'kagami ' + v:<21} {statistics.median(b):13.2f}s {max(b):10.2f}s {statistics.median(n):10.2f}s {max(n):7.2f}s {statistics.median(n) / statistics.median(b):10.2f}x")
        print(f"({REPEAT} calls each, interleaved; load average {os.getloadavg()[0]:.1f} at the end; goal: under 1 s)")
    finally:
        demo.terminate()
        try:
            demo.wait(timeout=60)
        except subprocess.TimeoutExpired:
            demo.kill()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
