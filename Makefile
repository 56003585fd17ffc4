# salvage: crash-dump capture for Linux kdump kernels.
# `make` builds, `make test` runs every test, `make bench` the benchmarks,
# `make demo` shows the main job. `make deps` installs what Debian 12 lacks
# (every other target depends on it). `make help` lists the targets.

CXX      ?= g++
CXXFLAGS ?= -O2 -g
CXXFLAGS += -std=c++20 -Wall -Wextra -Werror -I. -MMD -MP -D_FILE_OFFSET_BITS=64
# -static, not -static-pie: `file salvage` must say "statically linked".
LDSTATIC := -static
# The capture initramfs carries this binary and the capture kernel holds it
# unpacked in its small reservation: drop unreferenced sections (static
# OpenSSL alone is ~4 MiB; this saves ~0.5 MiB, measured 2026-11-22).
LDGC     := -Wl,--gc-sections
LIBS     := -lblkid -lelf -lzstd -llzma -llzo2 -lsnappy -ldeflate -lssl -lcrypto -lz -lpthread

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
  liblzma-dev liblzo2-dev libsnappy-dev libgtest-dev libgmock-dev clang libclang-rt-14-dev \
  qemu-system-x86 cpio kmod file binutils makedumpfile crash python3-libkdumpfile \
  python3-minimal ca-certificates time systemd \
  libblkid-dev fdisk e2fsprogs xfsprogs libboost-dev libssl-dev \
  linux-source-6.1 flex bison bc zstd

.PHONY: module all deps test test-unit test-units lab-agent test-lab test-readers test-fuzz fuzz test-slow bench demo lab lab-la57 help clean

BIN ?= salvage

all: $(BIN)

help:
	@echo "make            build ./salvage (static)"
	@echo "make deps       install the Debian packages the build and tests need"
	@echo "make test       unit tests, crash lab, independent readers, short fuzzing"
	@echo "make test-unit  GoogleTest unit tests only"
	@echo "make lab-agent  capture agent end to end in the lab VM (panic, /init capture, save, crash)"
	@echo "make lab        produce the lab vmcore (Debian cloud kernel under QEMU, cached in $(LAB))"
	@echo "make module     build the flight recorder module (flightrec.ko) against the lab kernel"
	@echo "make test-slow  longer proofs: 10 minutes of fuzzing per parser, the patched kernel booted"
	@echo "make patched-kernel  build and boot the relayres= kernel patch series (warm reset, KASLR)"
	@echo "make test-fuzz  each fuzzer for FUZZ_SECONDS (20); make fuzz = 600 s each"
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

# The disk-only capture agent (agent/disk-agent.h): salvage without the
# objects that need OpenSSL, embedded zstd-compressed in salvage, which
# `salvage mkinitramfs` uses when no target is `net`. Everything else that
# links LIB_OBJ gets the empty blob.
NET_OBJ        := $(filter $(BUILD)/agent/collector% $(BUILD)/agent/tls.o $(BUILD)/agent/net-sink.o \
                    $(BUILD)/agent/capture-net.o,$(LIB_OBJ))
EMBED_OBJ      := $(BUILD)/agent/disk-agent/embedded.o
NO_BLOB_OBJ    := $(BUILD)/agent/disk-agent/no-blob.o
LIB_OBJ_NOBLOB := $(LIB_OBJ) $(EMBED_OBJ) $(NO_BLOB_OBJ)
DISK_AGENT     := $(BUILD)/salvage-disk-agent
LIBS_NO_TLS    := $(filter-out -lssl -lcrypto,$(LIBS))

$(DISK_AGENT): $(DEPS_STAMP) $(BUILD)/agent/disk-agent/agent-main.o $(filter-out $(NET_OBJ),$(LIB_OBJ)) $(BUILD)/agent/disk-agent/net-absent.o $(EMBED_OBJ) $(NO_BLOB_OBJ)
	$(CXX) $(LDSTATIC) $(LDGC) -o $@ $(filter %.o,$^) $(LIBS_NO_TLS)

$(DISK_AGENT).zst: $(DISK_AGENT)
	strip -o $@.stripped $< && zstd -q -19 -f -o $@ $@.stripped && rm -f $@.stripped

