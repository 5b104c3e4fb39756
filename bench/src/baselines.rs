//! The baselines of docs/performance.md, measured on the same box in the same run: what
//! PostgreSQL and RabbitMQ do with the least software possible in front of them.

use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::future::try_join_all;
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeclareOptions, ExchangeDeleteOptions,
    QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{BasicProperties, Connection, ConnectionProperties, ExchangeKind};
use serde::Serialize;
use sqlx::{Connection as _, PgConnection};

use crate::system::{BoxError, run_tool};

const B1_SETUP: &str = include_str!("../baselines/b1_setup.sql");
const B1_PLACE_ORDER: &str = include_str!("../baselines/b1_place_order.sql");
const B3_SELECT: &str = include_str!("../baselines/b3_select.sql");
const B4_REBUILD: &str = include_str!("../baselines/b4_rebuild.sql");

/// What pgbench reported.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Pgbench {
    pub clients: usize,
    pub seconds: u64,
    pub transactions_per_second: f64,
    pub latency_average_ms: f64,
}

async fn pgbench(
    database_url: &str,
    script: &Path,
    clients: usize,
    seconds: u64,
) -> Result<Pgbench, BoxError> {
    let (clients_arg, seconds_arg) = (clients.to_string(), seconds.to_string());
    let output = run_tool(
        "pgbench",
        &[
            "--no-vacuum",
            "--protocol=prepared",
            "--client",
            &clients_arg,
            "--jobs",
            "2",
            "--time",
            &seconds_arg,
            "--file",
            &script.to_string_lossy(),
            database_url,
        ],
    )
    .await?;
    let figure = |prefix: &str| {
        output
            .lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse::<f64>().ok())
            .ok_or_else(|| format!("pgbench printed no '{prefix}': {output}"))
    };
    Ok(Pgbench {
        clients,
        seconds,
        transactions_per_second: figure("tps =")?,
        latency_average_ms: figure("latency average =")?,
    })
}

/// B1: the raw SQL of a place-order (stock update and order insert in one transaction),
/// in a database of its own.
pub async fn b1(
    database_url: &str,
    out: &Path,
    clients: usize,
    seconds: u64,
) -> Result<Pgbench, BoxError> {
    let setup = out.join("b1_setup.sql");
    let script = out.join("b1_place_order.sql");
    std::fs::write(&setup, B1_SETUP)?;
    std::fs::write(&script, B1_PLACE_ORDER)?;
    run_tool(
        "psql",
        &[
            "--quiet",
            "--set=ON_ERROR_STOP=1",
            "--file",
            &setup.to_string_lossy(),
            database_url,
        ],
    )
    .await?;
    pgbench(database_url, &script, clients, seconds).await
}

/// B3: a primary-key SELECT on the products read table that the query service serves.
pub async fn b3(
    database_url: &str,
    out: &Path,
    clients: usize,
    seconds: u64,
    products: usize,
) -> Result<Pgbench, BoxError> {
    let script = out.join("b3_select.sql");
    std::fs::write(
        &script,
        B3_SELECT.replace("PRODUCTS", &products.saturating_sub(1).to_string()),
    )?;
    pgbench(database_url, &script, clients, seconds).await
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Publishing {
    pub messages: u64,
    pub in_flight: usize,
    pub seconds: f64,
    pub messages_per_second: f64,
}

/// B2: persistent publishes with publisher confirms, 1,000 in flight at a time (as the relay
/// does), through a durable topic exchange into a quorum queue, with bodies the size of a
/// stockflow event. The exchange and queue are the benchmark's own and are deleted after.
pub async fn b2(amqp_url: &str, name: &str, messages: u64) -> Result<Publishing, BoxError> {
    const IN_FLIGHT: usize = 1_000;
    let connection = Connection::connect(
        amqp_url,
        ConnectionProperties::default().with_connection_name(name.into()),
    )
    .await?;
    let channel = connection.create_channel().await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let durable = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            name.into(),
            ExchangeKind::Topic,
            durable,
            FieldTable::default(),
        )
        .await?;
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    let queue_options = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(name.into(), queue_options, arguments)
        .await?;
    channel
        .queue_bind(
            name.into(),
            name.into(),
            "#".into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;

    // About the size of an order.placed CloudEvent.
    let body = vec![b'x'; 700];
    let started = Instant::now();
    let mut sent = 0;
    while sent < messages {
        let batch = (messages - sent).min(IN_FLIGHT as u64);
        let mut confirms = Vec::with_capacity(IN_FLIGHT);
        for _ in 0..batch {
            let properties = BasicProperties::default()
                .with_delivery_mode(2)
                .with_content_type("application/cloudevents+json".into())
                .with_message_id(uuid::Uuid::now_v7().to_string().into());
            confirms.push(
                channel
                    .basic_publish(
                        name.into(),
                        "order.placed".into(),
                        BasicPublishOptions::default(),
                        &body,
                        properties,
                    )
                    .await?,
            );
        }
        for confirmation in try_join_all(confirms).await? {
            if confirmation.is_nack() {
                return Err("the broker refused a publish (nack)".into());
            }
        }
        sent += batch;
    }
    let seconds = started.elapsed().as_secs_f64();
    channel
        .queue_delete(name.into(), QueueDeleteOptions::default())
        .await?;
    channel
        .exchange_delete(name.into(), ExchangeDeleteOptions::default())
        .await?;
    let _ = connection.close(200, "done".into()).await;
    Ok(Publishing {
        messages,
        in_flight: IN_FLIGHT,
        seconds,
        messages_per_second: messages as f64 / seconds.max(1e-9),
    })
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct TableBuild {
    pub events: i64,
    pub seconds: f64,
    pub events_per_second: f64,
}

/// B4: one `INSERT … SELECT` building a read table straight from the events table; the
/// faster of two runs (the second finds the events in the cache, as a rebuild run right
/// after would).
pub async fn b4(database_url: &str) -> Result<TableBuild, BoxError> {
    let mut db = PgConnection::connect(database_url).await?;
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM event_store.events")
        .fetch_one(&mut db)
        .await?;
    let mut best = Duration::MAX;
    for _ in 0..2 {
        let started = Instant::now();
        let mut tx = db.begin().await?;
        for statement in B4_REBUILD.split(';').filter(|s| !s.trim().is_empty()) {
            sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
                .execute(&mut *tx)
                .await?;
        }
        tx.rollback().await?;
        best = best.min(started.elapsed());
    }
    let seconds = best.as_secs_f64();
    Ok(TableBuild {
        events,
        seconds,
        events_per_second: events as f64 / seconds.max(1e-9),
    })
}
