-- The services' PostgreSQL login users, one per component role. Run with psql as the owner
-- after the migrations (which create the roles), by compose.yaml's `db-users` step:
--   psql -f deploy/postgres/login-users.sql
-- with the passwords in STOCKFLOW_DB_{COMMAND,PROJECTOR,QUERY}_PASSWORD. Safe to run again:
-- it creates what is missing and sets the passwords anew.
--
-- Each login user is a member of its role and acts as that role from the start of every
-- session (its `role` setting): what the projector creates in a rebuild is then owned by
-- stockflow_projector, whose default privileges let the query service and analysts read it.
\set ON_ERROR_STOP on
SET client_min_messages = warning;

\getenv command_password STOCKFLOW_DB_COMMAND_PASSWORD
\getenv projector_password STOCKFLOW_DB_PROJECTOR_PASSWORD
\getenv query_password STOCKFLOW_DB_QUERY_PASSWORD
\if :{?command_password}
\else
    DO $$ BEGIN RAISE EXCEPTION 'STOCKFLOW_DB_COMMAND_PASSWORD is not set'; END $$;
\endif
\if :{?projector_password}
\else
    DO $$ BEGIN RAISE EXCEPTION 'STOCKFLOW_DB_PROJECTOR_PASSWORD is not set'; END $$;
\endif
\if :{?query_password}
\else
    DO $$ BEGIN RAISE EXCEPTION 'STOCKFLOW_DB_QUERY_PASSWORD is not set'; END $$;
\endif

SELECT format('CREATE ROLE %I LOGIN IN ROLE %I', login, role)
  FROM (VALUES ('stockflow_command_login', 'stockflow_command'),
               ('stockflow_projector_login', 'stockflow_projector'),
               ('stockflow_query_login', 'stockflow_query')) AS users(login, role)
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = login)
\gexec

ALTER ROLE stockflow_command_login WITH LOGIN PASSWORD :'command_password';
GRANT stockflow_command TO stockflow_command_login;
ALTER ROLE stockflow_command_login SET role = 'stockflow_command';

ALTER ROLE stockflow_projector_login WITH LOGIN PASSWORD :'projector_password';
GRANT stockflow_projector TO stockflow_projector_login;
ALTER ROLE stockflow_projector_login SET role = 'stockflow_projector';

ALTER ROLE stockflow_query_login WITH LOGIN PASSWORD :'query_password';
GRANT stockflow_query TO stockflow_query_login;
ALTER ROLE stockflow_query_login SET role = 'stockflow_query';
