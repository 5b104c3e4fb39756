//! The OpenAPI 3.1 document of the command API, generated from the handlers' annotations and
//! served at `/openapi.json`, with Swagger UI (vendored, so no download) at `/docs`.
//! `command-service/openapi.json` is the committed copy; tests/api/openapi.rs keeps them equal.

use axum::Router;
use axum::http::header;
use axum::routing::get;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, RefOr, Required, ResponseBuilder, Type};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::http::{error::PROBLEM_CONTENT_TYPE, orders, products};
use crate::responses;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "stockflow command API",
        description = "The write side of stockflow (SPEC §3): commands that register and \
            restock products and place, cancel and ship orders. Every success carries the \
            target aggregate's `version` and the global `position` of the last event written, \
            a consistency token for the query API's `min_position`. Every refusal is an RFC 9457 \
            problem (`application/problem+json`) with a stable `code`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        products::register,
        products::receive,
        products::adjust,
        products::change_price,
        products::discontinue,
        orders::place,
        orders::cancel,
        orders::ship,
        healthz,
        readyz,
    ),
    components(schemas(Problem, FieldError, Shortage, responses::OrderStatus)),
    tags(
        (name = "products", description = "Product commands"),
        (name = "orders", description = "Order commands"),
        (name = "health", description = "Liveness and readiness, without a token"),
    ),
    modifiers(&CommonParts),
)]
struct ApiDoc;

/// An RFC 9457 problem. Members beyond `type, title, status, detail, code` appear with the
/// codes that carry them.
#[derive(ToSchema)]
#[allow(
    dead_code,
    reason = "documentation only: problems are rendered in http/error.rs"
)]
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
    #[schema(nullable = false)]
    errors: Option<Vec<FieldError>>,
    /// With `insufficient_stock`: the lines that lack stock.
    #[schema(nullable = false)]
    lines: Option<Vec<Shortage>>,
    /// With `unknown_product` and `product_discontinued`: the skus concerned.
    #[schema(nullable = false)]
    skus: Option<Vec<String>>,
    /// With `currency_mismatch`: the currencies the order's lines are priced in.
    #[schema(nullable = false)]
    currencies: Option<Vec<String>>,
    /// With `version_mismatch` (not with `If-Match: *`): the version given.
    #[schema(nullable = false)]
    expected_version: Option<i64>,
    /// With `version_mismatch` (not with `If-Match: *`): the aggregate's version.
    #[schema(nullable = false)]
    current_version: Option<i64>,
}

/// One broken field of a request.
#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct FieldError {
    /// The field's path in the body, like `lines[2].quantity`, or a header name.
    #[schema(example = "lines[0].quantity")]
    field: String,
    #[schema(example = "must be between 1 and 10000")]
    message: String,
}

/// A line that asks for more than its product has available.
#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct Shortage {
    sku: String,
    requested: i64,
    available: i64,
}

/// The body of `/healthz`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct Health {
    #[schema(inline)]
    status: HealthOk,
}

#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) enum HealthOk {
    #[schema(rename = "ok")]
    Ok,
}

#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) enum ReadyStatus {
    #[schema(rename = "ready")]
    Ready,
    #[schema(rename = "not_ready")]
    NotReady,
}

/// The body of `/readyz`.
#[derive(ToSchema)]
#[allow(dead_code, reason = "documentation only")]
pub(crate) struct Readiness {
    #[schema(inline)]
    status: ReadyStatus,
    /// `postgres`: `ok` or `unreachable`; `relay`: its `state` (`disabled`, `starting`,
    /// `active`, `standby`, `reconnecting`), `published_position` and, while reconnecting,
    /// `last_error`.
    #[schema(value_type = Object)]
    checks: (),
}

/// Liveness, for orchestrators.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "health",
    operation_id = "healthz",
    responses((status = 200, description = "The process serves HTTP", body = Health)),
)]
#[allow(
    dead_code,
    reason = "documentation only: the route is in http/health.rs"
)]
fn healthz() {}

/// Readiness, for orchestrators.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "health",
    operation_id = "readyz",
    responses(
        (status = 200, description = "PostgreSQL answers and the relay (if it runs here) reaches RabbitMQ", body = Readiness),
        (status = 503, description = "Not ready; `checks` says why", body = Readiness),
    ),
)]
#[allow(
    dead_code,
    reason = "documentation only: the route is in http/health.rs"
)]
fn readyz() {}

/// What every command shares, added to each operation so the annotations stay about what
/// differs: the bearer scheme, the command headers and the refusals any command can get.
struct CommonParts;

impl Modify for CommonParts {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An HS256 JWT whose space-separated `scope` claim grants \
                         `commands:write` (or `admin`).",
                    ))
                    .build(),
            ),
        );
        for item in openapi.paths.paths.values_mut() {
            if let Some(operation) = item.post.as_mut() {
                add_common(operation);
            }
        }
    }
}

