-- compose.yaml's ha profile: run by the ha-db-users step on the primary, after the login
-- users, at every `docker compose --profile ha up`. With HA_POSTGRES_SYNC=on in .env the
-- primary commits synchronously: a commit returns once the replica (whose application_name is
-- the slot's name, $REPLICATION_SLOT) has applied it (remote_apply), so a read on the replica
-- right after sees it, and commits wait while the replica is down. Otherwise (the default)
-- both settings go back to PostgreSQL's defaults: the replica follows asynchronously.
-- ALTER SYSTEM keeps the setting in postgresql.auto.conf; pg_reload_conf() applies it now.
\set ON_ERROR_STOP on
SET client_min_messages = warning;

\getenv sync STOCKFLOW_HA_POSTGRES_SYNC
\getenv standby REPLICATION_SLOT
\if :{?sync}
\else
    \set sync off
\endif
\if :{?standby}
\else
    DO $$ BEGIN RAISE EXCEPTION 'REPLICATION_SLOT is not set'; END $$;
\endif

SELECT lower(:'sync') IN ('on', 'true', 'yes', '1') AS synchronous \gset
\if :synchronous
    ALTER SYSTEM SET synchronous_standby_names = :'standby';
    ALTER SYSTEM SET synchronous_commit = 'remote_apply';
\else
    ALTER SYSTEM RESET synchronous_standby_names;
    ALTER SYSTEM RESET synchronous_commit;
\endif
SELECT pg_reload_conf() AS reloaded \gset
