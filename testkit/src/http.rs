//! HTTP for tests: clients that carry a token, and responses read whole, with assertions
//! for what a client of the API would check.

use std::time::Duration;

use serde_json::Value;
use stockflow_edge::{PROBLEM_CONTENT_TYPE, Scope, mint_token};

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

/// Sends a request and reads the answer into a [`TestResponse`].
pub async fn send(request: reqwest::RequestBuilder) -> TestResponse {
    read(request.send().await.expect("the service answers")).await
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
        assert_eq!(self.problem_code(), Ok(code), "body: {}", self.text);
        &self.body
    }

    /// The `code` of this answer as an RFC 9457 problem (`application/problem+json`, with
    /// its own status and every member a problem has); or what keeps it from being one.
    pub fn problem_code(&self) -> Result<&str, String> {
        if self.content_type() != PROBLEM_CONTENT_TYPE {
            return Err(format!("content type {:?}", self.content_type()));
        }
        if self.body["status"] != self.status {
            return Err(format!(
                "status member {} on a {}",
                self.body["status"], self.status
            ));
        }
        match ["type", "title", "detail", "code"]
            .into_iter()
            .find(|member| !self.body[member].is_string())
        {
            Some(member) => Err(format!("a problem without {member}")),
            None => Ok(self.body["code"].as_str().unwrap_or_default()),
        }
    }

    /// Asserts a 400 `invalid_parameter` naming `parameter`.
    #[track_caller]
    pub fn assert_invalid(&self, parameter: &str) {
        let body = self.assert_problem(400, "invalid_parameter");
        assert_eq!(body["parameter"], parameter, "body: {}", self.text);
    }

    /// Asserts a 201 `Created` for an order; returns its `order_id`.
    #[track_caller]
    pub fn created_order_id(&self) -> String {
        self.assert_status(201)["order_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no order id in {}", self.text))
            .to_owned()
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

/// Every byte but letters and digits as `%XX`: a path segment or query value that decodes to
/// `text`, whatever it holds.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
