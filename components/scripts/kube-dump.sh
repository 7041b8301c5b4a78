#!/bin/sh
# The dumps of a Kubernetes site, on the db image, by the site's one dump script (maintenance.sh,
# beside this file): the same dump, first line, names and retention as on Docker.
#   kube-dump.sh backup TAG N   the pre-upgrade dump (a Job that runs before any image changes),
#                               keeping the N newest; nothing on a site that does not run yet
#   kube-dump.sh nightly        the nightly dump (a CronJob), its status file, and the pruning of
#                               old nightly dumps, cut-off dumps and old log files
#   kube-dump.sh run ARGS...    maintenance.sh ARGS once MySQL answers (ops.backup, ops.restore)
# Environment: as maintenance.sh (sitespec/guide.py script_env), MYSQL_PWD from the site's Secret,
# O3_RETAIN_DAYS and O3_LOG_RETAIN_DAYS for nightly.
set -eu
here=$(dirname "$0")
B=$O3_BACKUPS
log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) o3-maintenance: $*"; }
# A new pod's first connections can be refused until the cluster's NetworkPolicy controller has
# seen its address (measured with kube-router): ask MySQL a few times, 2 s apart, before the dump.
# Whatever the answer, the dump then runs and says what is wrong.
reach_db() {
  i=1
  while [ "$i" -lt "${O3_CONNECT_TRIES:-15}" ]; do
    mysql -h "$O3_DB_HOST" -uroot -e 'SELECT 1' >/dev/null 2>&1 && return 0
    i=$((i + 1)); sleep 2
  done
}

case "${1:-}" in
  backup)
    # The Service `db` is made after this dump: it exists only on a site that already ran (as on
    # Docker, where the db container does). Then MySQL must answer; without it, nothing runs yet.
    if ! getent hosts "$O3_DB_HOST" >/dev/null 2>&1; then
      echo "o3 backup: no Service '$O3_DB_HOST' yet (a first install, or after destroy): nothing to back up"
      exit 0
    fi
    reach_db
    if ! name=$(sh "$here/maintenance.sh" dump backup "$2"); then
      echo "o3 backup: the pre-upgrade dump of $O3_SCHEMAS failed, so the upgrade stops here; nothing was changed." >&2
      exit 1
    fi
    kept=$(sh "$here/maintenance.sh" keep backup "$3")
    # with o3:offsite, the Job's restic container sends the file this names
    [ -z "${O3_DUMP_NAME_FILE:-}" ] || echo "$name" > "$O3_DUMP_NAME_FILE"
    echo "o3 backup: $B/$name written ($kept kept, retention $3)" ;;
  nightly)
    status() {
      printf '{"at": "%s", "ok": %s, "file": "%s", "message": "%s"}\n' \
        "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" "$2" "$(printf '%s' "$3" | tr '"\\\n' "'/ ")" > "$B/$O3_STATUS_FILE.tmp"
      mv "$B/$O3_STATUS_FILE.tmp" "$B/$O3_STATUS_FILE"
    }
    rc=0
    reach_db
    if name=$(sh "$here/maintenance.sh" dump nightly 2>/tmp/err); then
      status true "$name" "nightly dump written"
      log "nightly dump $B/$name written"
    else
      status false "" "nightly dump failed: $(cat /tmp/err)"
      log "ERROR: nightly dump failed: $(cat /tmp/err)" >&2
      rc=1
    fi
    find "$B" -maxdepth 1 -type f -name "$O3_NIGHTLY_PREFIX*.sql.gz" -mtime +"$O3_RETAIN_DAYS" -print -delete
    find "$B" -maxdepth 1 -type f -name "*.partial.*" -mmin +1440 -print -delete
    find /logs/pacs /logs/view -type f -mtime +"$O3_LOG_RETAIN_DAYS" -print -delete
    exit "$rc" ;;
  run)
    shift
    reach_db
    exec sh "$here/maintenance.sh" "$@" ;;
  *) echo "usage: $0 backup TAG N | nightly | run ARGS..." >&2; exit 2 ;;
esac
