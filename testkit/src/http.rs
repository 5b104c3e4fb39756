//! HTTP for tests: clients that carry a token, and responses read whole, with assertions
//! for what a client of the API would check.

use std::time::Duration;

use serde_json::Value;
use stockflow_edge::{Scope, mint_token};

use crate::TEST_SECRET;

/// A client that sends a token granting `scopes`, signed with the test secret, with every
/// request.
pub fn authorized_client(scopes: &[Scope]) -> reqwest::Client {
    let token = mint_token(
        TEST_SECRET,
        "test-client",
        scopes,
        Duration::from_secs(3600),
    );
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}")
            .parse()
            .expect("a valid header value"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("an HTTP client")
}

/// A response read whole: status, headers, text, and the text as JSON (`null` if it is not).
#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
    pub body: Value,
}

/// Reads a response into a [`TestResponse`].
pub async fn read(response: reqwest::Response) -> TestResponse {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("a readable body");
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    TestResponse {
        status,
        headers,
        text,
        body,
    }
}

impl TestResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or("")
    }

    /// Asserts this status; returns the body.
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        &self.body
    }

    /// Asserts a 2xx answer; returns the body.
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert!(
            (200..300).contains(&self.status),
            "status {}: {}",
            self.status,
            self.text
        );
        &self.body
    }

    /// Asserts a 200 JSON answer; returns the body.
    #[track_caller]
    pub fn assert_ok(&self) -> &Value {
        assert_eq!(self.status, 200, "unexpected status; body: {}", self.text);
        assert!(
            self.content_type().starts_with("application/json"),
            "content type {}",
            self.content_type()
        );
        &self.body
    }

    /// Asserts an RFC 9457 problem+json refusal with this status and code; returns the body.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) -> &Value {
        assert_eq!(
            self.status, status,
            "unexpected status; body: {}",
            self.text
        );
        assert_eq!(
            self.content_type(),
            "application/problem+json",
            "body: {}",
            self.text
        );
        assert_eq!(self.body["code"], code, "body: {}", self.text);
        assert_eq!(self.body["status"], status);
        for member in ["type", "title", "detail"] {
            assert!(
                self.body[member].is_string(),
                "problem without {member}: {}",
                self.text
            );
        }
        &self.body
    }

    /// Asserts a 400 `invalid_parameter` naming `parameter`.
    #[track_caller]
    pub fn assert_invalid(&self, parameter: &str) {
        let body = self.assert_problem(400, "invalid_parameter");
        assert_eq!(body["parameter"], parameter, "body: {}", self.text);
    }

    /// The global position a command's success carries.
    #[track_caller]
    pub fn position(&self) -> i64 {
        self.body["position"]
            .as_i64()
            .unwrap_or_else(|| panic!("no position in {}", self.text))
    }

    /// The read models' position the answer says it reflects.
    #[track_caller]
    pub fn projection_position(&self) -> i64 {
        self.header("x-projection-position")
            .unwrap_or_else(|| panic!("no X-Projection-Position on {self:?}"))
            .parse()
            .expect("X-Projection-Position is an integer")
    }

    /// The `items` of a listing.
    #[track_caller]
    pub fn items(&self) -> &Vec<Value> {
        self.assert_ok()["items"]
            .as_array()
            .unwrap_or_else(|| panic!("no items in {}", self.text))
    }

    pub fn next_cursor(&self) -> Option<String> {
        self.body["next_cursor"].as_str().map(str::to_owned)
    }
}

/// Asserts that a JSON body is an object with exactly these members.
#[track_caller]
pub fn assert_keys(body: &Value, keys: &[&str]) {
    let object = body
        .as_object()
        .unwrap_or_else(|| panic!("not a JSON object: {body}"));
    let mut actual: Vec<&str> = object.keys().map(String::as_str).collect();
    let mut expected = keys.to_vec();
    actual.sort_unstable();
    expected.sort_unstable();
    assert_eq!(actual, expected, "members of {body}");
}
