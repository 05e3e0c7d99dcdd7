#!/usr/bin/env bash
# End-to-end write benchmark over NBD: fio's nbd engine against qemu-nbd serving a raw file (the
# baseline) and against the Kagami primary of `./kagami demo`, measured in the same run, printed as
# a table with the ratio kagami/qemu-nbd and saved as JSON under benchmarks/results/.
# It never asserts timings; it only measures and prints. See benchmarks/README.md.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: benchmarks/fio-nbd.sh [--baseline-only | --metrics-cost] [--help]

  --baseline-only   measure qemu-nbd (and KAGAMI_TARGET_URI, if set) but do not start Kagami
  --metrics-cost    measure the Kagami primary with metrics on and with metrics off
                    (`kagami demo --no-metrics`) in the same run, instead of qemu-nbd, in
                    alternating rounds (on off, off on, ...); prints the ratio of the mean
                    throughputs metrics-on / metrics-off (1.00 = metrics cost nothing)

environment:
  FIO_RUNTIME=20            seconds each workload runs, after the ramp
  FIO_RAMP=2                seconds of ramp-up not counted
  FIO_WARMUP=10             seconds of unmeasured load per workload before measuring (0 = none)
  FIO_SIZE=1G               region fio writes in (the volumes are 1 GiB)
  FIO_SEQ_IODEPTH=16        queue depth of the 1M sequential workload
  KAGAMI_READY_TIMEOUT=180  seconds to wait for `kagami demo` to print "ready" (includes a first build)
  KAGAMI_TARGET_URI=...     also measure this running server, e.g. nbd://10.0.0.5:10809/vol0
  KAGAMI_STANDBY_DATA_DIR=  put the demo standby's data on another filesystem (e.g. /dev/shm), as
                            if it had a disk of its own; the directory is removed afterwards
  KAGAMI_METRICS_ROUNDS=2   --metrics-cost: rounds of (metrics on, metrics off), each a fresh demo
  KAGAMI_DRAIN_TIMEOUT=300  seconds to wait, before each measured Kagami workload, for the standby
                            to catch up with the history the previous one (or its warm-up) left

Each measured Kagami workload starts with the standby caught up (lag 0), so it does not also pay
for draining the previous workload's history; how long that took, and the history each workload
leaves behind, are printed and saved.
Every measured workload (any target) starts after a `sync`, and its throughput is also printed
and saved second by second.
USAGE
}

baseline_only=0
metrics_cost=0
for arg in "$@"; do
  case "$arg" in
    --baseline-only) baseline_only=1 ;;
    --metrics-cost) metrics_cost=1 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "fio-nbd: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
  esac
done
if [ "$baseline_only" -eq 1 ] && [ "$metrics_cost" -eq 1 ]; then
  echo "fio-nbd: --baseline-only and --metrics-cost exclude each other" >&2
  exit 2
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"

runtime="${FIO_RUNTIME:-20}"
ramp="${FIO_RAMP:-2}"
warmup="${FIO_WARMUP:-10}"
size="${FIO_SIZE:-1G}"
seq_iodepth="${FIO_SEQ_IODEPTH:-16}"
ready_timeout="${KAGAMI_READY_TIMEOUT:-180}"
metrics_rounds="${KAGAMI_METRICS_ROUNDS:-2}"
drain_timeout="${KAGAMI_DRAIN_TIMEOUT:-300}"
# The primary's admin address while a Kagami demo is measured (empty for other targets).
admin_addr=""
target_uri="${KAGAMI_TARGET_URI:-}"
for v in runtime ramp warmup seq_iodepth ready_timeout metrics_rounds drain_timeout; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || { echo "fio-nbd: $v must be a whole number, got '${!v}'" >&2; exit 2; }
done
[ "$runtime" -ge 1 ] || { echo "fio-nbd: FIO_RUNTIME must be at least 1" >&2; exit 2; }

log() { echo "fio-nbd: $*" >&2; }

