#!/usr/bin/env bash
# JMH micro-benchmarks of the hot paths (journal append and group commit, WAN codec, compression
# probe), built by this Maven module and run with JMH's own runner. Measures and prints; asserts
# nothing. See benchmarks/README.md.
#
#   benchmarks/jmh.sh                      # every benchmark, JMH defaults from the annotations
#   benchmarks/jmh.sh WanCodec -f 1 -wi 1  # any JMH arguments: a regex of benchmarks, forks, ...
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
cd "$repo"

if [ -z "${JAVA_HOME:-}" ] && [ -d /usr/lib/jvm/temurin-25-jdk-amd64 ]; then
  export JAVA_HOME=/usr/lib/jvm/temurin-25-jdk-amd64
fi
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
export MAVEN_OPTS="${MAVEN_OPTS:---sun-misc-unsafe-memory-access=allow}"

# Build the module afresh (the JMH annotation processor generates the harness only when it compiles)
# and what it needs, then
# ask Maven for the runtime class path rather than shading a jar.
mvn -B -q -pl benchmarks clean >&2
mvn -B -q -pl benchmarks -am install -DskipTests -Dkagami.deb.skip=true -Dspotless.check.skip=true >&2
cp_file="$(mktemp)"
trap 'rm -f "$cp_file"' EXIT
mvn -B -q -pl benchmarks dependency:build-classpath -Dmdep.outputFile="$cp_file" >&2
classpath="$here/target/classes:$(cat "$cp_file")"

exec "$java" --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow \
  -cp "$classpath" org.openjdk.jmh.Main "$@"
