#!/bin/bash
# run-patched-kernel.sh [--kaslr-boots N] [KERNEL_SRC_CACHE]
#
# Boots a minimal kernel built with the relayres= series (kernel-config/patches/,
# built by tests/vm/patched-tree.sh --bzimage: tinyconfig +
# tests/vm/patched-kernel.config, cached in KERNEL_SRC_CACHE, default
# .cache/kernel-src) under QEMU TCG, with tests/vm/patched-init.c as /init:
#
#  1. warm reset: relayres=1M@0x5000000, 2 CPUs. The first boot writes markers
#     through /proc/relayres_test and resets with sysrq b (QEMU keeps RAM); the
#     second finds the previous channel (the kernel refuses to reuse it), reads
#     every marker back from /dev/mem, sets the consumed flag, and the channel
#     reopens with the next generation. "Relay reserved" must be in /proc/iomem.
#     When SALVAGE (default ./salvage) has `trace --region`, it is in that
#     boot's initramfs and `salvage trace show --region` must print every marker.
#  2. nokaslr with relayres= over the kernel image: refused with a message.
#  3. KASLR: N boots (default 4) of 512 MiB with relayres=384M@0x4000000, which
#     covers most of the slots KASLR could choose; in every boot the kernel
#     image must lie outside the region, and the placements must differ (KASLR
#     is really on). Without the decompressor's exclusion each boot would hit
#     the region with a probability of about 3/4.
#
# SKIP_WARM=1 skips step 1. Serial logs are kept in KERNEL_SRC_CACHE/<version>/patched-*.serial.log.
# Exit status 0 when every check passed.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
KASLR_BOOTS=4
if [ "${1:-}" = --kaslr-boots ]; then KASLR_BOOTS=${2:?}; shift 2; fi
KCACHE=${1:-$ROOT/.cache/kernel-src}
log() { echo "run-patched-kernel: $*" >&2; }
die() { echo "run-patched-kernel: ERROR: $*" >&2; exit 1; }
for t in qemu-system-x86_64 gcc cpio timeout; do command -v $t >/dev/null || die "missing tool: $t"; done

start=$(date +%s)
eval "$("$HERE/patched-tree.sh" --bzimage "$KCACHE")"
[ -s "$PT_BZIMAGE" ] || die "no bzImage"
log "patched kernel: $PT_BZIMAGE ($(( $(date +%s) - start )) s to build or find)"
OUT=$KCACHE/$PT_VER

