#!/usr/bin/env bash
# compose.yaml's ha profile, one shot, before its RabbitMQ nodes and PostgreSQL servers start:
# the two secrets the cluster keeps to itself are made here, at random, at the first start,
# and kept in volumes, so that .env holds neither:
#   - the Erlang cookie of the three RabbitMQ nodes, written as .erlang.cookie into each node's
#     data volume (mounted here as /nodes/<node>), where the node and its CLI tools (the
#     healthcheck) read it;
#   - the password of the replication user (the ha-replication-secret volume, /secrets here),
#     which the primary's first start gives the user and the replica's base backup uses.
# Safe to run again (it runs at every `up`): what exists is kept, and a node's volume made
# anew gets the cookie of the others.
set -euo pipefail
umask 077

# 32 random bytes, as 64 hexadecimal digits.
random_secret() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }

# The rabbitmq user of RabbitMQ's image and the postgres user of PostgreSQL's are both uid 999.
owner=999:999

cookie=
for node in /nodes/*/; do
  if [ -s "${node}.erlang.cookie" ]; then
    cookie=$(cat "${node}.erlang.cookie")
    break
  fi
done
if [ -z "$cookie" ]; then
  cookie=$(random_secret)
fi
for node in /nodes/*/; do
  printf '%s' "$cookie" >"${node}.erlang.cookie"
  # Erlang refuses a cookie file that others may read.
  chmod 400 "${node}.erlang.cookie"
  chown "$owner" "$node" "${node}.erlang.cookie"
done

password_file=/secrets/replication-password
if [ ! -s "$password_file" ]; then
  random_secret >"$password_file"
fi
chmod 400 "$password_file"
chown "$owner" "$password_file"

echo "ha-secrets: the Erlang cookie of $(find /nodes -mindepth 1 -maxdepth 1 -type d | wc -l) RabbitMQ nodes and the replication password are in place"
