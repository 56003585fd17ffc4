#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
# elflkcd-synthetic.sh UNIT_TESTS_BINARY
#
# Writes the synthetic ELF and LKCD dumps of tests/unit/{elf-writer,lkcd}_test.cc
# to a temporary directory and reads them with independent readers:
# readelf (program headers, notes) and libkdumpfile (every page's contents).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
UNIT=${1:?usage: $0 UNIT_TESTS_BINARY}
DIR=$(mktemp -d)
trap 'rm -rf "$DIR"' EXIT
SALVAGE_SYNTHETIC_DIR=$DIR "$UNIT" --gtest_brief=1 \
    --gtest_filter='ElfWriter.LayoutFollowsMakedumpfileAndCrashRules:LkcdWriter.HeaderFieldsAtTheirOffsets:LkcdWriter.RawReadsBack' >/dev/null
for f in synthetic.elf synthetic-raw.lkcd synthetic-zlib.lkcd; do
    [ -s "$DIR/$f" ] || { echo "elflkcd-synthetic: $f was not written" >&2; exit 1; }
done

fail() { echo "elflkcd-synthetic: $*" >&2; exit 1; }
ph=$(readelf -W -l "$DIR/synthetic.elf")
notes=$(readelf -W -n "$DIR/synthetic.elf")
# phdr[0] is the single PT_NOTE with alignment 0; five PT_LOADs follow.
[ "$(echo "$ph" | awk '$1=="NOTE"||$1=="LOAD"{print $1}' | head -n1)" = NOTE ] || fail "phdr[0] is not PT_NOTE"
[ "$(echo "$ph" | grep -c '^ *NOTE')" = 1 ] || fail "expected exactly one PT_NOTE"
[ "$(echo "$ph" | grep -c '^ *LOAD')" = 5 ] || fail "expected 5 PT_LOADs"
echo "$ph" | awk '$1=="NOTE"{exit !($NF=="0" || $NF=="0x0")}' || fail "PT_NOTE p_align is not 0"
echo "$ph" | grep -q 'LOAD .* 0xffffffff9b000000 0x0000000000300000 0x100000 0x22c000 RWE 0' || fail "kernel image PT_LOAD wrong"
echo "$ph" | grep -q 'LOAD .* 0xffff888000100000 0x0000000000100000 0x300000 0x42c000 RWE 0' || fail "split direct-map PT_LOAD wrong"
[ "$(echo "$notes" | grep -c 'NT_PRSTATUS')" = 2 ] || fail "expected 2 NT_PRSTATUS notes"
echo "$notes" | grep -q '^ *VMCOREINFO' || fail "no VMCOREINFO note"
echo "readelf: program headers and notes as expected"

/usr/bin/python3 "$HERE/check-synthetic.py" "$DIR"
