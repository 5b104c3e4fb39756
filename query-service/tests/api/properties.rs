//! Property tests of the query API's parameters: any mix of known, unknown, repeated, valid
//! and broken parameters, percent-encoded SQL and LIKE metacharacters, controls and unicode
//! among the values. A query whose parameters are all valid is answered 200 and its filters
//! hold exactly (a `%` matches a `%`, nothing else); any other is 400 `invalid_parameter`
//! naming one of the parameters that was wrong. Never a 5xx.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::test_runner::{Config as ProptestConfig, TestCaseError, TestRunner};
use serde_json::Value;

use crate::helpers::{TestApp, TestResponse, order, product, replenishment};

/// Customer ids and skus the read models hold: SQL and LIKE metacharacters among them.
const CUSTOMERS: &[&str] = &[
    "plain",
    "%",
    "_",
    "\\",
    "a%",
    "a_c",
    "abc",
    "'; DROP TABLE read.orders;--",
    "O'Brien",
    "🦀 日本 e\u{301}",
];
const SKUS: &[&str] = &["A", "A_B", "AXB", "A-1"];

#[derive(Debug, Clone)]
struct Param {
    name: String,
    value: String,
    valid: bool,
}

fn param(
    name: &'static str,
    valid: bool,
    value: impl Strategy<Value = String> + 'static,
) -> BoxedStrategy<Param> {
    value
        .prop_map(move |value| Param {
            name: name.to_owned(),
            value,
            valid,
        })
        .boxed()
}

fn garbage() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("'; DROP TABLE read.products;--".to_owned()),
        Just("%".to_owned()),
        Just("\u{0}".to_owned()),
        Just("1 OR 1=1".to_owned()),
        any::<String>(),
    ]
}