$(BUILD)/agent/disk-agent/blob.o: agent/disk-agent/blob.S $(DISK_AGENT).zst
	@mkdir -p $(dir $@)
	$(CC) -c -DDISK_AGENT_ZST='"$(DISK_AGENT).zst"' -o $@ $<

$(BUILD)/agent/disk-agent/no-blob.o: agent/disk-agent/no-blob.S
	@mkdir -p $(dir $@)
	$(CC) -c -o $@ $<

$(BIN): $(DEPS_STAMP) $(MAIN_OBJ) $(LIB_OBJ) $(EMBED_OBJ) $(BUILD)/agent/disk-agent/blob.o
	$(CXX) $(LDSTATIC) $(LDGC) -o $@ $(MAIN_OBJ) $(LIB_OBJ) $(EMBED_OBJ) $(BUILD)/agent/disk-agent/blob.o $(LIBS)

$(BUILD)/%.o: %.cc | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CXX) $(CXXFLAGS) -c -o $@ $<

$(BUILD)/unit-tests: $(UNIT_OBJ) $(LIB_OBJ_NOBLOB)
	$(CXX) -o $@ $^ -lgtest -lgtest_main $(LIBS)

# Test-only helper: salvage's page filter vs a makedumpfile kdump file
# (tests/readers/filter-vs-makedumpfile.sh).
$(BUILD)/filter-compare: $(BUILD)/tests/tools/filter-compare.o $(LIB_OBJ_NOBLOB)
	$(CXX) -o $@ $^ $(LIBS)

# Test-only helper: a raw-device dump container from a vmcore (tests/readers/save-lab.sh).
$(BUILD)/make-container: $(BUILD)/tests/tools/make-container.o $(LIB_OBJ_NOBLOB)
	$(CXX) -o $@ $^ $(LIBS)

# Test-only helper: a synthetic relayres= region image (tests/bench/relay-recover-bench.sh).
$(BUILD)/make-relayres: $(BUILD)/tests/tools/make-relayres.o
	$(CXX) -o $@ $^ -lz

test-unit: $(BUILD)/unit-tests
	$(BUILD)/unit-tests --gtest_brief=1

# The crash lab: lab, lab-la57, lab-all, lab-check, lab-paths, lab-clean.
LAB_CACHE := $(LAB)
include tests/vm/lab.mk
lab lab-la57: $(DEPS_STAMP)

# The flight recorder module (issue 5) against the lab kernel's headers.
module: $(DEPS_STAMP)
	kernel-config/relayres/build-lab.sh $(LAB) $(BUILD)/relayres

test-readers: $(BIN) lab lab-la57 $(BUILD)/unit-tests module
	tests/readers/tools/elflkcd-synthetic.sh $(BUILD)/unit-tests
	tests/readers/run-all.sh $(LAB)

# The capture agent in the lab VM: salvage load, panic, salvage as /init
# writing to a partition found by LABEL=, salvage save in a second boot,
# crash; the missing-target, ext4, xfs, small-target and hung-capture cases
# (tests/vm/run-agent-lab.sh, one or two boots each).
lab-agent: $(BIN) lab
	AGENT_LAB_CRASHKERNEL=64M tests/vm/run-agent-lab.sh $(LAB) $(BIN)
	tests/vm/run-agent-lab.sh $(LAB) $(BIN) --missing-target
	tests/vm/run-agent-lab.sh $(LAB) $(BIN) --fs-target
	tests/vm/run-agent-lab.sh $(LAB) $(BIN) --xfs-target
	tests/vm/run-agent-lab.sh $(LAB) $(BIN) --small-target
	tests/vm/run-agent-lab.sh $(LAB) $(BIN) --hang
	tests/vm/run-net-lab.sh $(LAB) $(BIN)
	tests/vm/run-net-lab.sh $(LAB) $(BIN) --dhcp-resume
	tests/vm/run-net-lab.sh $(LAB) $(BIN) --ipv6
	tests/vm/run-net-lab.sh $(LAB) $(BIN) --quota-fallback

# systemd-analyze verify on systemd/*.service inside a temporary root.
test-units: $(DEPS_STAMP)
	tests/readers/systemd-units.sh

