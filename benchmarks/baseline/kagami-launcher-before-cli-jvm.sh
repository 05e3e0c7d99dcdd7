#!/usr/bin/env bash
# BASELINE for benchmarks/cli-latency.py, kept as it was before CLI verbs got their own JVM
# settings: every call, CLI verbs included, ran `java -version` per JDK candidate and then started
# the daemon's JVM (2 GiB pre-touched G1 heap, full JIT). Not used to run Kagami.
# Kagami launcher: finds a JDK 25, builds the project on first run (or when sources changed),
# then runs the site manager with the arguments given, e.g. `./kagami demo`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
jar="$here/site-manager/target/kagami.jar"

java_major() { # prints the major version of the java binary given, or nothing
  "$1" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1
}

find_java() {
  local candidates=()
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME/bin/java")
  for d in /usr/lib/jvm/*; do
    [ -x "$d/bin/java" ] && candidates+=("$d/bin/java")
  done
  command -v java >/dev/null 2>&1 && candidates+=("$(command -v java)")
  local c v
  for c in "${candidates[@]}"; do
    v="$(java_major "$c")"
    if [ -n "$v" ] && [ "$v" -ge 25 ]; then
      echo "$c"
      return 0
    fi
  done
  return 1
}

if ! JAVA="$(find_java)"; then
  echo "kagami: no Java 25 or newer found (looked at \$JAVA_HOME, /usr/lib/jvm/*, java on PATH)." >&2
  echo "        Install a JDK 25 (e.g. Eclipse Temurin 25) and/or set JAVA_HOME to it." >&2
  exit 1
fi

needs_build() {
  [ -f "$jar" ] || return 0
  # benchmarks/ is not part of the jar: its sources must not force a rebuild on every call.
  [ -n "$(find "$here" -path "$here/*/src/main/*" -not -path "$here/benchmarks/*" -newer "$jar" -type f -print -quit 2>/dev/null)" ] && return 0
  [ -n "$(find "$here" -maxdepth 2 -name pom.xml -not -path "$here/benchmarks/*" -newer "$jar" -print -quit 2>/dev/null)" ] && return 0
  return 1
}

if [ "${KAGAMI_SKIP_BUILD:-}" != "1" ] && needs_build; then
  if ! command -v mvn >/dev/null 2>&1; then
    echo "kagami: Maven (mvn) is needed to build Kagami on first run: apt-get install maven" >&2
    exit 1
  fi
  echo "kagami: building (first run or sources changed; this takes a minute)..." >&2
  (cd "$here" && mvn -B -q -Dstyle.color=never -Dmaven.test.skip=true package -pl site-manager -am >&2) || {
    echo "kagami: build failed; run 'mvn -B package -DskipTests' to see why." >&2
    exit 1
  }
  # The jar plugin leaves an unchanged jar (and its mtime) alone when only a dependency module
  # changed; mark it as built so the next call does not build again.
  touch "$jar"
fi

# G1 with a fixed, pre-touched heap measured fastest on small appliances (2 cores): ZGC's
# concurrent threads and fresh-page faults cost more than the short G1 pauses save.
# 4 MiB regions: with the default (1 MiB for this heap) every 1 MiB write's journal record is a
# humongous object, and their allocation kept G1's concurrent marking running (a third of a core
# during 1 MiB writes); at 4 MiB it stops, and 1 MiB writes ran 1.6x faster.
# KAGAMI_JAVA_OPTS comes last, so it overrides any of these.
exec "$JAVA" --enable-native-access=ALL-UNNAMED -XX:+UseG1GC -Xms2g -Xmx2g -XX:G1HeapRegionSize=4m -XX:+AlwaysPreTouch ${KAGAMI_JAVA_OPTS:-} -jar "$jar" "$@"
