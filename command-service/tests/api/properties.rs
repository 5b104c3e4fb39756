//! Property tests of the command API's input handling, through the real extractors and
//! handlers: bodies made of valid, out-of-range and wrongly typed fields (with SQL and LIKE
//! metacharacters, controls and unicode among the strings), odd paths and Idempotency-Keys.
//! Each answer is the one docs/api.md names for what was sent: `malformed_body` when a member
//! has the wrong type or is unknown, `validation_failed` naming exactly the broken fields,
//! otherwise a success or a refusal that needs state. Never a 5xx.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};

use crate::helpers::{TestApp, TestResponse};

/// How the service must take one member of a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Left out (or `null`, which reads the same).
    Absent,
    Valid,
    /// Of the right type but breaking a rule of §2: `validation_failed` for this field.
    Invalid,
    /// Of the wrong JSON type: `malformed_body`.
    WrongType,
}

#[derive(Debug, Clone)]
struct Member {
    value: Option<Value>,
    kind: Kind,
}

fn member(kind: Kind, value: impl Strategy<Value = Value>) -> impl Strategy<Value = Member> {
    value.prop_map(move |value| Member {
        value: Some(value),
        kind,
    })
}

fn absent() -> impl Strategy<Value = Member> {
    prop_oneof![
        Just(Member {
            value: None,
            kind: Kind::Absent
        }),
        Just(Member {
            value: Some(Value::Null),
            kind: Kind::Absent
        }),
    ]
}

/// Text a client may send, awkward but acceptable: SQL and LIKE metacharacters, quotes,
/// backslashes, right-to-left marks, joiners, emoji, combining accents.
fn awkward_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("'; DROP TABLE event_store.events;--".to_owned()),
        Just("Robert'); DELETE FROM read.orders WHERE ('1'='1".to_owned()),
        Just("%".to_owned()),
        Just("_".to_owned()),
        Just("\\".to_owned()),
        Just("100% _off_ \\N \\x00 $1 ${x} {{x}} <script>".to_owned()),
        Just("\u{202e}gnp.exe \u{200d}\u{feff}".to_owned()),
        Just("🦀 日本 e\u{301} \u{10ffff}".to_owned()),
        "[ -~]{1,20}",
        "\\PC{1,20}",
    ]
}

/// A string of `min..=max` characters, no controls.
fn valid_text(min: usize, max: usize) -> impl Strategy<Value = Value> {
    prop_oneof![
        awkward_text(),
        Just("x".repeat(max)),
        Just("é".repeat(max)),
        Just("y".repeat(min.max(1))),
    ]
    .prop_filter("within the length", move |s| {
        (min..=max).contains(&s.chars().count())
    })
    .prop_map(Value::String)
}

fn invalid_text(max: usize) -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(String::new()),
        Just("z".repeat(max + 1)),
        Just("🦀".repeat(max + 1)),
        Just("nul\u{0}byte".to_owned()),
        Just("line\nbreak".to_owned()),
        Just("carriage\rreturn".to_owned()),
        Just("del\u{7f}".to_owned()),
        Just("c1\u{85}".to_owned()),
        Just("\u{1b}[31mred".to_owned()),
    ]
    .prop_map(Value::String)
}

fn wrong_type() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        Just(json!([])),
        Just(json!({})),
        Just(json!(["x"])),
        Just(json!({"$gt": ""})),
    ]
}

/// A string member; `Value::Null` only where absent.
fn text_member(required: bool, min: usize, max: usize) -> BoxedStrategy<Member> {
    let absent_kind = if required {
        Kind::Invalid
    } else {
        Kind::Absent
    };
    prop_oneof![
        4 => member(Kind::Valid, valid_text(min, max)),
        2 => member(Kind::Invalid, invalid_text(max)),
        1 => member(Kind::WrongType, prop_oneof![wrong_type(), any::<i64>().prop_map(|n| json!(n))]),
        1 => absent().prop_map(move |m| Member { kind: absent_kind, ..m }),
    ]
    .boxed()
}

