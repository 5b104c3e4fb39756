-- The audit log: one row per action an operator took with the `admin` scope, refused ones
-- included, so that "who did what to what, when, why, and how did it end" can be answered
-- (docs/api.md, "Audit log"). Today the command service's replays write it; dead letters,
-- projection pause/resume/skip and rebuilds, in other services, will write it too.
--
-- It lives in a schema of its own, `ops`, rather than beside `event_store.replays`: it is
-- not part of the event store (a replay is; the record of who asked for one is not), it is
-- written by several services, and each of those is granted exactly this table, not a schema
-- that holds the store. Rows are only ever added: no role but the owner may change or remove
-- one.
CREATE SCHEMA ops;

CREATE TABLE ops.audit_log (
    -- Orders the rows recorded in the same instant; never shown.
    id      bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    -- The `sub` claim of the token that acted (`anonymous` in development mode).
    subject text        NOT NULL,
    -- What was done, as `<thing>.<verb>`: `replay.start`, `replay.cancel`.
    action  text        NOT NULL CHECK (action ~ '^[a-z_]+\.[a-z_]+$'),
    -- What it was done to, as `<kind>:<name>`: `queue:billing.events`, `replay:<uuid>`.
    target  text        NOT NULL,
    -- Why, in the operator's words, when they gave one.
    reason  text,
    -- How it ended: `accepted` (it goes on in the background), `done`, or
    -- `refused: <problem code>`.
    outcome text        NOT NULL
                        CHECK (outcome IN ('accepted', 'done') OR outcome ~ '^refused: [a-z_]+$')
);
-- The log is read newest first, a page at a time, keyset by (at, id).
CREATE INDEX audit_log_newest ON ops.audit_log (at DESC, id DESC);

-- Each service that takes admin actions records them and lists them: insert and select,
-- nothing more. Only the command service takes any today; a service that comes to take
-- some is granted the same in the migration that brings them.
GRANT USAGE ON SCHEMA ops TO stockflow_command;
GRANT SELECT, INSERT ON ops.audit_log TO stockflow_command;
