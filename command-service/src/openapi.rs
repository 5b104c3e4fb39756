//! The OpenAPI 3.1 document of the command API. The routes bring their own operations (see
//! `http::router`); this module holds what the whole document shares (its description, the
//! bearer scheme, the headers and refusals every command has) and serves it at
//! `/openapi.json`, with Swagger UI (vendored, so no download) at `/docs`.
//! `command-service/openapi.json` is the committed copy; tests/api/openapi.rs keeps them equal.

use axum::Router;
use axum::http::header;
use axum::routing::get;
use utoipa::openapi::OpenApi;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, ObjectBuilder, Ref, RefOr, Required, ResponseBuilder, Type};
use utoipa::{Modify, OpenApi as _};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::http::error::PROBLEM_CONTENT_TYPE;
use crate::replies::{FieldError, OrderStatus, Problem};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "stockflow command API",
        description = "The write side of stockflow: commands that register and \
            restock products and place, cancel and ship orders. Every success carries the \
            target aggregate's `version` and the global `position` of the last event written, \
            a consistency token for the query API's `min_position`. Every refusal is an RFC 9457 \
            problem (`application/problem+json`) with a stable `code`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    components(schemas(Problem, FieldError, OrderStatus)),
    tags(
        (name = "products", description = "Product commands"),
        (name = "orders", description = "Order commands"),
        (name = "health", description = "Liveness and readiness, without a token"),
    ),
)]
struct ApiDoc;

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

/// The document's shared parts, before the routes add their operations.
pub(crate) fn base() -> OpenApi {
    ApiDoc::openapi()
}

/// The document as served and committed, from the routes' operations: pretty, in a stable
/// order.
pub(crate) fn document(mut api: OpenApi) -> String {
    CommonParts.modify(&mut api);
    let mut json = api
        .to_pretty_json()
        .expect("the OpenAPI document serializes");
    json.push('\n');
    json
}

/// `/openapi.json` and `/docs`, outside `/v1` and so open without a token.
pub(crate) fn router<S: Clone + Send + Sync + 'static>(document: String) -> Router<S> {
    Router::new()
        .route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], document) }),
        )
        .merge(SwaggerUi::new("/docs").config(Config::new(["/openapi.json"])))
}
