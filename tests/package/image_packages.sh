#!/usr/bin/env bash
# Checks docker/Dockerfile's package lists without a Docker engine, against a build of
# this machine (Debian 12): the Dockerfile installs `make packages-build` in its build
# stage and `make packages-runtime` in its runtime stage, so
#   - every system header the colors target's objects included (ninja's deps log) and
#     every library CMake found must belong to a package apt-get brings with
#     packages-build;
#   - every shared library `ldd colors` resolves must belong to a package apt-get brings
#     with packages-runtime (or to libc6, which the base image has).
# "Brings" is the package and its dependencies, recursively (apt-cache depends).
#
#   tests/package/image_packages.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=${1:?usage: image_packages.sh BUILD_DIR SOURCE_DIR}
src=${2:?usage: image_packages.sh BUILD_DIR SOURCE_DIR}
fail() { echo "image_packages: $*" >&2; exit 1; }
for tool in dpkg apt-cache ninja ldd; do
  command -v "$tool" >/dev/null || fail "$tool is missing"
done
grep -q 'make -s packages-build' "$src/docker/Dockerfile" \
  || fail "docker/Dockerfile does not install the Makefile's packages-build list"
grep -q 'packages-runtime' "$src/docker/Dockerfile" \
  || fail "docker/Dockerfile does not install the Makefile's packages-runtime list"

# What apt-get install would bring: the packages and their dependencies, recursively.
closure() {
  apt-cache depends --recurse --no-recommends --no-suggests --no-conflicts --no-breaks \
    --no-replaces --no-enhances "$@" | grep -v '^ ' | grep -v '^<' | sed 's/:.*//' | sort -u
}

# The packages owning the files listed on stdin: one dpkg query for all, then each file
# dpkg did not know (ldd's /lib paths are /usr/lib to dpkg) alone.
owners() {
  local files f out
  files=$(sort -u)
  [ -n "$files" ] || return 0
  echo "$files" | xargs dpkg -S 2>/dev/null | sed 's/: \/.*//' | tr ',' '\n' \
    | sed 's/ //g; s/:[a-z0-9]*$//' > "$tmp/owned" || true
  { echo "$files" | xargs dpkg -S 2>&1 >/dev/null || true; } \
    | sed -n 's/.*matching pattern //p' \
    | while read -r f; do
        for candidate in "/usr$f" "$(readlink -f "$f")"; do
          if out=$(dpkg -S "$candidate" 2>/dev/null); then
            echo "$out" | head -1 | sed 's/: \/.*//; s/:[a-z0-9]*$//'
            continue 2
          fi
        done
        echo "UNOWNED:$f"
      done >> "$tmp/owned"
  sort -u "$tmp/owned"
}

check() { # label, the packages needed (file), the packages brought (file)
  local missing
  missing=$(comm -23 "$2" "$3")
  if [ -n "$missing" ]; then
    echo "image_packages: the $1 misses packages:" >&2
    echo "$missing" | sed 's/^/  /' >&2
    return 1
  fi
  echo "image_packages: the $1 has every package it needs ($(wc -l < "$2") checked)"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

# Build stage.
closure $(make -s -C "$src" packages-build) > "$tmp/build-brought"
ninja -C "$build" -t deps 2>/dev/null | awk '
  /^[^ ].*: #deps/ { keep = ($1 ~ /^(runtime|actors|apps\/colors)\//) ; next }
  keep && $1 ~ /^\/usr\// { print $1 }' | sort -u > "$tmp/headers"
[ -s "$tmp/headers" ] || fail "ninja's deps log in $build lists no system header (build first)"
grep -E '^[A-Za-z0-9_]+_(LIBRARY|LIBRARY_RELEASE):FILEPATH=/' "$build/CMakeCache.txt" \
  | sed 's/.*=//' >> "$tmp/headers"
owners < "$tmp/headers" > "$tmp/build-needed"
check "build stage (packages-build)" "$tmp/build-needed" "$tmp/build-brought" || status=1

# Runtime stage.
{ closure $(make -s -C "$src" packages-runtime); echo libc6; } | sort -u > "$tmp/runtime-brought"
ldd "$build/apps/colors" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | owners \
  > "$tmp/runtime-needed"
check "runtime stage (packages-runtime)" "$tmp/runtime-needed" "$tmp/runtime-brought" || status=1
exit $status