/// An integer member with a range.
fn int_member(required: bool, min: i64, max: i64, zero_allowed: bool) -> BoxedStrategy<Member> {
    let absent_kind = if required {
        Kind::Invalid
    } else {
        Kind::Absent
    };
    let valid = prop_oneof![Just(min), Just(max), min..=max]
        .prop_filter("not zero", move |n| zero_allowed || *n != 0)
        .prop_map(|n| json!(n));
    let mut invalid = vec![
        min.saturating_sub(1),
        max.saturating_add(1),
        i64::MIN,
        i64::MAX,
    ];
    if !zero_allowed {
        invalid.push(0);
    }
    invalid.retain(|n| !(min..=max).contains(n) || (!zero_allowed && *n == 0));
    prop_oneof![
        4 => member(Kind::Valid, valid),
        2 => member(Kind::Invalid, prop::sample::select(invalid).prop_map(|n| json!(n))),
        1 => member(Kind::WrongType, prop_oneof![
            wrong_type(),
            Just(json!("1")),
            Just(json!(1.5)),
            Just(json!(u64::MAX)),
            Just(json!(-1e300)),
        ]),
        1 => absent().prop_map(move |m| Member { kind: absent_kind, ..m }),
    ]
    .boxed()
}

fn sku_member(valid_skus: &'static [&'static str]) -> BoxedStrategy<Member> {
    prop_oneof![
        4 => member(Kind::Valid, prop::sample::select(valid_skus).prop_map(|s| json!(s))),
        1 => member(Kind::Valid, "[A-Z0-9_-]{1,32}".prop_map(Value::String)),
        2 => member(Kind::Invalid, prop_oneof![
            Just(String::new()),
            Just("A".repeat(33)),
            Just("p-1".to_owned()),
            Just("P-1' OR '1'='1".to_owned()),
            Just("P%".to_owned()),
            Just("P_\\".to_owned()),
            Just("P\u{0}".to_owned()),
            Just("ÄÖ".to_owned()),
        ].prop_map(Value::String)),
        1 => member(Kind::WrongType, prop_oneof![wrong_type(), Just(json!(7))]),
        1 => absent().prop_map(|m| Member { kind: Kind::Invalid, ..m }),
    ]
    .boxed()
}

fn choice_member(
    required: bool,
    valid: &'static [&'static str],
    invalid: &'static [&'static str],
) -> BoxedStrategy<Member> {
    let absent_kind = if required {
        Kind::Invalid
    } else {
        Kind::Absent
    };
    prop_oneof![
        3 => member(Kind::Valid, prop::sample::select(valid).prop_map(|s| json!(s))),
        2 => member(Kind::Invalid, prop::sample::select(invalid).prop_map(|s| json!(s))),
        1 => member(Kind::WrongType, prop_oneof![wrong_type(), Just(json!(1))]),
        1 => absent().prop_map(move |m| Member { kind: absent_kind, ..m }),
    ]
    .boxed()
}

fn uuid_member() -> BoxedStrategy<Member> {
    prop_oneof![
        3 => member(Kind::Valid, Just(()).prop_map(|_| json!(uuid::Uuid::now_v7()))),
        2 => member(Kind::Invalid, prop_oneof![
            Just(json!("")),
            Just(json!("not-a-uuid")),
            Just(json!("00000000-0000-0000-0000-00000000000g")),
            Just(json!("'; DROP TABLE x;--")),
        ]),
        1 => member(Kind::WrongType, prop_oneof![wrong_type(), Just(json!(12))]),
        2 => absent(),
    ]
    .boxed()
}

/// One POST: the path template, its members by name, and an extra member or not.
#[derive(Debug, Clone)]
struct Case {
    endpoint: &'static str,
    members: Vec<(String, Member)>,
    /// Lines of PlaceOrder, each with its sku and quantity members.
    lines: Option<Vec<(Member, Member)>>,
    unknown_member: bool,
    path_target: PathTarget,
    idempotency_key: Option<(String, bool)>,
}

/// What the `{sku}` or `{order_id}` of the path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PathTarget {
    Existing,
    /// Well-formed, but nothing has that id.
    Unknown,
    /// Cannot be an id at all (SQL, `%`, unicode…).
    Impossible,
}

const SKUS: &[&str] = &["P-1", "P-2", "P-NEW", "P_3"];

