#!/usr/bin/env python3
"""RTO of `kagami recover --all` for two real Linux guests on one DR host, broken down by phase.

Per repetition: two primary sites (`tokyo` holding server `db`, `osaka` holding server `app`) each
with one volume that holds a bootable Linux guest disk (the recovery tests' guests, built by
site-manager/src/test/guest/build-guest and cached), both replicating into one DR site (`dr`, N:1),
all `kagami run` on loopback with free ports. Once dr holds both disks, both primaries are killed
with SIGKILL and `kagami recover --all --json` boots both servers on dr under QEMU (TCG unless
KAGAMI_QEMU_ACCEL says otherwise): `db` first, `app` once db passed its health check (the console
line `KAGAMI-GUEST READY <name>`). Printed per server, from the recovery report:

  promote   the promotion of the servers' volumes at the point (one for the run)
  export    until the promoted volumes answer on dr's NBD port
  vm start  QEMU started
  boot      until the guest's first console output
  health    from there to the passing health check
  wait      the rest of the RTO: waiting for its dependencies (app waits for db)
  RTO       the request to the passing health check, as the report says

Baseline, measured in the same run on the same machine: the same guest disk booted by QEMU with the
same machine, memory and accelerator straight from a local raw file, to the same console line. The
ratio RTO/baseline is what Kagami adds to a boot (promotion, NBD, ordering).

The guests boot here for the first time (they write their data, `WROTE`, instead of verifying it),
which takes about as long as a later boot.

Env: KAGAMI_BENCH_REPEAT (default 1). Needs root (the guest builder), a JDK 25 and Maven (./kagami
builds itself), qemu-system-x86_64, nbdcopy and python3; scripts/test installs the tools.
"""
import json, os, shutil, signal, subprocess, sys, tempfile, time

from benchlib import await_status, free_ports, status


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KAGAMI = os.path.join(REPO, "kagami")
BUILD_GUEST = os.path.join(REPO, "site-manager", "src", "test", "guest", "build-guest")
REPEAT = int(os.environ.get("KAGAMI_BENCH_REPEAT", "1"))
ACCEL = os.environ.get("KAGAMI_QEMU_ACCEL", "tcg")
GUESTS = {"tokyo": "db", "osaka": "app"}
BOOT_TIMEOUT = 900
PARTS = [("prepareMillis", "promote"), ("exportMillis", "export"), ("vmStartMillis", "vm start"),
         ("bootMillis", "boot"), ("healthMillis", "health")]


def log(msg):
    print(f"recover-rto: {msg}", file=sys.stderr, flush=True)


def volume(st, name):
    return next(v for v in st["volumes"] if v["name"] == name)


def guest_disk(name):
    """The cached guest disk of `name` (built on first use: a few minutes)."""
    out = subprocess.run([BUILD_GUEST, "--name", name], check=True, capture_output=True, text=True, timeout=1800)
    return out.stdout.strip().splitlines()[-1]


def baseline_boot(work, disk, name):
    """Seconds from starting QEMU on a local copy of `disk` to the console's READY line."""
    copy = os.path.join(work, f"baseline-{name}.raw")
    subprocess.run(["cp", "--sparse=always", "--reflink=auto", disk, copy], check=True)
    console = os.path.join(work, f"baseline-{name}.console")
    cmd = ["qemu-system-x86_64", "-machine", f"q35,accel={ACCEL}", "-smp", "1", "-m", "256M", "-nodefaults",
           "-display", "none", "-no-user-config",
           "-drive", f"file={copy},format=raw,if=none,id=disk0,cache=none", "-device", "virtio-blk-pci,drive=disk0,bootindex=1",
           "-chardev", f"file,id=console,path={console}", "-serial", "chardev:console"]
    start = time.monotonic()
    q = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while time.monotonic() - start < BOOT_TIMEOUT:
            if q.poll() is not None:
                sys.exit(f"recover-rto: baseline QEMU exited with {q.returncode}")
            if os.path.exists(console):
                with open(console, errors="replace") as f:
                    if f"KAGAMI-GUEST READY {name}" in f.read():
                        return time.monotonic() - start
            time.sleep(0.1)
        sys.exit(f"recover-rto: baseline guest {name} not ready within {BOOT_TIMEOUT} s")
    finally:
        os.killpg(q.pid, signal.SIGKILL)
        q.wait(30)
        os.remove(copy)


