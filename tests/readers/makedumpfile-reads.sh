#!/bin/bash
# makedumpfile (Debian's 1.7.2, which reads zlib and lzo only) accepts
# salvage's kdump output: --dump-dmesg gives the same log as from the source
# vmcore. makedumpfile -R rebuilds salvage's flattened stream into a file
# identical to salvage's direct output, and crash opens it.
. "$(dirname "$0")/lib.sh" "$1"

makedumpfile --dump-dmesg "$VMCORE" "$WORK/dmesg.src" > /dev/null 2>&1 || { fail "makedumpfile --dump-dmesg on the source"; finish; exit 1; }
for codec in "zlib -c" "lzo -l"; do
  set -- $codec
  "$SALVAGE" convert -d 31 "$2" "$VMCORE" "$WORK/$1.kdump" 2> /dev/null || { fail "$1: convert"; continue; }
  if makedumpfile --dump-dmesg "$WORK/$1.kdump" "$WORK/dmesg.$1" > "$WORK/mdf.log" 2>&1 &&
     cmp -s "$WORK/dmesg.src" "$WORK/dmesg.$1"; then
    pass "$1: makedumpfile --dump-dmesg reads salvage's dump, same log as the source"
  else
    fail "$1: makedumpfile --dump-dmesg: $(tail -2 "$WORK/mdf.log")"
  fi
  # makedumpfile refilters salvage's dump (reads every page through our headers).
  if makedumpfile -d 31 -c "$WORK/$1.kdump" "$WORK/$1.refiltered" > "$WORK/mdf.log" 2>&1; then
    pass "$1: makedumpfile -d 31 refilters salvage's dump"
  else
    fail "$1: makedumpfile refilter: $(tail -2 "$WORK/mdf.log")"
  fi
  rm -f "$WORK/$1.refiltered"
done

# Flattened: salvage -F to stdout, rebuilt by makedumpfile -R.
"$SALVAGE" convert -d 31 -c -F "$VMCORE" - > "$WORK/flat" 2> /dev/null || fail "convert -F"
makedumpfile -R "$WORK/rebuilt" < "$WORK/flat" > "$WORK/mdf.log" 2>&1 || fail "makedumpfile -R: $(tail -2 "$WORK/mdf.log")"
if cmp -s "$WORK/rebuilt" "$WORK/zlib.kdump"; then
  pass "makedumpfile -R rebuilds salvage's flattened stream into the same bytes as the direct kdump output"
else
  fail "makedumpfile -R output differs from salvage's direct kdump output ($(cmp "$WORK/rebuilt" "$WORK/zlib.kdump" 2>&1 | head -1))"
fi
printf 'sys\nlog\nquit\n' > "$WORK/cmds"
timeout 300 crash -s "$VMLINUX" "$WORK/rebuilt" -i "$WORK/cmds" > "$WORK/crash.txt" 2>&1 < /dev/null || true
if grep -q "RELEASE: $KVER" "$WORK/crash.txt" && grep -q 'sysrq triggered crash' "$WORK/crash.txt"; then
  pass "crash opens the rebuilt flattened dump"
else
  fail "crash on the rebuilt flattened dump: $(head -20 "$WORK/crash.txt")"
fi
# crash also reads the flattened stream directly.
timeout 300 crash -s "$VMLINUX" "$WORK/flat" -i "$WORK/cmds" > "$WORK/crash2.txt" 2>&1 < /dev/null || true
if grep -q "RELEASE: $KVER" "$WORK/crash2.txt"; then pass "crash opens the flattened stream itself"; else fail "crash on the flattened stream: $(head -20 "$WORK/crash2.txt")"; fi
finish