fn string_header_schema() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn add_common(operation: &mut Operation) {
    // These commands take `{}` or no body at all.
    if matches!(
        operation.operation_id.as_deref(),
        Some("discontinue_product" | "cancel_order")
    ) && let Some(RefOr::T(body)) = operation.request_body.as_mut()
    {
        body.required = Some(Required::False);
    }
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    parameters.push(
        ParameterBuilder::new()
            .name("Idempotency-Key")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "1 to 128 visible ASCII characters. The first outcome (status and body) is \
                 kept at least 24 h; a retry with the same key and request gets it again with \
                 `Idempotent-Replayed: true`; the same key with another request gets 422 \
                 `idempotency_key_reused`.",
            ))
            .schema(Some(
                string_header_schema()
                    .min_length(Some(1))
                    .max_length(Some(128))
                    .pattern(Some("^[\\x21-\\x7E]{1,128}$")),
            ))
            .build()
            .into(),
    );
    parameters.push(
        ParameterBuilder::new()
            .name("If-Match")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "`\"N\"`: refuse with 412 `version_mismatch` unless the target aggregate is at \
                 version N. `*`: refuse unless it exists.",
            ))
            .schema(Some(
                string_header_schema()
                    .pattern(Some("^(\\*|\"[0-9]+\")$"))
                    .examples(["\"3\""]),
            ))
            .build()
            .into(),
    );

    let problem = |description: &str| {
        ResponseBuilder::new().description(description).content(
            PROBLEM_CONTENT_TYPE,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
    };
    let retry_after = || {
        HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
            .description(Some("Seconds to wait before retrying."))
            .build()
    };
    let responses = &mut operation.responses.responses;
    // The success is documented on the handler; it can be a replay.
    for (status, response) in responses.iter_mut() {
        if let (true, RefOr::T(response)) = (status.starts_with('2'), response) {
            response.headers.insert(
                "Idempotent-Replayed".into(),
                HeaderBuilder::new()
                    .schema(Some(string_header_schema().enum_values(Some(["true"]))))
                    .description(Some(
                        "`true` when this is the stored outcome of an earlier request with \
                         the same Idempotency-Key.",
                    ))
                    .build()
                    .into(),
            );
        }
    }
    let common = [
        (
            "400",
            problem(
                "`malformed_body`: not JSON, not an object, an unknown field or a wrong type; \
                 or `validation_failed`: a field (or the Idempotency-Key / If-Match header) \
                 breaks a rule, listed in `errors`",
            ),
        ),
        (
            "401",
            problem("`unauthorized`: no bearer token, or an invalid or expired one"),
        ),
        (
            "403",
            problem("`forbidden`: the token lacks the `commands:write` scope"),
        ),
        (
            "412",
            problem("`version_mismatch`: the aggregate is not at the If-Match version"),
        ),
        (
            "413",
            problem("`payload_too_large`: the body is over 64 KiB"),
        ),
        (
            "415",
            problem("`unsupported_media_type`: a non-empty body that is not `application/json`"),
        ),
        (
            "429",
            problem("`rate_limited`: too many requests with this token")
                .header("Retry-After", retry_after()),
        ),
        (
            "503",
            problem(
                "`service_unavailable` (the store cannot take commands) or `request_timeout` \
                 (the command may still take effect: retry with the same Idempotency-Key)",
            )
            .header("Retry-After", retry_after()),
        ),
    ];
    for (status, response) in common {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(response.build()));
    }
    // 409 `concurrency_conflict` can answer any command; add it to the 409 a handler
    // documents, or document it alone.
    match responses.get_mut("409") {
        Some(RefOr::T(conflict)) => {
            conflict.description = format!(
                "{}; or `concurrency_conflict`: concurrent writers kept winning, retry",
                conflict.description
            );
        }
        _ => {
            responses.insert(
                "409".to_owned(),
                RefOr::T(
                    problem("`concurrency_conflict`: concurrent writers kept winning, retry")
                        .build(),
                ),
            );
        }
    }
    // A reused Idempotency-Key is a 422 on every command.
    match responses.get_mut("422") {
        Some(RefOr::T(refused)) => {
            refused.description = format!("{}; or `idempotency_key_reused`", refused.description);
        }
        _ => {
            responses.insert(
                "422".to_owned(),
                RefOr::T(
                    problem("`idempotency_key_reused`: this key was used for another request")
                        .build(),
                ),
            );
        }
    }
}

/// The document as served and committed: pretty, in a stable order.
pub(crate) fn document() -> String {
    let mut json = ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serializes");
    json.push('\n');
    json
}

/// `/openapi.json` and `/docs`, outside `/v1` and so open without a token.
pub(crate) fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let document = document();
    Router::new()
        .route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], document) }),
        )
        .merge(SwaggerUi::new("/docs").config(Config::new(["/openapi.json"])))
}
