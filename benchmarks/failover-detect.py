#!/usr/bin/env python3
"""Automatic failover after kill -9: detection time and time to the first write on the new primary.

Per repetition: a witness (`kagami witness`, default lease 10 s, margin 2 s) and two sites
(`kagami run`, tokyo primary, hiroshima standby) with `failover.automatic: true` and the default
timings (heartbeat 1 s, peerLostAfter 8 s, selfFenceAfter 6 s, lease 10 s), all on loopback with
free ports. Once the primary holds the witness lease and replicates, it is killed with SIGKILL, and
a writer keeps trying 4 KiB NBD writes against the standby's address (EPERM while it is a standby).
Measured from the kill, on the standby:

  detect   its failover decision `request-promotion` (the primary silent on every heartbeat path
           for peerLostAfter), from its log line's timestamp
  granted  the witness granting it the lease (no earlier than the old lease's end plus the margin)
  promoted its AUTOMATIC FAILOVER log line
  write    the first 4 KiB write acknowledged at its NBD address

The reference printed beside each is what the configuration implies: detection is peerLostAfter
of silence (the last heartbeat heard up to one interval before the kill), and no write can be
acknowledged before the old primary's lease plus the witness margin ran out.

Env: KAGAMI_BENCH_REPEAT (default 3). Needs a JDK 25 and Maven (./kagami builds itself) and python3.
"""
import datetime, os, secrets, shutil, signal, socket, struct, subprocess, sys, tempfile, time

from benchlib import await_status, free_ports


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KAGAMI = os.path.join(REPO, "kagami")
REPEAT = int(os.environ.get("KAGAMI_BENCH_REPEAT", "3"))
PEER_LOST_AFTER = 8.0
HEARTBEAT = 1.0
LEASE = 10.0
MARGIN = 2.0


