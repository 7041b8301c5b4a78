
# ---- o3:offsite (appended to pre-upgrade-backup.sh only for a site that has it) ---------------
# The pre-upgrade dump goes off-host too, before any container is replaced, through the site's
# restic container (its credentials are files in it: none passes through here). Reached only
# when the dump above was written ($name); a failure stops the upgrade as a failed dump does.
if [ "$(docker inspect --type container -f '{{.State.Running}}' "$O3_OFFSITE_CONTAINER" 2>/dev/null)" = true ]; then
  if line=$(docker exec "$O3_OFFSITE_CONTAINER" /bin/sh "$O3_OFFSITE_SCRIPT" file "$name" pre-upgrade 2>&1); then
    echo "o3 backup: off-host: ${line##* o3-offsite: }"
  else
    echo "o3 backup: the pre-upgrade dump could not be sent off-host, so the upgrade stops here; nothing was changed." >&2
    echo "o3-offsite said: $(printf '%s' "$line" | tail -n 3 | tr '\n' ' ')" >&2
    exit 1
  fi
else
  echo "o3 backup: no running $O3_OFFSITE_CONTAINER yet (o3:offsite is new): the pre-upgrade dump stays on this host only"
fi