fn members(
    fields: Vec<(&'static str, BoxedStrategy<Member>)>,
) -> BoxedStrategy<Vec<(String, Member)>> {
    fields
        .into_iter()
        .map(|(name, strategy)| strategy.prop_map(move |m| (name.to_owned(), m)))
        .collect::<Vec<_>>()
        .boxed()
}

fn line() -> BoxedStrategy<(Member, Member)> {
    (sku_member(SKUS), int_member(true, 1, 10_000, false)).boxed()
}

fn case() -> impl Strategy<Value = Case> {
    let body = prop_oneof![
        members(vec![
            ("sku", sku_member(SKUS)),
            ("name", text_member(true, 1, 200)),
            ("unit_price_cents", int_member(true, 1, 100_000_000, false)),
            (
                "currency",
                choice_member(
                    true,
                    &["EUR", "USD", "JPY"],
                    &["eur", "EU", "EURO", "E1R", "€", "", "E'R"]
                )
            ),
            ("initial_stock", int_member(false, 0, 1_000_000_000, true)),
            (
                "backorder_policy",
                choice_member(
                    false,
                    &["reject", "backorder"],
                    &["Reject", "", "maybe", "reject'--"]
                )
            ),
        ])
        .prop_map(|m| ("register", m, None)),
        members(vec![
            ("quantity", int_member(true, 1, 1_000_000_000, false)),
            ("reference", text_member(false, 1, 200)),
        ])
        .prop_map(|m| ("receipts", m, None)),
        members(vec![
            (
                "delta",
                int_member(true, -1_000_000_000, 1_000_000_000, false)
            ),
            ("reason", text_member(true, 1, 200)),
        ])
        .prop_map(|m| ("adjustments", m, None)),
        members(vec![(
            "unit_price_cents",
            int_member(true, 1, 100_000_000, false)
        )])
        .prop_map(|m| ("price", m, None)),
        Just(("discontinue", Vec::new(), None)),
        (
            members(vec![
                ("order_id", uuid_member()),
                ("customer_id", text_member(true, 1, 64)),
            ]),
            prop_oneof![
                8 => prop::collection::vec(line(), 0..4).prop_map(Some),
                1 => Just(None),
            ],
        )
            .prop_map(|(m, lines)| ("place", m, lines)),
        members(vec![("reason", text_member(false, 1, 500))]).prop_map(|m| ("cancel", m, None)),
        members(vec![
            ("carrier", text_member(true, 1, 64)),
            ("tracking_number", text_member(true, 1, 64)),
        ])
        .prop_map(|m| ("ship", m, None)),
    ];
    let key = prop_oneof![
        3 => Just(None),
        2 => "[!-~]{1,100}".prop_map(|k| Some((k, true))),
        1 => prop_oneof![
            Just("has space".to_owned()),
            Just("k".repeat(129)),
            Just("tab\tkey".to_owned()),
            Just("ключ".to_owned()),
        ].prop_map(|k| Some((k, false))),
    ];
    (
        body,
        prop::bool::weighted(0.1),
        prop_oneof![
            6 => Just(PathTarget::Existing),
            1 => Just(PathTarget::Unknown),
            1 => Just(PathTarget::Impossible),
        ],
        key,
    )
        .prop_map(
            |((endpoint, members, lines), unknown_member, path_target, key)| Case {
                endpoint,
                members,
                lines,
                unknown_member,
                path_target,
                idempotency_key: key,
            },
        )
}

/// What docs/api.md says the answer to a case is, as far as the body decides it.
#[derive(Debug, PartialEq, Eq)]
enum Expected {
    /// 400 validation_failed naming exactly these fields (the header's alone when it is bad).
    Invalid(Vec<String>),
    Malformed,
    NotFound,
    /// The body passes; success or a refusal that depends on state.
    Decided,
}

impl Case {
    fn body(&self) -> Value {
        let mut body = Map::new();
        for (name, m) in &self.members {
            if let Some(value) = &m.value {
                body.insert(name.clone(), value.clone());
            }
        }
        if let Some(lines) = &self.lines {
            let lines: Vec<Value> = lines
                .iter()
                .map(|(sku, quantity)| {
                    let mut line = Map::new();
                    for (name, m) in [("sku", sku), ("quantity", quantity)] {
                        if let Some(value) = &m.value {
                            line.insert(name.to_owned(), value.clone());
                        }
                    }
                    Value::Object(line)
                })
                .collect();
            body.insert("lines".into(), Value::Array(lines));
        }
        if self.unknown_member {
            body.insert("unexpected".into(), json!(1));
        }
        Value::Object(body)
    }

    fn expected(&self) -> Expected {
        if let Some((_, false)) = &self.idempotency_key {
            return Expected::Invalid(vec!["Idempotency-Key".into()]);
        }
        let line_members = self.lines.iter().flatten().flat_map(|(s, q)| [s, q]);
        let wrong_type = self
            .members
            .iter()
            .map(|(_, m)| m)
            .chain(line_members)
            .any(|m| m.kind == Kind::WrongType);
        if wrong_type || self.unknown_member {
            return Expected::Malformed;
        }
        let targets_one = !matches!(self.endpoint, "register" | "place");
        if targets_one && self.path_target == PathTarget::Impossible {
            return Expected::NotFound;
        }
        let mut invalid: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| m.kind == Kind::Invalid)
            .map(|(name, _)| name.clone())
            .collect();
        if self.endpoint == "place" {
            match &self.lines {
                None => invalid.push("lines".into()),
                Some(lines) if lines.is_empty() => invalid.push("lines".into()),
                Some(lines) => {
                    let mut seen = Vec::new();
                    for (i, (sku, quantity)) in lines.iter().enumerate() {
                        if sku.kind == Kind::Invalid {
                            invalid.push(format!("lines[{i}].sku"));
                        } else if let Some(value) = &sku.value {
                            if seen.contains(value) {
                                invalid.push(format!("lines[{i}].sku"));
                            }
                            seen.push(value.clone());
                        }
                        if quantity.kind == Kind::Invalid {
                            invalid.push(format!("lines[{i}].quantity"));
                        }
                    }
                }
            }
        }
        if !invalid.is_empty() {
            invalid.sort();
            return Expected::Invalid(invalid);
        }
        Expected::Decided
    }
}

