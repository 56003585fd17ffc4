#!/bin/bash
# patched-tree.sh [--objects | --bzimage] CACHE_ROOT
#
# The kernel side of the relayres= series under test, cached in CACHE_ROOT
# (.cache/kernel-src):
#
#   CACHE_ROOT/<ver>/linux-source-6.1   Debian's linux-source-6.1 <ver>, extracted
#                                       once from /usr/src (never modified)
#   CACHE_ROOT/<ver>/tree               a hard-linked copy with the series applied
#   CACHE_ROOT/<ver>/build              its O= build directory: tinyconfig +
#                                       tests/vm/patched-kernel.config
#
# tree/.key hashes the patches and the fragment: an unchanged series is
# reused as it is; a changed one is applied to a fresh copy at the same path,
# so make rebuilds only what the change touched (the paths and the pristine
# files' times are unchanged).
# Applying checks every patch with `git apply --check` first, in order, on
# the pristine copy; a patch that does not apply fails the script.
#
#   --objects  compile the objects the series touches, warnings as errors
#   --bzimage  build arch/x86/boot/bzImage
# Prints shell assignments PT_VER PT_TREE PT_BUILD PT_BZIMAGE on stdout; logs
# go to stderr. Needs linux-source-6.1, flex, bison, bc (Makefile's packages).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
MODE=
case "${1:-}" in --objects|--bzimage) MODE=$1; shift ;; esac
CACHE_ROOT=${1:?usage: $0 [--objects|--bzimage] CACHE_ROOT}
JOBS=${PT_JOBS:-2}
log() { echo "patched-tree: $*" >&2; }
die() { echo "patched-tree: ERROR: $*" >&2; exit 1; }

TARBALL=/usr/src/linux-source-6.1.tar.xz
[ -f "$TARBALL" ] || die "$TARBALL missing (apt-get install linux-source-6.1; it is in the Makefile's DEBIAN_PACKAGES)"
VER=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null) || die "linux-source-6.1 is not installed"
for t in flex bison bc git make gcc; do command -v $t >/dev/null || die "missing tool: $t"; done
PATCHES=("$ROOT"/kernel-config/patches/[0-9][0-9][0-9][0-9]-*.patch)
FRAGMENT=$HERE/patched-kernel.config
KEY=$(cat "${PATCHES[@]}" "$FRAGMENT" | sha256sum | cut -c1-12)

D=$CACHE_ROOT/$VER
mkdir -p "$D"
D=$(cd "$D" && pwd)
exec 9>"$D/.lock"
flock 9   # kernel-patches.sh and run-patched-kernel.sh share the cache

SRC=$D/linux-source-6.1
if [ ! -f "$D/.extracted" ]; then
  log "extracting $TARBALL ($VER) into $D"
  rm -rf "$SRC" "$D/.x"
  mkdir -p "$D/.x"
  tar -xJf "$TARBALL" -C "$D/.x"
  mv "$D/.x/linux-source-6.1" "$SRC"
  rmdir "$D/.x"
  touch "$D/.extracted"
fi

TREE=$D/tree
BUILD=$D/build
if [ "$(cat "$TREE/.key" 2>/dev/null)" != "$KEY" ]; then
  rm -rf "$TREE" "$TREE.tmp" "$BUILD/.configured" "$BUILD/.bzimage-done"
  # Hard links: 1.5 GB copied in seconds. git apply replaces the files it
  # changes (new inode), so the pristine source is never written through.
  cp -al "$SRC" "$TREE.tmp"
  # The cache lies inside this repository's work tree: without a ceiling,
  # git apply would find our .git and silently skip paths it ignores.
  export GIT_CEILING_DIRECTORIES=$D
  for p in "${PATCHES[@]}"; do
    git -C "$TREE.tmp" apply --check "$p" 2>&1 >&2 || die "$(basename "$p") does not apply to linux-source-6.1 $VER"
    git -C "$TREE.tmp" apply "$p"
    log "applied $(basename "$p")"
  done
  grep -q '^config RELAY_RESERVED$' "$TREE.tmp/init/Kconfig" || die "the series did not reach the tree"
  ! grep -q relayres "$SRC/arch/x86/kernel/setup.c" || die "the pristine source was modified through a hard link"
  mv "$TREE.tmp" "$TREE"
  echo "$KEY" >"$TREE/.key"
