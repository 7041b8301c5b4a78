#!/bin/sh
# The db-image half of the off-host copies (o3:offsite): the restic image has no mysqldump, so the
# dump is taken here and handed to restic (components/scripts/offsite-backup.sh) through a FIFO in
# the exchange folder: nothing is written to disk unencrypted. Only a site with o3:offsite has it:
#   offsite-dump.sh loop             Docker, o3-maintenance's entrypoint: maintenance.sh loop as
#                                    always, and at O3_OFFSITE_SCHEDULE (site time) one copy
#   offsite-dump.sh offsite [KIND]   one copy now (KIND nightly): ask o3-offsite (offsite-backup.sh
#                                    serve) for a run, write the dump into the FIFO, print its outcome
#                                    line (and log it); exit 1 when it failed
#   offsite-dump.sh dump             the dump half alone (the Kubernetes Job's dump container)
# Environment: maintenance.sh's (sitespec/guide.py script_env), O3_MAINTENANCE_SCRIPT (its path),
# O3_OFFSITE_EXCHANGE, O3_OFFSITE_SCHEDULE and O3_OFFSITE_DAY_FILE (loop). The root password as maintenance.sh reads it.
set -eu
B=$O3_BACKUPS
X=${O3_OFFSITE_EXCHANGE:-$B/.o3-offsite}

log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) o3-maintenance: $*"; }

password() {
  [ -n "${MYSQL_PWD:-}" ] || MYSQL_PWD=$(cat "$O3_PASSWORD_FILE")
  export MYSQL_PWD
}

dump_stream() {  # the dump on stdout, then its row counts (one SQL comment line); status: mysqldump's
  password
  echo "$O3_SITE_MARKER"
  # shellcheck disable=SC2086 # option and schema lists
  mysqldump -h "$O3_DB_HOST" -uroot $O3_DUMP_OPTIONS --databases $O3_SCHEMAS || return $?
  counts=""
  for s in $O3_SCHEMAS; do
    q=$(mysql -h "$O3_DB_HOST" -uroot -N -B -e "SELECT CONCAT('SELECT ''', table_name, ''', COUNT(*) FROM \`$s\`.\`', table_name, '\`')
      FROM information_schema.tables WHERE table_schema = '$s' AND table_type = 'BASE TABLE'" | sed ':a;N;$!ba;s/\n/ UNION ALL /g') || return 1
    [ -n "$q" ] || continue
    rows=$(mysql -h "$O3_DB_HOST" -uroot -N -B -e "$q") || return 1
    counts="$counts$(printf '%s\n' "$rows" | awk -v s="$s" -F'\t' 'NF == 2 { printf ", \"%s.%s\": %s", s, $1, $2 }')"
  done
  echo "-- o3-row-counts {${counts#, }}"
}

dump() {  # write the dump into the FIFO once the restic side reads; its status to dump.rc
  i=0
  until [ -f "$X/reading" ] || [ -f "$X/result" ]; do
    [ "$i" -lt "${O3_OFFSITE_ANSWER_SECONDS:-300}" ] || { echo "the restic container did not answer" > "$X/maintenance-error"; return 1; }
    sleep 1; i=$((i + 1))
  done
  [ -f "$X/reading" ] || return 0  # it failed before reading (its result says why)
  err=$(mktemp)
  if dump_stream 2>"$err" > "$X/dump.fifo"; then rc=0; else rc=$?; fi
  [ "$rc" = 0 ] || log "ERROR: the off-host dump failed ($rc): $(tr '\n' ' ' < "$err")" >&2
  rm -f "$err"
  echo "$rc" > "$X/dump.rc"
}

offsite() {  # offsite KIND: one off-host copy through o3-offsite; prints and logs its outcome line
  mkdir -p "$X"
  rm -f "$X/dump.fifo" "$X/dump.rc" "$X/result" "$X/reading" "$X/request" "$X/maintenance-error"
  mkfifo "$X/dump.fifo"
  echo "${1:-nightly}" > "$X/request.tmp" && mv "$X/request.tmp" "$X/request"
  dump || true
  i=0; line=""
  until [ -f "$X/result" ]; do
    if [ -f "$X/maintenance-error" ]; then line="o3-offsite: FAILED $(cat "$X/maintenance-error")"; break; fi
    [ "$i" -lt "${O3_OFFSITE_WAIT_SECONDS:-21600}" ] || { line="o3-offsite: FAILED no outcome after $i s"; break; }
    sleep 1; i=$((i + 1))
  done
  [ -f "$X/result" ] && line=$(cat "$X/result")
  rm -f "$X/dump.fifo" "$X/dump.rc" "$X/reading" "$X/request"
  log "$line" >&2  # the container's log (stdout is the caller's: the loop discards it)
  echo "$line"
  case "$line" in *": ok "*) ;; *) return 1 ;; esac
}

case "${1:-}" in
  loop)
    # maintenance.sh's own loop (nightly dump, pruning) beside this one, as before o3:offsite.
    sh "$O3_MAINTENANCE_SCRIPT" loop &
    child=$!
    trap 'kill -TERM "$child" 2>/dev/null; wait "$child"; exit 0' TERM INT
    DAY="$B/$O3_OFFSITE_DAY_FILE"  # the last day an off-host copy was started (site time)
    due() { [ "$(date +%H:%M)" = "$O3_OFFSITE_SCHEDULE" ] || [ "$(date +%H:%M)" \> "$O3_OFFSITE_SCHEDULE" ]; }
    log "off-host copies at $O3_OFFSITE_SCHEDULE site time"
    if [ ! -f "$DAY" ] && due; then date +%F > "$DAY"; fi  # installed after today's time: from tomorrow
    while :; do
      kill -0 "$child" 2>/dev/null || { log "maintenance.sh loop ended"; exit 1; }
      if [ "$(cat "$DAY" 2>/dev/null)" != "$(date +%F)" ] && due; then
        date +%F > "$DAY"
        offsite nightly >/dev/null || true
      fi
      sleep "${O3_TICK_SECONDS:-15}" & wait $!
    done ;;
  offsite) offsite "${2:-nightly}" ;;
  dump) dump ;;
  *) echo "usage: $0 loop | offsite [KIND] | dump" >&2; exit 2 ;;
esac
