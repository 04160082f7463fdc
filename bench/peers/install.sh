#!/usr/bin/env bash
# Installs the peers of bench/compare.sh into ignored folders (see .gitignore), skipping what
# is already there:
#   bench/peers/.venv               Python venv with faust-streaming (Faust peer)
#   bench/peers/kstreams/target     colors-streams.jar + lib/ (Kafka Streams peers, BenchTool)
# Needs python3 (with venv), java 17+ and mvn; reaches PyPI and Maven Central.
# FAUST_VERSION overrides the faust-streaming version (default: 0.15.3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
faust_version=${FAUST_VERSION:-0.15.3}

if [ -x "$here/.venv/bin/faust" ] && "$here/.venv/bin/python" -c 'import faust' 2>/dev/null; then
  echo "install.sh: faust-streaming already in $here/.venv"
else
  echo "install.sh: creating $here/.venv with faust-streaming==$faust_version"
  rm -rf "$here/.venv"
  python3 -m venv "$here/.venv"
  "$here/.venv/bin/pip" install -q --upgrade pip
  "$here/.venv/bin/pip" install -q "faust-streaming==$faust_version"
fi
"$here/.venv/bin/python" -c 'import faust; print("install.sh: faust-streaming", faust.__version__)'

jar=$here/kstreams/target/colors-streams.jar
if [ -f "$jar" ] && [ -d "$here/kstreams/target/lib" ] \
   && [ -z "$(find "$here/kstreams/src" "$here/kstreams/pom.xml" -newer "$jar" -print -quit)" ]; then
  echo "install.sh: $jar is up to date"
else
  echo "install.sh: building $jar (Kafka Streams 4.1.1)"
  mvn -B -q -Dstyle.color=never -f "$here/kstreams/pom.xml" package
fi
echo "install.sh: done"
