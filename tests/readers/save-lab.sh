#!/bin/bash
# `salvage save` end to end without the capture agent: tests/tools/
# make-container writes the lab vmcore into a raw-device container on a
# file (a 'dmesg' section, then the kdump writer into a 'vmcore' section),
# then `salvage save --device FILE --crash-dir DIR` must leave vmcore,
# dmesg.txt and summary.txt that crash (sys/bt/log) and makedumpfile
# --dump-dmesg read, with 0600 files in 0700 directories; a second run
# saves nothing; --format elf converts on the way; a device too small for
# the dump gives a saved, honestly labelled incomplete dump; a flipped
# byte is reported by MiB; --min-free refuses and leaves the dump pending.
#   usage: save-lab.sh LAB_CACHE_DIR
# MAKE_CONTAINER may name a prebuilt make-container; otherwise it is built
# in $BUILD (default build).
. "$(dirname "$0")/lib.sh" "$1"

TOOL=${MAKE_CONTAINER:-}
if [ -z "$TOOL" ]; then
  B=${BUILD:-build}
  make -s -C "$ROOT" BUILD="$B" "$B/make-container" >&2 || { fail "building make-container"; finish; exit 1; }
  TOOL=$ROOT/$B/make-container
fi

saved_dir() { find "$1" -mindepth 2 -maxdepth 2 -type d | sort | tail -1; }

check_crash() {  # name dumpfile
  local out=$WORK/$1.crash.txt
  printf 'sys\nbt\nlog\nquit\n' > "$WORK/cmds"
  timeout 300 crash -s "$VMLINUX" "$2" -i "$WORK/cmds" > "$out" 2>&1 < /dev/null || true
  local ok=1
  grep -q "RELEASE: $KVER" "$out" || { fail "$1: crash sys does not show RELEASE: $KVER"; ok=0; }
  grep -q 'sysrq_handle_crash' "$out" || { fail "$1: crash bt does not show sysrq_handle_crash"; ok=0; }
  grep -q 'Kernel panic - not syncing: sysrq triggered crash' "$out" || { fail "$1: crash log lacks the panic"; ok=0; }
  [ $ok = 1 ] && pass "$1: crash sys/bt/log" || sed -n 1,30p "$out"
}

# --- 1. A complete dump, saved once.
DEV=$WORK/dev CRASH=$WORK/crash
"$TOOL" --size $((1 << 30)) -d 31 -c "$VMCORE" "$DEV" 2> "$WORK/mk.log" || { fail "make-container: $(tail -1 "$WORK/mk.log")"; finish; exit 1; }
if "$SALVAGE" save --device "$DEV" --crash-dir "$CRASH" --vmlinux "$VMLINUX" --min-free 0 2> "$WORK/save1.log"; then
  pass "save: exit 0"
else
  fail "save failed: $(tail -2 "$WORK/save1.log")"
fi
D=$(saved_dir "$CRASH")
for f in vmcore dmesg.txt summary.txt; do
  [ -s "$D/$f" ] || fail "save: $D/$f missing"
  [ "$(stat -c %a "$D/$f")" = 600 ] || fail "save: $f is mode $(stat -c %a "$D/$f"), not 600"
done
[ "$(stat -c %a "$D")" = 700 ] && [ "$(stat -c %a "$(dirname "$D")")" = 700 ] && pass "save: files 0600, directories 0700" \
  || fail "save: directory modes $(stat -c %a "$D") $(stat -c %a "$(dirname "$D")")"
ls "$D" | grep -q incomplete && fail "save: a -incomplete file was left in $D"
check_crash saved "$D/vmcore"
if makedumpfile --dump-dmesg "$D/vmcore" "$WORK/mdf-dmesg.txt" > "$WORK/mdf.log" 2>&1; then
  cmp -s "$WORK/mdf-dmesg.txt" "$D/dmesg.txt" && pass "makedumpfile --dump-dmesg on the saved vmcore equals dmesg.txt" \
    || fail "makedumpfile --dump-dmesg output differs from dmesg.txt"
else
  fail "makedumpfile --dump-dmesg failed: $(tail -2 "$WORK/mdf.log")"
fi
S=$D/summary.txt ok=1
for field in "release:      $KVER" "build-id:     [0-9a-f]\{40\}" "panic:        Kernel panic - not syncing: sysrq triggered crash" \
             "time:         20" "dump level:   31" "completeness: complete" "crash:        crash $VMLINUX $D/vmcore"; do
  grep -q "^$field" "$S" || { fail "summary.txt lacks '$field'"; ok=0; }
done
[ $ok = 1 ] && pass "summary.txt: release, BUILD-ID, panic, time, level, completeness, crash command line"
# The crash command line in summary.txt is the one `salvage info` prints.
[ "$(grep '^crash:' "$S")" = "$("$SALVAGE" info --vmlinux "$VMLINUX" "$D/vmcore" | grep '^crash:')" ] \
  && pass "summary.txt crash line = salvage info's" || fail "summary.txt crash line differs from salvage info's"

