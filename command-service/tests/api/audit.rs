//! The audit log (docs/api.md, "Audit log"): every replay started or cancelled with an
//! `admin` token is recorded once, with the token's subject, the target, the reason and how
//! it ended, refusals included; what never reached the action is not; and the log is read
//! newest first, a page at a time, by the `admin` scope alone.

use std::time::Duration;

use serde_json::{Value, json};
use sqlx::{Connection, PgConnection};
use stockflow_audit::{Entry, Outcome, Reason, Target};
use stockflow_edge::{Scope, mint_token};
use stockflow_testkit::openapi::{assert_documented, assert_problem_documented, served_document};
use stockflow_testkit::{TEST_SECRET, TestResponse, authorized_client, send};

use crate::replays::harness::{Queue, Stack, replay_id};

/// A client whose token says it is `subject`, with `scopes`.
fn operator(subject: &str, scopes: &[Scope]) -> reqwest::Client {
    let token = mint_token(TEST_SECRET, subject, scopes, Duration::from_secs(3600));
    let mut headers = reqwest::header::HeaderMap::new();
    let bearer = format!("Bearer {token}").parse().expect("a header value");
    headers.insert(reqwest::header::AUTHORIZATION, bearer);
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("an HTTP client")
}

async fn rows(db: &mut PgConnection) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM ops.audit_log")
        .fetch_one(db)
        .await
        .expect("the log is readable")
}

/// The whole log as its listing answers it, newest first.
async fn listed(client: &reqwest::Client, url: &str) -> Vec<Value> {
    let page = send(client.get(format!("{url}?limit=500"))).await;
    assert_eq!(page.next_cursor(), None, "{}", page.text);
    page.items().clone()
}

/// The members of an entry but its instant.
fn entry(item: &Value) -> Value {
    let mut item = item.clone();
    let at = item
        .as_object_mut()
        .and_then(|members| members.remove("at"))
        .unwrap_or_default();
    assert!(
        at.as_str()
            .is_some_and(|at| chrono::DateTime::parse_from_rfc3339(at).is_ok()),
        "{item}"
    );
    item
}

