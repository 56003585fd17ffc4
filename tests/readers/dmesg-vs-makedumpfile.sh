#!/bin/bash
# dmesg-vs-makedumpfile.sh LAB_CACHE_DIR
# `salvage dmesg` prints the same bytes as `makedumpfile --dump-dmesg`
# (Debian's 1.7.2) on the lab vmcore(s): the ELF vmcore, the 5-level-paging
# one if built, with --partial / --partial-dmesg, and the same log from
# every format makedumpfile writes (kdump zlib/lzo, flattened, ELF -E).
# Then a copy of the vmcore whose log text is patched with control bytes,
# bytes >= 0x80, a tab and a newline checks the escaping byte for byte.
# With MAKEDUMPFILE_NEW=path to a makedumpfile >= 1.7.5 (which prints the
# caller column), `salvage dmesg --caller-id` is compared with it too.
# Exit status is non-zero on any difference. SALVAGE=path overrides the binary.
. "$(dirname "$0")/lib.sh" "$1"

# compare NAME SALVAGE-ARGS... -- MAKEDUMPFILE-ARGS... DUMP
# Both read DUMP, unless SV_DUMP names another file for salvage (a format
# makedumpfile cannot read itself, holding the same memory).
compare() {
  local name=$1; shift
  local sv=() mk=()
  while [ "$1" != -- ]; do sv+=("$1"); shift; done
  shift
  while [ $# -gt 1 ]; do mk+=("$1"); shift; done
  local dump=$1 out="$WORK/cmp.$RANDOM"
  if ! "${MDF:-makedumpfile}" "${mk[@]}" --dump-dmesg "$dump" "$out.mdf" > "$out.mdf.log" 2>&1; then
    fail "$name: makedumpfile --dump-dmesg failed: $(tail -2 "$out.mdf.log")"
    return
  fi
  if ! "$SALVAGE" dmesg "${sv[@]}" -o "$out.salvage" "${SV_DUMP:-$dump}" 2> "$out.sv.log"; then
    fail "$name: salvage dmesg failed: $(head -2 "$out.sv.log")"
    return
  fi
  if cmp -s "$out.mdf" "$out.salvage"; then
    pass "$name: identical ($(wc -l < "$out.mdf") lines, $(wc -c < "$out.mdf") bytes)"
  else
    fail "$name: differs from makedumpfile: $(cmp "$out.mdf" "$out.salvage" 2>&1 | head -1)"
    diff "$out.mdf" "$out.salvage" | head -10 | sed 's/^/       /'
  fi
}

compare "vmcore" -- "$VMCORE"
compare "vmcore --partial" --partial -- --partial-dmesg "$VMCORE"
if [ -n "${LAB_VMCORE_LA57:-}" ] && [ -s "$LAB_VMCORE_LA57" ]; then
  compare "vmcore-la57 (5-level paging)" -- "$LAB_VMCORE_LA57"
fi

# The same log through every reader: makedumpfile writes each format.
makedumpfile -c -d 31 "$VMCORE" "$WORK/k.zlib" > /dev/null 2>&1 && compare "kdump zlib -d 31" -- "$WORK/k.zlib"
makedumpfile -l -d 31 "$VMCORE" "$WORK/k.lzo" > /dev/null 2>&1 && compare "kdump lzo -d 31" -- "$WORK/k.lzo"
rm -f "$WORK/k.zlib" "$WORK/k.lzo"
# makedumpfile cannot read a flattened stream without -R: compare with its
# log of the source vmcore.
makedumpfile -F -c -d 31 "$VMCORE" > "$WORK/k.flat" 2> /dev/null &&
  SV_DUMP="$WORK/k.flat" compare "flattened -d 31 (vs makedumpfile on the source)" -- "$VMCORE"
rm -f "$WORK/k.flat"
makedumpfile -E -d 31 "$VMCORE" "$WORK/k.elf" > /dev/null 2>&1 && compare "ELF -E -d 31" -- "$WORK/k.elf"
rm -f "$WORK/k.elf"

# Escaping: patch one record's text (every copy of it in the file) with
# bytes makedumpfile escapes in its own way (0xe2 prints as \xffffffe2).
cp "$VMCORE" "$WORK/patched"
patched=$(/usr/bin/python3 - "$WORK/patched" <<'PY'
import mmap, sys
old = b"BIOS-provided physical RAM map:"
new = b"BIOS\xe2pro\x01ided\tphys\x0bcal\nRAM\x7fmap\x00"
assert len(old) == len(new)
n = 0
with open(sys.argv[1], "r+b") as f, mmap.mmap(f.fileno(), 0) as m:
    i = m.find(old)
    while i >= 0:
        m[i:i + len(old)] = new
        n += 1
        i = m.find(old, i + len(old))
print(n)
PY
)
if [ "${patched:-0}" -gt 0 ]; then
  compare "vmcore with non-printable log bytes" -- "$WORK/patched"
else
  fail "could not find the record to patch in $VMCORE"
fi
if [ -n "${MAKEDUMPFILE_NEW:-}" ]; then
  MDF=$MAKEDUMPFILE_NEW compare "--caller-id vs $MAKEDUMPFILE_NEW" --caller-id -- "$VMCORE"
  MDF=$MAKEDUMPFILE_NEW compare "--caller-id, non-printable bytes" --caller-id -- "$WORK/patched"
fi
rm -f "$WORK/patched"
# Every format salvage writes gives the same log as makedumpfile reads from
# the source vmcore.
for variant in "zlib -c" "lzo -l" "snappy -p" "zstd -z" "raw" "elf -E" "lkcd --lkcd -c" "flattened -F -c"; do
  set -- $variant
  name=$1; shift
  if "$SALVAGE" convert -d 31 "$@" "$VMCORE" "$WORK/sv.$name" 2> "$WORK/sv.log"; then
    SV_DUMP="$WORK/sv.$name" compare "salvage $name -d 31 (vs makedumpfile on the source)" -- "$VMCORE"
  else
    fail "salvage convert $name: $(tail -1 "$WORK/sv.log")"
  fi
  rm -f "$WORK/sv.$name"
done
finish
