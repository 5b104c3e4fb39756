//! The baselines as steps of the run, each with the CPU the box used for it: B1 and B2 on a
//! quiet box before stockflow starts, B3 on stockflow's own products table. (B4 needs no
//! more than `baselines::b4` on the store.)

use crate::baselines::{self, Pgbench, Publishing};
use crate::database::{drop_database, recreate_database};
use crate::plan::{Plan, Setup};
use crate::stack::Stack;
use crate::system::{BoxError, CpuSnapshot, CpuUse};

/// B1's database, made for it and dropped after.
const B1_DB: &str = "stockflow_bench_b1";
/// B2's exchange and queue, deleted after.
const B2_NAME: &str = "stockflow.bench.b2";

/// B1: the raw SQL of a place-order via pgbench.
pub async fn b1(plan: &Plan, setup: &Setup) -> Result<(Pgbench, CpuUse), BoxError> {
    eprintln!(
        "B1: place-order SQL via pgbench, {} clients",
        plan.concurrency
    );
    recreate_database(&setup.postgres_url, B1_DB).await?;
    let before = CpuSnapshot::take(&[]);
    let b1 = baselines::b1(
        &setup.database_url(B1_DB),
        &setup.out,
        plan.concurrency,
        plan.seconds,
    )
    .await?;
    let cpu = CpuSnapshot::take(&[]).since(&before);
    drop_database(&setup.postgres_url, B1_DB).await?;
    Ok((b1, cpu))
}

/// B2: confirmed persistent publishes.
pub async fn b2(plan: &Plan, setup: &Setup) -> Result<(Publishing, CpuUse), BoxError> {
    eprintln!("B2: {} confirmed persistent publishes", plan.b2_messages);
    let before = CpuSnapshot::take(&[]);
    let b2 = baselines::b2(&setup.amqp_url, B2_NAME, plan.b2_messages).await?;
    Ok((b2, CpuSnapshot::take(&[]).since(&before)))
}

/// B3: a primary-key SELECT via pgbench on the products table the query service reads.
pub async fn b3(plan: &Plan, setup: &Setup, stack: &Stack) -> Result<(Pgbench, CpuUse), BoxError> {
    eprintln!("B3: primary-key SELECT via pgbench");
    let before = CpuSnapshot::take(&stack.services());
    let b3 = baselines::b3(
        &stack.database_url,
        &setup.out,
        plan.concurrency,
        plan.seconds,
        plan.products,
    )
    .await?;
    Ok((b3, CpuSnapshot::take(&stack.services()).since(&before)))
}
