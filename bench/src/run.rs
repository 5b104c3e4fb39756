//! The whole benchmark in one run: the baselines, stockflow's scenarios beside them, and the
//! peer, on this box, with each figure set against its goal of docs/performance.md.

use std::time::Duration;

use sqlx::{Connection as _, PgConnection};

use crate::baselines;
use crate::database::server_version;
use crate::goals;
use crate::plan::{Plan, Setup};
use crate::results::{Baselines, Machine, Results, Stockflow};
use crate::scenarios;
use crate::stack::{self, Stack};
use crate::system::{BoxError, CpuSnapshot, run_tool};

pub async fn run(plan: Plan, setup: Setup) -> Result<Results, BoxError> {
    std::fs::create_dir_all(&setup.out)?;
    let mut problems = Vec::new();
    let machine = machine(&setup).await?;

    // Baselines that need nothing of stockflow, on a quiet box.
    let (b1, b1_cpu) = scenarios::b1(&plan, &setup).await?;
    let (b2, b2_cpu) = scenarios::b2(&plan, &setup).await?;

    // stockflow, from an empty store.
    let stack = Stack::start(&plan, &setup).await?;
    let mut db = PgConnection::connect(&stack.database_url).await?;
    scenarios::register(
        &stack.client,
        &stack.command_url,
        "BENCH",
        plan.products,
        1_000_000_000,
        "reject",
    )
    .await?;
    stack::catch_up(&mut db, Duration::from_secs(60)).await?;

    // 1. The most place-orders the system takes, relay and projector running.
    let max_rate = scenarios::max_rate(&plan, &stack, &mut db, &mut problems).await?;

    // 2. Half that rate: latency, and how soon a query sees each command.
    let rate = (max_rate.commands.per_second / 2.0).max(1.0);
    let half_rate = scenarios::half_rate(&plan, &stack, &mut db, rate, &mut problems).await?;

    // 3. Reads, and B3 right after on the same table.
    let (product_reads, reads_cpu) = scenarios::product_reads(&plan, &stack, &mut problems).await;
    let (b3, b3_cpu) = scenarios::b3(&plan, &setup, &stack).await?;

    // 4. A product with a long history against a new one.
    let hot_product = scenarios::long_stream(&plan, &stack, &mut db, rate, &mut problems).await?;

    // 5. A rebuild of every read model over the whole store, with B4 on the same events.
    stack.memory_so_far();
    eprintln!("rebuild, and B4 on the same events");
    let b4 = baselines::b4(&stack.database_url).await?;
    let rebuild = scenarios::rebuild(&stack).await?;

    // 6. Every product's stock as of an instant, over 10,000 products with some history.
    let stock_as_of = scenarios::stock_as_of(&plan, &stack, &mut db, &mut problems).await?;

    // 7. Place-orders at a quarter of the most, alone and while the whole store is replayed.
    let replay = scenarios::replay_latency(
        &plan,
        &setup,
        &stack,
        &mut db,
        (rate / 2.0).max(1.0),
        &mut problems,
    )
    .await?;

    let peak_rss_mib = stack.peak_rss_mib();
    let load_generator_cpu_seconds = CpuSnapshot::take(&[]).parts["load generator"];
    drop(db);
    stack.stop(&mut problems).await;

    // 8. The same PlaceOrder on the peer.
    let peer = if setup.with_peer {
        Some(scenarios::peer(&plan, &setup, &mut problems).await?)
    } else {
        None
    };
    stack::delete_topology(&setup.amqp_url).await?;

    let stockflow = Stockflow {
        max_rate,
        half_rate,
        product_reads,
        reads_cpu,
        hot_product,
        rebuild,
        stock_as_of,
        replay,
        peak_rss_mib,
        load_generator_cpu_seconds,
    };
    let baselines = Baselines {
        b1_place_order_sql: b1,
        b1_cpu,
        b2_publish: b2,
        b2_cpu,
        b3_primary_key_select: b3,
        b3_cpu,
        b4_insert_select: b4,
    };
    let goals = goals::goals(&stockflow, &baselines);
    for figure in goals::figures(&stockflow, &baselines) {
        if figure.1.is_nan() || figure.1 <= 0.0 {
            problems.push(format!("{} is {}", figure.0, figure.1));
        }
    }
    Ok(Results {
        plan,
        machine,
        baselines,
        stockflow,
        peer,
        goals,
        problems,
    })
}

/// What the run ran on.
async fn machine(setup: &Setup) -> Result<Machine, BoxError> {
    Ok(Machine {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        postgresql: server_version(&setup.database_url("postgres")).await?,
        rabbitmq: run_tool("rabbitmqctl", &["version"])
            .await
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|_| "unknown".into()),
    })
}
