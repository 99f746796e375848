#!/usr/bin/env bash
# Builds a minimal busybox root filesystem tarball from Debian's busybox-static.
# Usage: rootfs/build-busybox.sh OUTPUT.tar
# The output is reproducible: every member gets the busybox binary's mtime, root ownership and a sorted order,
# so rebuilding with the same busybox yields a byte-identical tar and therefore the same image ID.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 OUTPUT.tar" >&2
    exit 2
fi
output=$1

busybox=""
for candidate in /usr/bin/busybox /bin/busybox; do
    if [[ -x $candidate ]]; then busybox=$candidate; break; fi
done
if [[ -z $busybox ]]; then
    echo "$0: busybox not found; install it with: apt-get install busybox-static" >&2
    exit 1
fi
# A dynamically linked busybox would need the host's libc inside the image.
if ldd "$busybox" >/dev/null 2>&1; then
    echo "$0: $busybox is dynamically linked; install busybox-static" >&2
    exit 1
fi

umask 022
work=$(mktemp -d "${TMPDIR:-/tmp}/mdk-busybox.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/rootfs

mkdir -p "$root"/{bin,dev,proc,sys,etc,tmp,root,home,var/www,usr/bin,usr/sbin,sbin}
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"

install -m 0755 "$busybox" "$root/bin/busybox"
# `busybox --list` names busybox itself; linking it would replace the binary with a self-referencing symlink.
"$busybox" --list | while read -r applet; do
    [[ $applet == busybox ]] && continue
    ln -s busybox "$root/bin/$applet"
done
[[ -L $root/bin/sh ]] || ln -s busybox "$root/bin/sh"

cat > "$root/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$root/etc/group" <<'GROUP'
root:x:0:
nobody:x:65534:
GROUP
chmod 0644 "$root/etc/passwd" "$root/etc/group"

mtime=$(stat -c %Y "$busybox")
tar --create --file "$work/rootfs.tar" --directory "$root" \
    --numeric-owner --owner=0 --group=0 --sort=name --mtime="@$mtime" --format=gnu .
mv -f "$work/rootfs.tar" "$output"
