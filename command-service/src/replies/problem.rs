//! Refusals as RFC 9457 problems (`application/problem+json`) with a stable `code`: the
//! writer's typed [`Refusal`]s, and the [`Problem`] body every refusal of the API is written
//! as. Internal causes are logged, never sent.

use axum::http::StatusCode;
use serde::Serialize;
use stockflow_domain::DomainError;
use utoipa::ToSchema;

/// An RFC 9457 problem. Members beyond `type, title, status, detail, code` appear with the
/// codes that carry them.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Problem {
    /// `urn:stockflow:problem:<code>`.
    #[schema(example = "urn:stockflow:problem:validation_failed")]
    r#type: String,
    /// The HTTP reason phrase of `status`.
    #[schema(example = "Bad Request")]
    title: String,
    #[schema(example = 400)]
    status: u16,
    /// For people; do not parse it.
    detail: String,
    /// The stable, machine-readable reason, e.g. `validation_failed`, `insufficient_stock`.
    #[schema(example = "validation_failed")]
    code: String,
    /// With `validation_failed`: one entry per broken field (or header).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    errors: Option<Vec<FieldError>>,
    /// With `invalid_parameter`: the query parameter to fix.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    parameter: Option<String>,
    /// With `insufficient_stock`: the lines that lack stock.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    lines: Option<Vec<Shortage>>,
    /// With `unknown_product` and `product_discontinued`: the skus concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    skus: Option<Vec<String>>,
    /// With `currency_mismatch`: the currencies the order's lines are priced in.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    currencies: Option<Vec<String>>,
    /// With `version_mismatch` (not with `If-Match: *`): the version given.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    expected_version: Option<i64>,
    /// With `version_mismatch` (not with `If-Match: *`): the aggregate's version.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    current_version: Option<i64>,
}

impl Problem {
    pub(crate) fn new(status: StatusCode, code: &str, detail: String) -> Problem {
        Problem {
            r#type: format!("urn:stockflow:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail,
            code: code.to_owned(),
            errors: None,
            parameter: None,
            lines: None,
            skus: None,
            currencies: None,
            expected_version: None,
            current_version: None,
        }
    }

    pub(crate) fn with_errors(mut self, errors: Vec<FieldError>) -> Problem {
        self.errors = Some(errors);
        self
    }

    pub(crate) fn with_parameter(mut self, parameter: String) -> Problem {
        self.parameter = Some(parameter);
        self
    }

    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a problem is plain data")
    }
}

/// One broken field of a request, for `validation_failed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The field's path in the body, like `lines[2].quantity`, or a header name.
    #[schema(example = "lines[0].quantity")]
    pub field: String,
    #[schema(example = "must be between 1 and 10000")]
    pub message: String,
}

/// A line that asks for more than its product has available.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Shortage {
    sku: String,
    requested: i64,
    available: i64,
}

/// Why the writer did not carry a command out. Refusals that rest on the aggregates' state
/// are stored with their idempotency key and answered again on a retry.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Refusal {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("the aggregate is at version {current}, not the {expected} given in If-Match")]
    VersionMismatch { expected: i64, current: i64 },
    #[error("If-Match: * requires the aggregate to exist, and it does not")]
    NothingToMatch,
    #[error("this Idempotency-Key was used for another request")]
    IdempotencyKeyReused,
    #[error("the command kept conflicting with concurrent writers; retry it")]
    ConcurrencyConflict,
    /// The cause is for the logs only.
    #[error("the service cannot take commands right now")]
    Unavailable(String),
}

impl Refusal {
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::VersionMismatch { .. } | Refusal::NothingToMatch => {
                StatusCode::PRECONDITION_FAILED
            }
            Refusal::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            Refusal::ConcurrencyConflict => StatusCode::CONFLICT,
            Refusal::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::Domain(e) => match e {
                DomainError::ProductNotFound { .. } | DomainError::OrderNotFound { .. } => {
                    StatusCode::NOT_FOUND
                }
                DomainError::ProductExists { .. }
                | DomainError::OrderExists { .. }
                | DomainError::AdjustmentBelowReserved { .. }
                | DomainError::AlreadyDiscontinued { .. }
                | DomainError::OrderNotCancellable { .. }
                | DomainError::OrderNotReady { .. }
                | DomainError::OrderCancelled { .. }
                | DomainError::OrderAlreadyShipped { .. } => StatusCode::CONFLICT,
                DomainError::UnknownProduct { .. }
                | DomainError::ProductDiscontinued { .. }
                | DomainError::CurrencyMismatch { .. }
                | DomainError::InsufficientStock { .. }
                | DomainError::StockOverflow { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            },
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Refusal::VersionMismatch { .. } | Refusal::NothingToMatch => "version_mismatch",
            Refusal::IdempotencyKeyReused => "idempotency_key_reused",
            Refusal::ConcurrencyConflict => "concurrency_conflict",
            Refusal::Unavailable(_) => "service_unavailable",
            Refusal::Domain(e) => e.code(),
        }
    }

    /// The problem document. Its members beyond RFC 9457's are the details a client needs
    /// to act on the refusal.
    pub(crate) fn problem(&self) -> Problem {
        let detail = match self {
            // The cause of an outage stays in the logs.
            Refusal::Unavailable(_) => {
                "the service cannot take commands right now; retry later".to_owned()
            }
            other => other.to_string(),
        };
        let mut problem = Problem::new(self.status(), self.code(), detail);
        match self {
            Refusal::VersionMismatch { expected, current } => {
                problem.expected_version = Some(*expected);
                problem.current_version = Some(*current);
            }
            Refusal::Domain(DomainError::InsufficientStock { lines }) => {
                problem.lines = Some(
                    lines
                        .iter()
                        .map(|l| Shortage {
                            sku: l.sku.clone(),
                            requested: l.requested,
                            available: l.available,
                        })
                        .collect(),
                );
            }
            Refusal::Domain(
                DomainError::UnknownProduct { skus } | DomainError::ProductDiscontinued { skus },
            ) => problem.skus = Some(skus.clone()),
            Refusal::Domain(DomainError::CurrencyMismatch { currencies }) => {
                problem.currencies = Some(currencies.clone());
            }
            _ => {}
        }
        problem
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_problem_carries_only_the_members_of_its_code() {
        let short = Refusal::Domain(DomainError::InsufficientStock {
            lines: vec![stockflow_domain::Shortage {
                sku: "A-1".into(),
                requested: 5,
                available: 2,
            }],
        });
        assert_eq!(
            short.problem().to_json(),
            r#"{"type":"urn:stockflow:problem:insufficient_stock","title":"Unprocessable Entity","status":422,"detail":"not enough stock for 1 line(s)","code":"insufficient_stock","lines":[{"sku":"A-1","requested":5,"available":2}]}"#
        );
        let outage = Refusal::Unavailable("connection refused by 10.0.0.7".into()).problem();
        assert!(
            !outage.to_json().contains("10.0.0.7"),
            "an internal cause reached the client"
        );
        let stale = Refusal::VersionMismatch {
            expected: 3,
            current: 4,
        }
        .problem();
        assert_eq!(
            (stale.status, stale.expected_version, stale.current_version),
            (412, Some(3), Some(4))
        );
    }
}