/// The codes a refusal may carry once the body has passed: those that depend on state.
const STATE_CODES: &[&str] = &[
    "product_exists",
    "product_not_found",
    "order_not_found",
    "adjustment_below_reserved",
    "already_discontinued",
    "unknown_product",
    "product_discontinued",
    "currency_mismatch",
    "insufficient_stock",
    "stock_overflow",
    "order_exists",
    "order_not_cancellable",
    "order_not_ready",
    "order_cancelled",
    "order_already_shipped",
    "idempotency_key_reused",
];

fn check(case: &Case, response: &TestResponse) -> Result<(), TestCaseError> {
    let what = format!("{case:?} -> {} {}", response.status, response.text);
    prop_assert!(response.status < 500, "a 5xx: {}", what);
    if response.status >= 400 {
        let problem = response.problem_code();
        prop_assert!(problem.is_ok(), "{:?}: {}", problem, what);
    } else {
        prop_assert_eq!(response.content_type(), "application/json", "{}", what);
        prop_assert!(
            response.body["version"].is_i64() && response.body["position"].is_i64(),
            "{}",
            what
        );
    }
    let code = response.body["code"].as_str().unwrap_or("");
    match case.expected() {
        Expected::Malformed => {
            prop_assert_eq!((response.status, code), (400, "malformed_body"), "{}", what)
        }
        Expected::NotFound => {
            let code_wanted = if case.endpoint == "cancel" || case.endpoint == "ship" {
                "order_not_found"
            } else {
                "product_not_found"
            };
            prop_assert_eq!((response.status, code), (404, code_wanted), "{}", what)
        }
        Expected::Invalid(fields) => {
            prop_assert_eq!(
                (response.status, code),
                (400, "validation_failed"),
                "{}",
                what
            );
            let mut named: Vec<String> = response.body["errors"]
                .as_array()
                .map(|errors| {
                    errors
                        .iter()
                        .filter(|e| e["message"].as_str().is_some_and(|m| !m.is_empty()))
                        .filter_map(|e| e["field"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            named.sort();
            prop_assert_eq!(named, fields, "{}", what);
        }
        Expected::Decided => {
            prop_assert!(
                (200..300).contains(&response.status) || STATE_CODES.contains(&code),
                "{}",
                what
            );
        }
    }
    Ok(())
}

#[test]
fn every_body_gets_the_answer_its_fields_call_for() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let app = runtime.block_on(TestApp::spawn());
    let order = runtime.block_on(async {
        app.register("P-1", 1_000_000, "backorder").await;
        app.register("P-2", 1_000_000, "reject").await;
        let placed = app.place("c-1", &[("P-1", 1)]).await;
        placed.created_order_id()
    });
    let keys = AtomicU64::new(0);
    let answers = std::sync::Mutex::new(BTreeMap::<String, usize>::new());
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 1000,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(&case(), |case| {
        let target = match case.path_target {
            PathTarget::Existing if matches!(case.endpoint, "cancel" | "ship") => order.clone(),
            PathTarget::Existing => "P-1".to_owned(),
            PathTarget::Unknown if matches!(case.endpoint, "cancel" | "ship") => {
                uuid::Uuid::now_v7().to_string()
            }
            PathTarget::Unknown => "P-NONE".to_owned(),
            PathTarget::Impossible => "%27%3B%20DROP%20TABLE%20x%3B--%25_%5C".to_owned(),
        };
        let path = match case.endpoint {
            "register" => "/v1/products".to_owned(),
            "place" => "/v1/orders".to_owned(),
            "cancel" | "ship" => format!("/v1/orders/{target}/{}", case.endpoint),
            other => format!("/v1/products/{target}/{other}"),
        };
        // Each valid key is used once, so that a key is never a replay of another case.
        let key = case.idempotency_key.as_ref().map(|(key, valid)| {
            if *valid {
                format!("{}-{key}", keys.fetch_add(1, Ordering::Relaxed))
                    .chars()
                    .take(128)
                    .collect()
            } else {
                key.clone()
            }
        });
        let body = case.body();
        let response = runtime.block_on(async {
            let mut request = app.client.post(app.url(&path)).json(&body);
            if let Some(key) = &key {
                request = request.header("idempotency-key", key.as_str());
            }
            app.send(request).await
        });
        let answer = format!(
            "{} {}",
            response.status,
            response.body["code"].as_str().unwrap_or("")
        );
        *answers
            .lock()
            .expect("not poisoned")
            .entry(answer)
            .or_default() += 1;
        check(&case, &response)
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    // The property held over cases that reached every kind of answer.
    let answers = answers.into_inner().expect("not poisoned");
    let total: usize = answers.values().sum();
    assert!(total >= 1000, "only {total} requests: {answers:?}");
    for expected in [
        "400 malformed_body",
        "400 validation_failed",
        "404 product_not_found",
        "404 order_not_found",
    ] {
        assert!(
            answers.contains_key(expected),
            "no {expected} among {answers:?}"
        );
    }
    assert!(
        answers.keys().any(|a| a.starts_with("20")),
        "no success among {answers:?}"
    );
    assert!(
        answers
            .keys()
            .any(|a| a.starts_with("409") || a.starts_with("422")),
        "no refusal that needs state among {answers:?}"
    );
    // The fixtures are intact where no accepted command could have touched them: every event
    // in the store is decodable and the invariants hold.
    let (products, orders) = runtime.block_on(app.replay());
    crate::helpers::assert_invariants(&products, &orders);
    drop(app);
}

/// Counts how often each expectation came up, so that a change to the strategies that made
/// the property vacuous (say, every case malformed) is noticed.
#[test]
fn the_cases_cover_every_kind_of_answer() {
    let mut runner = TestRunner::deterministic();
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let strategy = case();
    for _ in 0..400 {
        let case = strategy.new_tree(&mut runner).expect("a case").current();
        let kind = match case.expected() {
            Expected::Malformed => "malformed",
            Expected::NotFound => "not found",
            Expected::Invalid(_) => "invalid",
            Expected::Decided => "decided",
        };
        *seen.entry(kind).or_default() += 1;
        *seen.entry(case.endpoint).or_default() += 1;
    }
    for kind in ["malformed", "not found", "invalid", "decided"] {
        assert!(
            seen.get(kind).copied().unwrap_or(0) >= 10,
            "{kind}: {seen:?}"
        );
    }
    for endpoint in [
        "register",
        "receipts",
        "adjustments",
        "price",
        "discontinue",
        "place",
        "cancel",
        "ship",
    ] {
        assert!(
            seen.get(endpoint).copied().unwrap_or(0) >= 20,
            "{endpoint}: {seen:?}"
        );
    }
}
