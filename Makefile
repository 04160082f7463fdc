# Two commands on a fresh Debian 12 machine:
#   make demo   install the Debian packages, build, run the colors demo on the embedded broker
#   make test   install the Debian packages, build, run the whole test suite
# Also: make deps | build | embed | bench | asan | tsan | fuzz | clean

BUILD ?= build
JOBS ?= $(shell nproc)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The one package list: what builds the project (also docker/Dockerfile's build stage),
# what its binaries need at run time (the image's runtime stage), and what the test suite
# adds. tests/package/image_packages.sh checks the first two against a build.
BUILD_PACKAGES := g++ cmake ninja-build pkg-config make libcaf-dev librdkafka-dev \
                  librocksdb-dev libboost-json1.81-dev libboost1.81-dev libspdlog-dev \
                  libfmt-dev libcli11-dev libssl-dev prometheus-cpp-dev libgtest-dev \
                  libhowardhinnant-date-dev
RUNTIME_PACKAGES := libcaf-core0.17 libcaf-io0.17 libcaf-openssl0.17 librdkafka1 \
                    librocksdb7.8 libspdlog1.10 libfmt9 libssl3 libprometheus-cpp-core1.0 \
                    libboost-json1.81.0 libdate-tz3 tzdata kcat
TEST_PACKAGES := kcat openjdk-17-jre-headless maven python3 python3-yaml openssl
PACKAGES := $(BUILD_PACKAGES) $(TEST_PACKAGES)

.PHONY: demo test deps build embed bench asan tsan fuzz clean packages-build packages-runtime

demo: build
	apps/colors/demo.sh $(BUILD)/apps/colors

test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 600 -j2

packages-build:
	@echo $(BUILD_PACKAGES)

packages-runtime:
	@echo $(RUNTIME_PACKAGES)

deps:
	@if dpkg -s $(PACKAGES) >/dev/null 2>&1; then echo "Debian packages: all there"; else \
	  $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $(PACKAGES); fi

build: deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
	cmake --build $(BUILD) -j $(JOBS)

# examples/embed: a CAF program with the colors app inside (embedded broker), then exit.
embed: build
	$(BUILD)/examples/embed/embed_colors

bench: build
	$(BUILD)/apps/mephisto-bench

# UBSan is compiled in recover mode; halt_on_error makes any finding fail its test, except
# CAF 0.17's own null reference (tests/ubsan.supp). tests/CMakeLists.txt sets the same
# options on every test, so a plain ctest in build-asan fails on UB too.
asan: deps
	cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMEPHISTO_SANITIZE=address
	cmake --build build-asan -j $(JOBS)
	cd build-asan && UBSAN_OPTIONS="suppressions=$(CURDIR)/tests/ubsan.supp:halt_on_error=1:print_stacktrace=1" \
	  ctest --output-on-failure --timeout 900 -j2

# ThreadSanitizer needs CAF itself instrumented: tests/tsan/build-caf.sh builds it once
# from Debian's source into .cache/caf-tsan.
tsan: deps
	tests/tsan/build-caf.sh $(CURDIR)/.cache/caf-tsan
	cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMEPHISTO_SANITIZE=thread \
	  -DMEPHISTO_CAF_ROOT=$(CURDIR)/.cache/caf-tsan
	cmake --build build-tsan -j $(JOBS)
	# history_size=7: a report whose earlier access ran inside RocksDB came with "failed to
	# restore the stack", so tests/tsan.supp's RocksDB entry could not match it.
	cd build-tsan && TSAN_OPTIONS="suppressions=$(CURDIR)/tests/tsan.supp second_deadlock_stack=1 history_size=7" \
	  ctest --output-on-failure --timeout 900 -j2

# libFuzzer targets (tests/fuzz): clang, ASan and UBSan, in build-fuzz; each target runs
# FUZZ_RUNS executions (FUZZ_MAX_TIME > 0: at most that many seconds each), one at a time.
FUZZ_RUNS ?= 10000000
FUZZ_MAX_TIME ?= 0
FUZZ_TARGETS ?= fuzz_codec fuzz_changelog fuzz_rocksdb_value fuzz_config
fuzz: deps
	@dpkg -s clang libclang-rt-14-dev >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev; }
	CC=clang CXX=clang++ nice -n 19 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DMEPHISTO_FUZZ=ON -DMEPHISTO_BUILD_TESTS=OFF
	nice -n 19 cmake --build build-fuzz -j $(JOBS) --target $(FUZZ_TARGETS)
	tests/fuzz/run.sh build-fuzz $(FUZZ_RUNS) $(FUZZ_MAX_TIME) $(FUZZ_TARGETS)

clean:
	rm -rf $(BUILD) build-asan build-tsan build-fuzz