#[tokio::test]
async fn each_admin_action_is_recorded_once_with_who_what_why_and_how_it_ended() {
    let stack = Stack::new().await;
    // Slow enough for the replay to be running still when it is cancelled.
    let service = stack.serve(10).await;
    stack.seed(&service, "AU-1", 20).await;
    let (_, document) = served_document(&service.url("")).await;
    let mut db = stack.database.connect().await;
    let audit = service.url("/v1/admin/audit");
    let ana = operator("ops-ana", &[Scope::Admin]);
    let bo = operator("ops-bo", &[Scope::Admin, Scope::QueriesRead]);
    let target = Queue::fresh(false).await;
    let start = service.url("/v1/admin/replays");
    let cancel = |id: &str| service.url(&format!("/v1/admin/replays/{id}/cancel"));
    let mut expected = Vec::new();

    let reason = "billing joined late, é ✓";
    let started = send(
        ana.post(&start)
            .json(&json!({"queue": target.name, "reason": reason})),
    );
    let id = replay_id(&started.await);
    expected.push(json!({"subject": "ops-ana", "action": "replay.start",
        "target": format!("queue:{}", target.name), "reason": reason, "outcome": "accepted"}));
    assert_eq!(rows(&mut db).await, 1);
    let first = send(ana.get(&audit)).await;
    assert_documented(&document, "AuditPage", first.assert_ok());
    assert_eq!(
        first.items().iter().map(entry).collect::<Vec<_>>(),
        expected
    );

    let missing = send(
        bo.post(&start)
            .json(&json!({"queue": "stockflow.test.no-queue"})),
    );
    missing.await.assert_problem(404, "queue_not_found");
    expected.push(json!({"subject": "ops-bo", "action": "replay.start",
        "target": "queue:stockflow.test.no-queue", "reason": null,
        "outcome": "refused: queue_not_found"}));

    let cancelled = send(bo.post(cancel(&id)).json(&json!({"reason": "wrong queue"}))).await;
    assert_eq!(cancelled.assert_ok()["error"], "cancelled by an operator");
    expected.push(json!({"subject": "ops-bo", "action": "replay.cancel",
        "target": format!("replay:{id}"), "reason": "wrong queue", "outcome": "done"}));

    // An empty body, and a body of `{}`, give no reason.
    let again = send(ana.post(cancel(&id))).await;
    again.assert_problem(409, "replay_ended");
    expected.push(json!({"subject": "ops-ana", "action": "replay.cancel",
        "target": format!("replay:{id}"), "reason": null, "outcome": "refused: replay_ended"}));
    let unknown = send(ana.post(cancel("not-a-uuid")).json(&json!({}))).await;
    unknown.assert_problem(404, "replay_not_found");
    expected.push(json!({"subject": "ops-ana", "action": "replay.cancel",
        "target": "replay:not-a-uuid", "reason": null, "outcome": "refused: replay_not_found"}));
    assert_eq!(rows(&mut db).await, 5);

    // What never reached the action leaves no trace: a malformed or invalid body, a token
    // without the scope, no token; and reading is no action.
    let long = "x".repeat(501);
    for body in [
        json!({"queue": target.name, "reason": long}),
        json!({"queue": target.name, "reason": "two\nlines"}),
        json!({"queue": target.name, "reason": 5}),
        json!({"queue": ""}),
    ] {
        let refused = send(ana.post(&start).json(&body)).await;
        assert_eq!(refused.status, 400, "{body}: {}", refused.text);
        assert_problem_documented(&document, &refused.body);
    }
    for body in [json!({"reason": long}), json!({"why": "no"}), json!([])] {
        let refused = send(ana.post(cancel(&id)).json(&body)).await;
        assert_eq!(refused.status, 400, "{body}: {}", refused.text);
    }
    let writer = operator("shop", &[Scope::CommandsWrite]);
    let forbidden = send(writer.post(&start).json(&json!({"queue": target.name})));
    forbidden.await.assert_problem(403, "forbidden");
    send(writer.post(cancel(&id)))
        .await
        .assert_problem(403, "forbidden");
    let anonymous = send(reqwest::Client::new().post(cancel(&id)));
    anonymous.await.assert_problem(401, "unauthorized");
    stack.status(&service, &id).await.assert_ok();
    assert_eq!(rows(&mut db).await, 5);

    expected.reverse();
    let log = listed(&ana, &audit).await;
    assert_eq!(log.iter().map(entry).collect::<Vec<_>>(), expected);
    target.delete().await;
}

/// Entries recorded straight into the log, as any service records them: three one after the
/// other, then four in one transaction (the same instant). Returns their targets, newest
/// first.
async fn record_seven(db: &mut PgConnection) -> Vec<String> {
    let entry = |n: usize| Entry {
        subject: "ops-cy".into(),
        action: "replay.start",
        target: Target::new("queue", &format!("q-{n}")),
        reason: Reason::parse(Some(format!("reason {n}"))).expect("a reason"),
        outcome: Outcome::Accepted,
    };
    for n in 0..3 {
        stockflow_audit::record(&mut *db, &entry(n))
            .await
            .expect("recorded");
    }
    let mut tx = db.begin().await.expect("a transaction");
    for n in 3..7 {
        stockflow_audit::record(&mut *tx, &entry(n))
            .await
            .expect("recorded");
    }
    tx.commit().await.expect("committed");
    (0..7).rev().map(|n| format!("queue:q-{n}")).collect()
}

fn targets(page: &TestResponse) -> Vec<String> {
    page.items()
        .iter()
        .map(|item| item["target"].as_str().expect("a target").to_owned())
        .collect()
}

