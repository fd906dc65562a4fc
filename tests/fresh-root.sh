#!/usr/bin/env bash
# tests/fresh-root.sh [--omit PKG...] [--keep]: README command 1 on a fresh
# Debian 12, as a new user would run it. As root:
#  1. a minimal Debian 12 root (`debootstrap --variant=minbase bookworm`);
#     the pristine root is cached as a tarball in $CORDSEG_ROOT_CACHE
#     (default /var/cache/cordseg/bookworm-minbase.tar.gz), made before
#     anything is installed into it, so no package of the project's is ever
#     cached;
#  2. the checkout (its tracked and untracked-not-ignored files: no build/,
#     no runs/, no .git) into ~root/src/cordseg of the new root, and the
#     data ($CORDSEG_DATA, else ../shared/data beside the checkout) into
#     ~root/src/shared/data, where the README says to put them;
#  3. /proc, /dev, /sys (with /sys/fs/cgroup, which slurmd needs) bound in,
#     the host's resolv.conf copied; then, in the root, from scratch:
#     `bash jobs/quickstart.sh` (it installs what is missing, builds, runs);
#  4. it passes when the quickstart exits 0 and wrote its report, and fails
#     otherwise: a package missing from scripts/install-deps.sh fails the build.
# --omit PKG (repeatable) leaves PKG out of install-deps (CORDSEG_DEPS_OMIT),
# to see the check fail as it should; --keep keeps the root for a look.
# The root lives under ${TMPDIR:-/var/tmp}. Measured 2026-12-01 on the 2-core
# CI machine: 116 s (51 s apt: 177 MB, 241 packages; 17 s build; 47 s
# phantom + training; 161 s while the machine was loaded), plus 35-80 s once
# to make the cached root.
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
omit="" keep=0
while [ $# -gt 0 ]; do
  case $1 in
    --omit) omit+="${omit:+ }${2:?--omit PKG}"; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "fresh-root: unknown option '$1' (use --omit PKG, --keep)" >&2; exit 2 ;;
  esac
done
t0=$SECONDS
say() { echo "fresh-root [$((SECONDS - t0)) s]: $*"; }
[ "$(id -u)" = 0 ] || { echo "fresh-root: must run as root (debootstrap, chroot, mounts)" >&2; exit 1; }
DATA=${CORDSEG_DATA:-$SRC/../shared/data}
[ -f "$DATA/PAM50/atlas/info_label.txt" ] || {
  echo "fresh-root: no PAM50 atlas under '$DATA': set CORDSEG_DATA=DIR (holding PAM50/) or put it at ../shared/data" >&2; exit 1; }
DATA=$(cd "$DATA" && pwd)
MIRROR=${CORDSEG_DEBIAN_MIRROR:-http://deb.debian.org/debian}
CACHE=${CORDSEG_ROOT_CACHE:-/var/cache/cordseg/bookworm-minbase.tar.gz}

# 1. the pristine minbase root, cached
if [ ! -s "$CACHE" ]; then
  command -v debootstrap >/dev/null || {
    say "installing debootstrap on the host"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >/dev/null
  }
  mkdir -p "$(dirname "$CACHE")"
  tmp=$(mktemp -d "$(dirname "$CACHE")/minbase.XXXXXX")
  say "debootstrap --variant=minbase bookworm from $MIRROR (about 30-60 s) ..."
  debootstrap --variant=minbase bookworm "$tmp/root" "$MIRROR" >"$tmp/debootstrap.log" 2>&1 ||
    { tail -20 "$tmp/debootstrap.log" >&2; rm -rf "$tmp"; echo "fresh-root: debootstrap failed" >&2; exit 1; }
  tar -C "$tmp/root" -czf "$tmp/root.tar.gz" . && mv "$tmp/root.tar.gz" "$CACHE"
  rm -rf "$tmp"
  say "cached the pristine root in $CACHE"
fi
R=$(mktemp -d "${TMPDIR:-/var/tmp}/cordseg-fresh-root.XXXXXX")
mounted=()
cleanup() {
  local m
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount -R "${mounted[$i]}" 2>/dev/null || umount -Rl "${mounted[$i]}" 2>/dev/null || true; done
  if [ "$keep" = 1 ]; then echo "fresh-root: root kept at $R (unmounted)"; else rm -rf --one-file-system "$R"; fi
}
trap cleanup EXIT
say "unpacking the root from $CACHE into $R"
tar -C "$R" -xzf "$CACHE"

# 2. the checkout and the data, as the README lays them out, in the new
# root's home of root (read from its own passwd)
H=$(awk -F: '$1 == "root" {print $6}' "$R/etc/passwd")
[ -n "$H" ] || { echo "fresh-root: the new root has no root user in /etc/passwd" >&2; exit 1; }
IN=$H/src/cordseg # the checkout, as the root sees it
mkdir -p "$R$IN" "$R$H/src/shared"
if git -C "$SRC" rev-parse --git-dir >/dev/null 2>&1; then
  (cd "$SRC" && git ls-files -z -c -o --exclude-standard | tar --null -T - -cf -) | tar -C "$R$IN" -xf -
else
  tar -C "$SRC" --exclude=./build --exclude='./build-*' --exclude=./runs -cf - . | tar -C "$R$IN" -xf -
fi
cp -a "$DATA" "$R$H/src/shared/data"
say "copied the checkout ($(du -sh "$R$IN" | cut -f1)) and the data ($(du -sh "$DATA" | cut -f1))"

# 3. the mounts, then README command 1
cp /etc/resolv.conf "$R/etc/resolv.conf"
for m in proc dev sys; do
  mkdir -p "$R/$m"
  mount --rbind "/$m" "$R/$m"
  mount --make-rslave "$R/$m" # unmounting below must never reach the host's mounts
  mounted+=("$R/$m")
done
[ -d "$R/sys/fs/cgroup" ] || echo "fresh-root: note: the host has no /sys/fs/cgroup"
say "running README command 1 in the root: cd $IN && bash jobs/quickstart.sh${omit:+ (CORDSEG_DEPS_OMIT=$omit)}"
set +e
chroot "$R" /usr/bin/env -i HOME="$H" TERM="${TERM:-dumb}" LANG=C.UTF-8 \
  PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin ${omit:+CORDSEG_DEPS_OMIT="$omit"} \
  /bin/bash -c "cd '$IN' && bash jobs/quickstart.sh" 2>&1 | sed -u 's/^/  | /'
rc=${PIPESTATUS[0]}
set -e
Q=$R$IN/runs/quickstart
if [ "$rc" = 0 ] && [ -f "$Q/report/index.html" ] && [ -f "$Q/train/DONE" ] && [ -f "$Q/train/eval/summary.json" ]; then
  say "PASS: README command 1 ran from scratch in a fresh Debian 12 minbase root ($((SECONDS - t0)) s in all)"
  exit 0
fi
say "FAIL: README command 1 exited $rc in the fresh root${omit:+ (with $omit left out)}; report: $([ -f "$Q/report/index.html" ] && echo written || echo missing)"
exit 1
