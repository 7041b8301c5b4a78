#!/usr/bin/env bash
# Builds the stand-in images the contract tests run (there is no image registry here):
#   o3-standin-db:<hash>   Debian's MariaDB behind a mysql-image-like entrypoint
#   o3-standin-app:<hash>  a small Python app that plays pacs / pacs-singleton / view
#   o3-standin-proxy:<hash> Debian's nginx laid out like the official nginx image (conf.d, daemon off)
# The tag is a hash of the stand-in sources, so a change rebuilds and an unchanged run reuses.
# The Debian root file system is made once with debootstrap and cached.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${DOCKER_HOST:?set DOCKER_HOST to the test daemon}"
tag=$(cat "$here/standins/"* "$0" | sha256sum | cut -c1-12)
db="o3-standin-db:$tag"; app="o3-standin-app:$tag"; proxy="o3-standin-proxy:$tag"
packages=mariadb-server,mariadb-client,python3,python3-pymysql,procps,nginx
cache="${O3_STANDIN_CACHE:-/var/cache/o3-standins}"
rootfs="$cache/rootfs-bookworm-$(echo "$packages" | sha256sum | cut -c1-8)"  # a new package list, a new rootfs

if docker image inspect "$db" "$app" "$proxy" >/dev/null 2>&1; then
  echo "stand-ins present: $db $app $proxy"; exit 0
fi
if [ ! -f "$rootfs/.complete" ]; then
  rm -rf "$rootfs.tmp"; mkdir -p "$cache"
  start=$(date +%s)
  debootstrap --variant=minbase --include="$packages" \
    bookworm "$rootfs.tmp" "${O3_DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
  rm -rf "$rootfs.tmp/var/lib/mysql"/* "$rootfs.tmp/var/cache/apt/archives"/*.deb
  # The official nginx image's layout: conf.d/default.conf is the only server (Debian adds sites-enabled).
  rm -f "$rootfs.tmp/etc/nginx/sites-enabled/default"
  touch "$rootfs.tmp/.complete"; mv "$rootfs.tmp" "$rootfs"
  echo "debootstrap: $(( $(date +%s) - start )) s"
fi
install -m 0755 "$here/standins/db-entrypoint.sh" "$rootfs/usr/local/bin/o3-db-entrypoint"
install -D -m 0644 "$here/standins/app.py" "$rootfs/opt/o3-standin/app.py"
start=$(date +%s)
tar -C "$rootfs" --exclude=./.complete -c . | docker import \
  -c 'ENTRYPOINT ["/usr/local/bin/o3-db-entrypoint"]' -c 'CMD ["mysqld"]' -c 'VOLUME /var/lib/mysql' - "$db" >/dev/null
tar -C "$rootfs" --exclude=./.complete -c . | docker import \
  -c 'ENTRYPOINT ["python3", "/opt/o3-standin/app.py"]' - "$app" >/dev/null
tar -C "$rootfs" --exclude=./.complete -c . | docker import \
  -c 'CMD ["nginx", "-g", "daemon off;"]' - "$proxy" >/dev/null
echo "stand-ins built in $(( $(date +%s) - start )) s: $db $app $proxy"