def log(msg):
    print(f"failover-detect: {msg}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ a minimal NBD client (fixed newstyle, OPT_GO, simple replies)

NBD_MAGIC = b"NBDMAGIC"
IHAVEOPT = 0x49484156454F5054
OPT_REPLY_MAGIC = 0x3E889045565A9
NBD_OPT_GO = 7
NBD_REP_ACK = 1
REQUEST_MAGIC = 0x25609513
SIMPLE_REPLY_MAGIC = 0x67446698
CMD_WRITE = 1


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("NBD server closed the connection")
        buf += chunk
    return buf


class Nbd:
    def __init__(self, port, export="vol0", timeout=5.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if recv_exact(self.s, 8) != NBD_MAGIC or struct.unpack(">Q", recv_exact(self.s, 8))[0] != IHAVEOPT:
            raise ConnectionError("not a newstyle NBD server")
        server_flags = struct.unpack(">H", recv_exact(self.s, 2))[0]
        client_flags = 1 | (2 if server_flags & 2 else 0)  # FIXED_NEWSTYLE, NO_ZEROES if offered
        self.s.sendall(struct.pack(">I", client_flags))
        name = export.encode()
        data = struct.pack(">I", len(name)) + name + struct.pack(">H", 0)
        self.s.sendall(struct.pack(">QII", IHAVEOPT, NBD_OPT_GO, len(data)) + data)
        while True:
            magic, _, rtype, length = struct.unpack(">QIII", recv_exact(self.s, 20))
            if magic != OPT_REPLY_MAGIC:
                raise ConnectionError("bad option reply")
            recv_exact(self.s, length)
            if rtype == NBD_REP_ACK:
                break
            if rtype & 0x80000000:
                raise ConnectionError(f"export refused: reply type {rtype:#x}")
        self.handle = 0

    def write(self, offset, data):
        """0 on success, else the NBD error (1 EPERM, 5 EIO, ...)."""
        self.handle += 1
        self.s.sendall(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_WRITE, self.handle, offset, len(data)) + data)
        magic, error, _ = struct.unpack(">IIQ", recv_exact(self.s, 16))
        if magic != SIMPLE_REPLY_MAGIC:
            raise ConnectionError("bad reply magic (structured replies are not negotiated)")
        return error

    def close(self):
        self.s.close()


# ------------------------------------------------------------------ sites

def log_time(path, needle):
    """Epoch seconds of the first log line containing needle (the JVM logs local time, ms)."""
    with open(path, errors="replace") as f:
        for line in f:
            if needle in line:
                stamp = line.split(" ", 1)[0]
                return datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f").timestamp()
    return None


def site_yaml(site, role, ports, peer_cert, witness_port):
    me, peer = ("tokyo", "hiroshima") if role == "primary" else ("hiroshima", "tokyo")
    wan = f'wan: {{peer: "127.0.0.1:{ports["wan"]}", peerSiteId: {peer}, peerCertificate: {peer_cert}}}' if role == "primary" \
        else f'wan: {{listen: "127.0.0.1:{ports["wan"]}", peerSiteId: {peer}, peerCertificate: {peer_cert}}}'
    return f"""site: {{id: {me}, role: {role}}}
dataDir: {me}
nbd: {{listen: "127.0.0.1:{ports[me + '-nbd']}"}}
admin: {{listen: "127.0.0.1:{ports[me + '-admin']}"}}
{wan}
volumes: [{{name: vol0, size: 256MiB}}]
failover:
  automatic: true
  witness: "127.0.0.1:{witness_port}"
  witnessTokenFile: witness.token
  peerAdmin: "127.0.0.1:{ports[peer + '-admin']}"
"""


def one_run(work, n):
    d = os.path.join(work, f"run{n}")
    os.makedirs(d)
    names = ["tokyo-nbd", "hiroshima-nbd", "tokyo-admin", "hiroshima-admin", "wan", "witness"]
    ports = dict(zip(names, free_ports(len(names))))
    for site in ("tokyo", "hiroshima"):
        with open(os.path.join(d, f"{site}.crt"), "w") as out:
            subprocess.run([KAGAMI, "cert", "show", "--data-dir", os.path.join(d, site), "--site-id", site], stdout=out, check=True, timeout=300)
    # The witness's token, as an operator deploys it: one file the witness and both sites read.
    fd = os.open(os.path.join(d, "witness.token"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(32) + "\n")
    with open(os.path.join(d, "tokyo.yaml"), "w") as f:
        f.write(site_yaml("tokyo", "primary", ports, "hiroshima.crt", ports["witness"]))
    with open(os.path.join(d, "hiroshima.yaml"), "w") as f:
        f.write(site_yaml("hiroshima", "standby", ports, "tokyo.crt", ports["witness"]))
    procs = []
    # Three JVMs on one small machine: a modest heap each instead of the launcher's pre-touched 2 GiB.
    env = dict(os.environ, KAGAMI_JAVA_OPTS=os.environ.get("KAGAMI_JAVA_OPTS", "-Xms256m -Xmx1g -XX:-AlwaysPreTouch"))

    def spawn(name, args):
        out = open(os.path.join(d, f"{name}.log"), "w")
        p = subprocess.Popen([KAGAMI] + args, stdout=out, stderr=subprocess.STDOUT, cwd=d, start_new_session=True, env=env)
        procs.append(p)
        return p

    try:
        spawn("witness", ["witness", "--listen", f"127.0.0.1:{ports['witness']}", "--token-file", os.path.join(d, "witness.token")])
        spawn("hiroshima", ["run", "--config", os.path.join(d, "hiroshima.yaml")])
        primary = spawn("tokyo", ["run", "--config", os.path.join(d, "tokyo.yaml")])
        padm, sadm = f"127.0.0.1:{ports['tokyo-admin']}", f"127.0.0.1:{ports['hiroshima-admin']}"
        await_status(padm, lambda s: s["link"]["connected"] and not s["failover"]["fenced"] and "lastGrantSecondsAgo" in s["failover"].get("witness", {}),
                     "the primary replicating and holding the witness lease (the witness grants nothing for lease + margin after its start)", 180, procs, who="failover-detect")
        c = Nbd(ports["tokyo-nbd"])
        for i in range(64):
            assert c.write(i * 4096, os.urandom(4096)) == 0, "write on the primary refused"
        c.close()
        time.sleep(2 * HEARTBEAT)  # a steady state: heartbeats and renewals flowing

        os.kill(primary.pid, signal.SIGKILL)
        killed = time.time()
        killed_mono = time.monotonic()
        primary.wait(30)
        procs.remove(primary)
        first_write = None
        deadline = killed_mono + 120
        block = os.urandom(4096)
        while time.monotonic() < deadline:
            try:
                s = Nbd(ports["hiroshima-nbd"], timeout=2)
                try:
                    while time.monotonic() < deadline:
                        t0 = time.monotonic()
                        if s.write(0, block) == 0:
                            first_write = time.monotonic() - killed_mono
                            break
                        time.sleep(max(0.0, 0.02 - (time.monotonic() - t0)))
                finally:
                    s.close()
                if first_write is not None:
                    break
            except OSError:
                time.sleep(0.05)
        if first_write is None:
            sys.exit("failover-detect: no write acknowledged by the standby within 120 s of the kill")
        slog = os.path.join(d, "hiroshima.log")
        t = {k: log_time(slog, needle) for k, needle in
             [("detect", "failover decision=request-promotion"), ("granted", "witness granted the lease"), ("promoted", "AUTOMATIC FAILOVER")]}
        return {k: (v - killed if v else None) for k, v in t.items()} | {"write": first_write}
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)


def main():
    subprocess.run([KAGAMI, "--version"], check=True, stdout=subprocess.DEVNULL, timeout=600)  # builds on first use
    work = tempfile.mkdtemp(prefix="kagami-failover-detect.")
    rows = []
    try:
        for n in range(REPEAT):
            log(f"run {n + 1}/{REPEAT}")
            r = one_run(work, n)
            log(f"run {n + 1}: " + ", ".join(f"{k} {v:.2f}s" for k, v in r.items() if v is not None))
            rows.append(r)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print()
    print(f"defaults: heartbeat {HEARTBEAT:.0f}s, peerLostAfter {PEER_LOST_AFTER:.0f}s, selfFenceAfter 6s, lease {LEASE:.0f}s, witness margin {MARGIN:.0f}s")
    print(f"{'from kill -9 to':<44} {'runs (s)':<28} {'mean (s)':>8} {'reference (s)':>14} {'mean/ref':>9}")
    refs = {"detect": PEER_LOST_AFTER, "granted": LEASE + MARGIN, "promoted": LEASE + MARGIN, "write": LEASE + MARGIN}
    labels = {"detect": "detection (standby decides request-promotion)", "granted": "witness grants the standby the lease",
              "promoted": "standby promoted", "write": "first write acknowledged by the new primary"}
    for k in ("detect", "granted", "promoted", "write"):
        vals = [r[k] for r in rows if r.get(k) is not None]
        if not vals:
            print(f"{labels[k]:<44} n/a")
            continue
        mean = sum(vals) / len(vals)
        print(f"{labels[k]:<44} {', '.join(f'{v:.2f}' for v in vals):<28} {mean:>8.2f} {refs[k]:>14.1f} {mean / refs[k]:>9.2f}")
    print("goal: detection <= 10 s with the default timings")


if __name__ == "__main__":
    main()
