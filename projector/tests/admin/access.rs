//! Who may use the admin API, and what it refuses: every route asks for the `admin` scope
//! (403 with another, 401 with none); health, readiness, metrics and the document stay open;
//! every bad parameter is a named 400, every unknown id a 404, never a 5xx.

use serde_json::{Value, json};
use stockflow_edge::Scope;
use stockflow_projector::dead_letters::ReasonKind;
use stockflow_testkit::{authorized_client, send};

use crate::helpers::TestProjector;

/// Each route, with the body it takes.
fn routes(id: i64) -> Vec<(&'static str, String, Option<Value>)> {
    vec![
        ("GET", "/v1/admin/dead-letters".into(), None),
        ("GET", format!("/v1/admin/dead-letters/{id}"), None),
        ("POST", format!("/v1/admin/dead-letters/{id}/replay"), None),
        (
            "POST",
            format!("/v1/admin/dead-letters/{id}/discard"),
            Some(json!({"reason": "access test"})),
        ),
    ]
}

async fn call(
    client: &reqwest::Client,
    projector: &TestProjector,
    (method, path, body): &(&'static str, String, Option<Value>),
) -> stockflow_testkit::TestResponse {
    let url = projector.url(path);
    let request = match *method {
        "GET" => client.get(url),
        _ => client.post(url),
    };
    send(match body {
        Some(body) => request.json(body),
        None => request,
    })
    .await
}

#[tokio::test]
async fn every_route_asks_for_the_admin_scope_and_only_the_api_does() {
    let projector = TestProjector::start().await;
    let id = projector
        .set_aside("garbage", b"junk", ReasonKind::Undecodable)
        .await;
    let anonymous = reqwest::Client::new();
    for route in routes(id) {
        for scope in [Scope::QueriesRead, Scope::CommandsWrite, Scope::EventsRead] {
            call(&authorized_client(&[scope]), &projector, &route)
                .await
                .assert_problem(403, "forbidden");
        }
        call(&anonymous, &projector, &route)
            .await
            .assert_problem(401, "unauthorized");
    }
    // Nothing was done by the refused requests; `admin` may do each, in turn.
    for route in routes(id) {
        call(&projector.admin, &projector, &route).await.assert_ok();
    }
    for open in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        assert_eq!(
            send(anonymous.get(projector.url(open))).await.status,
            200,
            "{open}"
        );
    }
}

#[tokio::test]
async fn bad_parameters_are_refused_by_name_and_unknown_ids_are_not_found() {
    let projector = TestProjector::start().await;
    for n in 0..3 {
        projector
            .set_aside(
                "garbage",
                format!("junk {n}").as_bytes(),
                ReasonKind::Undecodable,
            )
            .await;
    }
    let first = projector.get("/v1/admin/dead-letters?limit=2").await;
    assert_eq!(first.items().len(), 2);
    assert_eq!(first.body["total"], 3);
    let cursor = first.next_cursor().expect("another page");
    let second = projector
        .get(&format!("/v1/admin/dead-letters?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(second.items().len(), 1);
    assert_eq!(second.body["items"][0]["body_preview"], "junk 2");
    assert_eq!(second.next_cursor(), None);

    for (query, parameter) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("cursor=nope", "cursor"),
        ("cursor=", "cursor"),
        ("order=asc", "order"),
    ] {
        projector
            .get(&format!("/v1/admin/dead-letters?{query}"))
            .await
            .assert_invalid(parameter);
    }
    for bad in ["abc", "0", "-3", "1.5"] {
        for route in routes(0) {
            let route = (route.0, route.1.replace("/0", &format!("/{bad}")), route.2);
            if route.1 == "/v1/admin/dead-letters" {
                continue;
            }
            call(&projector.admin, &projector, &route)
                .await
                .assert_invalid("id");
        }
    }
    for unknown in ["1000000", "99999999999999999999"] {
        for route in routes(0).into_iter().skip(1) {
            let route = (
                route.0,
                route.1.replace("/0", &format!("/{unknown}")),
                route.2,
            );
            call(&projector.admin, &projector, &route)
                .await
                .assert_problem(404, "dead_letter_not_found");
        }
    }
    send(projector.admin.get(projector.url("/v1/admin/nothing")))
        .await
        .assert_problem(404, "not_found");
}
