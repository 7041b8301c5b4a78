#!/bin/sh
# The schema step of a Kubernetes site (a Job on the db image): creates the PACS and VIEW schemas
# in the MySQL behind the Service `db`. Idempotent.
# Environment: O3_DB_HOST, O3_DB_USER, O3_SCHEMAS, O3_RETRIES, O3_RETRY_DELAY,
# MYSQL_PWD (from the site's Secret, by secretKeyRef: never on a command line).
set -u
sql=""
for s in $O3_SCHEMAS; do
  sql="$sql CREATE SCHEMA IF NOT EXISTS \`$s\`;"
done
attempt=1
while :; do
  if out=$(mysql -h "$O3_DB_HOST" -u"$O3_DB_USER" -e "$sql" 2>&1); then
    echo "o3 schema step: schemas ready: $O3_SCHEMAS"
    exit 0
  fi
  case "$out" in
    *"Access denied"*)
      echo "o3 schema step: MySQL at $O3_DB_HOST rejected user $O3_DB_USER's password (ERROR 1045)." >&2
      echo "MySQL keeps the password its data volume was first initialised with: set o3:dbPassword to it. See README." >&2
      exit 2 ;;
  esac
  if [ "$attempt" -ge "$O3_RETRIES" ]; then
    echo "o3 schema step: MySQL at $O3_DB_HOST did not accept the schema statements after $attempt attempts ${O3_RETRY_DELAY}s apart." >&2
    echo "Last error: $out" >&2
    exit 1
  fi
  attempt=$((attempt + 1))
  sleep "$O3_RETRY_DELAY"
done
