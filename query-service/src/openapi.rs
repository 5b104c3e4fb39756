//! The OpenAPI 3.1 document of the query API. The routes bring their own operations and the
//! schemas of the types they answer with (see `http::router`); this module holds what the
//! whole document shares (its description, the bearer scheme, the consistency wait and the
//! refusals every query has) and serves it at `/openapi.json`, with Swagger UI (vendored, so
//! no download) at `/docs`. `query-service/openapi.json` is the committed copy;
//! tests/api/openapi.rs keeps them equal.

use axum::Router;
use axum::http::header;
use axum::routing::get;
use utoipa::openapi::OpenApi;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::path::{Operation, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::AnyOf;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, ObjectBuilder, Ref, RefOr, Required, ResponseBuilder, Schema, Type,
};
use utoipa::{Modify, OpenApi as _};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::http::error::{PROBLEM_CONTENT_TYPE, Problem};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "stockflow query API",
        description = "The read side of stockflow: products, orders, customers, sales \
            and replenishments from the read models the projector keeps. Every answer carries \
            `X-Projection-Position`, the global position the read models reflect; \
            `min_position` (or `X-Min-Position`) waits for a position a command returned, so \
            a client reads its own writes. Every refusal is an RFC 9457 problem \
            (`application/problem+json`) with a stable `code`.",
        license(name = "MIT", identifier = "MIT"),
    ),
    components(schemas(Problem)),
    tags(
        (name = "products", description = "The catalogue and its stock"),
        (name = "orders", description = "Orders and their lines"),
        (name = "customers", description = "Customers' order counts and lifetime value"),
        (name = "analytics", description = "Sales over time or by sku"),
        (name = "replenishments", description = "Stock requested from suppliers"),
        (name = "projections", description = "How far the read models are behind"),
        (name = "health", description = "Liveness and readiness, without a token"),
    ),
)]
struct ApiDoc;

/// What every query shares, added to each operation so the annotations stay about what
/// differs: the bearer scheme, the consistency wait and the refusals any query can get.
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
                         `queries:read` (or `admin`).",
                    ))
                    .build(),
            ),
        );
        // An empty `rows` is either kind of row, so the two are `anyOf`, not serde's `oneOf`.
        if let Some(RefOr::T(Schema::OneOf(one_of))) = components.schemas.get_mut("SalesRows") {
            let mut any_of = AnyOf::new();
            any_of.items = std::mem::take(&mut one_of.items);
            any_of.description = one_of.description.take();
            components
                .schemas
                .insert("SalesRows".into(), RefOr::T(Schema::AnyOf(any_of)));
        }
        for (path, item) in openapi.paths.paths.iter_mut() {
            if let (true, Some(operation)) = (path.starts_with("/v1/"), item.get.as_mut()) {
                add_common(operation);
            }
        }
    }
}

fn integer() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Integer).format(Some(
        utoipa::openapi::SchemaFormat::KnownFormat(utoipa::openapi::KnownFormat::Int64),
    ))
}

fn add_common(operation: &mut Operation) {
    let parameters = operation.parameters.get_or_insert_with(Vec::new);
    parameters.push(
        ParameterBuilder::new()
            .name("min_position")
            .parameter_in(ParameterIn::Query)
            .required(Required::False)
            .description(Some(
                "Wait until the read models reach this global position (a command's \
                 `position`), up to 5 s by default; then 503 `projection_lagging`.",
            ))
            .schema(Some(integer().minimum(Some(0))))
            .build()
            .into(),
    );
    parameters.push(
        ParameterBuilder::new()
            .name("X-Min-Position")
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "The same as `min_position`; when both are given the larger is waited for.",
            ))
            .schema(Some(integer().minimum(Some(0))))
            .build()
            .into(),
    );

    let position_header = || {
        HeaderBuilder::new()
            .schema(Some(integer().minimum(Some(0))))
            .description(Some(
                "The global position the read models reflected when this was answered.",
            ))
            .build()
    };
    let retry_after = || {
        HeaderBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(Type::Integer)))
            .description(Some("Seconds to wait before retrying."))
            .build()
    };
    let problem = |description: &str| {
        ResponseBuilder::new().description(description).content(
            PROBLEM_CONTENT_TYPE,
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
    };
    let common = [
        (
            "400",
            problem(
                "`invalid_parameter`: a parameter (or `X-Min-Position`) is malformed, out of \
                 range, repeated or unknown; `parameter` names it",
            ),
        ),
        (
            "401",
            problem("`unauthorized`: no bearer token, or an invalid or expired one"),
        ),
        (
            "403",
            problem("`forbidden`: the token lacks the `queries:read` scope"),
        ),
        (
            "429",
            problem("`rate_limited`: too many requests with this token")
                .header("Retry-After", retry_after()),
        ),
        (
            "503",
            problem(
                "`projection_lagging` (the read models did not reach `min_position` in time), \
                 `service_unavailable` (the database is unreachable) or `request_timeout`",
            )
            .header("Retry-After", retry_after()),
        ),
    ];
    let responses = &mut operation.responses.responses;
    for (status, response) in common {
        responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(response.build()));
    }
    // The consistency layer stamps every answer of the query API, refusals included; the
    // auth and rate-limit refusals come before it.
    for (status, response) in responses.iter_mut() {
        if let (false, RefOr::T(response)) =
            (matches!(status.as_str(), "401" | "403" | "429"), response)
        {
            response
                .headers
                .insert("X-Projection-Position".into(), position_header().into());
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
