//! A projector stopped gracefully (SIGTERM's path) in the middle of a workload, and started
//! again: it acks nothing it did not commit, so the read models end exact.

use std::sync::Arc;
use std::time::Duration;

use stockflow_e2e::Stack;

use crate::checks::assert_read_models_match_the_store;
use crate::workload::{SEED, run_workload};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_projector_stopped_gracefully_under_load_ends_with_exact_read_models() {
    let stack = Arc::new(Stack::spawn().await);
    let workload = tokio::spawn(run_workload(stack.clone(), 1_500, 8, SEED + 7));
    let mut stops = 0;
    while !workload.is_finished() && stops < 3 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        stack.stop_projector().await;
        stops += 1;
        tokio::time::sleep(Duration::from_millis(150)).await;
        stack.start_projector().await;
    }
    workload.await.expect("the workload finished");
    assert!(stops > 0, "the projector was never stopped under load");
    let head = stack.head().await;
    stack
        .wait_for_projection(head, Duration::from_secs(30))
        .await;
    assert_read_models_match_the_store(&stack).await;
}

/// The same with a real SIGTERM to a projector process: it finishes its batch, exits 0 by
/// itself, and acks nothing it did not commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_projector_process_sent_sigterm_under_load_exits_cleanly_and_loses_nothing() {
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_e2e-projector"));
    let stack = Arc::new(
        Stack::with(stockflow_e2e::Options {
            projector: false,
            ..Default::default()
        })
        .await,
    );
    stack.start_projector_process(binary);
    let workload = tokio::spawn(run_workload(stack.clone(), 2_000, 8, SEED + 11));
    let mut terms = 0;
    while !workload.is_finished() && terms < 2 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        let status = stack.terminate_projector(Duration::from_secs(15)).await;
        assert!(
            status.is_some_and(|s| s.success()),
            "the projector did not exit cleanly on SIGTERM: {status:?}"
        );
        terms += 1;
        stack.start_projector_process(binary);
    }
    workload.await.expect("the workload finished");
    assert!(terms > 0, "no SIGTERM landed under load");
    let head = stack.head().await;
    stack
        .wait_for_projection(head, Duration::from_secs(30))
        .await;
    assert_read_models_match_the_store(&stack).await;
}
