-- Every event records the position that ends its transaction, so that readers (the projector)
-- can stop at transaction boundaries and never show a command half applied. Events are
-- stamped with the time their positions were taken, so that time follows position. And
-- snapshots record the layout they were written in.
ALTER TABLE event_store.events ADD COLUMN commit_position bigint;
-- Events from before this migration: their transactions' ends are not known; each counts as
-- its own.
UPDATE event_store.events SET commit_position = position WHERE commit_position IS NULL;
ALTER TABLE event_store.events ALTER COLUMN commit_position SET NOT NULL;

DROP FUNCTION event_store.append(
    text[], bigint[], bigint[], jsonb[],
    text[], bigint[], uuid[], text[], integer[], jsonb[], jsonb[],
    text[], bytea[], smallint[], text[], integer[]
);

-- As before (see the event store migration), with `s_schemas`: the snapshot layout of each
-- stream written.
CREATE FUNCTION event_store.append(
    s_ids text[], s_expected bigint[], s_new bigint[], s_snapshots jsonb[], s_schemas integer[],
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
    recorded timestamptz;
BEGIN
    WITH moved AS (
        UPDATE event_store.streams s
           SET version = w.new_version, snapshot = w.snapshot, snapshot_schema = w.schema
          FROM unnest(s_ids, s_expected, s_new, s_snapshots, s_schemas)
               AS w(stream_id, expected, new_version, snapshot, schema)
         WHERE w.expected > 0 AND s.stream_id = w.stream_id AND s.version = w.expected
        RETURNING 1
    )
    SELECT count(*) INTO written FROM moved;
    WITH created AS (
        INSERT INTO event_store.streams (stream_id, version, snapshot, snapshot_schema)
        SELECT w.stream_id, w.new_version, w.snapshot, w.schema
          FROM unnest(s_ids, s_expected, s_new, s_snapshots, s_schemas)
               AS w(stream_id, expected, new_version, snapshot, schema)
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
        -- briefly as possible; the time is read once the lock is held, so it follows position.
        UPDATE event_store.head SET position = position + n_events RETURNING position INTO last_position;
        recorded := clock_timestamp();
        INSERT INTO event_store.events
            (position, stream_id, stream_version, event_id, event_type, type_version, data, metadata,
             recorded_at, commit_position)
        SELECT last_position - n_events + e.ord, e.stream_id, e.stream_version, e.event_id,
               e.event_type, e.type_version, e.data, e.metadata, recorded, last_position
          FROM unnest(e_streams, e_versions, e_ids, e_types, e_type_versions, e_data, e_metadata)
               WITH ORDINALITY AS e(stream_id, stream_version, event_id, event_type, type_version, data, metadata, ord);
        PERFORM pg_notify('stockflow_events', last_position::text);
    END IF;

    IF n_keys > 0 THEN
        WITH recorded_keys AS (
            INSERT INTO event_store.idempotency_keys (key, request_hash, status, body, position)
            SELECT k.key, k.hash, k.status, k.body, last_position - n_events + k.ordinal
              FROM unnest(i_keys, i_hashes, i_statuses, i_bodies, i_ordinals) AS k(key, hash, status, body, ordinal)
            ON CONFLICT (key) DO NOTHING
            RETURNING 1
        )
        SELECT count(*) INTO written FROM recorded_keys;
        IF written <> n_keys THEN
            RAISE EXCEPTION 'an idempotency key is already recorded' USING ERRCODE = 'SF002';
        END IF;
    END IF;
    RETURN last_position;
END
$$;