/// Where `valid` is given, the value must not be empty: an empty value is refused.
fn choice(name: &'static str, options: &'static [&'static str]) -> BoxedStrategy<Param> {
    prop_oneof![
        3 => param(name, true, prop::sample::select(options).prop_map(str::to_owned)),
        1 => param(name, false, garbage().prop_filter("not an option", move |v| !options.contains(&v.as_str()))),
    ]
    .boxed()
}

fn limit() -> BoxedStrategy<Param> {
    prop_oneof![
        3 => param("limit", true, (1i64..=500).prop_map(|n| n.to_string())),
        1 => param("limit", false, prop_oneof![
            Just("0".to_owned()),
            Just("501".to_owned()),
            Just("-1".to_owned()),
            Just("1e2".to_owned()),
            Just("99999999999999999999".to_owned()),
            garbage(),
        ]),
    ]
    .boxed()
}

fn cursor() -> BoxedStrategy<Param> {
    param(
        "cursor",
        false,
        prop_oneof![garbage(), "[A-Za-z0-9_-]{1,60}"],
    )
}

fn day(valid: bool) -> impl Strategy<Value = String> {
    if valid {
        (2020i32..2030, 1u32..=12, 1u32..=28)
            .prop_map(|(y, m, d)| format!("{y:04}-{m:02}-{d:02}"))
            .boxed()
    } else {
        prop_oneof![
            Just("2026-02-30".to_owned()),
            Just("2026-1-1".to_owned()),
            Just("2026-13-01".to_owned()),
            Just("yesterday".to_owned()),
            garbage(),
        ]
        .boxed()
    }
}

/// `from`-like parameters get early dates, `to`-like ones late dates, so that two valid ones
/// are never a reversed range.
fn bound(name: &'static str, instants: bool, early: bool) -> BoxedStrategy<Param> {
    let year = if early { "2000" } else { "2099" };
    let valid = prop_oneof![
        Just(format!("{year}-06-15")),
        Just(format!("{year}-06-15T10:00:00Z")),
        Just(format!("{year}-06-15T10:00:00.123456+02:00")),
    ]
    .prop_filter("a day unless instants are taken", move |v| {
        instants || v.len() == 10
    });
    prop_oneof![
        3 => param(name, true, valid),
        1 => param(name, false, day(false)),
    ]
    .boxed()
}

fn customer_id() -> BoxedStrategy<Param> {
    prop_oneof![
        4 => param("customer_id", true, prop::sample::select(CUSTOMERS).prop_map(str::to_owned)),
        1 => param("customer_id", true, "\\PC{1,20}"),
        1 => param("customer_id", false, prop_oneof![
            Just(String::new()),
            Just("c".repeat(65)),
            Just("bell\u{7}".to_owned()),
            Just("nul\u{0}".to_owned()),
        ]),
    ]
    .boxed()
}

fn sku() -> BoxedStrategy<Param> {
    prop_oneof![
        3 => param("sku", true, prop::sample::select(SKUS).prop_map(str::to_owned)),
        1 => param("sku", false, prop_oneof![
            Just("a".to_owned()),
            Just("A%".to_owned()),
            Just("A'--".to_owned()),
            Just("A".repeat(33)),
            garbage().prop_filter("not a sku", |v| stockflow_domain::values::Sku::parse(v).is_err()),
        ]),
    ]
    .boxed()
}

fn unknown() -> BoxedStrategy<Param> {
    param("bogus", false, prop_oneof![Just("1".to_owned()), garbage()])
        .prop_map(|p| Param {
            name: ["bogus", "LIMIT", "sku'", "status[]", "%00"][p.value.len() % 5].to_owned(),
            ..p
        })
        .boxed()
}

/// A listing endpoint and the parameters it takes.
fn listing() -> impl Strategy<Value = (&'static str, Vec<BoxedStrategy<Param>>)> {
    prop_oneof![
        Just(()).prop_map(|_| ("/v1/products", vec![
            choice("status", &["active", "discontinued"]),
            prop_oneof![
                3 => param("max_available", true, (0i64..1000).prop_map(|n| n.to_string())),
                1 => param("max_available", false, prop_oneof![Just("-1".to_owned()), Just("+1".to_owned()), garbage()]),
            ].boxed(),
            limit(),
            cursor(),
        ])),
        Just(()).prop_map(|_| ("/v1/orders", vec![
            customer_id(),
            choice("status", &["ready", "backordered", "cancelled", "shipped"]),
            bound("placed_from", true, true),
            bound("placed_to", true, false),
            limit(),
            cursor(),
        ])),
        Just(()).prop_map(|_| ("/v1/analytics/sales", vec![
            bound("from", false, true),
            bound("to", false, false),
            choice("group_by", &["day", "sku"]),
            choice("currency", &["EUR", "USD"]),
        ])),
        Just(()).prop_map(|_| ("/v1/replenishments", vec![
            sku(),
            choice("status", &["open", "fulfilled"]),
            limit(),
            cursor(),
        ])),
        Just(()).prop_map(|_| ("/v1/projections", Vec::new())),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    path: &'static str,
    params: Vec<Param>,
}

fn case() -> impl Strategy<Value = Case> {
    listing().prop_flat_map(|(path, strategies)| {
        let chosen = strategies
            .into_iter()
            .map(|s| prop::option::weighted(0.5, s))
            .collect::<Vec<_>>();
        (
            chosen,
            prop::option::weighted(0.1, unknown()),
            prop::bool::weighted(0.1),
            any::<prop::sample::Index>(),
        )
            .prop_map(move |(chosen, unknown, repeat, at)| {
                let mut params: Vec<Param> = chosen.into_iter().flatten().collect();
                if let Some(unknown) = unknown {
                    params.insert(at.index(params.len() + 1), unknown);
                }
                if repeat && !params.is_empty() {
                    let again = params[at.index(params.len())].clone();
                    params.push(again);
                }
                Case { path, params }
            })
    })
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

impl Case {
    fn url(&self) -> String {
        let query: Vec<String> = self
            .params
            .iter()
            .map(|p| format!("{}={}", encode(&p.name), encode(&p.value)))
            .collect();
        if query.is_empty() {
            self.path.to_owned()
        } else {
            format!("{}?{}", self.path, query.join("&"))
        }
    }

    /// The parameters that are wrong; empty when the query must succeed.
    fn wrong(&self) -> BTreeSet<String> {
        let mut wrong = BTreeSet::new();
        let mut seen = BTreeSet::new();
        for p in &self.params {
            if !p.valid || !seen.insert(p.name.clone()) {
                wrong.insert(p.name.clone());
            }
        }
        wrong
    }
}

fn check(case: &Case, response: &TestResponse) -> Result<(), TestCaseError> {
    let what = format!(
        "GET {} -> {} {}",
        case.url(),
        response.status,
        response.text
    );
    prop_assert!(response.status < 500, "a 5xx: {}", what);
    prop_assert!(
        response.header("x-projection-position").is_some(),
        "{}",
        what
    );
    let wrong = case.wrong();
    if wrong.is_empty() {
        prop_assert_eq!(response.status, 200, "{}", what);
        prop_assert!(
            response.content_type().starts_with("application/json"),
            "{}",
            what
        );
        let items = response.body["items"]
            .as_array()
            .or_else(|| response.body["rows"].as_array())
            .cloned()
            .unwrap_or_default();
        // Each filter holds exactly: metacharacters match themselves only.
        for p in &case.params {
            let field = match (case.path, p.name.as_str()) {
                (_, "customer_id") => "customer_id",
                ("/v1/replenishments", "sku") => "sku",
                ("/v1/analytics/sales", "currency") => "currency",
                (_, "status") => "status",
                _ => continue,
            };
            for item in &items {
                prop_assert_eq!(&item[field], &Value::String(p.value.clone()), "{}", what);
            }
        }
    } else {
        prop_assert_eq!(response.status, 400, "{}", what);
        prop_assert_eq!(response.problem_code(), Ok("invalid_parameter"), "{}", what);
        let named = response.body["parameter"].as_str().unwrap_or("");
        prop_assert!(
            wrong.contains(named),
            "named {:?}, wrong are {:?}: {}",
            named,
            wrong,
            what
        );
    }
    Ok(())
}

#[test]
fn every_query_is_answered_or_refused_naming_a_wrong_parameter() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let app = runtime.block_on(async {
        let app = TestApp::spawn().await;
        for sku in SKUS {
            app.seed_product(&product(sku)).await;
        }
        for (i, customer) in CUSTOMERS.iter().enumerate() {
            let mut seed = order(customer, &format!("2026-11-{:02}T10:00:00Z", i + 1));
            seed.lines = vec![crate::helpers::line(SKUS[i % SKUS.len()], 1, 100)];
            app.seed_order(&seed).await;
            app.seed_customer(
                customer,
                1,
                1,
                "2026-11-01T10:00:00Z",
                "2026-11-01T10:00:00Z",
                &[("EUR", 100)],
            )
            .await;
        }
        for (i, sku) in SKUS.iter().enumerate() {
            app.seed_replenishment(&replenishment(sku, i as i64 + 1, 5, 5))
                .await;
        }
        app
    });
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 600,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let answers = std::sync::Mutex::new(std::collections::BTreeMap::<u16, usize>::new());
    let result = runner.run(&case(), |case| {
        let response = runtime.block_on(app.get(&case.url()));
        *answers
            .lock()
            .expect("not poisoned")
            .entry(response.status)
            .or_default() += 1;
        check(&case, &response)
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    let answers = answers.into_inner().expect("not poisoned");
    assert!(
        answers.get(&200).copied().unwrap_or(0) >= 50
            && answers.get(&400).copied().unwrap_or(0) >= 50,
        "too few answered or refused queries: {answers:?}"
    );
    drop(app);
}

/// Any path segment where an id goes: found, or the 404 problem of its kind.
#[test]
fn any_id_in_a_path_is_found_or_not_found() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let app = runtime.block_on(async {
        let app = TestApp::spawn().await;
        app.seed_product(&product("A")).await;
        for customer in CUSTOMERS {
            app.seed_customer(
                customer,
                1,
                1,
                "2026-11-01T10:00:00Z",
                "2026-11-01T10:00:00Z",
                &[],
            )
            .await;
        }
        app
    });
    // (the path segment as sent, the id it decodes to where it is text)
    let text_id = prop_oneof![
        prop::sample::select(CUSTOMERS).prop_map(str::to_owned),
        Just("A".to_owned()),
        "[A-Z0-9_-]{1,40}",
        any::<String>(),
    ]
    // URLs cannot address "", "." or "..": a client's URL library drops such segments.
    .prop_filter("addressable", |id| !matches!(id.as_str(), "" | "." | ".."))
    .prop_map(|id| (encode(&id).replace('+', "%20"), Some(id)));
    let any_bytes = prop::collection::vec(any::<u8>(), 1..20)
        .prop_filter("addressable", |b| b != b"." && b != b"..")
        .prop_map(|bytes| {
            let segment = bytes
                .iter()
                .map(|b| format!("%{b:02X}"))
                .collect::<String>();
            (segment, String::from_utf8(bytes).ok())
        });
    let id = prop_oneof![3 => text_id, 1 => any_bytes];
    let kind = prop::sample::select(vec![
        ("/v1/products/", "product_not_found"),
        ("/v1/orders/", "order_not_found"),
        ("/v1/customers/", "customer_not_found"),
    ]);
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 600,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(&(kind, id), |((prefix, code), (segment, id))| {
        let url = format!("{prefix}{segment}");
        let response = runtime.block_on(app.get(&url));
        let what = format!("GET {url} -> {} {}", response.status, response.text);
        prop_assert!(response.status < 500, "a 5xx: {}", what);
        match response.status {
            200 => {
                let key = if prefix.contains("customers") {
                    "customer_id"
                } else {
                    "sku"
                };
                prop_assert_eq!(
                    Some(response.body[key].as_str()),
                    Some(id.as_deref()),
                    "{}",
                    what
                );
            }
            404 => prop_assert_eq!(response.problem_code(), Ok(code), "{}", what),
            _ => prop_assert!(false, "neither found nor not found: {}", what),
        }
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    drop(app);
}
