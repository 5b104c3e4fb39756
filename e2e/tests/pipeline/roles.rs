//! Least privilege (migrations/20261121000004_roles.sql, docs/operations.md): each
//! component's role may do what its service does and is refused the rest, and the services
//! run under them, rebuild included.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use stockflow_edge::{Scope, WebConfig, mint_token};
use stockflow_testkit::{
    BrokerNames, Running, TestDatabase as Database, broker_args, database_args,
};

const SECRET: &str = "roles-secret-of-at-least-32-characters!";

fn web_config() -> WebConfig {
    WebConfig {
        auth_jwt_secret: Some(SECRET.into()),
        auth_dev_mode: false,
        request_timeout_ms: 30_000,
        ..stockflow_testkit::web_config()
    }
}

/// `url`, with its sessions acting as `role` from the start: what a login user whose `role`
/// setting names the component's role gets in a deployment (docs/operations.md).
fn as_role(url: &str, role: &str) -> String {
    format!("{url}?options[role]={role}")
}

fn sqlstate(error: &sqlx::Error) -> Option<String> {
    match error {
        sqlx::Error::Database(e) => e.code().map(|c| c.into_owned()),
        _ => None,
    }
}

/// Runs `sql` (one or more statements) and undoes whatever it did, so that each probe
/// starts from the same state.
async fn attempt(db: &mut PgConnection, sql: &'static str) -> Result<(), sqlx::Error> {
    sqlx::query("SAVEPOINT probe")
        .execute(&mut *db)
        .await
        .expect("a savepoint");
    let outcome = sqlx::raw_sql(sql).execute(&mut *db).await.map(|_| ());
    sqlx::query("ROLLBACK TO SAVEPOINT probe")
        .execute(&mut *db)
        .await
        .expect("rolled back");
    outcome
}

/// As `role`, every statement of `allowed` runs and every one of `refused` is denied
/// (SQLSTATE 42501, insufficient privilege).
async fn check_role(db: &Database, role: &str, allowed: &[&'static str], refused: &[&'static str]) {
    let mut conn = db.connect().await;
    let mut tx = conn.begin().await.expect("a transaction");
    sqlx::query(sqlx::AssertSqlSafe(format!("SET LOCAL ROLE {role}")))
        .execute(&mut *tx)
        .await
        .expect("the role exists");
    for sql in allowed {
        if let Err(error) = attempt(&mut tx, sql).await {
            panic!("{role} cannot run `{sql}`: {error}");
        }
    }
    for sql in refused {
        let outcome = attempt(&mut tx, sql).await;
        assert_eq!(
            outcome.as_ref().err().and_then(sqlstate).as_deref(),
            Some("42501"),
            "{role} was not refused `{sql}`: {outcome:?}"
        );
    }
}

/// One command's worth of writes through the event store's append function: a new stream,
/// its first event and an idempotency key.
const APPEND: &str = "SELECT event_store.append(
    ARRAY['probe-1'], ARRAY[0::bigint], ARRAY[1::bigint], ARRAY['{}'::jsonb], ARRAY[1],
    ARRAY['probe-1'], ARRAY[1::bigint], ARRAY[gen_random_uuid()], ARRAY['probe.happened'],
    ARRAY[1], ARRAY['{}'::jsonb], ARRAY['{}'::jsonb],
    ARRAY['probe-key'], ARRAY['\\x00'::bytea], ARRAY[201::smallint], ARRAY['{}'], ARRAY[1])";

#[tokio::test]
async fn the_command_role_writes_the_event_store_and_cannot_touch_the_read_models() {
    let db = Database::migrated().await;
    check_role(
        &db,
        "stockflow_command",
        &[
            APPEND,
            "SELECT stream_id, version, snapshot, snapshot_schema FROM event_store.streams",
            "SELECT position, commit_position, data FROM event_store.events",
            "SELECT position FROM event_store.head",
            "SELECT key, request_hash, status, body, position FROM event_store.idempotency_keys",
            "DELETE FROM event_store.idempotency_keys WHERE created_at < now() - make_interval(secs => 172800)",
            "INSERT INTO event_store.relay_checkpoints (name, position) VALUES ('probe', 0) ON CONFLICT DO NOTHING;
             UPDATE event_store.relay_checkpoints SET position = 1, updated_at = now() WHERE name = 'probe';
             SELECT position FROM event_store.relay_checkpoints WHERE name = 'probe'",
        ],
        &[
            "SELECT count(*) FROM read.products",
            "SELECT count(*) FROM read.projections",
            "UPDATE read.products SET on_hand = 0",
            "INSERT INTO read.projections (name) VALUES ('mine')",
            // Events are immutable once appended.
            "UPDATE event_store.events SET data = '{}'",
            "DELETE FROM event_store.events",
            "TRUNCATE event_store.streams",
            "CREATE TABLE event_store.scratch (x int)",
        ],
    )
    .await;
}

