# Pre-upgrade backup: a logical dump of the site's schemas, taken from the running db container
# before any image changes, written gzip-compressed under <storagePath>/backups on the Docker host.
# Input (environment): the names shared with Python (sitespec/guide.py script_env, listed in
# O3_SHARED_NAMES, all handed on to the dump's container), O3_DB_CONTAINER,
# O3_NETWORK, O3_BACKUP_DIR, O3_HELPER_IMAGE (the db image), O3_MAINTENANCE_SH (the dump script's
# text), O3_RETAIN, O3_NEW_VERSIONS ("db=<tag> pacs=<tag> view=<tag>"), MYSQL_PWD (secret),
# DOCKER_HOST (remote sites). The password is handed on by name: it is never on a command line.
set -euo pipefail

state=$(docker inspect --type container -f '{{.State.Running}}' "$O3_DB_CONTAINER" 2>/dev/null) || state=absent
if [ "$state" = absent ]; then
  echo "o3 backup: no '$O3_DB_CONTAINER' container yet (first install): nothing to back up"
  exit 0
fi
if [ "$state" != true ]; then
  echo "o3 backup: container '$O3_DB_CONTAINER' exists but is not running, so it cannot be dumped." >&2
  echo "Start it (docker start $O3_DB_CONTAINER) and run the upgrade again; nothing was changed." >&2
  exit 1
fi

# The versions running now, from the containers' o3.image labels.
old=""
for c in db pacs view; do
  ref=$(docker inspect --type container -f '{{index .Config.Labels "o3.image"}}' "$c" 2>/dev/null) || ref=""
  tag="${ref##*:}"
  case "$ref" in ""|*"<no value>"*) tag=unknown ;; */*:*|*:*) ;; *) tag=untagged ;; esac
  old="${old:+${old}_}$c-$tag"
done
new=$(printf '%s' "$O3_NEW_VERSIONS" | tr ' =' '_-')

# The site's one dump script (components/scripts/maintenance.sh, O3_MAINTENANCE_SH) does the dump,
# in a short-lived container on the db image and the site's network: the same dump, first line
# and .partial-then-rename as the nightly one. The password goes in by name (-e MYSQL_PWD).
passed=(-e MYSQL_PWD)
for n in $O3_SHARED_NAMES; do passed+=(-e "$n"); done
in_helper() {
  docker run --rm --network "$O3_NETWORK" --user 0 -v "$O3_BACKUP_DIR:$O3_BACKUPS" "${passed[@]}" \
    --entrypoint sh "$O3_HELPER_IMAGE" -c "$O3_MAINTENANCE_SH" maintenance.sh "$@"
}

err=$(mktemp)
trap 'rm -f "$err"; o3_ssh_cleanup' EXIT
if name=$(in_helper dump backup "_from_${old}_to_${new}" 2>"$err"); then
  kept=$(in_helper keep backup "$O3_RETAIN")
  echo "o3 backup: $O3_BACKUP_DIR/$name written ($kept kept, retention $O3_RETAIN)"
else
  echo "o3 backup: the pre-upgrade dump of $O3_SCHEMAS failed, so the upgrade stops here; nothing was changed." >&2
  echo "mysqldump said: $(tr '\n' ' ' < "$err")" >&2
  exit 1
fi
