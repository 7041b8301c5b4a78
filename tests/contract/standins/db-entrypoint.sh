#!/bin/sh
# Stand-in for the official mysql image's entrypoint, on Debian's MariaDB. What the site program
# relies on behaves the same: MYSQL_ROOT_PASSWORD or MYSQL_ROOT_PASSWORD_FILE, the datadir
# /var/lib/mysql initialised once (later starts ignore the password), `mysqld <flags>`, root@'%'
# and root@localhost only, and a first-start temporary server that does not listen on TCP.
set -eu
if [ "${1:-}" = "mysqld" ]; then shift; fi
case "${1:-}" in ""|-*) ;; *) exec "$@" ;; esac

DATADIR=/var/lib/mysql
mkdir -p /run/mysqld "$DATADIR"
chown mysql:mysql /run/mysqld
chown -R mysql:mysql "$DATADIR"

if [ ! -d "$DATADIR/mysql" ]; then
  pw="${MYSQL_ROOT_PASSWORD:-}"
  if [ -n "${MYSQL_ROOT_PASSWORD_FILE:-}" ]; then pw=$(cat "$MYSQL_ROOT_PASSWORD_FILE"); fi
  if [ -z "$pw" ]; then
    echo "error: database is uninitialized and MYSQL_ROOT_PASSWORD(_FILE) is not set" >&2
    exit 1
  fi
  echo "stand-in: initialising $DATADIR"
  mariadb-install-db --user=mysql --datadir="$DATADIR" --skip-test-db --auth-root-authentication-method=normal >/dev/null
  mariadbd --user=mysql --datadir="$DATADIR" --skip-networking --socket=/run/mysqld/init.sock "$@" &
  pid=$!
  i=0
  until mariadb-admin --socket=/run/mysqld/init.sock ping >/dev/null 2>&1; do
    i=$((i + 1)); [ "$i" -lt 120 ] || { echo "temporary server did not start" >&2; exit 1; }
    sleep 0.5
  done
  # The password travels on stdin, never on a command line.
  mariadb --socket=/run/mysqld/init.sock -uroot <<SQL
DELETE FROM mysql.global_priv WHERE User = '' OR (User = 'root' AND Host <> 'localhost');
FLUSH PRIVILEGES;
ALTER USER 'root'@'localhost' IDENTIFIED BY '$pw';
CREATE USER 'root'@'%' IDENTIFIED BY '$pw';
GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;
FLUSH PRIVILEGES;
SQL
  kill "$pid"
  wait "$pid" || true
  echo "stand-in: initialised"
fi
# Tests of interrupted runs need a db that takes a while to become healthy, as MySQL 8 does on a
# large data folder.
sleep "${O3_STANDIN_START_DELAY:-0}"
exec mariadbd --user=mysql --datadir="$DATADIR" --bind-address=0.0.0.0 --port=3306 "$@"
