# Pre-upgrade backup: a logical dump of the site's schemas, taken inside the running db container
# before any image changes, written gzip-compressed under <storagePath>/backups on the Docker host.
# Input (environment): O3_DB_CONTAINER, O3_SITE, O3_SCHEMAS, O3_DUMP_OPTIONS, O3_BACKUP_DIR, O3_HELPER_IMAGE, O3_RETAIN,
# O3_NEW_VERSIONS ("db=<tag> pacs=<tag> view=<tag>"), MYSQL_PWD (secret), DOCKER_HOST (remote sites).
# The password is handed to `docker exec -e MYSQL_PWD` by name: it is never on a command line.
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
name="o3-backup-$(date -u +%Y%m%dT%H%M%SZ)_from_${old}_to_${new}.sql.gz"

helper() {
  docker run -i --rm --network none --user 0 -v "$O3_BACKUP_DIR:/backups" --entrypoint sh "$O3_HELPER_IMAGE" -c "$@"
}

err=$(mktemp)
trap 'rm -f "$err"' EXIT
# The same dump as the nightly one (components/scripts/maintenance.sh): a first line naming the
# site, so a restore can refuse another site's dump.
# shellcheck disable=SC2086 # option and schema lists
if { echo "-- o3-site: $O3_SITE"; docker exec -e MYSQL_PWD "$O3_DB_CONTAINER" mysqldump -uroot $O3_DUMP_OPTIONS \
     --databases $O3_SCHEMAS 2>"$err"; } \
   | gzip -c \
   | helper 'cat > "/backups/$1.partial"' o3 "$name"; then
  kept=$(helper 'mv "/backups/$1.partial" "/backups/$1" && ls -1t /backups/o3-backup-*.sql.gz | tail -n +"$(($2 + 1))" | xargs -r rm -f -- && ls -1 /backups/o3-backup-*.sql.gz | wc -l' o3 "$name" "$O3_RETAIN")
  echo "o3 backup: $O3_BACKUP_DIR/$name written ($kept kept, retention $O3_RETAIN)"
else
  helper 'rm -f "/backups/$1.partial"' o3 "$name" || true
  echo "o3 backup: the pre-upgrade dump of $O3_SCHEMAS failed, so the upgrade stops here; nothing was changed." >&2
  echo "mysqldump said: $(tr '\n' ' ' < "$err")" >&2
  exit 1
fi
