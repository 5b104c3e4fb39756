-- The projector's dead letters: each message from its queue that it could not use, kept
-- where an operator can list, read, replay or discard it through the projector's admin API
-- (docs/operations.md, "Dead letters"). Before, such messages were nacked to a RabbitMQ
-- dead-letter queue that stockflow cannot list; that queue remains as a safety net for a
-- message the projector cannot even insert here, and the projector drains it into this
-- table when it starts.
--
-- It lives in `ops`, beside the audit log: it is not part of the event store (the store has
-- every event; a dead letter is a copy that went wrong on its way) and not a read model (a
-- rebuild swaps the `read` schema out whole, and must not take the dead letters with it).
CREATE TABLE ops.dead_letters (
    -- Names the dead letter in the API (`/v1/admin/dead-letters/{id}`); pages are keyed by it.
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Why it is here: `undecodable` (not a stockflow CloudEvent), `unknown_type` (an event
    -- type or version this projector does not know), `bad_payload` (a known type whose data
    -- does not fit it), `unapplied` (it decodes, but a replay could not apply it, e.g. it is
    -- ahead of the checkpoint), `skipped` (set aside by an operator).
    reason_kind text        NOT NULL
                            CHECK (reason_kind IN ('undecodable', 'unknown_type', 'bad_payload',
                                                   'unapplied', 'skipped')),
    -- The details, for people.
    reason      text        NOT NULL,
    routing_key text        NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    -- How many times it was tried: the delivery, then each replay that failed.
    attempts    integer     NOT NULL DEFAULT 1 CHECK (attempts >= 1),
    -- The AMQP headers and the other properties (content type, message id, …), as JSON.
    headers     jsonb       NOT NULL,
    properties  jsonb       NOT NULL,
    body        bytea       NOT NULL,
    -- What the message says of its event, when it could be read that far.
    event_id    uuid,
    position    bigint,
    -- A delivery of the same message again (at-least-once delivery, or a drain interrupted
    -- between its insert and its ack) must not make a second row: `event:<id>`,
    -- `message:<message id>`, or `sha256:<hash of routing key and body>`.
    dedupe_key  text        NOT NULL UNIQUE
);

-- The projector records and settles its dead letters, and records each replay and discard
-- in the audit log (added to, never read, by the projector).
GRANT USAGE ON SCHEMA ops TO stockflow_projector;
GRANT SELECT, INSERT, UPDATE, DELETE ON ops.dead_letters TO stockflow_projector;
GRANT INSERT ON ops.audit_log TO stockflow_projector;
