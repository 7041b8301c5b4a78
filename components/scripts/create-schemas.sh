# Creates the PACS and VIEW schemas in the running db container. Idempotent.
# Input (environment): O3_DB_CONTAINER, O3_SCHEMAS, O3_RETRIES, O3_RETRY_DELAY,
# MYSQL_PWD (the root password, a Pulumi secret) and DOCKER_HOST for a remote daemon.
# The password is handed to `docker exec -e MYSQL_PWD` by name: it is never on a command line.
set -u
sql=""
for s in $O3_SCHEMAS; do
  sql="$sql CREATE SCHEMA IF NOT EXISTS \`$s\`;"
done
attempt=1
while :; do
  if out=$(docker exec -e MYSQL_PWD "$O3_DB_CONTAINER" mysql -uroot -e "$sql" 2>&1); then
    echo "o3 schema step: schemas ready: $O3_SCHEMAS"
    exit 0
  fi
  case "$out" in
    *"Access denied"*)
      echo "o3 schema step: MySQL in container '$O3_DB_CONTAINER' rejected the root password (ERROR 1045)." >&2
      echo "MySQL keeps the password its data folder was first initialised with: set o3:dbPassword to that" >&2
      echo "password (pulumi config set --secret o3:dbPassword ...), or change it inside MySQL first. See README, Troubleshooting." >&2
      exit 2 ;;
  esac
  if [ "$attempt" -ge "$O3_RETRIES" ]; then
    echo "o3 schema step: MySQL in container '$O3_DB_CONTAINER' did not accept the schema statements after $attempt attempts ${O3_RETRY_DELAY}s apart." >&2
    echo "Last error: $out" >&2
    echo "Check 'docker logs $O3_DB_CONTAINER'; raise o3:database.schemaRetries if MySQL is just slow to start." >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep "$O3_RETRY_DELAY"
done
