//! The query of a listing that pages with `limit` and an opaque `cursor` and takes nothing
//! else (the admin listings). What a cursor means is the listing's business; this checks the
//! query's shape and the limit, and names the parameter it refuses.

/// A listing's `limit` (checked) and `cursor` (as given, not yet understood).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    pub limit: i64,
    pub cursor: Option<String>,
}

/// A parameter refused, and why: a service answers it as 400 `invalid_parameter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidParameter {
    pub name: String,
    pub message: String,
}

impl InvalidParameter {
    fn new(name: impl Into<String>, message: impl Into<String>) -> InvalidParameter {
        InvalidParameter {
            name: name.into(),
            message: message.into(),
        }
    }
}

impl Paging {
    /// Reads `query`: a parameter other than these two, one given twice or empty, or a limit
    /// that is not an integer from 1 to `max_limit` (digits only) is refused, by name.
    pub fn parse(
        query: Option<&str>,
        default_limit: i64,
        max_limit: i64,
    ) -> Result<Paging, InvalidParameter> {
        let (mut limit, mut cursor) = (None, None);
        for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
            let slot = match name.as_ref() {
                "limit" => &mut limit,
                "cursor" => &mut cursor,
                _ => {
                    return Err(InvalidParameter::new(
                        name,
                        "is not a parameter of this endpoint; it takes limit, cursor",
                    ));
                }
            };
            if slot.is_some() {
                return Err(InvalidParameter::new(name, "is given more than once"));
            }
            if value.is_empty() {
                return Err(InvalidParameter::new(
                    name,
                    "must not be empty (leave it out instead)",
                ));
            }
            *slot = Some(value.into_owned());
        }
        let limit = match limit {
            None => default_limit,
            Some(raw) => Some(&raw)
                .filter(|raw| raw.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|raw| raw.parse::<i64>().ok())
                .filter(|n| (1..=max_limit).contains(n))
                .ok_or_else(|| {
                    InvalidParameter::new(
                        "limit",
                        format!("must be an integer from 1 to {max_limit}"),
                    )
                })?,
        };
        Ok(Paging { limit, cursor })
    }
}

/// What a listing says of a cursor it cannot read.
pub const BAD_CURSOR: &str =
    "is not a cursor of this listing; use a next_cursor it returned, unchanged";

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(query: &str) -> String {
        Paging::parse(Some(query), 50, 500).expect_err(query).name
    }

    #[test]
    fn a_limit_and_a_cursor_are_read_and_the_limit_defaults() {
        assert_eq!(
            Paging::parse(Some("limit=7&cursor=abc%3D"), 50, 500),
            Ok(Paging {
                limit: 7,
                cursor: Some("abc=".into())
            })
        );
        assert_eq!(
            Paging::parse(None, 50, 500),
            Ok(Paging {
                limit: 50,
                cursor: None
            })
        );
    }

    #[test]
    fn every_other_query_is_refused_naming_the_parameter() {
        for (query, name) in [
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("limit=+5", "limit"),
            ("limit=-1", "limit"),
            ("limit=%205", "limit"),
            ("limit=99999999999999999999", "limit"),
            ("limit=1&limit=2", "limit"),
            ("cursor=", "cursor"),
            ("cursor=a&cursor=b", "cursor"),
            ("page=2", "page"),
        ] {
            assert_eq!(refused(query), name, "{query}");
        }
    }
}
