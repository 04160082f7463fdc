#!/usr/bin/env bash
# Builds CAF 0.17.6 with ThreadSanitizer into PREFIX, for `make tsan`.
#
#   tests/tsan/build-caf.sh PREFIX
#
# Debian's libcaf_core is not instrumented, so TSan cannot see CAF's mailbox and scheduler
# synchronization and reports every message hand-off as a race. This fetches the same
# version's source from Debian's archive (deb-src), builds libcaf_core, libcaf_io and
# libcaf_openssl (cluster TLS) with
# -fsanitize=thread and installs them under PREFIX (an ignored folder). Run on demand only.
set -euo pipefail
prefix=${1:?usage: build-caf.sh PREFIX}
[ -f "$prefix/lib/libcaf_openssl.so" ] && { echo "build-caf.sh: $prefix already has CAF"; exit 0; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "deb-src http://deb.debian.org/debian bookworm main" > "$work/sources.list"
apt_opts=(-o Dir::Etc::SourceList="$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
          -o Dir::State::Lists="$work/lists" -o Dir::Cache="$work/cache")
mkdir -p "$work/lists/partial" "$work/cache"
apt-get "${apt_opts[@]}" update -qq
(cd "$work" && apt-get "${apt_opts[@]}" source --download-only actor-framework || true)
tarball=$(ls "$work"/actor-framework_0.17.6.orig.tar.gz 2>/dev/null) \
  || { echo "build-caf.sh: could not fetch CAF 0.17.6's source" >&2; exit 1; }
tar xzf "$tarball" -C "$work"
src="$work/actor-framework-0.17.6"
cmake -S "$src" -B "$src/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="-fsanitize=thread -fno-omit-frame-pointer -include limits" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=thread" -DCAF_NO_EXAMPLES=yes -DCAF_NO_UNIT_TESTS=yes \
  -DCAF_NO_OPENCL=yes -DCAF_NO_PYTHON=yes -DCAF_NO_TOOLS=yes \
  -DCMAKE_INSTALL_PREFIX="$prefix"
cmake --build "$src/build" -j "$(nproc)"
cmake --install "$src/build"
echo "build-caf.sh: CAF 0.17.6 with TSan installed in $prefix"
