-- What operators decide about the live projection, and the rebuilds they start from the
-- projector's admin API (docs/operations.md, "Projections"). All of it lives in `ops`, not in
-- `read`: a rebuild swaps the `read` schema out whole, and a pause, a skip or the record of a
-- rebuild must outlive it.

-- The live projection's state, one row for every projector sharing the store (one consumes;
-- the others wait their turn on the queue, and read this row too). `running`: batches are
-- applied; `paused`: an operator paused it, nothing is applied and messages wait in the
-- queue; `stopped`: it met an event it could not apply, retried, and waits for an operator to
-- retry or skip that event. Each batch reads this row (FOR SHARE) in its transaction, so a
-- pause that has committed has no batch after it.
CREATE TABLE ops.projector (
    one              boolean     PRIMARY KEY DEFAULT true CHECK (one),
    status           text        NOT NULL DEFAULT 'running'
                                 CHECK (status IN ('running', 'paused', 'stopped')),
    -- Why it stopped, and the position of the event it could not apply.
    error            text,
    failing_position bigint,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
INSERT INTO ops.projector DEFAULT VALUES;

-- Events an operator chose to skip: never applied, by the live projection or by a rebuild,
-- so that the read models stay the fold of the store minus exactly these. Each is also a
-- dead letter (reason `skipped`) and an audit entry; a dead letter can be discarded, this
-- record cannot.
CREATE TABLE ops.skipped_events (
    position   bigint      PRIMARY KEY,
    subject    text        NOT NULL,
    reason     text        NOT NULL,
    skipped_at timestamptz NOT NULL DEFAULT now()
);

-- Rebuilds, from the API or the `projector rebuild` command: one at a time (the unique index
-- below), with their progress written every half second by the projector running them. A
-- rebuild whose heartbeat is over 30 s old lost its projector, and counts as failed.
CREATE TABLE ops.rebuilds (
    id           uuid        PRIMARY KEY,
    status       text        NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    -- The token's subject, or `cli` for the command.
    requested_by text        NOT NULL,
    events_done  bigint      NOT NULL DEFAULT 0,
    -- The store's head when it started; the final position once done.
    events_total bigint      NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    error        text
);
CREATE UNIQUE INDEX rebuilds_one_running ON ops.rebuilds ((true)) WHERE status = 'running';
CREATE INDEX rebuilds_newest ON ops.rebuilds (started_at DESC);

-- FOR SHARE needs UPDATE beside SELECT.
GRANT SELECT, UPDATE ON ops.projector TO stockflow_projector;
GRANT SELECT, INSERT ON ops.skipped_events TO stockflow_projector;
GRANT SELECT, INSERT, UPDATE ON ops.rebuilds TO stockflow_projector;
