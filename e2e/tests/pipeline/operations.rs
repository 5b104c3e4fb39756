//! Operating the pipeline while commands flow (docs/operations.md, "Projections" and
//! "Rebuilds"): a pause loses nothing while queries go on, and a resume catches up; a
//! rebuild started from the projector's API ends equal to the store.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use stockflow_e2e::Stack;
use stockflow_edge::Scope;
use stockflow_testkit::{TestResponse, authorized_client, send};

use crate::checks::assert_read_models_match_the_store;
use crate::workload::{SEED, run_workload};

const PATIENCE: Duration = Duration::from_secs(60);

struct Operator {
    client: reqwest::Client,
}

impl Operator {
    fn new() -> Operator {
        Operator {
            client: authorized_client(&[Scope::Admin]),
        }
    }

    async fn post(&self, stack: &Stack, path: &str, body: Value) -> TestResponse {
        send(self.client.post(stack.projector_url(path)).json(&body)).await
    }

    async fn get(&self, stack: &Stack, path: &str) -> TestResponse {
        send(self.client.get(stack.projector_url(path))).await
    }

    /// The projections' shared position, as the admin API lists it.
    async fn position(&self, stack: &Stack) -> i64 {
        let listing = self.get(stack, "/v1/admin/projections").await;
        listing.assert_ok()["items"][0]["position"]
            .as_i64()
            .expect("a position")
    }
}

async fn head_reaches(stack: &Stack, position: i64) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while stack.head().await < position {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the workload is too slow"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pause_while_commands_flow_loses_nothing_and_a_resume_catches_up() {
    let stack = Arc::new(Stack::spawn().await);
    let operator = Operator::new();
    let workload = tokio::spawn(run_workload(stack.clone(), 1_200, 8, SEED + 5));
    head_reaches(&stack, 200).await;

    operator
        .post(
            &stack,
            "/v1/admin/projections/pause",
            json!({"reason": "e2e"}),
        )
        .await
        .assert_ok();
    let paused_at = operator.position(&stack).await;
    head_reaches(&stack, paused_at + 300).await;
    assert_eq!(
        operator.position(&stack).await,
        paused_at,
        "nothing is applied while paused"
    );
    // Queries go on, from the read models as they stand.
    let products = stack.query("/v1/products?limit=5").await;
    products.assert_ok();
    assert_eq!(products.projection_position(), paused_at);

    operator
        .post(&stack, "/v1/admin/projections/resume", json!({}))
        .await
        .assert_ok();
    let outcomes = workload.await.expect("the workload finished");
    assert!(
        outcomes.len() >= 1_100,
        "only {} commands ran",
        outcomes.len()
    );
    let head = stack.head().await;
    stack.wait_for_projection(head, PATIENCE).await;
    assert_read_models_match_the_store(&stack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rebuild_from_the_api_while_commands_flow_ends_equal_to_the_store() {
    let stack = Arc::new(Stack::spawn().await);
    let operator = Operator::new();
    let workload = tokio::spawn(run_workload(stack.clone(), 1_600, 8, SEED + 6));
    head_reaches(&stack, 300).await;

    let from = stack.head().await;
    let started = operator.post(&stack, "/v1/admin/rebuilds", json!({})).await;
    started.assert_status(202);
    let id = started.body["rebuild_id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let rebuild = loop {
        let rebuild = operator
            .get(&stack, &format!("/v1/admin/rebuilds/{id}"))
            .await;
        let body = rebuild.assert_ok().clone();
        if body["status"] != "running" {
            break body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still running: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(rebuild["status"], "done", "{rebuild}");
    let swapped_at = rebuild["events_done"].as_i64().expect("events_done");
    assert!(
        swapped_at >= from,
        "swapped in at {swapped_at}, before {from}"
    );

    let outcomes = workload.await.expect("the workload finished");
    assert!(
        outcomes.len() >= 1_500,
        "only {} commands ran",
        outcomes.len()
    );
    let head = stack.head().await;
    stack.wait_for_projection(head, PATIENCE).await;
    assert_read_models_match_the_store(&stack).await;
}
