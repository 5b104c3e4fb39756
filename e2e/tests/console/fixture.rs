//! One test's world: the whole stack (command service with its relay, query service,
//! projector, all in this process), the console in front of it on port 0, a headless Chromium,
//! and a token an operator signs in with.
//!
//! Each test runs in a process of its own under nextest (what `scripts/test` runs), so the
//! metrics the console's overview scrapes are this test's stack's alone.

use std::time::Duration;

use serde_json::{Value, json};
use stockflow_e2e::Stack;
use stockflow_edge::{Scope, mint_token};
use stockflow_testkit::{Running, TEST_SECRET};

use crate::browser::{Browser, WAIT, eventually};

/// The subject of the operator's token: what the console shows as signed in, and what the
/// audit log records.
pub const OPERATOR: &str = "ops-ana";

/// A token with `scopes`, signed as the stack's services expect.
pub fn token(subject: &str, scopes: &[Scope]) -> String {
    mint_token(TEST_SECRET, subject, scopes, Duration::from_secs(3600))
}

/// The console's token: it opens the admin APIs, the event feed and the queries.
pub fn operator_token() -> String {
    token(
        OPERATOR,
        &[Scope::Admin, Scope::EventsRead, Scope::QueriesRead],
    )
}

pub struct Console {
    pub stack: Stack,
    pub browser: Browser,
    pub token: String,
    console: Running,
}

impl Console {
    /// The browser first: a machine without chromium fails here, before the stack is built.
    pub async fn start() -> Console {
        let browser = Browser::start().await;
        let stack = Stack::spawn().await;
        let config = stockflow_console::Config {
            listen_addr: "127.0.0.1:0".into(),
            commands_url: stack.command_url(""),
            queries_url: stack.query_url(""),
            projector_url: stack.projector_url(""),
            ..stockflow_console::Config::defaults()
        };
        let console = Running::start(
            stockflow_console::App::build(config)
                .await
                .expect("the console starts"),
        );
        Console {
            stack,
            browser,
            token: operator_token(),
            console,
        }
    }

    /// `http://<console><path>`.
    pub fn url(&self, path: &str) -> String {
        self.console.url(path)
    }

    /// Opens the console and waits for the sign-in form.
    pub async fn open_sign_in(&self) {
        self.browser.goto(&self.url("/")).await;
        self.browser.wait_visible("form#sign-in").await;
    }

    /// Types `token` into the sign-in form and sends it.
    pub async fn submit_token(&self, token: &str) {
        self.browser.fill("input#token", token).await;
        self.browser.click("button#sign-in-submit").await;
    }

    /// Signs in with the operator's token; the overview shows, with its first data.
    pub async fn sign_in(&self) {
        self.open_sign_in().await;
        self.submit_token(&self.token.clone()).await;
        self.wait_page("overview").await;
    }

    /// Goes to `page` through the navigation, as an operator would, and waits for its data.
    pub async fn navigate(&self, page: &str) {
        self.browser
            .click(&format!("nav a[data-page=\"{page}\"]"))
            .await;
        self.wait_page(page).await;
    }

    /// Waits until `page` is the current page and its first data has arrived.
    pub async fn wait_page(&self, page: &str) {
        let browser = &self.browser;
        eventually(WAIT, &format!("the {page} page shows its data"), || async {
            let state = browser
                .eval(
                    "const s = document.querySelector('section#page-' + arguments[0]); \
                     return [document.body.dataset.page ?? null, \
                             s ? s.getAttribute('data-loaded') : null, \
                             s ? s.checkVisibility() : false];",
                    vec![json!(page)],
                )
                .await;
            if state == json!([page, "true", true]) {
                Ok(())
            } else {
                Err(format!("[body page, data-loaded, shown]: {state}"))
            }
        })
        .await;
    }

    /// Registers a product with plenty of stock; returns the command's answer.
    pub async fn register_product(&self, sku: &str, name: &str) -> Value {
        let registered = self
            .stack
            .command(
                "/v1/products",
                json!({"sku": sku, "name": name, "unit_price_cents": 1250, "currency": "EUR",
                       "initial_stock": 1000, "backorder_policy": "backorder"}),
            )
            .await;
        registered.assert_status(201).clone()
    }

    /// Places an order of `quantity` × `sku`; returns its id and its position.
    pub async fn place_order(&self, sku: &str, quantity: u32) -> (String, i64) {
        let placed = self
            .stack
            .command(
                "/v1/orders",
                json!({"customer_id": "c-console", "lines": [{"sku": sku, "quantity": quantity}]}),
            )
            .await;
        (placed.created_order_id(), placed.position())
    }
}

/// The integer an operator reads in a cell or a figure ("1,234" is 1234); `None` if there is
/// none.
pub fn number(text: &str) -> Option<i64> {
    let digits: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ',' | '\u{a0}' | '\u{202f}' | ' ' | '_'))
        .collect();
    digits.parse().ok()
}
