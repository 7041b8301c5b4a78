#!/bin/sh
# The site's off-host copies (o3:offsite), with restic. One script, one image (o3:images.restic:
# the official restic image, busybox sh), on both platforms: the Docker container o3-offsite and
# the Kubernetes CronJob's restic container run it.
#   offsite-backup.sh serve            Docker: wait for o3-maintenance's requests (its schedule), forever
#   offsite-backup.sh run KIND         one run now (KIND nightly | pre-upgrade): the dump o3-maintenance
#                                      (or the Job's dump container) hands over through the exchange
#                                      FIFO, then, for nightly, the storage folders and their manifest
#   offsite-backup.sh job KIND         Kubernetes: make the exchange FIFO on the pod's emptyDir, then `run`
#   offsite-backup.sh file FILE KIND   a dump file of the backups folder (the pre-upgrade dump), sent
#                                      decompressed as a dump snapshot
#   offsite-backup.sh read-dump        (restic's --stdin-from-command) the dump from the FIFO; exits
#                                      with the dump's own status, so a failed mysqldump saves nothing
#   offsite-backup.sh restore STORAGE DUMP FILE   recovery (ops.recover, Kubernetes): the storage
#                                      snapshot into the (read-write) data folders, every file checked
#                                      against its manifest; the dump snapshot into the backups folder
#                                      as FILE (gzip), which the dump script's check and restore load
# The restic image has no mysqldump: the db image writes the dump into the FIFO
# (offsite-dump.sh), restic reads it; nothing is written to disk unencrypted.
# Environment (sitespec/offsite.py script_env): O3_SITE (restic --host), RESTIC_REPOSITORY,
# RESTIC_PASSWORD_FILE, RESTIC_REST_USERNAME, RESTIC_CACERT, O3_SFTP_ARGS, O3_SECRETS (folder of
# the secret files), O3_OFFSITE_STATUS, O3_OFFSITE_EXCHANGE, O3_OFFSITE_PATHS, O3_OFFSITE_MANIFEST,
# O3_STORAGE_ROOT, O3_DUMP_FILENAME, O3_BACKUPS. No secret is in the environment or on a command
# line: the HTTP password is read from its file into restic's environment here, at run time.
set -eu
X=$O3_OFFSITE_EXCHANGE
STATUS=$O3_OFFSITE_STATUS

log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) $*"; }

credentials() {
  if [ -f "$O3_SECRETS/http-password" ]; then
    RESTIC_REST_PASSWORD=$(cat "$O3_SECRETS/http-password")
    export RESTIC_REST_PASSWORD
  fi
}

r() {  # restic, with the sftp transport's key and known_hosts when the repository is sftp:
  if [ -n "${O3_SFTP_ARGS:-}" ]; then
    restic -o "sftp.args=$O3_SFTP_ARGS" "$@"
  else
    restic "$@"
  fi
}

# The outcome: the status file (JSON, written atomically; ops.verify reads it), one line on stdout,
# and the same line in the exchange for o3-maintenance's log.
finish() {  # finish OK SNAPSHOT STORAGE ADDED MESSAGE
  msg=$(printf '%s' "$5" | tr '"\\\n' "'/ ")
  printf '{"at": "%s", "ok": %s, "snapshot": "%s", "storage": "%s", "added": %s, "message": "%s"}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$1" "$2" "$3" "${4:-0}" "$msg" > "$STATUS.tmp"
  mv "$STATUS.tmp" "$STATUS"
  if [ "$1" = true ]; then
    line="o3-offsite: ok snapshot=$2 storage=${3:--} added=${4:-0}"
  else
    line="o3-offsite: FAILED $msg"
  fi
  log "$line"
  if [ -d "$X" ]; then echo "$line" > "$X/result.tmp" && mv "$X/result.tmp" "$X/result"; fi
}

why() {  # why FILE: restic's last error, one line (its --json errors are JSON)
  l=$(grep -v '^[[:space:]]*$' "$1" | tail -n 1)
  m=$(printf '%s' "$l" | sed -n 's/.*"message":"\([^"]*\)".*/\1/p')
  printf '%s' "${m:-$l}" | cut -c1-400
}

