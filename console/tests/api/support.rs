//! A fake of the services behind the console, and the console started in front of it.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use stockflow_console::{App, Config};
use stockflow_edge::{Scope, mint_token};
use stockflow_testkit::{Running, TestResponse, send};
use tokio::net::TcpListener;

/// What a fake service saw of a request it was sent.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path_and_query: String,
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub cookie: Option<String>,
    pub body: String,
}

#[derive(Default)]
struct FakeState {
    /// Tokens the fake projector takes for its admin API, and ones it knows but refuses
    /// for their scope.
    admin_tokens: Mutex<Vec<String>>,
    forbidden_tokens: Mutex<Vec<String>>,
    seen: Mutex<Vec<Seen>>,
    scrapes: AtomicU64,
    not_ready: AtomicBool,
}

/// A fake stockflow service: the projector's token check, metrics that move, readiness, and
/// `/v1/…` routes that echo what they were sent.
pub struct Fake {
    pub addr: SocketAddr,
    state: Arc<FakeState>,
}

impl Fake {
    pub async fn start() -> Fake {
        let state = Arc::new(FakeState::default());
        let router = Router::new()
            .route("/v1/admin/projections", get(projections))
            .route("/metrics", get(metrics))
            .route("/readyz", get(readyz))
            .route("/v1/teapot", any(teapot))
            .route("/v1/{*rest}", any(echo))
            .fallback(|| async { (StatusCode::NOT_FOUND, "fake: outside v1") })
            .with_state(state.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Fake { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A token the fake projector takes, for `subject`.
    pub fn admin_token(&self, subject: &str) -> String {
        let token = token(
            subject,
            &[Scope::Admin, Scope::EventsRead, Scope::QueriesRead],
        );
        self.state.admin_tokens.lock().unwrap().push(token.clone());
        token
    }

    /// A valid token without the admin scope: the fake projector answers 403.
    pub fn reader_token(&self) -> String {
        let token = token("reader", &[Scope::QueriesRead]);
        self.state
            .forbidden_tokens
            .lock()
            .unwrap()
            .push(token.clone());
        token
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.seen.lock().unwrap().clone()
    }

    pub fn last_seen(&self) -> Seen {
        self.seen().pop().expect("the fake was sent a request")
    }

    pub fn set_ready(&self, ready: bool) {
        self.state.not_ready.store(!ready, Ordering::Relaxed);
    }
}

fn token(subject: &str, scopes: &[Scope]) -> String {
    mint_token(
        stockflow_testkit::TEST_SECRET,
        subject,
        scopes,
        Duration::from_secs(3600),
    )
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn projections(State(state): State<Arc<FakeState>>, headers: HeaderMap) -> Response {
    let bearer = header_text(&headers, header::AUTHORIZATION).unwrap_or_default();
    let token = bearer
        .strip_prefix("Bearer ")
        .unwrap_or_default()
        .to_owned();
    if state.admin_tokens.lock().unwrap().contains(&token) {
        axum::Json(serde_json::json!({"head": 0, "items": [], "rebuild": null})).into_response()
    } else if state.forbidden_tokens.lock().unwrap().contains(&token) {
        problem(StatusCode::FORBIDDEN, "forbidden")
    } else {
        problem(StatusCode::UNAUTHORIZED, "unauthorized")
    }
}

fn problem(status: StatusCode, code: &str) -> Response {
    stockflow_edge::problem(status, code, "refused by the fake")
}

/// Counters that grow by 10 a scrape and gauges that stay put, spread over label sets as
/// the real recorder does.
async fn metrics(State(state): State<Arc<FakeState>>) -> String {
    let n = state.scrapes.fetch_add(1, Ordering::Relaxed) * 10;
    format!(
        "# TYPE stockflow_commands_total counter\n\
         stockflow_commands_total{{command=\"place_order\",outcome=\"accepted\"}} {n}\n\
         stockflow_commands_total{{command=\"cancel_order\",outcome=\"refused\"}} 1\n\
         stockflow_relay_published_position {relay}\n\
         stockflow_relay_lag_events 2\n\
         stockflow_projector_position 95\n\
         stockflow_projector_lag_events 7\n\
         stockflow_projector_lag_seconds 0.25\n\
         stockflow_dead_letters_stored 3\n\
         stockflow_replica_replay_lag_seconds 1.5\n",
        relay = 100 + n,
    )
}

async fn readyz(State(state): State<Arc<FakeState>>) -> StatusCode {
    if state.not_ready.load(Ordering::Relaxed) {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

async fn teapot() -> Response {
    (
        StatusCode::IM_A_TEAPOT,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        "short and stout",
    )
        .into_response()
}

async fn echo(State(state): State<Arc<FakeState>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body: Bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    let seen = Seen {
        method: parts.method.to_string(),
        path_and_query: parts
            .uri
            .path_and_query()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        authorization: header_text(&parts.headers, header::AUTHORIZATION),
        content_type: header_text(&parts.headers, header::CONTENT_TYPE),
        cookie: header_text(&parts.headers, header::COOKIE),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    state.seen.lock().unwrap().push(seen.clone());
    (
        StatusCode::CREATED,
        axum::Json(serde_json::json!({
            "method": seen.method,
            "path": seen.path_and_query,
            "body": seen.body,
        })),
    )
        .into_response()
}

/// An address nothing listens on.
pub async fn closed_url() -> String {
    format!("http://{}", stockflow_testkit::free_address())
}

/// The console in front of a fake service (all three of them).
pub struct Console {
    pub fake: Fake,
    pub running: Running,
    pub client: reqwest::Client,
}

pub fn config(upstream: &str) -> Config {
    Config {
        listen_addr: "127.0.0.1:0".into(),
        commands_url: upstream.into(),
        queries_url: upstream.into(),
        projector_url: upstream.into(),
        secure_cookie: false,
        session_ttl_seconds: 28_800,
        sample_interval_ms: 100,
        ..Config::defaults()
    }
}

impl Console {
    pub async fn start() -> Console {
        Console::start_with(|_| {}).await
    }

    /// The console with its configuration changed by `change` (its services are the fake).
    pub async fn start_with(change: impl FnOnce(&mut Config)) -> Console {
        stockflow_testkit::init_logs();
        let fake = Fake::start().await;
        let mut config = config(&fake.url());
        change(&mut config);
        let app = App::build(config).await.expect("the console starts");
        Console {
            fake,
            running: Running::start(app),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        self.running.url(path)
    }

    pub async fn sign_in_with(&self, token: &str) -> TestResponse {
        send(
            self.client
                .post(self.url("/session"))
                .json(&serde_json::json!({ "token": token })),
        )
        .await
    }

    /// Signs in as `ops-1`; the `Cookie` header value of the session.
    pub async fn sign_in(&self) -> String {
        let token = self.fake.admin_token("ops-1");
        let answer = self.sign_in_with(&token).await;
        answer.assert_status(200);
        session_cookie(&answer).expect("a session cookie")
    }

    /// A request to the console's API as the page sends it: the session and `X-Console: 1`.
    pub fn api(
        &self,
        method: reqwest::Method,
        path: &str,
        cookie: &str,
    ) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .header("cookie", cookie)
            .header("x-console", "1")
    }
}

/// `stockflow_console=<id>` from an answer's `Set-Cookie`.
pub fn session_cookie(answer: &TestResponse) -> Option<String> {
    let set_cookie = answer.header("set-cookie")?;
    let pair = set_cookie.split(';').next()?.trim();
    (pair.starts_with("stockflow_console=") && pair.len() > "stockflow_console=".len())
        .then(|| pair.to_owned())
}
