# The one ssh wrapper. Sourced first by every step that runs the docker CLI, and run by the ops
# commands (ops/_site.py) for docker-py (O3_SSH_OPTS: docker:sshOpts, one per line).
# For an ssh:// DOCKER_HOST the docker CLI runs the system `ssh` and cannot pass it options, so an
# `ssh` that adds the stack's options goes first on PATH: the provider, these steps and the ops
# commands then reach the host with the same key and known_hosts file.
# The wrapper's folder is O3_SSH_DIR when the caller gives one (and removes it); otherwise a
# temporary folder, removed when the step exits (o3_ssh_cleanup, for steps with an EXIT trap).
o3_ssh_tmp=""
o3_ssh_cleanup() { [ -z "$o3_ssh_tmp" ] || rm -rf "$o3_ssh_tmp"; }
if [ -n "${O3_SSH_OPTS:-}" ]; then
  o3_real_ssh=""
  o3_ifs=$IFS; IFS=:
  for o3_d in $PATH; do  # the system ssh, not a wrapper of an outer step
    case "$o3_d" in */o3-ssh-*) continue ;; esac
    if [ -x "$o3_d/ssh" ]; then o3_real_ssh="$o3_d/ssh"; break; fi
  done
  IFS=$o3_ifs
  [ -n "$o3_real_ssh" ] || { echo 'o3: docker:host is ssh://, but there is no `ssh` client on this machine: install it (Debian/Ubuntu: apt-get install openssh-client)' >&2; exit 1; }
  if [ -n "${O3_SSH_DIR:-}" ]; then
    o3_ssh_dir=$O3_SSH_DIR
  else
    o3_ssh_tmp=$(mktemp -d -t o3-ssh-XXXXXX)
    o3_ssh_dir=$o3_ssh_tmp
    trap o3_ssh_cleanup EXIT
  fi
  {
    echo '#!/bin/sh'
    printf "exec '%s'" "$o3_real_ssh"
    printf '%s\n' "$O3_SSH_OPTS" | while IFS= read -r o3_opt; do
      [ -n "$o3_opt" ] && printf " '%s'" "$(printf '%s' "$o3_opt" | sed "s/'/'\\\\''/g")"
    done
    echo ' "$@"'
  } > "$o3_ssh_dir/ssh"
  chmod 0755 "$o3_ssh_dir/ssh"
  PATH="$o3_ssh_dir:$PATH"
  export PATH
fi