#[tokio::test]
async fn the_projector_role_reads_the_events_and_owns_the_read_models() {
    let db = Database::migrated().await;
    check_role(
        &db,
        "stockflow_projector",
        &[
            "SELECT position, stream_id, data, commit_position FROM event_store.events ORDER BY position LIMIT 10",
            "SELECT position FROM event_store.head",
            "SELECT position FROM read.projections WHERE name = 'products' FOR UPDATE",
            "INSERT INTO read.products (sku, name, unit_price_cents, currency, backorder_policy, status,
                 on_hand, reserved, available, backordered, version, updated_at)
             VALUES ('P-1', 'n', 100, 'EUR', 'reject', 'active', 1, 0, 1, 0, 1, now());
             UPDATE read.products SET on_hand = 2, available = 2 WHERE sku = 'P-1';
             DELETE FROM read.products WHERE sku = 'P-1'",
            "UPDATE read.projections SET position = 0, status = 'running', last_error = NULL, updated_at = now()",
            // What `projector rebuild` does: fresh tables in a schema of its own, swapped in.
            "DROP SCHEMA IF EXISTS read_next CASCADE;
             CREATE SCHEMA read_next;
             CREATE TABLE read_next.products (LIKE read.products INCLUDING ALL);
             ALTER SCHEMA read RENAME TO read_old;
             ALTER SCHEMA read_next RENAME TO read;
             GRANT USAGE ON SCHEMA read TO stockflow_analyst;
             DROP SCHEMA read_old CASCADE",
            // Its dead letters: recorded, listed, failed again, replayed or discarded; and
            // each replay and discard added to the audit log.
            "INSERT INTO ops.dead_letters (reason_kind, reason, routing_key, headers, properties,
                 body, dedupe_key) VALUES ('undecodable', 'r', 'k', '{}', '{}', '\\x00', 'd-1');
             UPDATE ops.dead_letters SET attempts = attempts + 1;
             SELECT count(*) FROM ops.dead_letters;
             DELETE FROM ops.dead_letters",
            "INSERT INTO ops.audit_log (subject, action, target, outcome)
             VALUES ('ops', 'dead_letter.discard', 'dead_letter:1', 'done')",
        ],
        &[
            "SELECT count(*) FROM ops.audit_log",
            "DELETE FROM ops.audit_log",
            "INSERT INTO event_store.relay_checkpoints (name, position) VALUES ('mine', 0)",
            "UPDATE event_store.head SET position = position + 1",
            "DELETE FROM event_store.events",
            "UPDATE event_store.events SET data = '{}'",
            "SELECT count(*) FROM event_store.streams",
            "SELECT count(*) FROM event_store.idempotency_keys",
            APPEND,
            "CREATE TABLE event_store.scratch (x int)",
        ],
    )
    .await;
}

#[tokio::test]
async fn the_query_role_reads_the_read_models_and_the_events_only() {
    let db = Database::migrated().await;
    check_role(
        &db,
        "stockflow_query",
        &[
            "SELECT count(*) FROM read.products",
            "SELECT count(*) FROM read.orders",
            "SELECT count(*) FROM read.order_lines",
            "SELECT count(*) FROM read.customers",
            "SELECT count(*) FROM read.customer_lifetime_values",
            "SELECT count(*) FROM read.daily_sales",
            "SELECT count(*) FROM read.daily_sku_sales",
            "SELECT count(*) FROM read.replenishments",
            "SELECT name, position, status, last_error, updated_at FROM read.projections",
            "SELECT position FROM event_store.head",
            // The event feed (migrations/20261205000001_event_feed.sql).
            "SELECT position, stream_id, stream_version, event_id, event_type, type_version, data,
                    metadata, recorded_at, commit_position
               FROM event_store.events
              WHERE position > 0 AND metadata->>'correlation_id' = 'x' ORDER BY position LIMIT 10",
        ],
        &[
            "INSERT INTO event_store.events (position, stream_id, stream_version, event_id,
                 event_type, type_version, data, commit_position)
             VALUES (1, 'probe-1', 1, gen_random_uuid(), 'probe.happened', 1, '{}', 1)",
            "UPDATE event_store.events SET data = '{}'",
            "DELETE FROM event_store.events",
            "SELECT count(*) FROM event_store.streams",
            "SELECT count(*) FROM event_store.idempotency_keys",
            "UPDATE event_store.head SET position = 0",
            "UPDATE read.products SET on_hand = 0",
            "INSERT INTO read.projections (name) VALUES ('mine')",
            "DELETE FROM read.orders",
            "CREATE TABLE read.scratch (x int)",
            "ALTER SCHEMA read RENAME TO mine",
            APPEND,
        ],
    )
    .await;
}