summary() {  # summary FILE KEY: a number or id from restic backup --json's summary line
  grep '"message_type":"summary"' "$1" | tail -n 1 | sed -n "s/.*\"$2\":\"\{0,1\}\([0-9a-f]*\)\"\{0,1\}[,}].*/\1/p"
}

open_repository() {  # the repository, created on first use (the append-only server allows that)
  err=$(mktemp)
  if r cat config >/dev/null 2>"$err"; then rm -f "$err"; return 0; else rc=$?; fi
  if [ "$rc" = 10 ]; then  # restic: the repository does not exist
    if r init >/dev/null 2>"$err"; then log "o3-offsite: created the repository"; rm -f "$err"; return 0; fi
  fi
  LAST_ERROR="cannot open the repository: $(why "$err")"
  rm -f "$err"
  return 1
}

backup() {  # backup OUT ARGS...: restic backup --json; sets SNAP and ADDED, or LAST_ERROR
  out=$1; shift
  err=$(mktemp)
  if r backup --json --host "$O3_SITE" --tag o3 "$@" >"$out" 2>"$err"; then
    SNAP=$(summary "$out" snapshot_id)
    ADDED=$(summary "$out" data_added)
    rm -f "$err"
    [ -n "$SNAP" ] || { LAST_ERROR="restic saved no snapshot"; return 1; }
    return 0
  fi
  LAST_ERROR=$(why "$err")
  rm -f "$err"
  return 1
}

dump_snapshot() {  # dump_snapshot KIND: the dump handed over through the FIFO
  [ -p "$X/dump.fifo" ] || { LAST_ERROR="no dump to read (no $X/dump.fifo)"; return 1; }
  out=$(mktemp)
  touch "$X/reading"  # the dump's writer starts now
  if backup "$out" --tag dump --tag "$1" --stdin-from-command --stdin-filename "$O3_DUMP_FILENAME" \
      -- /bin/sh "$0" read-dump; then
    rm -f "$out"; return 0
  fi
  rm -f "$out"
  # restic may have failed before it opened the FIFO: drain it so the writer never hangs.
  (cat "$X/dump.fifo" >/dev/null 2>&1 &)
  LAST_ERROR="no dump snapshot saved: $LAST_ERROR"
  return 1
}

storage_snapshot() {  # the storage folders and the manifest of every file in them
  mkdir -p "$(dirname "$O3_OFFSITE_MANIFEST")"
  # shellcheck disable=SC2086 # the folders are a list
  (cd "$O3_STORAGE_ROOT" && for p in $O3_OFFSITE_PATHS; do [ -d "$p" ] && echo "${p#"$O3_STORAGE_ROOT"/}"; done \
    | xargs -r -I{} find {} -type f | sort | tr '\n' '\0' | xargs -0 -r sha256sum) > "$O3_OFFSITE_MANIFEST.tmp" \
    || { LAST_ERROR="could not list the storage folders' checksums"; return 1; }
  mv "$O3_OFFSITE_MANIFEST.tmp" "$O3_OFFSITE_MANIFEST"
  out=$(mktemp)
  # shellcheck disable=SC2086
  if backup "$out" --tag storage $O3_OFFSITE_PATHS "$(dirname "$O3_OFFSITE_MANIFEST")"; then rm -f "$out"; return 0; fi
  rm -f "$out"
  LAST_ERROR="no storage snapshot saved: $LAST_ERROR"
  return 1
}

run() {  # run KIND
  LAST_ERROR=""
  credentials
  open_repository || { finish false "" "" 0 "$LAST_ERROR"; return 1; }
  dump_snapshot "$1" || { finish false "" "" 0 "$LAST_ERROR"; return 1; }
  dump=$SNAP; added=${ADDED:-0}; storage=""
  if [ "$1" = nightly ]; then
    storage_snapshot || { finish false "$dump" "" "$added" "$LAST_ERROR"; return 1; }
    storage=$SNAP; added=$((added + ${ADDED:-0}))
  fi
  finish true "$dump" "$storage" "$added" "$1 copy saved"
}

