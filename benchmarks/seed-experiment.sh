#!/usr/bin/env bash
# The lineage's seed experiment: `./kagami demo` with the WAN link capped at 1,500 KB/s (12 Mbps),
# an application writing through NBD at stepped rates (500..3000 KB/s), once with incompressible and
# once with 2:1-compressible data; per step the app write rate, the rate on the wire and the growth
# of unsent history, then the highest step sustained without history growth and the link's
# utilization while backlogged. Measures and prints; asserts nothing. See benchmarks/README.md.
set -euo pipefail

usage() {
  cat <<'USAGE'
usage: benchmarks/seed-experiment.sh [--help]

environment:
  SEED_LINK=1500KB          the WAN cap (KB = 1000 bytes, per second)
  SEED_STEPS=500,1000,1500,2000,2500,2850,3000   application write rates, KB/s (2850 = 1.9x the link)
  SEED_STEP_SECONDS=20      seconds per step
  SEED_DATA=incompressible,2to1
  KAGAMI_READY_TIMEOUT=180  seconds to wait for `kagami demo` to print "ready" (includes a first build)
USAGE
}
for arg in "$@"; do
  case "$arg" in
    -h | --help) usage; exit 0 ;;
    *) echo "seed-experiment: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
  esac
done

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
link="${SEED_LINK:-1500KB}"
steps="${SEED_STEPS:-500,1000,1500,2000,2500,2850,3000}"
step_seconds="${SEED_STEP_SECONDS:-20}"
data="${SEED_DATA:-incompressible,2to1}"
ready_timeout="${KAGAMI_READY_TIMEOUT:-180}"

log() { echo "seed-experiment: $*" >&2; }
command -v python3 >/dev/null 2>&1 || { log "python3 not found"; exit 1; }
command -v setsid >/dev/null 2>&1 || { log "setsid not found (util-linux)"; exit 1; }

work="$(mktemp -d "${TMPDIR:-/tmp}/kagami-seed.XXXXXX")"
kagami_pid=""

# shellcheck source=benchmarks/lib.sh
. "$here/lib.sh"

cleanup() {
  if [ -n "$kagami_pid" ]; then
    stop_demo_group "$kagami_pid"
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Ports away from the demo's defaults, so a demo or another benchmark may run alongside.
mapfile -t ports < <(free_ports 5)

log "building the benchmark classpath"
(cd "$repo" && mvn -B -q -Dstyle.color=never -Dmaven.test.skip=true -pl benchmarks -am package dependency:build-classpath \
  -Dmdep.outputFile=target/classpath.txt -Dmdep.includeScope=runtime >&2)
cp="$here/target/classes:$(cat "$here/target/classpath.txt")"

log "starting kagami demo, WAN link capped at $link"
setsid "$repo/kagami" demo --volume-size 1GiB --wan-bandwidth "$link" --data-dir "$work/demo" \
  --primary-nbd "127.0.0.1:${ports[0]}" --standby-nbd "127.0.0.1:${ports[1]}" \
  --primary-admin "127.0.0.1:${ports[2]}" --standby-admin "127.0.0.1:${ports[3]}" --wan "127.0.0.1:${ports[4]}" \
  >"$work/demo.log" 2>&1 &
kagami_pid=$!
deadline=$((SECONDS + ready_timeout))
until grep -q "ready" "$work/demo.log" 2>/dev/null; do
  if ! kill -0 "$kagami_pid" 2>/dev/null || [ "$SECONDS" -ge "$deadline" ]; then
    log "kagami demo did not get ready:"; cat "$work/demo.log" >&2; exit 1
  fi
  sleep 0.2
done

java_bin=""
for j in "${JAVA_HOME:-}/bin/java" /usr/lib/jvm/*/bin/java "$(command -v java || true)"; do
  [ -x "$j" ] || continue
  v="$("$j" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1)"
  if [ -n "$v" ] && [ "$v" -ge 25 ]; then java_bin="$j"; break; fi
done
[ -n "$java_bin" ] || { log "no Java 25 found"; exit 1; }

link_bytes="$(python3 -c "import re,sys; m=re.fullmatch(r'(\d+)\s*(KB|MB|B)?(/s)?', sys.argv[1]); print(int(m.group(1))*{'KB':1000,'MB':1000000,'B':1,None:1}[m.group(2)])" "$link")"
"$java_bin" -cp "$cp" io.kagami.bench.SeedExperiment --nbd "127.0.0.1:${ports[0]}" --admin "127.0.0.1:${ports[2]}" \
  --link-rate "$link_bytes" --steps "$steps" --step-seconds "$step_seconds" --data "$data"
