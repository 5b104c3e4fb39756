-- The event feed (docs/api.md, "Event feed"): the query service serves the stored events to
-- subscribers that join late, so its role now reads them too. It reads nothing else of the
-- event store beyond the head it already read, and writes nothing there.
GRANT USAGE ON SCHEMA event_store TO stockflow_query;
GRANT SELECT ON event_store.events, event_store.head TO stockflow_query;

-- `correlation_id=` finds the events of one request anywhere in the store: through this
-- index, in position order, without scanning the positions between them. The feed's other
-- filters (type, stream) examine a bounded range of positions per page instead, so they need
-- no index of their own; the stream's (stream_id, stream_version) key already exists.
CREATE INDEX events_correlation_id
    ON event_store.events ((metadata->>'correlation_id'), position);