case "${1:-}" in
  serve)
    log "o3-offsite: started; repository $RESTIC_REPOSITORY, host $O3_SITE; waiting for o3-maintenance's requests"
    mkdir -p "$X"
    trap 'log "o3-offsite: stopping"; exit 0' TERM INT
    while :; do
      if [ -f "$X/request" ]; then
        kind=$(cat "$X/request"); rm -f "$X/request"
        case "$kind" in nightly|pre-upgrade) run "$kind" || true ;; *) log "o3-offsite: unknown request '$kind'" ;; esac
      fi
      sleep "${O3_TICK_SECONDS:-2}" & wait $!
    done ;;
  run) run "${2:-nightly}" ;;
  job)  # Kubernetes: the FIFO on the pod's emptyDir, then one run (the dump container writes into it)
    mkdir -p "$X"; rm -f "$X/dump.fifo" "$X/dump.rc" "$X/result" "$X/reading"; mkfifo "$X/dump.fifo"
    run "${2:-nightly}" ;;
  file)
    case "${2:-}" in */*|.*|"") echo "'${2:-}' is not a file name in the backups folder" >&2; exit 2 ;; esac
    [ -f "$O3_BACKUPS/$2" ] || { echo "no file $2 in the backups folder" >&2; exit 2; }
    LAST_ERROR=""
    credentials
    open_repository || { finish false "" "" 0 "$LAST_ERROR"; exit 1; }
    out=$(mktemp)
    if backup "$out" --tag dump --tag "${3:-pre-upgrade}" --stdin-from-command --stdin-filename "$O3_DUMP_FILENAME" \
        -- gzip -dc "$O3_BACKUPS/$2"; then
      finish true "$SNAP" "" "${ADDED:-0}" "$2 copied"
    else
      finish false "" "" 0 "$2 not copied: $LAST_ERROR"; exit 1
    fi ;;
  read-dump)
    cat "$X/dump.fifo"
    i=0
    while [ ! -f "$X/dump.rc" ] && [ "$i" -lt 120 ]; do sleep 1; i=$((i + 1)); done
    rc=$(cat "$X/dump.rc" 2>/dev/null || echo 1)
    [ "$rc" = 0 ] || echo "the dump failed (exit status $rc): see o3-maintenance's log" >&2
    exit "$rc" ;;
  restore)
    case "${4:-}" in */*|.*|"") echo "'${4:-}' is not a file name in the backups folder" >&2; exit 2 ;; esac
    credentials
    mkdir -p "$(dirname "$O3_OFFSITE_MANIFEST")"
    # --no-lock: an append-only server would keep the lock (it refuses the delete)
    r restore "$2" --no-lock --target / --include "$O3_STORAGE_ROOT" --include "$O3_OFFSITE_MANIFEST" >/dev/null
    sums=$(mktemp)
    if (cd "$O3_STORAGE_ROOT" && sha256sum -c "$O3_OFFSITE_MANIFEST") >"$sums" 2>&1; then
      log "o3-offsite: restored storage snapshot $2: $(wc -l < "$O3_OFFSITE_MANIFEST") files, each as its checksum says"
    else
      grep -v ': OK$' "$sums" | head -n 20
      echo "o3-offsite: restored files differ from the manifest of snapshot $2" >&2; exit 1
    fi
    raw="$O3_BACKUPS/.o3-recover.sql"
    r dump --no-lock "$3" "/$O3_DUMP_FILENAME" > "$raw"
    # the dump script's check wants `-- Dump completed` last: the row-count line goes
    grep -v "^-- o3-row-counts " "$raw" | gzip -1 > "$O3_BACKUPS/$4.tmp"
    rm -f "$raw"; mv "$O3_BACKUPS/$4.tmp" "$O3_BACKUPS/$4"
    log "o3-offsite: dump snapshot $3 is $4 in the backups folder" ;;
  *) echo "usage: $0 serve | run KIND | job KIND | file FILE KIND | read-dump | restore STORAGE DUMP FILE" >&2; exit 2 ;;
esac
