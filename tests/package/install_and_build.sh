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

# mephisto::testing from the installed package: a checker in a program of its own (no test
# framework), which must pass on good outputs and name the first divergence on bad ones.
mkdir -p "$work/checker"
cat > "$work/checker/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.24)
project(checker CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(mephisto 0.2 REQUIRED)
add_executable(checker checker.cpp)
target_link_libraries(checker PRIVATE mephisto::testing)
CMAKE
cat > "$work/checker/checker.cpp" <<'CPP'
#include <cstdio>
#include <mephisto/testing.hpp>
int main() {
  using mephisto::testing::topic_record;
  std::vector<topic_record> out{{"red", "1", 4, 0}, {"red", "2", 4, 1}, {"blue", "1", 0, 0}};
  auto good = mephisto::testing::check_exactly_once(out, {{"red", 2}, {"blue", 1}});
  out.push_back({"red", "2", 4, 2});
  auto bad = mephisto::testing::check_exactly_once(out, {{"red", 2}, {"blue", 1}});
  std::printf("%s\n%s\n", good.message().c_str(), bad.message().c_str());
  return good && !bad && bad.first && bad.first->offset == 2 ? 0 : 1;
}
CPP
cmake -S "$work/checker" -B "$work/checker/build" -G Ninja -DCMAKE_PREFIX_PATH="$work/prefix" \
  >"$work/checker.log" || { cat "$work/checker.log"; exit 1; }
cmake --build "$work/checker/build" >>"$work/checker.log" || { tail -30 "$work/checker.log"; exit 1; }
"$work/checker/build/checker"

# The README's "Testing your app" examples (examples/testing) against the installed
# package: a GoogleTest test of the colors app with the test driver (run here), and its
# crash test under kill -9s on a real broker (built here; the kafka label runs it).
cmake -S "$src/examples/testing" -B "$work/testing" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCOLORS_APP_DIR="$src/apps/colors" \
  -DCOLORS_BIN="$build/apps/colors" \
  >"$work/testing.log" || { cat "$work/testing.log"; exit 1; }
cmake --build "$work/testing" >>"$work/testing.log" || { tail -50 "$work/testing.log"; exit 1; }
"$work/testing/colors_test"
test -x "$work/testing/colors_crash_test"
