#!/bin/sh
# The site's one dump script. It runs in the maintenance container (o3-maintenance, on the db
# image): nightly dumps, old-dump and old-log pruning, and the dumps and restores
# `python -m ops.backup` / `ops.restore` ask for; and the pre-upgrade backup runs its `dump` and
# `keep` in a short-lived container on the same image (components/scripts/pre-upgrade-backup.sh).
#   maintenance.sh loop              run forever: the nightly dump at O3_SCHEDULE (site time)
#   maintenance.sh dump KIND [TAG]   one dump now (KIND: nightly | manual | backup), named
#                                    <prefix><UTC time><TAG>.sql.gz (-2, -3... when a dump of
#                                    that second exists); prints its file name
#   maintenance.sh keep KIND N       remove all but the N newest dumps of KIND; prints how many are left
#   maintenance.sh check FILE        is FILE (in /backups) a complete dump of this site's schemas?
#   maintenance.sh restore FILE      check, then load it into db
#   maintenance.sh status            the last nightly run, as JSON
#   maintenance.sh size FILE / newest KIND   what ops.backup and ops.verify report
# Mounts: $O3_BACKUPS (<storagePath>/backups), /logs/pacs and /logs/view (the apps' log folders).
# Environment: the names shared with Python (sitespec/guide.py script_env: O3_SITE, O3_BACKUPS,
# O3_SITE_MARKER, O3_SCHEMAS, O3_DB_HOST, O3_DUMP_OPTIONS, O3_PASSWORD_FILE, O3_*_PREFIX,
# O3_STATUS_FILE, O3_DAY_FILE); for `loop`, O3_SCHEDULE (HH:MM), O3_RETAIN_DAYS (nightly dumps)
# and O3_LOG_RETAIN_DAYS. The root password is MYSQL_PWD when given by name, else the file
# O3_PASSWORD_FILE; it is never put on a command line.
# /etc/localtime is the site's time zone, so `date` speaks site time.
set -eu
B=$O3_BACKUPS
STATUS="$B/$O3_STATUS_FILE"
DAYFILE="$B/$O3_DAY_FILE"  # the last day whose nightly dump was attempted (site time)
MARKER="$O3_SITE_MARKER"

prefix() {  # prefix KIND: the file name prefix of a kind of dump; never empty (keep/prune match on it)
  case "$1" in
    nightly) p=$O3_NIGHTLY_PREFIX ;;
    manual) p=$O3_MANUAL_PREFIX ;;
    backup) p=$O3_BACKUP_PREFIX ;;
    *) echo "unknown kind of dump '$1' (nightly, manual or backup)" >&2; return 2 ;;
  esac
  [ -n "$p" ] || { echo "no file name prefix for $1 dumps in the environment" >&2; return 2; }
  echo "$p"
}

log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) o3-maintenance: $*"; }

password() {
  [ -n "${MYSQL_PWD:-}" ] || MYSQL_PWD=$(cat "$O3_PASSWORD_FILE")
  export MYSQL_PWD
}

status() {  # status OK FILE MESSAGE: the nightly outcome, written atomically
  msg=$(printf '%s' "$3" | tr '"\\\n' "'/ ")
  printf '{"at": "%s", "ok": %s, "file": "%s", "message": "%s"}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" "$2" "$msg" > "$STATUS.tmp"
  mv "$STATUS.tmp" "$STATUS"
}

place() {  # place PARTIAL BASE: PARTIAL becomes BASE.sql.gz (BASE-2.sql.gz, ... if taken); prints it
  # Two dumps of a kind can start in one second (a manual one beside the nightly, two restarts
  # of the loop): the second must not replace the first. ln fails on an existing name, atomically.
  n=1; name="$2.sql.gz"
  until ln "$1" "$B/$name" 2>/dev/null; do
    if [ ! -e "$B/$name" ]; then  # a file system without hard links
      mv "$1" "$B/$name" || return 1
      echo "$name"; return 0
    fi
    n=$((n + 1)); name="$2-$n.sql.gz"
  done
  rm -f "$1"
  echo "$name"
}

dump() {  # dump KIND [TAG]: writes $B/<prefix><UTC><TAG>.sql.gz, or nothing at all
  p=$(prefix "$1") || return 2
  base="$p$(date -u +%Y%m%dT%H%M%SZ)${2:-}"
  part=$(mktemp "$B/$base.partial.XXXXXX") || { LAST_ERROR="cannot write in the backups folder"; return 1; }
  # (its own temporary name: a dump beside it writes another)
  chmod 644 "$part"  # as before mktemp: what the umask gave the dumps
  err=$(mktemp)
  password
  # shellcheck disable=SC2086 # option and schema lists
  ( echo "$MARKER"; mysqldump -h "$O3_DB_HOST" -uroot $O3_DUMP_OPTIONS --databases $O3_SCHEMAS 2>"$err"
    echo $? > "$err.rc" ) | gzip -c > "$part"
  if [ "$(cat "$err.rc")" = 0 ] && gzip -t "$part" 2>/dev/null; then
    rm -f "$err" "$err.rc"
    place "$part" "$base" && return 0
    rm -f "$part"
    LAST_ERROR="the finished dump could not be renamed in the backups folder"
    return 1
  fi
  rm -f "$part"
  LAST_ERROR=$(tr '\n' ' ' < "$err")
  rm -f "$err" "$err.rc"
  return 1
}

