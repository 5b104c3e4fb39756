-- The event store: the source of truth. Everything else is derived from it.
CREATE SCHEMA IF NOT EXISTS event_store;

-- Every event, in global position order. Positions are gap-free and increase in commit order
-- (see event_store.append): whoever has seen position p has seen every event <= p.
CREATE TABLE event_store.events (
    position       bigint      PRIMARY KEY,
    stream_id      text        NOT NULL,
    stream_version bigint      NOT NULL,
    event_id       uuid        NOT NULL,
    event_type     text        NOT NULL,
    type_version   integer     NOT NULL,
    data           jsonb       NOT NULL,
    metadata       jsonb       NOT NULL DEFAULT '{}',
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_stream_version_unique UNIQUE (stream_id, stream_version)
);

-- One row per stream: its version (events in it) and a snapshot of the aggregate's state at
-- that version, so that loading state costs the same however long the stream grows.
CREATE TABLE event_store.streams (
    stream_id        text    PRIMARY KEY,
    version          bigint  NOT NULL CHECK (version > 0),
    snapshot         jsonb,
    snapshot_schema  integer NOT NULL DEFAULT 1
);

-- The single counter row appends serialize on: its row lock is held to commit, so a later
-- append can only take positions after an earlier one has committed.
CREATE TABLE event_store.head (
    id       boolean PRIMARY KEY DEFAULT true CHECK (id),
    position bigint  NOT NULL
);
INSERT INTO event_store.head (id, position) VALUES (true, 0);

-- The first outcome of each command sent with an Idempotency-Key, stored in the transaction
-- of its events.
CREATE TABLE event_store.idempotency_keys (
    key          text        PRIMARY KEY,
    request_hash bytea       NOT NULL,
    status       smallint    NOT NULL,
    -- The response body with its position left out; position is set back in on replay.
    body         text        NOT NULL,
    position     bigint,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idempotency_keys_created_at ON event_store.idempotency_keys (created_at);

-- How far each relay (one per exchange) has had events confirmed by the broker.
CREATE TABLE event_store.relay_checkpoints (
    name       text        PRIMARY KEY,
    position   bigint      NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Appends the events of a batch of commands in one transaction, in one round trip.
--   streams:     every stream written, its expected (current) version, new version and snapshot;
--                expected 0 means the stream must not exist yet.
--   events:      in order; each names its stream and stream version.
--   idempotency: outcomes to record, each with the ordinal (1-based, within this batch) of its
--                command's last event, or null when the command wrote none.
-- Raises SQLSTATE SF001 when a stream is not at its expected version and SF002 when an
-- idempotency key is already taken; nothing is written then. Returns the position of the
-- last event (the head), or the current head when the batch has no events.
CREATE FUNCTION event_store.append(
    s_ids text[], s_expected bigint[], s_new bigint[], s_snapshots jsonb[],
    e_streams text[], e_versions bigint[], e_ids uuid[], e_types text[], e_type_versions integer[],
    e_data jsonb[], e_metadata jsonb[],
    i_keys text[], i_hashes bytea[], i_statuses smallint[], i_bodies text[], i_ordinals integer[]
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    written bigint;
    n_streams integer := coalesce(array_length(s_ids, 1), 0);
    n_events integer := coalesce(array_length(e_ids, 1), 0);
    n_keys integer := coalesce(array_length(i_keys, 1), 0);
    last_position bigint;
BEGIN
    -- Expected versions. Existing streams move forward only from where the caller saw them;
    -- new streams are inserted only if nobody created them meanwhile.
    WITH moved AS (
        UPDATE event_store.streams s
           SET version = w.new_version, snapshot = w.snapshot
          FROM unnest(s_ids, s_expected, s_new, s_snapshots) AS w(stream_id, expected, new_version, snapshot)
         WHERE w.expected > 0 AND s.stream_id = w.stream_id AND s.version = w.expected
        RETURNING 1
    )
    SELECT count(*) INTO written FROM moved;
    WITH created AS (
        INSERT INTO event_store.streams (stream_id, version, snapshot)
        SELECT w.stream_id, w.new_version, w.snapshot
          FROM unnest(s_ids, s_expected, s_new, s_snapshots) AS w(stream_id, expected, new_version, snapshot)
         WHERE w.expected = 0
        ON CONFLICT (stream_id) DO NOTHING
        RETURNING 1
    )
    SELECT written + count(*) INTO written FROM created;
    IF written <> n_streams THEN
        RAISE EXCEPTION 'a stream is not at its expected version' USING ERRCODE = 'SF001';
    END IF;

    IF n_events = 0 THEN
        SELECT position INTO last_position FROM event_store.head;
    ELSE
        -- Taken after the stream checks, so the lock that orders all appends is held as
        -- briefly as possible.
        UPDATE event_store.head SET position = position + n_events RETURNING position INTO last_position;
        INSERT INTO event_store.events
            (position, stream_id, stream_version, event_id, event_type, type_version, data, metadata)
        SELECT last_position - n_events + e.ord, e.stream_id, e.stream_version, e.event_id,
               e.event_type, e.type_version, e.data, e.metadata
          FROM unnest(e_streams, e_versions, e_ids, e_types, e_type_versions, e_data, e_metadata)
               WITH ORDINALITY AS e(stream_id, stream_version, event_id, event_type, type_version, data, metadata, ord);
        PERFORM pg_notify('stockflow_events', last_position::text);
    END IF;

    IF n_keys > 0 THEN
        WITH recorded AS (
            INSERT INTO event_store.idempotency_keys (key, request_hash, status, body, position)
            SELECT k.key, k.hash, k.status, k.body, last_position - n_events + k.ordinal
              FROM unnest(i_keys, i_hashes, i_statuses, i_bodies, i_ordinals) AS k(key, hash, status, body, ordinal)
            ON CONFLICT (key) DO NOTHING
            RETURNING 1
        )
        SELECT count(*) INTO written FROM recorded;
        IF written <> n_keys THEN
            RAISE EXCEPTION 'an idempotency key is already recorded' USING ERRCODE = 'SF002';
        END IF;
    END IF;
    RETURN last_position;
END
$$;