# Compile everything in parallel first, then run the tests one after the
# other (the lab's QEMU and the fuzzers want the cores to themselves).
test: $(DEPS_STAMP)
	$(MAKE) -j$$(nproc) $(BIN) $(BUILD)/unit-tests $(FUZZ_BINS)
	$(MAKE) test-unit test-units test-fuzz test-readers

test-slow: test fuzz patched-kernel

# The relayres= kernel patch series (kernel-config/patches/) booted under QEMU:
# warm-reset recovery (also with `salvage trace show --region`) and KASLR
# placement. Builds a tinyconfig kernel once
# (about 10 minutes on 2 cores), cached in $(CACHE)/kernel-src until the
# series changes.
.PHONY: patched-kernel
patched-kernel: $(DEPS_STAMP) $(BIN)
	SALVAGE=$(abspath $(BIN)) tests/vm/run-patched-kernel.sh $(CACHE)/kernel-src

# ---- Fuzzing (tests/fuzz): libFuzzer + ASan + UBSan, needs clang. Each
# target runs FUZZ_SECONDS from generated seeds; a crash, leak, UB, timeout
# or OOM fails the target and leaves the input in $(FUZZ_DIR)/artifacts.
FUZZ_CXX      ?= clang++
FUZZ_SECONDS  ?= 20
FUZZ_DIR      := $(BUILD)/fuzz
FUZZ_SAN      := -fsanitize=address,undefined -fno-sanitize-recover=undefined
FUZZ_CXXFLAGS := -std=c++20 -O1 -g -fno-omit-frame-pointer -Wall -Wextra -Werror -I. -MMD -MP \
  -D_FILE_OFFSET_BITS=64 $(FUZZ_SAN)
FUZZ_NAMES    := elf-notes vmcoreinfo elf-vmcore open-dump $(if $(wildcard formats/printk.cc),printk) wire relayres dhcp
FUZZ_LIB_OBJ  := $(patsubst %.cc,$(FUZZ_DIR)/%.o,$(FORMATS_SRC) agent/kernel-memory.cc tests/fuzz/fuzz-common.cc)
FUZZ_BINS     := $(patsubst %,$(FUZZ_DIR)/fuzz-%,$(FUZZ_NAMES))

# The DHCP client's packet parser (agent/dhcp.h) and the address types it uses.
$(FUZZ_DIR)/fuzz-dhcp: $(FUZZ_DIR)/agent/dhcp.o $(FUZZ_DIR)/agent/netlink.o

.PRECIOUS: $(FUZZ_DIR)/%.o  # reached only through pattern rules; keep them
$(FUZZ_DIR)/%.o: %.cc | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(FUZZ_DIR)/fuzz-%: $(FUZZ_DIR)/tests/fuzz/fuzz-%.o $(FUZZ_LIB_OBJ)
	$(FUZZ_CXX) -fsanitize=fuzzer $(FUZZ_SAN) -o $@ $^ $(LIBS)

$(FUZZ_DIR)/make-seeds: $(FUZZ_DIR)/tests/fuzz/make-seeds.o
	$(FUZZ_CXX) $(FUZZ_SAN) -o $@ $^ -lz

$(FUZZ_DIR)/seeds.stamp: $(FUZZ_DIR)/make-seeds Makefile
	rm -rf $(FUZZ_DIR)/seeds && $(FUZZ_DIR)/make-seeds $(FUZZ_DIR)/seeds && mkdir -p $(addprefix $(FUZZ_DIR)/seeds/,$(FUZZ_NAMES)) && touch $@

test-fuzz: $(FUZZ_BINS) $(FUZZ_DIR)/seeds.stamp
	tests/fuzz/run-fuzz.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_NAMES)

fuzz:
	$(MAKE) test-fuzz FUZZ_SECONDS=600

bench: $(BIN) lab $(BUILD)/make-relayres
	tests/bench/run-bench.sh $(LAB)
	tests/bench/capture-bench.sh $(LAB) $(BIN) --append docs/bench.md
	tests/bench/net-bench.sh $(LAB) $(BIN) --append docs/bench.md
	tests/bench/relay-bench.sh $(LAB)
	tests/bench/relay-recover-bench.sh $(BIN) $(BUILD)/make-relayres

demo: $(BIN) lab
	tests/vm/demo.sh $(LAB)

clean:
	rm -rf $(BUILD) salvage

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
