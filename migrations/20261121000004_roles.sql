-- Least privilege: one role per component, each allowed what its service does and nothing
-- more. They cannot log in by themselves: a deployment grants each to a login user of its
-- own (see docs/operations.md). Migrations themselves run as the database's owner.
--
-- Roles belong to the whole server, which several stockflow databases may share: another
-- database's migration may be creating them at this very moment.
DO $$
BEGIN
    CREATE ROLE stockflow_command NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
DO $$
BEGIN
    CREATE ROLE stockflow_projector NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;
DO $$
BEGIN
    CREATE ROLE stockflow_query NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

-- The command service: the event store, and nothing of the read models. Events are
-- immutable once appended: no UPDATE or DELETE on them. Old idempotency keys are purged.
GRANT USAGE ON SCHEMA event_store TO stockflow_command;
GRANT SELECT, INSERT ON event_store.events TO stockflow_command;
GRANT SELECT, INSERT, UPDATE ON event_store.streams TO stockflow_command;
GRANT SELECT, UPDATE ON event_store.head TO stockflow_command;
GRANT SELECT, INSERT, DELETE ON event_store.idempotency_keys TO stockflow_command;
GRANT SELECT, INSERT, UPDATE ON event_store.relay_checkpoints TO stockflow_command;
-- append runs with its caller's privileges, so PUBLIC's default EXECUTE gave nothing away;
-- taking it back says plainly who appends.
REVOKE EXECUTE ON FUNCTION event_store.append(
    text[], bigint[], bigint[], jsonb[], integer[],
    text[], bigint[], uuid[], text[], integer[], jsonb[], jsonb[],
    text[], bytea[], smallint[], text[], integer[]
) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION event_store.append(
    text[], bigint[], bigint[], jsonb[], integer[],
    text[], bigint[], uuid[], text[], integer[], jsonb[], jsonb[],
    text[], bytea[], smallint[], text[], integer[]
) TO stockflow_command;

-- The projector reads the events (to fill gaps and catch up) and the head.
GRANT USAGE ON SCHEMA event_store TO stockflow_projector;
GRANT SELECT ON event_store.events, event_store.head TO stockflow_projector;

-- The projector owns the read models. `projector rebuild` builds fresh tables in a schema
-- of its own (read_next), renames it to `read` and drops the old one: only the owner of
-- the schemas may rename and drop them, and creating and renaming schemas takes CREATE on
-- the database. Owning them, the projector writes every read table too.
--
-- ALTER ... OWNER TO needs the migrating role to be a member of the new owner: a superuser
-- is; a database owner with CREATEROLE makes itself one.
DO $$
BEGIN
    IF NOT pg_has_role(current_user, 'stockflow_projector', 'MEMBER') THEN
        EXECUTE format('GRANT stockflow_projector TO %I', current_user);
    END IF;
END
$$;
DO $$
BEGIN
    EXECUTE format('GRANT CREATE ON DATABASE %I TO stockflow_projector', current_database());
END
$$;
ALTER SCHEMA read OWNER TO stockflow_projector;
ALTER TABLE read.products OWNER TO stockflow_projector;
ALTER TABLE read.orders OWNER TO stockflow_projector;
ALTER TABLE read.order_lines OWNER TO stockflow_projector;
ALTER TABLE read.customers OWNER TO stockflow_projector;
ALTER TABLE read.customer_lifetime_values OWNER TO stockflow_projector;
ALTER TABLE read.daily_sales OWNER TO stockflow_projector;
ALTER TABLE read.daily_sku_sales OWNER TO stockflow_projector;
ALTER TABLE read.replenishments OWNER TO stockflow_projector;
ALTER TABLE read.projections OWNER TO stockflow_projector;

-- A rebuild swaps in a new schema with new tables, which no GRANT made on the old ones
-- reaches. What the projector creates is therefore readable by the query service and the
-- analysts from the moment it exists. (Default privileges follow the role that creates an
-- object, in any schema, so this is why the projector's login user acts as the projector
-- role itself: see docs/operations.md.)
ALTER DEFAULT PRIVILEGES FOR ROLE stockflow_projector
    GRANT USAGE ON SCHEMAS TO stockflow_query, stockflow_analyst;
ALTER DEFAULT PRIVILEGES FOR ROLE stockflow_projector
    GRANT SELECT ON TABLES TO stockflow_query, stockflow_analyst;

-- The query service reads the read models, and the store's head for /v1/projections.
GRANT USAGE ON SCHEMA read TO stockflow_query;
GRANT SELECT ON ALL TABLES IN SCHEMA read TO stockflow_query;
GRANT USAGE ON SCHEMA event_store TO stockflow_query;
GRANT SELECT ON event_store.head TO stockflow_query;
