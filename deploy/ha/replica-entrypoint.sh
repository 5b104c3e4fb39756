#!/usr/bin/env bash
# compose.yaml's ha profile: the PostgreSQL replica's entrypoint, in front of the image's own.
# At the first start (no database in $PGDATA) it copies the primary $REPLICATE_FROM with
# `pg_basebackup -R`, as the replication user and through the replication slot that the
# primary's first start made (deploy/ha/primary-init.sh); -R leaves standby.signal and the
# primary_conninfo and primary_slot_name settings, so the server the image's entrypoint then
# starts is a hot standby streaming from the primary. Later starts go straight to the image's
# entrypoint. A base backup that fails is cleaned up by pg_basebackup, and the container's
# restart tries again.
set -euo pipefail

if [ ! -s "$PGDATA/PG_VERSION" ]; then
  : "${REPLICATE_FROM:?}" "${REPLICATION_USER:?}" "${REPLICATION_SLOT:?}"
  password=$(cat /run/stockflow-ha/replication-password)
  mkdir -p "$PGDATA"
  chown postgres:postgres "$PGDATA"
  chmod 700 "$PGDATA"
  echo "replica: copying $REPLICATE_FROM with pg_basebackup, through the slot $REPLICATION_SLOT"
  # The replica's application_name is the slot's name: synchronous_standby_names names it
  # (deploy/ha/synchronous.sql), and -R keeps it in primary_conninfo.
  PGPASSWORD="$password" gosu postgres pg_basebackup \
    --dbname="host=$REPLICATE_FROM port=5432 user=$REPLICATION_USER application_name=$REPLICATION_SLOT" \
    --pgdata="$PGDATA" --slot="$REPLICATION_SLOT" --wal-method=stream \
    --write-recovery-conf --checkpoint=fast
  # A copy taken while the primary was synchronous carries its synchronous settings, which
  # would make this server, once promoted, wait for a standby it does not have.
  sed -i -e '/^synchronous_standby_names\b/d' -e '/^synchronous_commit\b/d' \
    "$PGDATA/postgresql.auto.conf"
fi

exec docker-entrypoint.sh "$@"