WORK=$(mktemp -d /tmp/patched-kernel.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/root" "$WORK/root-salvage"
gcc -static -O2 -Wall -Wextra -Werror -o "$WORK/root/init" "$HERE/patched-init.c"
(cd "$WORK/root" && echo init | cpio -o -H newc --quiet) >"$WORK/initramfs.cpio"
# The warm-reset boot also carries salvage (stripped), whose `trace show
# --region` must decode the channel too, when it has the trace command.
SALVAGE=${SALVAGE:-$ROOT/salvage}
WARM_INITRD=$WORK/initramfs.cpio
if [ -x "$SALVAGE" ] && "$SALVAGE" trace --help 2>&1 | grep -q -- '--region'; then
  cp "$WORK/root/init" "$WORK/root-salvage/init"
  strip -o "$WORK/root-salvage/salvage" "$SALVAGE"
  (cd "$WORK/root-salvage" && printf 'init\nsalvage\n' | cpio -o -H newc --quiet) >"$WORK/initramfs-salvage.cpio"
  WARM_INITRD=$WORK/initramfs-salvage.cpio
  log "warm-reset boot carries $SALVAGE ($(du -h "$WORK/root-salvage/salvage" | cut -f1) stripped)"
else
  log "no salvage with 'trace --region' at $SALVAGE: the warm-reset boot uses the init's decoder only"
fi

FAILS=0 PASSES=0
pass() { PASSES=$((PASSES + 1)); echo "  ok   $*"; }
fail() { FAILS=$((FAILS + 1)); echo "  FAIL $*"; }

# boot NAME MEM APPEND MAX_BOOTS TIMEOUT [INITRD]: runs QEMU (warm resets allowed)
# until the init prints its RESULT, MAX_BOOTS kernels have started, or TIMEOUT.
boot() {
  local name=$1 mem=$2 append=$3 max=$4 limit=$5 initrd=${6:-$WORK/initramfs.cpio}
  local serial=$OUT/patched-$1.serial.log
  rm -f "$serial"
  qemu-system-x86_64 -accel tcg,thread=multi -cpu max,la57=off -smp 2 -m "$mem" \
    -display none -vga none -monitor none -nic none \
    -device isa-debug-exit,iobase=0xf4,iosize=0x01 \
    -serial "file:$serial" -kernel "$PT_BZIMAGE" -initrd "$initrd" \
    -append "console=ttyS0 panic=-1 $append" </dev/null >"$WORK/qemu-$name.out" 2>&1 &
  local pid=$! t=0
  while kill -0 $pid 2>/dev/null; do
    if grep -q 'PINIT: RESULT' "$serial" 2>/dev/null; then sleep 1; break; fi
    local boots
    boots=$(grep -c 'Linux version' "$serial" 2>/dev/null) || boots=0
    if [ "$boots" -gt "$max" ]; then
      log "$name: more than $max boots; stopping"; break
    fi
    if [ $t -ge "$limit" ]; then log "$name: timed out after $limit s"; break; fi
    sleep 1
    t=$((t + 1))
  done
  kill $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
  cp "$serial" "$WORK/$name.log"
}
expect() { # LOG REGEX DESCRIPTION
  if grep -qE "$2" "$1"; then pass "$3"; else fail "$3 (no /$2/ in $(basename "$1"))"; fi
}

if [ -z "${SKIP_WARM:-}" ]; then
echo "== warm reset: relayres=1M@0x5000000, 40 markers, sysrq b"
t0=$(date +%s)
boot warm 512M "relayres=1M@0x5000000 pinit.markers=40" 2 "${PATCHED_TIMEOUT:-240}" "$WARM_INITRD"
L=$WORK/warm.log
echo "   ($(( $(date +%s) - t0 )) s)"
[ "$(grep -c 'Linux version' "$L")" = 2 ] && pass "two boots (the first reset itself)" || fail "$(grep -c 'Linux version' "$L") boots, want 2"
expect "$L" 'relayres: reserved \[mem 0x0*5000000-0x0*50fffff\]' "setup_arch reserved the region"
expect "$L" 'PINIT: iomem +0*5000000-0*50fffff : Relay reserved' "\"Relay reserved\" in /proc/iomem"
expect "$L" 'PINIT: placement ok' "kernel image outside the region"
expect "$L" 'relayres: channel open at .*generation' "first boot: the channel opened"
expect "$L" 'PINIT: wrote 40 markers on 2 CPU' "first boot: 40 markers written on 2 CPUs"
expect "$L" 'relayres: previous channel \(generation [0-9]+, .*\) not yet saved' "second boot: the kernel kept the unsaved channel"
expect "$L" 'PINIT: relayres_test: closed: error -16' "second boot: relayres_open refused (-EBUSY)"
expect "$L" 'PINIT: recovered cpu 1 seq [0-9]+ ts [0-9]+ marker "pinit marker 2 of 40"' "a marker written on CPU 1 recovered"
expect "$L" 'PINIT: recovered 40 of 40 markers' "all 40 markers recovered from /dev/mem"
expect "$L" 'PINIT: relayres_test after saving: open generation' "after consumed=1 the channel reopened"
if [ "$WARM_INITRD" != "$WORK/initramfs.cpio" ]; then
  expect "$L" 'PINIT: salvage trace show: exit 0' "salvage trace show --region read the previous channel"
  expect "$L" 'marker .*"pinit marker 40 of 40"' "salvage decoded the last marker"
  n=$(grep -cE '^[^P].*marker.*"pinit marker [0-9]+ of 40"' "$L" || true)
  [ "$n" = 40 ] && pass "salvage printed all 40 markers" || fail "salvage printed $n of 40 markers"
fi
if grep -q 'PINIT: FAIL' "$L"; then fail "init reported:"; grep 'PINIT: FAIL' "$L" | sed 's/^/      /'; fi
expect "$L" 'PINIT: RESULT ok' "warm-reset init result ok"
fi

echo "== refused: nokaslr, relayres= over the kernel image"
# Without KASLR the image sits at CONFIG_PHYSICAL_START (16M on x86_64).
boot refused 256M "nokaslr relayres=2M@0x1000000 pinit.mode=refused" 1 "${PATCHED_TIMEOUT:-240}"
L=$WORK/refused.log
expect "$L" 'relayres: \[mem 0x0*1000000-0x0*11fffff\] overlaps the kernel image' "setup_arch refused a region over the kernel image"
expect "$L" 'PINIT: relayres_test: closed: error -19' "no channel without a region (-ENODEV)"
expect "$L" 'PINIT: RESULT ok' "refused-region init result ok"

echo "== KASLR: $KASLR_BOOTS boots, 512M, relayres=384M@0x4000000 (slots 16M..64M and 448M..512M left)"
placements=""
for i in $(seq 1 "$KASLR_BOOTS"); do
  boot "kaslr$i" 512M "relayres=384M@0x4000000 pinit.mode=kaslr" 1 "${PATCHED_TIMEOUT:-240}"
  L=$WORK/kaslr$i.log
  code=$(sed -n 's/.*PINIT: kernel Kernel code \[\(0x[0-9a-f]*\)-.*/\1/p' "$L" | head -n1)
  placements="$placements ${code:-?}"
  if grep -q 'PINIT: RESULT ok' "$L" && grep -q 'PINIT: placement ok' "$L" && [ -n "$code" ]; then
    pass "boot $i: kernel code at $code, outside [0x4000000-0x1bffffff]"
  else
    fail "boot $i: $(grep -E 'PINIT: (FAIL|RESULT)' "$L" | tr '\n' ' ')"
    tail -5 "$L" | sed 's/^/      /'
  fi
done
distinct=$(tr ' ' '\n' <<<"$placements" | grep . | sort -u | wc -l)
echo "   placements:$placements"
if [ "$KASLR_BOOTS" -lt 2 ] || [ "$distinct" -ge 2 ]; then pass "KASLR active: $distinct distinct placements in $KASLR_BOOTS boots"
else fail "KASLR inactive? the same placement in every boot"; fi

echo "run-patched-kernel: $PASSES passed, $FAILS failed ($(( $(date +%s) - start )) s; logs in $OUT/patched-*.serial.log)"
[ "$FAILS" -eq 0 ]