fi

KMAKE=(make -C "$TREE" O="$BUILD" ARCH=x86_64 -j"$JOBS")
if [ ! -f "$BUILD/.configured" ]; then
  mkdir -p "$BUILD"
  "${KMAKE[@]}" -s tinyconfig >&2
  "$TREE/scripts/kconfig/merge_config.sh" -m -O "$BUILD" "$BUILD/.config" "$FRAGMENT" >/dev/null
  "${KMAKE[@]}" -s olddefconfig >&2
  # A fragment line that olddefconfig dropped means a missing dependency.
  missing=$(grep -E '^CONFIG_[A-Z0-9_]+=' "$FRAGMENT" | while read -r l; do
    grep -qxF "$l" "$BUILD/.config" || echo "$l"; done)
  [ -z "$missing" ] || die "the config lost: $missing"
  touch "$BUILD/.configured"
fi

emit() { printf '%s=%q\n' "$1" "$2"; }
case "$MODE" in
  --objects)
    # Every object a patch adds or changes, warnings as errors.
    OBJS=(kernel/relay_reserved.o kernel/relayres-core.o kernel/relay_reserved_test.o
          arch/x86/kernel/setup.o)
    log "make prepare + ${OBJS[*]} arch/x86/boot/compressed/kaslr.o"
    "${KMAKE[@]}" -s prepare >&2
    # init/version-timestamp.o generates include/generated/utsversion.h,
    # which the decompressor's kaslr.c includes (6.1 makes it only for vmlinux).
    "${KMAKE[@]}" KCFLAGS=-Werror "${OBJS[@]}" init/version-timestamp.o >&2
    # The decompressor is not warning-free in 6.1 (misc.h's malloc(int)
    # clashes with the builtin; process_mem_region()'s `i` is unused without
    # MEMORY_HOTREMOVE), so only a warning on a line the series added fails.
    rm -f "$BUILD/arch/x86/boot/compressed/kaslr.o"
    "${KMAKE[@]}" arch/x86/boot/compressed/kaslr.o 2>"$BUILD/kaslr.log" >&2 ||
      { cat "$BUILD/kaslr.log" >&2; die "kaslr.o does not compile"; }
    added=$(cat "${PATCHES[@]}" | awk '
      /^\+\+\+ /  { f = ($2 == "b/arch/x86/boot/compressed/kaslr.c"); next }
      /^@@ / && f { split(substr($3, 2), a, ","); n = a[1] + 0; next }
      f && /^\+/   { print n++; next }
      f && /^ /    { n++ }')
    while IFS=: read -r _ line _; do
      if grep -qx "$line" <<<"$added"; then
        grep "kaslr\.c:$line:" "$BUILD/kaslr.log" >&2; die "a warning on a line the series added to kaslr.c"
      fi
    done < <(grep -oE 'compressed/kaslr\.c:[0-9]+:[0-9]+: (warning|error)' "$BUILD/kaslr.log" || true)
    for o in "${OBJS[@]}" arch/x86/boot/compressed/kaslr.o; do
      [ -s "$BUILD/$o" ] || die "$o was not built"
    done
    ;;
  --bzimage)
    if [ ! -s "$BUILD/arch/x86/boot/bzImage" ] || [ ! -f "$BUILD/.bzimage-done" ]; then
      log "building bzImage in $BUILD"
      "${KMAKE[@]}" -s KCFLAGS=-Werror bzImage >&2
      touch "$BUILD/.bzimage-done"
    fi
    ;;
esac
emit PT_VER "$VER"
emit PT_TREE "$TREE"
emit PT_BUILD "$BUILD"
emit PT_BZIMAGE "$BUILD/arch/x86/boot/bzImage"
