# The guide's schema step, on either platform: creates the PACS and VIEW schemas. Idempotent.
# Environment: O3_SCHEMAS, O3_RETRIES, O3_RETRY_DELAY, O3_DB_USER (default root, the guide's),
# MYSQL_PWD (a Pulumi secret on Docker, a secretKeyRef on Kubernetes: never on a command line), and
# where MySQL is: O3_DB_CONTAINER, the container `docker exec` reaches (Docker; DOCKER_HOST for a
# remote daemon; the password goes to `docker exec -e MYSQL_PWD` by name), or else O3_DB_HOST, the
# host the mysql client connects to (Kubernetes: a Job on the db image).
set -u
user=${O3_DB_USER:-root}
if [ -n "${O3_DB_CONTAINER:-}" ]; then
  where="in container '$O3_DB_CONTAINER'"
  hint="Check 'docker logs $O3_DB_CONTAINER'; raise"
else
  where="at $O3_DB_HOST"
  hint="Raise"
fi
o3_mysql() {
  if [ -n "${O3_DB_CONTAINER:-}" ]; then
    docker exec -e MYSQL_PWD "$O3_DB_CONTAINER" mysql -u"$user" "$@"
  else
    mysql -h "$O3_DB_HOST" -u"$user" "$@"
  fi
}
sql=""
for s in $O3_SCHEMAS; do
  sql="$sql CREATE SCHEMA IF NOT EXISTS \`$s\`;"
done
attempt=1
while :; do
  if out=$(o3_mysql -e "$sql" 2>&1); then
    echo "o3 schema step: schemas ready: $O3_SCHEMAS"
    exit 0
  fi
  case "$out" in
    *"Access denied"*)
      echo "o3 schema step: MySQL $where rejected the $user password (ERROR 1045)." >&2
      echo "MySQL keeps the password its data was first initialised with: set o3:dbPassword to that" >&2
      echo "password (pulumi config set --secret o3:dbPassword ...), or change it inside MySQL first. See README, Troubleshooting." >&2
      exit 2 ;;
  esac
  if [ "$attempt" -ge "$O3_RETRIES" ]; then
    echo "o3 schema step: MySQL $where did not accept the schema statements after $attempt attempts ${O3_RETRY_DELAY}s apart." >&2
    echo "Last error: $out" >&2
    echo "$hint o3:database.schemaRetries if MySQL is just slow to start." >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep "$O3_RETRY_DELAY"
done
