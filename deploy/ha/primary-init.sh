#!/usr/bin/env bash
# compose.yaml's ha profile: mounted into the PostgreSQL primary's /docker-entrypoint-initdb.d,
# so it runs once, at the first start, as postgres, against the initialising server (which
# listens on its socket only). It makes what the replica copies the primary through:
#   - the replication user $REPLICATION_USER, with the password the ha-secrets step made;
#   - the physical replication slot $REPLICATION_SLOT, so that the primary keeps the WAL the
#     replica has not received yet (up to max_slot_wal_keep_size, set in compose.yaml);
#   - a pg_hba.conf line that lets that user, and only it, open replication connections with
#     its password: the image's `host all all all` line does not cover replication.
# The image's entrypoint executes this file, or sources it when it is not executable: the
# subshell keeps its shell options to itself either way.
(
  set -euo pipefail
  : "${REPLICATION_USER:?}" "${REPLICATION_SLOT:?}"
  psql -v ON_ERROR_STOP=1 --no-psqlrc --quiet --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v user="$REPLICATION_USER" -v slot="$REPLICATION_SLOT" <<'SQL'
\set password `cat /run/stockflow-ha/replication-password`
CREATE ROLE :"user" WITH LOGIN REPLICATION PASSWORD :'password';
SELECT pg_create_physical_replication_slot(:'slot') \gset
SQL
  printf 'host replication %s all scram-sha-256\n' "$REPLICATION_USER" >>"$PGDATA/pg_hba.conf"
  echo "primary: replication user $REPLICATION_USER and slot $REPLICATION_SLOT made"
)