async fn send(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("the service answers");
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn the_services_run_under_their_roles_through_a_rebuild() {
    let db = Database::migrated().await;
    // Removed with the test, after the services stop.
    let broker = BrokerNames::new("e2e");
    let exchange = broker.exchange.clone();
    let queue = broker.queue.clone();

    let commands = Running::start(
        stockflow_command_service::App::build(stockflow_command_service::Config {
            database: database_args(&as_role(&db.url, "stockflow_command"), false),
            broker: broker_args(&exchange),
            listen_addr: "127.0.0.1:0".into(),
            web: web_config(),
            ..stockflow_command_service::Config::defaults()
        })
        .await
        .expect("the command service starts as stockflow_command"),
    );
    let projector = Running::start(
        stockflow_projector::App::build(stockflow_projector::Config {
            database: database_args(&as_role(&db.url, "stockflow_projector"), false),
            broker: broker_args(&exchange),
            listen_addr: "127.0.0.1:0".into(),
            projector_queue: queue.clone(),
            web: web_config(),
            ..stockflow_projector::Config::defaults()
        })
        .await
        .expect("the projector starts as stockflow_projector"),
    );
    let queries = Running::start(
        stockflow_query_service::App::build(stockflow_query_service::Config {
            database: database_args(&as_role(&db.url, "stockflow_query"), false),
            listen_addr: "127.0.0.1:0".into(),
            min_position_timeout_ms: 10_000,
            web: web_config(),
            ..stockflow_query_service::Config::defaults()
        })
        .await
        .expect("the query service starts as stockflow_query"),
    );
    let token = mint_token(
        SECRET,
        "roles",
        &[Scope::CommandsWrite, Scope::QueriesRead],
        Duration::from_secs(3600),
    );
    let client = reqwest::Client::new();
    let command = |path: &str, body: Value| {
        send(
            client
                .post(commands.url(path))
                .bearer_auth(&token)
                .json(&body),
        )
    };
    let query = |path: &str| send(client.get(queries.url(path)).bearer_auth(&token));

    // Commands in, relayed, projected and read back, each service under its own role.
    let (status, registered) = command(
        "/v1/products",
        json!({"sku": "RO-1", "name": "Roles", "unit_price_cents": 250, "currency": "EUR",
               "initial_stock": 5}),
    )
    .await;
    assert_eq!(status, 201, "{registered}");
    let (status, placed) = command(
        "/v1/orders",
        json!({"customer_id": "c-roles", "lines": [{"sku": "RO-1", "quantity": 2}]}),
    )
    .await;
    assert_eq!(status, 201, "{placed}");
    let (status, product) = query(&format!(
        "/v1/products/RO-1?min_position={}",
        placed["position"]
    ))
    .await;
    assert_eq!(status, 200, "{product}");
    assert_eq!(product["reserved"], 2);
    let (status, projections) = query("/v1/projections").await;
    assert_eq!(status, 200, "the query role reads the head: {projections}");
    assert_eq!(projections["head"], placed["position"]);
    let feed_token = mint_token(
        SECRET,
        "roles",
        &[Scope::EventsRead],
        Duration::from_secs(3600),
    );
    let (status, feed) = send(
        client
            .get(queries.url("/v1/events"))
            .bearer_auth(&feed_token),
    )
    .await;
    assert_eq!(status, 200, "the query role reads the events: {feed}");
    assert_eq!(
        feed["events"].as_array().map(Vec::len),
        placed["position"].as_u64().map(|p| p as usize)
    );

    // The projector's credentials rebuild the read models and swap them in.
    let rebuilder = stockflow_event_store::database::connect(
        &as_role(&db.url, "stockflow_projector"),
        2,
        false,
    )
    .await
    .expect("the projector's role connects");
    let report = stockflow_projector::rebuild::rebuild(&rebuilder, 100)
        .await
        .expect("the projector's role rebuilds the read models");
    assert_eq!(report.position, placed["position"].as_i64().unwrap_or(-1));
    rebuilder.close().await;
    let mut owner = db.connect().await;
    let owners: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT relowner::regrole::text FROM pg_class
          WHERE relnamespace = 'read'::regnamespace AND relkind = 'r'
         UNION SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'read'",
    )
    .fetch_all(&mut owner)
    .await
    .expect("the catalog is readable");
    assert_eq!(owners, ["stockflow_projector"]);

    // The swapped-in tables: the query service reads them, the live projector writes them.
    let (status, customer) = query("/v1/customers/c-roles").await;
    assert_eq!(
        status, 200,
        "the query role reads the rebuilt tables: {customer}"
    );
    assert_eq!(customer["order_count"], 1);
    let (status, received) = command("/v1/products/RO-1/receipts", json!({"quantity": 3})).await;
    assert_eq!(status, 200, "{received}");
    let (status, product) = query(&format!(
        "/v1/products/RO-1?min_position={}",
        received["position"]
    ))
    .await;
    assert_eq!(
        status, 200,
        "the projector writes the rebuilt tables: {product}"
    );
    assert_eq!(product["on_hand"], 8);

    // And the analysts still read them.
    let mut tx = owner.begin().await.expect("a transaction");
    sqlx::query("SET LOCAL ROLE stockflow_analyst")
        .execute(&mut *tx)
        .await
        .expect("the role exists");
    let on_hand: i64 = sqlx::query_scalar("SELECT on_hand FROM read.products WHERE sku = 'RO-1'")
        .fetch_one(&mut *tx)
        .await
        .expect("analysts read the rebuilt tables");
    assert_eq!(on_hand, 8);
    drop(tx);

    for mut service in [queries, projector, commands] {
        service.stop().await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}
