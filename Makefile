# salvage: crash-dump capture for Linux kdump kernels.
# `make` builds, `make test` runs every test, `make bench` the benchmarks,
# `make demo` shows the main job. `make deps` installs what Debian 12 lacks
# (every other target depends on it). `make help` lists the targets.

CXX      ?= g++
CXXFLAGS ?= -O2 -g
CXXFLAGS += -std=c++20 -Wall -Wextra -Werror -I. -MMD -MP -D_FILE_OFFSET_BITS=64
# -static, not -static-pie: `file salvage` must say "statically linked".
LDSTATIC := -static
LIBS     := -lelf -lzstd -llzo2 -lsnappy -ldeflate -lz -lpthread

BUILD    := build
CACHE    ?= .cache
LAB      := $(CACHE)/lab

FORMATS_SRC := $(wildcard formats/*.cc)
AGENT_SRC   := $(filter-out agent/main.cc,$(wildcard agent/*.cc))
LIB_OBJ     := $(patsubst %.cc,$(BUILD)/%.o,$(FORMATS_SRC) $(AGENT_SRC))
MAIN_OBJ    := $(BUILD)/agent/main.o
UNIT_SRC    := $(wildcard tests/unit/*.cc)
UNIT_OBJ    := $(patsubst %.cc,$(BUILD)/%.o,$(UNIT_SRC))

# Debian packages the build and the tests need. Installed by `make deps`.
DEBIAN_PACKAGES := build-essential pkg-config libelf-dev zlib1g-dev libdeflate-dev libzstd-dev \
  liblzo2-dev libsnappy-dev libgtest-dev libgmock-dev clang libclang-rt-14-dev \
  qemu-system-x86 cpio kmod file binutils makedumpfile crash python3-libkdumpfile \
  python3-minimal ca-certificates

.PHONY: all deps test test-unit test-lab test-readers test-fuzz test-slow bench demo lab lab-la57 help clean

BIN ?= salvage

all: $(BIN)

help:
	@echo "make            build ./salvage (static)"
	@echo "make deps       install the Debian packages the build and tests need"
	@echo "make test       unit tests, crash lab, independent readers, short fuzzing"
	@echo "make test-unit  GoogleTest unit tests only"
	@echo "make lab        produce the lab vmcore (Debian cloud kernel under QEMU, cached in $(LAB))"
	@echo "make test-slow  longer proofs (long fuzzing, 5-level paging lab)"
	@echo "make bench      salvage vs makedumpfile on the lab vmcore -> docs/bench.md"
	@echo "make demo       panic a real kernel, capture it, convert it, open it with crash"
	@echo "make clean      remove build output (keeps the $(CACHE) download cache)"

# Installs only what is missing, once per package list (stamp keyed by the list).
DEPS_STAMP := $(BUILD)/.deps-$(shell echo $(DEBIAN_PACKAGES) | md5sum | cut -c1-8)
deps: $(DEPS_STAMP)
$(DEPS_STAMP):
	@mkdir -p $(BUILD)
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@touch $@

$(BIN): $(DEPS_STAMP) $(MAIN_OBJ) $(LIB_OBJ)
	$(CXX) $(LDSTATIC) -o $@ $(MAIN_OBJ) $(LIB_OBJ) $(LIBS)

$(BUILD)/%.o: %.cc | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c -o $@ $<

$(BUILD)/unit-tests: $(UNIT_OBJ) $(LIB_OBJ)
	$(CXX) -o $@ $^ -lgtest -lgtest_main $(LIBS)

test-unit: $(BUILD)/unit-tests
	$(BUILD)/unit-tests --gtest_brief=1

lab: $(DEPS_STAMP)
	tests/vm/run-lab.sh $(LAB)

lab-la57: $(DEPS_STAMP)
	tests/vm/run-lab.sh $(LAB) --la57

test-readers: $(BIN) lab
	tests/readers/run-all.sh $(LAB)

test: test-unit test-readers
	@echo "make test: all passed"

test-slow: test lab-la57

bench: $(BIN) lab
	tests/bench/run-bench.sh $(LAB)

demo: $(BIN) lab
	tests/vm/demo.sh $(LAB)

clean:
	rm -rf $(BUILD) salvage

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