#[tokio::test]
async fn the_log_pages_newest_first_with_every_limit_and_refuses_bad_parameters_by_name() {
    let stack = Stack::new().await;
    let service = stack.serve(10).await;
    let (_, document) = served_document(&service.url("")).await;
    let newest_first = record_seven(&mut stack.database.connect().await).await;
    let audit = service.url("/v1/admin/audit");
    let get = |query: String| send(stack.admin.get(format!("{audit}{query}")));

    let whole = get(String::new()).await;
    assert_eq!(targets(&whole), newest_first);
    assert_eq!(whole.next_cursor(), None);
    for limit in 1..=8 {
        let (mut seen, mut pages) = (Vec::new(), 0);
        let mut page = get(format!("?limit={limit}")).await;
        loop {
            pages += 1;
            let items = targets(&page);
            assert!(!items.is_empty() && items.len() <= limit, "{}", page.text);
            seen.extend(items);
            let Some(cursor) = page.next_cursor() else {
                break;
            };
            page = get(format!("?limit={limit}&cursor={cursor}")).await;
        }
        assert_eq!(seen, newest_first, "limit {limit}");
        assert_eq!(pages, 7_usize.div_ceil(limit), "limit {limit}");
    }
    get("?limit=500".into()).await.assert_ok();

    let cursor = get("?limit=2".into())
        .await
        .next_cursor()
        .expect("a cursor");
    for (query, parameter) in [
        ("?limit=0".to_owned(), "limit"),
        ("?limit=501".into(), "limit"),
        ("?limit=-3".into(), "limit"),
        ("?limit=many".into(), "limit"),
        ("?limit=".into(), "limit"),
        ("?limit=2&limit=3".into(), "limit"),
        ("?cursor=garbage".into(), "cursor"),
        (format!("?cursor={}x", cursor), "cursor"),
        (format!("?cursor={}", &cursor[1..]), "cursor"),
        ("?cursor=%00".into(), "cursor"),
        (format!("?cursor={cursor}&cursor={cursor}"), "cursor"),
        ("?after=1".into(), "after"),
    ] {
        let refused = get(query.clone()).await;
        refused.assert_invalid(parameter);
        assert_problem_documented(&document, &refused.body);
    }

    // The `admin` scope alone reads it.
    for scope in [Scope::CommandsWrite, Scope::QueriesRead, Scope::EventsRead] {
        let client = authorized_client(&[scope]);
        send(client.get(&audit))
            .await
            .assert_problem(403, "forbidden");
    }
    send(reqwest::Client::new().get(&audit))
        .await
        .assert_problem(401, "unauthorized");
}

/// A statement as the command service's role, in a transaction of its own that is undone.
async fn as_command_role(db: &mut PgConnection, sql: &'static str) -> Result<(), sqlx::Error> {
    let mut tx = db.begin().await.expect("a transaction");
    sqlx::query("SET LOCAL ROLE stockflow_command")
        .execute(&mut *tx)
        .await
        .expect("the role exists");
    let outcome = sqlx::raw_sql(sql).execute(&mut *tx).await.map(|_| ());
    tx.rollback().await.expect("rolled back");
    outcome
}

#[tokio::test]
async fn the_command_role_adds_to_the_log_and_reads_it_but_changes_nothing_in_it() {
    let stack = Stack::new().await;
    let mut db = stack.database.connect().await;
    record_seven(&mut db).await;
    for allowed in [
        "INSERT INTO ops.audit_log (subject, action, target, outcome)
         VALUES ('ops', 'replay.start', 'queue:q', 'refused: queue_not_found')",
        "SELECT at, subject, action, target, reason, outcome FROM ops.audit_log
          ORDER BY at DESC, id DESC LIMIT 5",
    ] {
        if let Err(error) = as_command_role(&mut db, allowed).await {
            panic!("stockflow_command cannot run `{allowed}`: {error}");
        }
    }
    for refused in [
        "UPDATE ops.audit_log SET outcome = 'done'",
        "DELETE FROM ops.audit_log",
        "TRUNCATE ops.audit_log",
    ] {
        let outcome = as_command_role(&mut db, refused).await;
        let code = match &outcome {
            Err(sqlx::Error::Database(e)) => e.code().map(|c| c.into_owned()),
            _ => None,
        };
        assert_eq!(code.as_deref(), Some("42501"), "{refused}: {outcome:?}");
    }
}