# Tools: Debian packages in brackets; scripts/test installs the first two.
need() {
  command -v "$1" >/dev/null 2>&1 || { log "$1 not found: install $2"; exit 1; }
}
need fio fio
need qemu-nbd qemu-utils
need python3 python3
need setsid util-linux
need timeout coreutils
fio --enghelp=nbd >/dev/null 2>&1 || { log "this fio has no nbd engine (Debian's fio package has it)"; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/kagami-fio-nbd.XXXXXX")"
qemu_pid=""
kagami_pid=""
fio_pid=""

# shellcheck source=benchmarks/lib.sh
. "$here/lib.sh"

stop_qemu() {
  [ -n "$qemu_pid" ] || return 0
  kill -TERM "$qemu_pid" 2>/dev/null || true
  wait_exit "$qemu_pid" 20 || kill -KILL "$qemu_pid" 2>/dev/null || true
  wait "$qemu_pid" 2>/dev/null || true
  qemu_pid=""
}

# Kagami runs in its own process group (setsid), so the signal reaches the launcher's build too.
stop_kagami() {
  [ -n "$kagami_pid" ] || return 0
  stop_demo_group "$kagami_pid"
  kagami_pid=""
}

cleanup() {
  if [ -n "$fio_pid" ]; then
    kill -TERM "$fio_pid" 2>/dev/null || true
    wait_exit "$fio_pid" 15 || kill -KILL "$fio_pid" 2>/dev/null || true
  fi
  stop_kagami
  stop_qemu
  rm -rf "$work"
  [ -z "${KAGAMI_STANDBY_DATA_DIR:-}" ] || rm -rf "$KAGAMI_STANDBY_DATA_DIR"/kagami-standby-$$-*
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


# Prints the error fio recorded in its JSON output, if any.
fio_error() {
  [ -s "$1" ] || return 0
  python3 - "$1" <<'PY'
import json, sys
try:
    job = json.load(open(sys.argv[1]))["jobs"][0]
except Exception as e:
    sys.exit(f"    (no usable fio JSON: {e})")
w = job["write"]
print(f"    fio job error {job.get('error', 0)}; {w['total_ios']} writes, {w['io_bytes']} bytes done before it stopped")
PY
}

# Prints "LAG_BYTES LAG_SECONDS STATES" of the primary at $admin_addr (sums over its volumes; the
# volumes' states, comma-separated), or nothing when it cannot be asked.
primary_lag() {
  python3 - "$admin_addr" <<'PY' 2>/dev/null
import json, sys, urllib.request
s = json.load(urllib.request.urlopen(f"http://{sys.argv[1]}/status", timeout=5))
v = s["volumes"]
print(sum(x.get("lagBytes") or 0 for x in v), max((x.get("lagSeconds") or 0) for x in v), ",".join(sorted({x.get("state", "?") for x in v})))
PY
}

# Before every measured workload, for every target alike: writes dirty pages the previous one
# left (sync), so no workload starts with the kernel already throttling writers for another's
# leftovers. Bounded; logged when it took a while.
settle_writeback() {
  local start=$SECONDS
  timeout 300 sync || log "sync did not finish within 300s; measuring anyway"
  [ $((SECONDS - start)) -lt 2 ] || log "wrote back the previous workload's dirty pages in $((SECONDS - start))s"
}

# Waits (bounded) until the standby holds everything the primary journaled; records how long it
# took in $1 (a file) and logs it.
wait_caught_up() {
  local record="$1" start=$SECONDS lag first=""
  while true; do
    lag="$(primary_lag)" || lag=""
    [ -n "$first" ] || first="$lag"
    if [ -n "$lag" ] && [ "${lag%% *}" = "0" ]; then
      break
    fi
    if [ $((SECONDS - start)) -ge "$drain_timeout" ]; then
      log "kagami: the standby did not catch up within ${drain_timeout}s (lag now: ${lag:-unknown} bytes/seconds); measuring anyway"
      break
    fi
    sleep 1
  done
  log "kagami: standby caught up after $((SECONDS - start))s (history before: ${first%% *} bytes)"
  echo "$((SECONDS - start)) ${first%% *}" >"$record"
}

# name | fio arguments
workloads=(
  "randwrite-4k|--rw=randwrite --bs=4k --iodepth=16"
  "seqwrite-1m|--rw=write --bs=1M --iodepth=$seq_iodepth"
)

# run_fio TARGET URI: every workload against URI, results in $work/TARGET.WORKLOAD.json.
# Returns non-zero if any workload failed; the others still run.
run_fio() {
  local target="$1" uri="$2" rc=0 w name args out
  # Unmeasured warm-up of every workload, for every target alike: a JVM server compiles its hot
  # paths during its first seconds of load, and a long-running appliance is measured warm.
  if [ "$warmup" -gt 0 ]; then
    log "$target: warm-up, ${warmup}s per workload (not measured)"
    for w in "${workloads[@]}"; do
      # shellcheck disable=SC2086 # args is a list of options
      timeout --kill-after=10 $((warmup + 60)) \
        fio --name=warmup --ioengine=nbd --uri="$uri" ${w#*|} --size="$size" \
        --time_based --runtime="$warmup" --output=/dev/null >/dev/null 2>&1 </dev/null &
      fio_pid=$!
      wait "$fio_pid" || true
      fio_pid=""
    done
  fi
  for w in "${workloads[@]}"; do
    name="${w%%|*}"
    args="${w#*|}"
    out="$work/$target.$name.json"
    [ -z "$admin_addr" ] || wait_caught_up "$work/$target.$name.drain"
    settle_writeback
    log "$target: $name for ${runtime}s (+${ramp}s ramp) against $uri"
    # In the background so a signal to this script runs its trap at once (bash defers traps
    # while a foreground child runs); timeout bounds fio and passes the signal on.
    # shellcheck disable=SC2086 # args is a list of options
    timeout --kill-after=10 $((runtime + ramp + 60)) \
      fio --name="$name" --ioengine=nbd --uri="$uri" $args --size="$size" \
      --time_based --runtime="$runtime" --ramp_time="$ramp" \
      --write_bw_log="$work/$target.$name" --log_avg_msec=1000 \
      --output-format=json --output="$out" >"$work/$target.$name.log" 2>&1 </dev/null &
    fio_pid=$!
    if wait "$fio_pid"; then fio_ok=1; else fio_ok=0; fi
    fio_pid=""
    if [ "$fio_ok" -eq 0 ]; then
      log "$target: fio $name failed:"
      tail -n 20 "$work/$target.$name.log" | sed 's/^/    /' >&2
      fio_error "$out" >&2 || true
      rm -f "$out"
      rc=1
      continue
    fi
    python3 - "$out" "$work/$target.${name}_bw.1.log" "$work/$target.$name.seconds" <<'PY' >&2
import json, statistics, sys
job = json.load(open(sys.argv[1]))["jobs"][0]
w = job["write"]
print(f"fio-nbd:   {w['bw'] / 1024:.1f} MiB/s, {w['iops']:.0f} IOPS, mean latency {w['clat_ns']['mean'] / 1000:.0f} us")
# Throughput second by second: a burst the page cache absorbs looks different from a rate the
# disks sustain (e.g. once dirty pages reach the kernel's limits and writeback throttles writers).
try:
    per_s = [round(int(line.split(",")[1]) / 1024, 1) for line in open(sys.argv[2]) if line.strip()]
except (OSError, ValueError, IndexError):
    per_s = []
if per_s:
    rest = per_s[5:] or per_s
    print(f"fio-nbd:   per second (MiB/s): first 5 s {statistics.mean(per_s[:5]):.0f}, then min {min(rest):.0f}"
          f" / median {statistics.median(rest):.0f} / max {max(rest):.0f}")
    json.dump(per_s, open(sys.argv[3], "w"))
PY
    if [ -n "$admin_addr" ]; then
      # What the workload left for the standby: async history it drains after the writes stop.
      lag="$(primary_lag)" || lag=""
      if [ -n "$lag" ]; then
        read -r left_bytes left_s states <<<"$lag"
        log "kagami: history left for the standby at the end: $((left_bytes / 1048576)) MiB, $left_s s behind (state: $states)"
        case ",$states," in
          *,bitmap,* | *,resyncing,*)
            # History overflowed its capacity during the workload: from then on the primary kept no
            # history (changed regions only), so the rest of the run measured less work.
            log "kagami: WARNING: history overflowed during $name (state $states): not comparable with a run that kept all history" ;;
        esac
      fi
      echo "${lag:-}" >"$work/$target.$name.left"
    fi
  done
  return $rc
}

status=0

# --- Baseline: qemu-nbd serving a fresh sparse 1 GiB raw file --------------------------------
# (In --metrics-cost mode the baseline is Kagami itself with metrics off, measured below.)
baseline_uri=""
if [ "$metrics_cost" -eq 0 ]; then
truncate -s 1G "$work/baseline.raw"
qemu_port="$(free_ports 1)"
qemu-nbd -f raw -b 127.0.0.1 -p "$qemu_port" --persistent --shared=8 \
  --pid-file "$work/qemu-nbd.pid" "$work/baseline.raw" >"$work/qemu-nbd.log" 2>&1 </dev/null &
qemu_pid=$!
# qemu-nbd writes its pid file once it listens and serves the export.
deadline=$((SECONDS + 30))
until [ -s "$work/qemu-nbd.pid" ]; do
  if ! kill -0 "$qemu_pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
    log "qemu-nbd did not start:"
    sed 's/^/    /' "$work/qemu-nbd.log" >&2
    exit 1
  fi
  sleep 0.1
done
baseline_uri="nbd://127.0.0.1:$qemu_port/"
run_fio qemu-nbd "$baseline_uri" || status=1
stop_qemu
rm -f "$work/baseline.raw"
fi

# --- Kagami: the primary of `./kagami demo` -----------------------------------------------
# run_kagami TARGET [demo options]: a fresh demo pair (own data directory), fio against its
# primary, then SIGTERM. Sets run_uri to the primary's URI (not printed: a $(...) subshell would
# lose kagami_pid and status, and the cleanup trap with them).
run_kagami() {
  local target="$1" uri
  shift
  mapfile -t p < <(free_ports 5)
  uri="nbd://127.0.0.1:${p[0]}/vol0"
  run_uri="$uri"
  log "$target: starting kagami demo $* (primary nbd 127.0.0.1:${p[0]}), waiting up to ${ready_timeout}s for 'ready'"
  rm -rf "$work/kagami"
  (
    cd "$repo"
    exec setsid ./kagami demo "$@" --data-dir "$work/kagami" \
      --primary-nbd "127.0.0.1:${p[0]}" --standby-nbd "127.0.0.1:${p[1]}" \
      --primary-admin "127.0.0.1:${p[2]}" --standby-admin "127.0.0.1:${p[3]}" \
      --wan "127.0.0.1:${p[4]}" --volume-size 1GiB \
      ${KAGAMI_STANDBY_DATA_DIR:+--standby-data-dir "$KAGAMI_STANDBY_DATA_DIR/kagami-standby-$$-$target"}
  ) >"$work/$target.out" 2>"$work/$target.err" </dev/null &
  kagami_pid=$!
  deadline=$((SECONDS + ready_timeout))
  ready=0
  while true; do
    if grep -qw ready "$work/$target.out"; then
      ready=1
      break
    fi
    if ! kill -0 "$kagami_pid" 2>/dev/null; then
      wait "$kagami_pid" 2>/dev/null && rc=0 || rc=$?
      log "kagami demo exited (status $rc) before it was ready"
      break
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "kagami demo did not print 'ready' within ${ready_timeout}s"
      break
    fi
    sleep 0.2
  done
  if [ "$ready" -eq 1 ]; then
    admin_addr="127.0.0.1:${p[2]}"
    run_fio "$target" "$uri" || status=1
    admin_addr=""
  else
    status=1
    log "kagami stdout:"
    tail -n 20 "$work/$target.out" | sed 's/^/    /' >&2
    log "kagami stderr:"
    tail -n 20 "$work/$target.err" | sed 's/^/    /' >&2
  fi
  stop_kagami
  [ -z "${KAGAMI_STANDBY_DATA_DIR:-}" ] || rm -rf "$KAGAMI_STANDBY_DATA_DIR/kagami-standby-$$-$target"
}

kagami_uri=""
nometrics_uri=""
if [ "$baseline_only" -eq 0 ]; then
  if [ "$metrics_cost" -eq 0 ]; then
    run_kagami kagami
    kagami_uri="$run_uri"
  else
    # Alternating order (on off, off on, ...) so a machine that slows down or speeds up during
    # the run weighs on both sides alike.
    for ((round = 1; round <= metrics_rounds; round++)); do
      if ((round % 2 == 1)); then
        run_kagami "kagami-r$round"
        run_kagami "kagami-nometrics-r$round" --no-metrics
      else
        run_kagami "kagami-nometrics-r$round" --no-metrics
        run_kagami "kagami-r$round"
      fi
    done
    kagami_uri="metrics on, $metrics_rounds round(s)"
    nometrics_uri="metrics off, $metrics_rounds round(s)"
  fi
fi

# --- Optional third target: any running server --------------------------------------------
if [ -n "$target_uri" ]; then
  run_fio target "$target_uri" || status=1
fi

# --- Table and JSON --------------------------------------------------------------------------
mkdir -p "$here/results"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
result_file="$here/results/fio-nbd-$stamp.json"
python3 - "$work" "$result_file" "$stamp" "$runtime" "$ramp" "$size" "$baseline_uri" "$kagami_uri" "$target_uri" "$(fio --version)" "$nometrics_uri" "${workloads[@]}" <<'PY'
import glob, json, os, platform, sys

work, result_file, stamp, runtime, ramp, size, base_uri, kagami_uri, target_uri, fio_version, nometrics_uri = sys.argv[1:12]
workloads = [w.split("|", 1) for w in sys.argv[12:]]
if nometrics_uri:
    # --metrics-cost: the baseline is Kagami with metrics off; the ratio is what metrics cost.
    targets = [("kagami-nometrics", nometrics_uri), ("kagami", kagami_uri), ("target", target_uri)]
else:
    targets = [("qemu-nbd", base_uri), ("kagami", kagami_uri), ("target", target_uri)]
targets = [(t, u) for t, u in targets if u]
base_name = targets[0][0] if targets else "qemu-nbd"

def measured(target, workload):
    path = os.path.join(work, f"{target}.{workload}.json")
    if not os.path.exists(path):
        # --metrics-cost: the mean of the rounds that completed, and each round's MiB/s.
        rounds = sorted(glob.glob(os.path.join(work, f"{target}-r*.{workload}.json")))
        ms = [one(p) for p in rounds]
        if not ms:
            return None
        mean = lambda k: round(sum(m[k] for m in ms) / len(ms), 1) if all(m[k] is not None for m in ms) else None
        return {
            "mib_per_s": mean("mib_per_s"),
            "iops": round(sum(m["iops"] for m in ms) / len(ms)),
            "mean_latency_us": mean("mean_latency_us"),
            "p99_latency_us": mean("p99_latency_us"),
            "fio_error": max(m["fio_error"] for m in ms),
            "rounds_mib_per_s": [m["mib_per_s"] for m in ms],
        }
    return one(path)

def one(path):
    job = json.load(open(path))["jobs"][0]
    w = job["write"]
    pct = w["clat_ns"].get("percentile", {})
    return {
        "mib_per_s": round(w["bw"] / 1024, 1),
        "iops": round(w["iops"]),
        "mean_latency_us": round(w["clat_ns"]["mean"] / 1000, 1),
        "p99_latency_us": round(pct["99.000000"] / 1000, 1) if "99.000000" in pct else None,
        "fio_error": job.get("error", 0),
        **replication(path[: -len(".json")]),
        **per_second(path[: -len(".json")]),
    }

def per_second(stem):
    """Throughput of each second of the measured run (fio's 1 s averages), MiB/s."""
    try:
        return {"per_second_mib_s": json.load(open(stem + ".seconds"))}
    except (OSError, ValueError):
        return {}

def replication(stem):
    """Kagami only: catching up before the workload, and the history it left behind."""
    out = {}
    if os.path.exists(stem + ".drain"):
        secs, before = (open(stem + ".drain").read().split() + ["", ""])[:2]
        out["caught_up_before_s"] = int(secs) if secs.isdigit() else None
        out["history_before_bytes"] = int(before) if before.isdigit() else None
    if os.path.exists(stem + ".left"):
        left = open(stem + ".left").read().split()
        if len(left) >= 2:
            out["history_left_bytes"] = int(left[0])
            out["history_left_s"] = float(left[1])
            if len(left) > 2:
                out["state_at_end"] = left[2]
    return out

rows = []
for name, args in workloads:
    row = {"workload": name, "fio_args": args}
    for t, _ in targets:
        row[t] = measured(t, name)
    base = row.get(base_name)
    for t, _ in targets[1:]:
        m = row[t]
        row[f"ratio_{t}_to_{base_name.replace('-', '_')}"] = round(m["mib_per_s"] / base["mib_per_s"], 3) if m and base and base["mib_per_s"] > 0 else None
    rows.append(row)

def cell(m, key, fmt):
    return fmt.format(m[key]) if m else "n/a"

header = f"{'workload':<14} {base_name + ' MiB/s':>14} {'IOPS':>8}"
for t, _ in targets[1:]:
    header += f" {t + ' MiB/s':>13} {'IOPS':>8} {t + '/' + base_name:>16}"
print()
print(header)
print("-" * len(header))
for row in rows:
    line = f"{row['workload']:<14} {cell(row[base_name], 'mib_per_s', '{:.1f}'):>14} {cell(row[base_name], 'iops', '{:d}'):>8}"
    for t, _ in targets[1:]:
        r = row[f"ratio_{t}_to_{base_name.replace('-', '_')}"]
        line += f" {cell(row[t], 'mib_per_s', '{:.1f}'):>13} {cell(row[t], 'iops', '{:d}'):>8} {('%.2f' % r) if r is not None else 'n/a':>16}"
    print(line)
    for t, _ in targets:
        m = row[t]
        if m and "rounds_mib_per_s" in m:
            print(f"{'':<14} {t} rounds MiB/s: " + ", ".join(f"{v:.1f}" for v in m["rounds_mib_per_s"]))
print()

doc = {
    "benchmark": "fio-nbd",
    "timestamp": stamp,
    "host": {"hostname": platform.node(), "kernel": platform.release(), "cpus": os.cpu_count()},
    "fio_version": fio_version,
    "runtime_s": int(runtime),
    "ramp_s": int(ramp),
    "size": size,
    "targets": dict(targets),
    "results": rows,
}
with open(result_file, "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
print(f"results: {result_file}")
PY

exit $status