# --- 2. Saving twice saves once.
"$SALVAGE" save --device "$DEV" --crash-dir "$CRASH" --min-free 0 2> "$WORK/save2.log"; rc=$?
n=$(find "$CRASH" -mindepth 2 -maxdepth 2 -type d | wc -l)
[ $rc = 0 ] && [ "$n" = 1 ] && grep -q "no pending dump" "$WORK/save2.log" && pass "second save saves nothing" \
  || fail "second save: rc=$rc, $n dump directories, $(cat "$WORK/save2.log")"

# --- 3. --format elf -d 31 converts (and filters) on the way; crash opens
# the ELF core. The capture here is unfiltered (-d 0): salvage's pipeline
# does not yet convert a source that is itself filtered.
"$TOOL" --size $((1 << 30)) -d 0 -z "$VMCORE" "$DEV" 2> "$WORK/mk.log"
rm -rf "$CRASH"
"$SALVAGE" save --device "$DEV" --crash-dir "$CRASH" --vmlinux "$VMLINUX" --min-free 0 --format elf -d 31 2> "$WORK/save3.log" \
  || fail "save --format elf: $(tail -2 "$WORK/save3.log")"
D=$(saved_dir "$CRASH")
grep -q '^format:       elf' "$D/summary.txt" \
  && pass "save --format elf -d 31: an ELF vmcore" || fail "save --format elf: $(grep -E '^(format|dump level|vmcore note)' "$D/summary.txt")"
check_crash saved-elf "$D/vmcore"

# --- 4. --min-free refuses and the dump stays pending.
"$TOOL" --size $((1 << 30)) -d 31 -c "$VMCORE" "$DEV" 2> "$WORK/mk.log"
rm -rf "$CRASH"
if "$SALVAGE" save --device "$DEV" --crash-dir "$CRASH" --min-free 100% 2> "$WORK/save4.log"; then
  fail "save --min-free 100% succeeded"
else
  grep -q "refusing to save" "$WORK/save4.log" && [ -z "$(find "$CRASH" -mindepth 1 -maxdepth 1)" ] \
    && pass "--min-free: refused, nothing written" || fail "--min-free: $(cat "$WORK/save4.log")"
fi
"$SALVAGE" save --device "$DEV" --crash-dir "$CRASH" --min-free 0 2> "$WORK/save5.log" && [ -n "$(saved_dir "$CRASH")" ] \
  && pass "--min-free: the refused dump was still pending and saves later" || fail "pending after refusal: $(cat "$WORK/save5.log")"

# --- 5. A damaged MiB is saved as read and reported by number.
"$TOOL" --size $((1 << 30)) -d 31 -c "$VMCORE" "$DEV" 2> "$WORK/mk.log"
rm -rf "$CRASH"
# The 'vmcore' entry's offset field (docs/formats/container.md); MiB 3 is well inside the dump.
start=$(/usr/bin/python3 - "$DEV" <<'PY'
import struct, sys
d = open(sys.argv[1], 'rb').read(4096 + 64 * 128)
for i in range(64):
    e = d[4096 + i * 128: 4096 + (i + 1) * 128]
    if e[:7] == b'vmcore\0':
        print(struct.unpack_from('<Q', e, 48)[0]); break
PY
)
printf '\xff' | dd of="$DEV" bs=1 seek=$((start + 3 * 1048576 + 100)) conv=notrunc status=none
"$SALVAGE" save --device "$DEV" --crash-dir "$CRASH" --min-free 0 2> "$WORK/save6.log"
D=$(saved_dir "$CRASH")
grep -q "bad CRC32C in MiB 3 of" "$WORK/save6.log" && grep -q "bad CRC32C in MiB 3 of" "$D/summary.txt" \
  && grep -q "^completeness: INCOMPLETE or DAMAGED" "$D/summary.txt" && [ -s "$D/vmcore" ] \
  && pass "bad CRC: MiB 3 named on stderr and in summary.txt, dump saved" || fail "bad CRC: $(cat "$WORK/save6.log")"

# --- 6. A device too small for the dump: incomplete, saved, and said so.
# (bt and log of a cut dump need the agent's priority order, tested with it.)
"$TOOL" --size $((20 << 20)) -d 31 -c "$VMCORE" "$DEV.small" 2> "$WORK/mk.log"
rm -rf "$CRASH"
"$SALVAGE" save --device "$DEV.small" --crash-dir "$CRASH" --min-free 0 2> "$WORK/save7.log" || fail "save incomplete: $(tail -1 "$WORK/save7.log")"
D=$(saved_dir "$CRASH")
grep -q "incomplete" "$WORK/save7.log" && grep -q "^complete:     no (incomplete dump)" "$D/summary.txt" \
  && grep -q "vmcore (dump, incomplete)" "$D/summary.txt" && [ -s "$D/dmesg.txt" ] \
  && pass "small device: incomplete dump saved with dmesg.txt, said on stderr and in summary.txt" \
  || fail "small device: $(cat "$WORK/save7.log")"
finish
