//! Product reads: `GET /v1/products/{sku}` in a closed loop.

use std::time::Duration;

use super::check;
use crate::load::{self, Summary};
use crate::plan::Plan;
use crate::stack::Stack;
use crate::system::{CpuSnapshot, CpuUse};

/// The most product reads the query service serves, and the CPU they cost.
pub async fn product_reads(
    plan: &Plan,
    stack: &Stack,
    problems: &mut Vec<String>,
) -> (Summary, CpuUse) {
    stack.memory_so_far();
    eprintln!("GET /v1/products/{{sku}}, closed loop, {} s", plan.seconds);
    let products = plan.products;
    let client = stack.client.clone();
    let url = stack.query_url.clone();
    let before = CpuSnapshot::take(&stack.services());
    let reads = load::closed_loop(
        plan.concurrency,
        Duration::from_secs(plan.warmup_seconds),
        Duration::from_secs(plan.seconds),
        move |n| client.get(format!("{url}/v1/products/BENCH-{}", n as usize % products)),
    )
    .await;
    let cpu = CpuSnapshot::take(&stack.services()).since(&before);
    check(problems, "product reads", &reads);
    (reads, cpu)
}
