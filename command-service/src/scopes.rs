//! Which scope each part of the command API asks for: the operators' routes under
//! `/v1/admin/` ask for `admin`, every command for `commands:write` (docs/api.md). The guard
//! and the OpenAPI document both read it here.

use stockflow_edge::Scope;

/// The scope a request to `path` needs (an `admin` token opens every path).
pub fn required(path: &str) -> Scope {
    if path.starts_with("/v1/admin/") {
        Scope::Admin
    } else {
        Scope::CommandsWrite
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_operators_routes_ask_for_admin() {
        assert_eq!(required("/v1/admin/replays"), Scope::Admin);
        assert_eq!(required("/v1/admin/replays/x"), Scope::Admin);
        assert_eq!(required("/v1/orders"), Scope::CommandsWrite);
        assert_eq!(required("/v1/administrators"), Scope::CommandsWrite);
    }
}
