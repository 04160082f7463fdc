#!/usr/bin/env bash
# The installed package, tried as a user would: `cmake --install` the build tree into a
# temporary prefix, configure and build examples/embed against it with find_package (no
# path into the source tree), and run the program. Usage: install_and_build.sh BUILD_DIR SRC_DIR
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
test -f "$work/prefix/lib/cmake/mephisto/mephistoConfig.cmake"
test -f "$work/prefix/include/mephisto/mephisto.hpp"
# Internal headers stay uninstalled.
if [ -e "$work/prefix/include/mephisto/kafka" ] || [ -e "$work/prefix/include/mephisto/actors" ]; then
  echo "internal headers were installed" >&2
  exit 1
fi
cmake -S "$src/examples/embed" -B "$work/example" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" >"$work/configure.log" || { cat "$work/configure.log"; exit 1; }
cmake --build "$work/example" >"$work/build.log" || { tail -50 "$work/build.log"; exit 1; }
"$work/example/embed_colors" --words 3000
