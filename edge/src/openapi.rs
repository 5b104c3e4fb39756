//! What the services' OpenAPI 3.1 documents share: the bearer scheme and its requirement on
//! every operation of the API (under `/v1/`), refusals as RFC 9457 problems, the refusals this
//! crate's guard makes itself, and serving the document at `/openapi.json`, with Swagger UI
//! (vendored, so no download) at `/docs`. Each service's document brings the rest: its
//! description, its operations, and what every one of its operations has in common.

use axum::Router;
use axum::http::header;
use axum::routing::get;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ContentBuilder, ObjectBuilder, OpenApi, Ref, RefOr, Required, ResponseBuilder, Type,
};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::PROBLEM_CONTENT_TYPE;
use crate::auth::Scope;

/// The document as served and committed: each operation tagged with its area, and the bearer
/// scheme, granting `scope`, required by every operation of the API, which also gets the
/// guard's refusals and then whatever `common` adds; pretty, in a stable order.
pub fn document(api: OpenApi, scope: Scope, common: impl FnMut(&str, &mut Operation)) -> String {
    document_by_path(api, move |_| scope, common)
}

/// [`document`], with the scope each path's operations require chosen by the path: for a
/// service guarded with `crate::protect_by_path`.
pub fn document_by_path(
    mut api: OpenApi,
    scope_of: impl Fn(&str) -> Scope,
    mut common: impl FnMut(&str, &mut Operation),
) -> String {
    let mut scopes: Vec<&str> = Vec::new();
    for path in api.paths.paths.keys().filter(|p| p.starts_with("/v1/")) {
        let scope = scope_of(path.as_str()).as_str();
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    let granted = match scopes.as_slice() {
        [] => "`admin`".to_owned(),
        [one] if *one != Scope::Admin.as_str() => format!("`{one}` (or `admin`)"),
        several => format!(
            "the scope each operation names (`{}`); `admin` grants them all",
            several.join("`, `")
        ),
    };
    api.components
        .get_or_insert_with(Default::default)
        .add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(format!(
                        "An HS256 JWT whose space-separated `scope` claim grants {granted}."
                    )))
                    .build(),
            ),
        );
    for (path, item) in api.paths.paths.iter_mut() {
        let scope = scope_of(path.as_str());
        // An operation of the API is tagged with its area, `/v1/<area>/…`; outside `/v1` only
        // liveness and readiness are documented.
        let area = path
            .strip_prefix("/v1/")
            .map(|rest| rest.split('/').next().unwrap_or(rest));
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            operation
                .tags
                .get_or_insert_with(|| vec![area.unwrap_or("health").to_owned()]);
            if area.is_some() {
                operation.security =
                    Some(vec![SecurityRequirement::new("bearer", [scope.as_str()])]);
                add_missing(operation, guard_refusals(scope));
                common(path, operation);
            }
        }
    }
    let mut json = api
        .to_pretty_json()
        .expect("the OpenAPI document serializes");
    json.push('\n');
    json
}

/// A service's routes: those of its API `areas` (whose document starts as the service's
/// own), then `/healthz` and the service's `readiness`, and beside them the document they
/// make, finished by `document`.
pub fn routes<S: Clone + Send + Sync + 'static>(
    areas: OpenApiRouter<S>,
    readiness: OpenApiRouter<S>,
    document: impl FnOnce(OpenApi) -> String,
) -> Router<S> {
    let (routes, api) = areas
        .merge(crate::health::router())
        .merge(readiness)
        .split_for_parts();
    routes.merge(router(document(api)))
}

/// `/openapi.json` (this `document`) and `/docs`, outside `/v1` and so open without a token.
fn router<S: Clone + Send + Sync + 'static>(document: String) -> Router<S> {
    Router::new()
        .route(
            "/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], document) }),
        )
        .merge(SwaggerUi::new("/docs").config(Config::new(["/openapi.json"])))
}

/// A refusal: an RFC 9457 problem, as the document's `Problem` schema describes it.
pub fn problem(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        PROBLEM_CONTENT_TYPE,
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .build(),
    )
}

/// A response header: what it holds (`schema`) and says (`description`).
pub fn header(schema: ObjectBuilder, description: &str) -> Header {
    HeaderBuilder::new()
        .schema(Some(schema))
        .description(Some(description))
        .build()
}

/// The `Retry-After` of a refusal that says when to come back.
pub fn retry_after() -> Header {
    header(
        ObjectBuilder::new().schema_type(Type::Integer),
        "Seconds to wait before retrying.",
    )
}

/// A parameter a client may leave out: its `name`, where it goes, what it says and holds.
pub fn optional_parameter(
    name: &str,
    place: ParameterIn,
    description: &str,
    schema: ObjectBuilder,
) -> RefOr<Parameter> {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(place)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
        .into()
}

/// Adds each of `responses` that the operation does not document itself.
pub fn add_missing<'a>(
    operation: &mut Operation,
    responses: impl IntoIterator<Item = (&'a str, ResponseBuilder)>,
) {
    for (status, response) in responses {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::T(response.build()));
    }
}

/// What the guard (`crate::protect`) refuses before a request reaches the service: no token
/// or a bad one, one without `scope`, too many requests with one.
fn guard_refusals(scope: Scope) -> [(&'static str, ResponseBuilder); 3] {
    [
        (
            "401",
            problem("`unauthorized`: no bearer token, or an invalid or expired one"),
        ),
        (
            "403",
            problem(&format!(
                "`forbidden`: the token lacks the `{}` scope",
                scope.as_str()
            )),
        ),
        (
            "429",
            problem("`rate_limited`: too many requests with this token")
                .header("Retry-After", retry_after()),
        ),
    ]
}
