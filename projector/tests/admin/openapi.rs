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
    let projections = "/v1/admin/projections";
    let controls = [
        "/v1/admin/projections/pause",
        "/v1/admin/projections/resume",
        "/v1/admin/projections/retry",
        "/v1/admin/projections/skip",
    ];
    let rebuilds = "/v1/admin/rebuilds";
    let rebuild = "/v1/admin/rebuilds/{id}";
    assert_eq!(
        paths,
        [
            list,
            detail,
            replay,
            discard,
            projections,
            controls[0],
            controls[1],
            controls[2],
            controls[3],
            rebuilds,
            rebuild,
            "/healthz",
            "/readyz"
        ]
    );
    let listing = only(&document, |path| path == projections);
    assert_api_operations(
        &listing,
        "get",
        "admin",
        &[projections],
        &["401", "403", "429", "503"],
    );
    let posts = only(&document, |path| {
        controls.contains(&path) || path == rebuilds
    });
    let mut posted = controls.to_vec();
    posted.push(rebuilds);
    assert_api_operations(
        &posts,
        "post",
        "admin",
        &posted,
        &["400", "401", "403", "409", "413", "415", "429", "503"],
    );
    let progress = only(&document, |path| path == rebuild);
    assert_api_operations(
        &progress,
        "get",
        "admin",
        &[rebuild],
        &["400", "401", "403", "404", "429", "503"],
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
    let listed = projector.get(projections).await;
    assert_documented(&document, "ProjectionList", listed.assert_ok());
    let paused = projector.post(controls[0], None).await;
    assert_documented(&document, "ControlResult", paused.assert_ok());
    let refused = projector.post(controls[2], None).await;
    assert_problem_documented(
        &document,
        refused.assert_problem(409, "projection_not_stopped"),
    );
    projector.post(controls[1], None).await.assert_ok();
    let started = projector.post(rebuilds, None).await;
    assert_documented(&document, "RebuildStarted", started.assert_status(202));
    let rebuild_id = started.body["rebuild_id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let done = crate::rebuilds::finished(&projector, &rebuild_id).await;
    assert_documented(&document, "RebuildView", &done);
    let listed = projector.get(projections).await;
    assert_documented(&document, "ProjectionList", listed.assert_ok());
    let missing = projector.get(&format!("/v1/admin/dead-letters/{id}")).await;
    assert_problem_documented(
        &document,
        missing.assert_problem(404, "dead_letter_not_found"),
    );
}
