#!/bin/bash
# crash 8 with the lab's debug vmlinux opens every kdump codec and the ELF
# output of salvage: `bt` of the panicking task shows the sysrq crash path,
# `sys` shows the right release, `log` shows the panic message. LKCD needs
# --kaslr and phys_base on the command line, which `salvage info` prints.
. "$(dirname "$0")/lib.sh" "$1"

check_crash() {  # name dumpfile [extra crash args...]
  local name=$1 dump=$2; shift 2
  local out=$WORK/$name.crash.txt
  printf 'sys\nbt\nlog\nquit\n' > "$WORK/cmds"
  timeout 300 crash -s "$@" "$VMLINUX" "$dump" -i "$WORK/cmds" > "$out" 2>&1 < /dev/null || true
  local ok=1
  grep -q "RELEASE: $KVER" "$out" || { fail "$name: sys does not show RELEASE: $KVER"; ok=0; }
  if [ "${CHECK_BT:-1}" = 1 ]; then
    grep -q 'sysrq_handle_crash' "$out" || { fail "$name: bt does not show sysrq_handle_crash"; ok=0; }
  fi
  grep -q 'Kernel panic - not syncing: sysrq triggered crash' "$out" || { fail "$name: log lacks the panic message"; ok=0; }
  [ $ok = 1 ] && pass "$name: crash sys/bt/log" || sed -n 1,40p "$out"
}

for variant in "kdump-zlib -c" "kdump-lzo -l" "kdump-snappy -p" "kdump-zstd -z" "kdump-raw" "elf -E"; do
  set -- $variant
  name=$1; shift
  "$SALVAGE" convert -d 31 "$@" "$VMCORE" "$WORK/$name" 2> "$WORK/$name.log" || { fail "$name: convert failed: $(tail -1 "$WORK/$name.log")"; continue; }
  check_crash "$name" "$WORK/$name"
  rm -f "$WORK/$name"
done

# A filtered dump converted again (kdump -d 31 -> ELF): pages the source
# lacks cannot be kept; the result still opens in crash.
"$SALVAGE" convert -d 31 -c "$VMCORE" "$WORK/k31" 2> /dev/null &&
  "$SALVAGE" convert -d 1 -E "$WORK/k31" "$WORK/k31.elf" 2> "$WORK/k31.log" &&
  check_crash "kdump-d31-to-elf" "$WORK/k31.elf" || fail "kdump -d 31 -> ELF: $(tail -1 "$WORK/k31.log")"
rm -f "$WORK/k31" "$WORK/k31.elf"

# 5-level paging: the lab's la57 vmcore, through the page-table walk with
# five levels, filtered and opened by crash.
if [ -s "$LAB_DIR/vmcore-la57" ]; then
  "$SALVAGE" convert -d 31 -c "$LAB_DIR/vmcore-la57" "$WORK/la57" 2> "$WORK/la57.log" || fail "la57: convert failed: $(tail -1 "$WORK/la57.log")"
  grep -q '5-level' <("$SALVAGE" info "$WORK/la57") || fail "la57: salvage info does not report 5-level paging"
  check_crash la57-kdump-zlib "$WORK/la57"
  rm -f "$WORK/la57"
else
  fail "no 5-level lab vmcore (make lab-la57)"
fi

# LKCD: the crash command line comes from `salvage info`.
"$SALVAGE" convert -d 31 -c --lkcd "$VMCORE" "$WORK/lkcd" 2> "$WORK/lkcd.log" || fail "lkcd: convert failed: $(tail -1 "$WORK/lkcd.log")"
if [ -s "$WORK/lkcd" ]; then
  cmdline=$("$SALVAGE" info --vmlinux "$VMLINUX" "$WORK/lkcd" | sed -n 's/^crash: *crash //p')
  kaslr=$(echo "$cmdline" | grep -o -- '--kaslr=[^ ]*')
  machdep=$(echo "$cmdline" | grep -o -- 'phys_base=[^ ]*')
  # bt works on LKCD too (registers from the arch header); docs/formats/lkcd.md.
  check_crash lkcd "$WORK/lkcd" "$kaslr" --machdep "$machdep"
fi
finish
