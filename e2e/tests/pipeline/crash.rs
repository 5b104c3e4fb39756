//! A projector process killed with SIGKILL (no drain, no goodbye) while commands flow: its
//! uncommitted batch rolls back, its unacked messages come back, and the next process picks up
//! from the checkpoint. Nothing may be lost or applied twice (docs/guarantees.md §4).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use stockflow_e2e::{Options, Stack};

use crate::checks::assert_read_models_match_the_store;
use crate::workload::{SEED, run_workload};

const KILLS: usize = 3;

async fn projected(stack: &Stack) -> i64 {
    let mut db = stack.db().await;
    sqlx::query_scalar("SELECT min(position) FROM read.projections")
        .fetch_one(&mut db)
        .await
        .expect("projections are readable")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_projector_killed_in_the_middle_of_a_batch_and_started_again_ends_with_exact_read_models()
{
    let binary = Path::new(env!("CARGO_BIN_EXE_e2e-projector"));
    let stack = Arc::new(
        Stack::with(Options {
            projector: false,
            ..Options::default()
        })
        .await,
    );
    stack.start_projector_process(binary);
    let workload = tokio::spawn(run_workload(stack.clone(), 3_000, 8, SEED + 1));

    let mut rng = StdRng::seed_from_u64(SEED);
    // (whether the workload was still running, events the projector was behind) at each kill
    let mut kills = Vec::new();
    for _ in 0..KILLS {
        // Kill a projector that is at work, not one still starting: wait until this process
        // has committed something of its own.
        let from = projected(&stack).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while projected(&stack).await == from && !workload.is_finished() {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the projector process never advanced from {from}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..=700))).await;
        let at = projected(&stack).await;
        let behind = stack.head().await - at;
        let flowing = !workload.is_finished();
        stack.stop_projector().await;
        kills.push((flowing, behind));
        stack.start_projector_process(binary);
    }

    let outcomes = workload.await.expect("the workload finished");
    assert!(
        outcomes.len() >= 2_800,
        "only {} commands ran",
        outcomes.len()
    );
    let flowing = kills.iter().filter(|(flowing, _)| *flowing).count();
    println!(
        "{} kills, {flowing} while commands were flowing; events behind at each kill: {:?}",
        kills.len(),
        kills.iter().map(|(_, behind)| behind).collect::<Vec<_>>()
    );
    assert!(
        flowing >= 1,
        "every kill came after the workload: the test did not test a crash under load"
    );

    let head = stack.head().await;
    stack
        .wait_for_projection(head, Duration::from_secs(60))
        .await;
    assert_eq!(
        stack.dead_letters().await,
        0,
        "a crash must not turn events into dead letters"
    );
    assert_read_models_match_the_store(&stack).await;
}
