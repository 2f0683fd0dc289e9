#!/usr/bin/env bash
# Fetches the Kafka broker the tests run (test/kafka/pom.xml: kafka_2.13 and its runtime
# dependencies, from Maven Central) into a cache folder that git ignores:
#   $BANDITJOIN_KAFKA_LIB, by default node_modules/.cache/banditjoin-kafka/lib
# Idempotent: does nothing when that folder already holds the jars of the current pom.xml.
# Safe to run concurrently (the tests fetch on first use): a lock next to the folder serialises
# fetches, and the folder appears whole or not at all. Needs Java 17+ and Maven. `npm ci`
# empties node_modules: the next Kafka test fetches again (Maven's cache in ~/.m2 makes that quick).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
lib="${BANDITJOIN_KAFKA_LIB:-$root/node_modules/.cache/banditjoin-kafka/lib}"
stamp="$lib/.pom.sha256"
want="$(sha256sum "$here/pom.xml" | cut -d' ' -f1)"

mkdir -p "$(dirname "$lib")"
exec 9>"$lib.lock"
flock 9

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  echo "kafka: jars already in $lib"
  exit 0
fi

command -v java >/dev/null || { echo "kafka: java (17 or later) is needed" >&2; exit 1; }
command -v mvn >/dev/null || { echo "kafka: Maven (mvn) is needed" >&2; exit 1; }

tmp="$(mktemp -d "$(dirname "$lib")/lib.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "kafka: fetching the broker's jars into $lib"
mvn -q -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies -DoutputDirectory="$tmp"
echo "$want" >"$tmp/.pom.sha256"
rm -rf "$lib"
mv "$tmp" "$lib"
echo "kafka: $(find "$lib" -name '*.jar' | wc -l) jars in $lib"
