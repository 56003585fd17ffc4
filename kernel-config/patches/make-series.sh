#!/bin/bash
# make-series.sh [--src KERNEL_SOURCE_DIR] [OUT_DIR]
#
# Regenerates the patches of the relayres= series that carry files kept
# elsewhere in this repository, so each of those files has one source:
#
#   0004  include/linux/relayres_layout.h  <- formats/relayres-layout.h
#         kernel/relayres-core.[ch]        <- kernel-config/relayres/ (the
#                                             flightrec module's writer)
#   0005  kernel/relay_reserved.c, include/linux/relayres.h,
#         kernel/Makefile                  <- kernel-config/patches/src/
#   0006  kernel/relay_reserved_test.c     <- kernel-config/patches/src/
#
# Patches 0001-0003 (Kconfig, setup.c, kaslr.c, the parameter's doc) are
# edits of existing kernel files and are themselves the source; they are
# applied first, then the generated ones are committed on top with a fixed
# author and date and written with git format-patch. OUT_DIR defaults to this
# directory; tests/readers/kernel-patches.sh regenerates into a temporary one
# and diffs it against the committed series.
#
# The base files come from KERNEL_SOURCE_DIR (an extracted linux-source-6.1)
# or, without --src, straight from /usr/src/linux-source-6.1.tar.xz.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
HAND_PATCHES=3   # 0001..0003 are hand-written; 0004.. are generated here

die() { echo "make-series: $*" >&2; exit 1; }
KSRC=
if [ "${1:-}" = --src ]; then KSRC=${2:?--src needs a directory}; shift 2; fi
OUT=${1:-$HERE}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

LAYOUT=$ROOT/formats/relayres-layout.h
CORE_C=$ROOT/kernel-config/relayres/relayres-core.c
CORE_H=$ROOT/kernel-config/relayres/relayres-core.h
for f in "$LAYOUT" "$CORE_C" "$CORE_H" "$HERE"/src/{relay_reserved.c,relay_reserved_test.c,relayres.h,0004.msg,0005.msg,0006.msg}; do
  [ -s "$f" ] || die "missing source file $f"
done
mapfile -t HAND < <(ls "$HERE"/[0-9][0-9][0-9][0-9]-*.patch | head -n "$HAND_PATCHES")
[ "${#HAND[@]}" -eq "$HAND_PATCHES" ] || die "expected $HAND_PATCHES hand-written patches in $HERE"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/make-series.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
# Only the kernel files the series modifies are needed for git am and
# format-patch; new files need no base.
mapfile -t BASE < <({ sed -n 's|^--- a/||p' "${HAND[@]}"; echo kernel/Makefile; } | sort -u)
mkdir -p "$WORK/tree"
if [ -n "$KSRC" ]; then
  for f in "${BASE[@]}"; do
    [ -f "$KSRC/$f" ] || die "$KSRC/$f: not found (is --src an extracted linux-source-6.1?)"
    mkdir -p "$WORK/tree/$(dirname "$f")"
    cp "$KSRC/$f" "$WORK/tree/$f"
  done
else
  TARBALL=/usr/src/linux-source-6.1.tar.xz
  [ -f "$TARBALL" ] || die "$TARBALL missing: apt-get install linux-source-6.1, or pass --src"
  tar -xJf "$TARBALL" -C "$WORK" "${BASE[@]/#/linux-source-6.1/}"
  cp -a "$WORK/linux-source-6.1/." "$WORK/tree/"
fi

export GIT_AUTHOR_NAME=salvage GIT_AUTHOR_EMAIL=salvage@localhost
export GIT_COMMITTER_NAME=salvage GIT_COMMITTER_EMAIL=salvage@localhost
export GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"
g() { git -C "$WORK/tree" -c core.autocrlf=false -c advice.detachedHead=false "$@"; }
g init -q
g add -A
g commit -q -m "linux-source-6.1 (the files this series touches)"
g am -q "${HAND[@]}" || die "the hand-written patches do not apply to the base files"

T=$WORK/tree
# 0004: the shared layout and writer core, copied verbatim except for the
# layout header's in-tree name.
mkdir -p "$T/include/linux" "$T/kernel"
cp "$LAYOUT" "$T/include/linux/relayres_layout.h"
cp "$CORE_C" "$T/kernel/relayres-core.c"
sed 's|#include "relayres-layout.h"|#include <linux/relayres_layout.h>|' "$CORE_H" >"$T/kernel/relayres-core.h"
grep -q '<linux/relayres_layout.h>' "$T/kernel/relayres-core.h" ||
  die "relayres-core.h no longer includes \"relayres-layout.h\"; update make-series.sh"
g add -A
g commit -q -F "$HERE/src/0004.msg"

# 0005: the API and its build rule, next to relay's own.
cp "$HERE/src/relay_reserved.c" "$T/kernel/relay_reserved.c"
cp "$HERE/src/relayres.h" "$T/include/linux/relayres.h"
grep -q '^obj-$(CONFIG_RELAY) += relay.o$' "$T/kernel/Makefile" || die "kernel/Makefile: no relay.o rule"
sed -i 's|^obj-$(CONFIG_RELAY) += relay.o$|&\nobj-$(CONFIG_RELAY_RESERVED) += relay_reserved.o relayres-core.o|' "$T/kernel/Makefile"
g add -A
g commit -q -F "$HERE/src/0005.msg"

# 0006: the test hook.
cp "$HERE/src/relay_reserved_test.c" "$T/kernel/relay_reserved_test.c"
sed -i 's|^obj-$(CONFIG_RELAY_RESERVED) += relay_reserved.o relayres-core.o$|&\nobj-$(CONFIG_RELAY_RESERVED_TEST) += relay_reserved_test.o|' "$T/kernel/Makefile"
g add -A
g commit -q -F "$HERE/src/0006.msg"

# Replace the generated patches (their names follow their subjects).
find "$OUT" -maxdepth 1 -name '[0-9][0-9][0-9][0-9]-*.patch' | while read -r p; do
  n=$(basename "$p" | cut -c1-4)
  if [ $((10#$n)) -gt "$HAND_PATCHES" ]; then rm -f "$p"; fi
done
if [ "$OUT" != "$HERE" ]; then cp "${HAND[@]}" "$OUT/"; fi
g format-patch -q --no-signature --start-number $((HAND_PATCHES + 1)) -o "$OUT" HEAD~3..HEAD
ls "$OUT"/[0-9][0-9][0-9][0-9]-*.patch | sed 's|.*/||'