prune() {
  nightly_prefix=$(prefix nightly)
  find "$B" -maxdepth 1 -type f -name "$nightly_prefix*.sql.gz" -mtime +"$O3_RETAIN_DAYS" -print -delete \
    | while read -r f; do log "removed nightly dump $f (older than $O3_RETAIN_DAYS days)"; done
  # What a dump killed outright (SIGKILL, a power cut) left; no dump runs for a day.
  find "$B" -maxdepth 1 -type f -name "*.partial.*" -mmin +1440 -print -delete \
    | while read -r f; do log "removed unfinished dump $f (a dump that was cut off)"; done
  find /logs/pacs /logs/view -type f -mtime +"$O3_LOG_RETAIN_DAYS" -print -delete \
    | while read -r f; do log "removed log file $f (older than $O3_LOG_RETAIN_DAYS days)"; done
}

nightly() {
  LAST_ERROR=""
  out=$(mktemp)
  if dump nightly > "$out"; then  # in this shell, not $(...): LAST_ERROR must survive
    file=$(cat "$out")
    status true "$file" "nightly dump written"
    log "nightly dump $B/$file written"
  else
    status false "" "nightly dump failed: $LAST_ERROR"
    log "ERROR: nightly dump failed: $LAST_ERROR" >&2
  fi
  rm -f "$out"
  prune
}

check() {  # check FILE: 0 when FILE is a complete, readable dump of this site's schemas
  case "$1" in */*|.*|"") echo "'$1' is not a file name in the backups folder" >&2; return 2 ;; esac
  f="$B/$1"
  [ -f "$f" ] || { echo "no file $1 in the backups folder" >&2; return 2; }
  gzip -t "$f" 2>/dev/null || { echo "$1 is corrupt: it is not a complete gzip file" >&2; return 1; }
  first=$(gzip -dc "$f" | head -n 1)
  [ "$first" = "$MARKER" ] || { echo "$1 is not a dump of site $O3_SITE (its first line is '$first')" >&2; return 1; }
  gzip -dc "$f" | tail -n 1 | grep -q '^-- Dump completed' || { echo "$1 is truncated: the dump did not complete" >&2; return 1; }
  created=$(gzip -dc "$f" | grep '^CREATE DATABASE ')  # one pass for every schema (dumps can be large)
  for s in $O3_SCHEMAS; do
    case "$created" in *"\`$s\`"*) ;; *) echo "$1 holds no schema $s" >&2; return 1 ;; esac
  done
}

case "${1:-}" in
  loop)
    log "started: nightly dump at $O3_SCHEDULE site time ($(date +%Z)), dumps kept $O3_RETAIN_DAYS days, logs $O3_LOG_RETAIN_DAYS days"
    prune
    due() { [ "$(date +%H:%M)" = "$O3_SCHEDULE" ] || [ "$(date +%H:%M)" \> "$O3_SCHEDULE" ]; }
    # A site installed after today's time starts tomorrow; one that has run before and was down
    # at the scheduled time (a reboot) catches up as soon as it is back.
    if [ ! -f "$DAYFILE" ] && due; then date +%F > "$DAYFILE"; fi
    # PID 1 ignores SIGTERM unless it traps it: without this, every `docker stop` (a db bump, a
    # config change) waited out the whole grace period. The sleep runs in the background so the
    # trap fires at once; a dump under way finishes first (it writes .partial.*, then renames).
    trap 'log "stopping"; exit 0' TERM INT
    while :; do
      if [ "$(cat "$DAYFILE" 2>/dev/null)" != "$(date +%F)" ] && due; then
        date +%F > "$DAYFILE"
        nightly
      fi
      sleep "${O3_TICK_SECONDS:-15}" & wait $!
    done ;;
  dump) LAST_ERROR=""; dump "${2:-manual}" "${3:-}" || { echo "dump failed: $LAST_ERROR" >&2; exit 1; } ;;
  keep)
    p=$(prefix "${2:-}") || exit 2
    case "${3:-}" in ""|*[!0-9]*) echo "keep: N must be a whole number" >&2; exit 2 ;; esac
    ls -1t "$B/$p"*.sql.gz 2>/dev/null | tail -n +"$(($3 + 1))" | xargs -r rm -f --
    ls -1 "$B/$p"*.sql.gz 2>/dev/null | wc -l ;;
  check) check "${2:-}" ;;
  restore)
    check "${2:-}" || exit $?
    password
    gzip -dc "$B/$2" | mysql -h "$O3_DB_HOST" -uroot
    echo "restored $2 into $O3_SCHEMAS" ;;
  status) cat "$STATUS" 2>/dev/null || echo '{}' ;;
  size) case "${2:-}" in */*|.*|"") exit 2 ;; esac; du -h "$B/$2" | cut -f1 ;;
  newest)  # newest dump of a kind (nightly | manual | backup), as "name epoch-seconds"
    p=$(prefix "${2:-nightly}") || exit 2
    f=$(ls -1t "$B/$p"*.sql.gz 2>/dev/null | head -n 1)
    [ -n "$f" ] && echo "$(basename "$f") $(date -r "$f" +%s)" || true ;;
  *) echo "usage: $0 loop | dump KIND [TAG] | keep KIND N | check FILE | restore FILE | status | size FILE | newest KIND" >&2; exit 2 ;;
esac