def one_run(work, n, disks):
    d = os.path.join(work, f"run{n}")
    os.makedirs(d)
    names = ["dr-nbd", "dr-admin", "dr-wan"] + [f"{s}-{k}" for s in GUESTS for k in ("nbd", "admin")]
    ports = dict(zip(names, free_ports(len(names))))
    for site in ["dr"] + list(GUESTS):
        with open(os.path.join(d, f"{site}.crt"), "w") as out:
            subprocess.run([KAGAMI, "cert", "show", "--data-dir", os.path.join(d, site), "--site-id", site],
                           stdout=out, check=True, timeout=300)
    size = os.path.getsize(disks["db"]) + (16 << 20)
    peers = ""
    for site, guest in GUESTS.items():
        peers += (f"  - {{siteId: {site}, certificate: {site}.crt, historyQuota: 512MiB, "
                  f"volumes: [{{name: {guest}-disk, size: {size}}}]}}\n")
        with open(os.path.join(d, f"{site}.yaml"), "w") as f:
            f.write(f"""site: {{id: {site}, role: primary}}
dataDir: {site}
nbd: {{listen: "127.0.0.1:{ports[site + '-nbd']}"}}
admin: {{listen: "127.0.0.1:{ports[site + '-admin']}"}}
wan: {{peer: "127.0.0.1:{ports['dr-wan']}", peerSiteId: dr, peerCertificate: dr.crt}}
volumes: [{{name: {guest}-disk, size: {size}, historyCapacity: 512MiB}}]
""")
    with open(os.path.join(d, "dr.yaml"), "w") as f:
        f.write(f"""site: {{id: dr, role: standby}}
dataDir: dr
nbd: {{listen: "127.0.0.1:{ports['dr-nbd']}"}}
admin: {{listen: "127.0.0.1:{ports['dr-admin']}"}}
wan: {{listen: "127.0.0.1:{ports['dr-wan']}"}}
peers:
{peers}""")
    with open(os.path.join(d, "recovery.yaml"), "w") as f:
        f.write("""defaults:
  vcpus: 1
  memory: 256MiB
  machine: q35
  diskBus: virtio
  timeouts: {healthy: 10m, shutdown: 30s}
servers:
  - name: db
    volumes: [tokyo.db-disk]
    priority: 1
    healthCheck: {console: "KAGAMI-GUEST READY db"}
  - name: app
    volumes: [osaka.app-disk]
    priority: 1
    dependsOn: [db]
    healthCheck: {console: "KAGAMI-GUEST READY app"}
""")
    procs = {}
    # Three JVMs and two guests on one small machine: a modest heap each.
    env = dict(os.environ, KAGAMI_QEMU_ACCEL=ACCEL,
               KAGAMI_JAVA_OPTS=os.environ.get("KAGAMI_JAVA_OPTS", "-Xms256m -Xmx1g -XX:-AlwaysPreTouch"))
    admin = f"127.0.0.1:{ports['dr-admin']}"

    def spawn(name, args):
        out = open(os.path.join(d, f"{name}.log"), "w")
        procs[name] = subprocess.Popen([KAGAMI] + args, stdout=out, stderr=subprocess.STDOUT, cwd=d,
                                       start_new_session=True, env=env)

    try:
        spawn("dr", ["run", "--config", os.path.join(d, "dr.yaml")])
        for site in GUESTS:
            spawn(site, ["run", "--config", os.path.join(d, f"{site}.yaml")])
        await_status(admin, lambda s: s["link"]["connected"], "the primaries to connect", 180, procs.values(), who="recover-rto")
        for site, guest in GUESTS.items():
            subprocess.run(["nbdcopy", "--flush", disks[guest], f"nbd://127.0.0.1:{ports[site + '-nbd']}/{guest}-disk"],
                           check=True, timeout=600)
        for site, guest in GUESTS.items():
            padmin = f"127.0.0.1:{ports[site + '-admin']}"
            target = volume(status(padmin), f"{guest}-disk")["lastJournaledSeq"]
            await_status(admin, lambda s: volume(s, f"{site}.{guest}-disk")["lastAppliedSeq"] >= target,
                         f"dr to apply {site}'s disk", 600, procs.values(), who="recover-rto")
        for site in GUESTS:
            os.killpg(procs[site].pid, signal.SIGKILL)
            procs.pop(site).wait(30)
        log("both primaries killed; kagami recover --all")
        r = subprocess.run([KAGAMI, "recover", "--all", "--json", "--admin", admin], env=env,
                           capture_output=True, text=True, timeout=2 * BOOT_TIMEOUT)
        if r.returncode != 0:
            sys.exit(f"recover-rto: kagami recover failed ({r.returncode}): {r.stdout}{r.stderr}")
        report = json.loads(r.stdout)
        if report["result"] != "ok":
            sys.exit(f"recover-rto: the recovery did not succeed: {json.dumps(report)}")
        subprocess.run([KAGAMI, "recover", "stop", "--admin", admin], env=env, check=True,
                       stdout=subprocess.DEVNULL, timeout=300)
        return report
    finally:
        for p in procs.values():
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs.values():
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


def main():
    subprocess.run([KAGAMI, "--version"], check=True, stdout=subprocess.DEVNULL, timeout=900)  # builds on first use
    disks = {g: guest_disk(g) for g in GUESTS.values()}
    work = tempfile.mkdtemp(prefix="kagami-recover-rto.")
    rows = []
    try:
        for n in range(REPEAT):
            log(f"run {n + 1}/{REPEAT}: baseline boot of db's disk from a local file")
            base = baseline_boot(work, disks["db"], "db")
            log(f"run {n + 1}/{REPEAT}: baseline {base:.1f} s; recovery of db and app")
            report = one_run(work, n, disks)
            rows.append((base, report))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"accelerator {ACCEL}; one DR host; servers db, then app (dependsOn db); all times in seconds")
    head = f"{'run':<4} {'server':<7}" + "".join(f" {label:>9}" for _, label in PARTS) + f" {'wait':>9} {'RTO':>9} {'baseline':>9} {'RTO/base':>9} {'RPO':>9}"
    print(head)
    for n, (base, report) in enumerate(rows):
        for s in report["servers"]:
            parts = [s["rto"].get(k) or 0 for k, _ in PARTS]
            rto = s["rtoMillis"]
            wait = rto - sum(parts)
            print(f"{n + 1:<4} {s['name']:<7}" + "".join(f" {p / 1000:>9.2f}" for p in parts)
                  + f" {wait / 1000:>9.2f} {rto / 1000:>9.2f} {base:>9.2f} {rto / 1000 / base:>9.2f} {s['rpoMillis'] / 1000:>9.2f}")
    print("baseline: the same guest disk booted by QEMU from a local file to the same console line")


if __name__ == "__main__":
    main()
