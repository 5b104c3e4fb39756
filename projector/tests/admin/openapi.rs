//! The OpenAPI document: served without a token, equal to the committed
//! `projector/openapi.json`, with the `admin` scope on every operation of the API, and true
//! to the bodies the projector really sends.

use serde_json::{Value, json};
use stockflow_projector::dead_letters::ReasonKind;
use stockflow_testkit::openapi::{
    assert_api_operations, assert_committed, assert_documented, assert_problem_documented,
    served_document,
};

use crate::helpers::TestProjector;

/// The document with only the paths `keep` says to keep.
fn only(document: &Value, keep: impl Fn(&str) -> bool) -> Value {
    let mut part = document.clone();
    part["paths"]
        .as_object_mut()
        .expect("paths")
        .retain(|path, _| keep(path));
    part
}

#[tokio::test]
async fn the_served_document_is_the_committed_one() {
    let projector = TestProjector::start().await;
    let (served, _) = served_document(&projector.url("")).await;
    assert_committed(&served, env!("CARGO_MANIFEST_DIR"), "stockflow-projector");
}

#[tokio::test]
async fn every_operation_asks_for_admin_and_the_bodies_sent_are_the_documented_ones() {
    let projector = TestProjector::start().await;
    let (_, document) = served_document(&projector.url("")).await;
    let list = "/v1/admin/dead-letters";
    let detail = "/v1/admin/dead-letters/{id}";
    let replay = "/v1/admin/dead-letters/{id}/replay";
    let discard = "/v1/admin/dead-letters/{id}/discard";
    let paths: Vec<&String> = document["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .collect();
    assert_eq!(
        paths,
        [list, detail, replay, discard, "/healthz", "/readyz"]
    );
    let reads = only(&document, |path| path == list || path == detail);
    assert_api_operations(
        &reads,
        "get",
        "admin",
        &[list, detail],
        &["400", "401", "403", "429", "503"],
    );
    let actions = only(&document, |path| path == replay || path == discard);
    assert_api_operations(
        &actions,
        "post",
        "admin",
        &[replay, discard],
        &["400", "401", "403", "404", "429", "503"],
    );

    let id = projector
        .set_aside("garbage", b"\xffjunk", ReasonKind::Undecodable)
        .await;
    let page = projector.get("/v1/admin/dead-letters").await;
    assert_documented(&document, "DeadLetterPage", page.assert_ok());
    let letter = projector.get(&format!("/v1/admin/dead-letters/{id}")).await;
    assert_documented(&document, "DeadLetterDetail", letter.assert_ok());
    let replayed = projector
        .post(&format!("/v1/admin/dead-letters/{id}/replay"), None)
        .await;
    assert_documented(&document, "ReplayResult", replayed.assert_ok());
    let refused = projector
        .post(
            &format!("/v1/admin/dead-letters/{id}/discard"),
            Some(json!({})),
        )
        .await;
    assert_problem_documented(&document, refused.assert_problem(400, "validation_failed"));
    let discarded = projector
        .post(
            &format!("/v1/admin/dead-letters/{id}/discard"),
            Some(json!({"reason": "documented"})),
        )
        .await;
    assert_documented(&document, "Discarded", discarded.assert_ok());
    let missing = projector.get(&format!("/v1/admin/dead-letters/{id}")).await;
    assert_problem_documented(
        &document,
        missing.assert_problem(404, "dead_letter_not_found"),
    );
}
