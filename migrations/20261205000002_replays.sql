-- Replays: stored events published again, in position order, to one queue of a subscriber
-- that joined late or lost its queue (docs/api.md, "Replaying events into a queue"). One row
-- per replay asked for, kept after it ends, so that its outcome can be read and a replay cut
-- short can be resumed from `last_position`.
CREATE TABLE event_store.replays (
    replay_id     uuid        PRIMARY KEY,
    queue         text        NOT NULL,
    -- The range: positions after `after`, up to and including `to`.
    after         bigint      NOT NULL CHECK (after >= 0),
    "to"          bigint      NOT NULL CHECK ("to" >= after),
    -- The routing keys replayed, or null for all of them.
    types         text[],
    status        text        NOT NULL DEFAULT 'running'
                              CHECK (status IN ('running', 'done', 'failed')),
    -- Messages the broker confirmed so far.
    published     bigint      NOT NULL DEFAULT 0 CHECK (published >= 0),
    -- Every event after `after` up to here was examined and, if it matched, confirmed: a new
    -- replay from here goes on where this one stopped.
    last_position bigint      NOT NULL CHECK (last_position BETWEEN after AND "to"),
    -- Why a failed replay stopped.
    error         text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
-- Start-up looks for the replays a stopped service left running.
CREATE INDEX replays_running ON event_store.replays (replay_id) WHERE status = 'running';

-- The command service runs the replays: it records them and their progress, and never
-- deletes one.
GRANT SELECT, INSERT, UPDATE ON event_store.replays TO stockflow_command;
