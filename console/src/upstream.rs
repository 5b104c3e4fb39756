//! The three services behind the console: their names, their base URLs, the HTTP client that
//! reaches them, and the URL of a forwarded request, which can only ever be under a service's
//! `v1/`.

use std::time::Duration;

use reqwest::Url;

/// Longest wait to connect to a service.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest wait for a whole answer: a little above the services' own request time limit
/// (REQUEST_TIMEOUT_MS, 10 s by default), so that theirs answers first.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// One of the services behind the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upstream {
    Commands,
    Queries,
    Projector,
}

impl Upstream {
    pub const ALL: [Upstream; 3] = [Upstream::Commands, Upstream::Queries, Upstream::Projector];

    /// The service named in `/api/{service}/…`.
    pub fn from_segment(segment: &str) -> Option<Upstream> {
        match segment {
            "commands" => Some(Upstream::Commands),
            "queries" => Some(Upstream::Queries),
            "projector" => Some(Upstream::Projector),
            _ => None,
        }
    }

    /// The service's own name, as the overview shows it.
    pub fn service_name(self) -> &'static str {
        match self {
            Upstream::Commands => "command-service",
            Upstream::Queries => "query-service",
            Upstream::Projector => "projector",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{name} is not an http(s) URL: {url}")]
pub struct BadUrl {
    pub name: &'static str,
    pub url: String,
}

/// The services' base URLs and the client that calls them.
#[derive(Debug, Clone)]
pub struct Upstreams {
    client: reqwest::Client,
    commands: Url,
    queries: Url,
    projector: Url,
    /// Where a service serves `/metrics` when not under its base URL (its `METRICS_ADDR`).
    metrics: [Option<Url>; 3],
}

impl Upstreams {
    pub fn new(commands: &str, queries: &str, projector: &str) -> Result<Upstreams, BadUrl> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            // A redirect would carry the operator's token wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client without TLS builds");
        Ok(Upstreams {
            client,
            commands: base_url("CONSOLE_COMMANDS_URL", commands)?,
            queries: base_url("CONSOLE_QUERIES_URL", queries)?,
            projector: base_url("CONSOLE_PROJECTOR_URL", projector)?,
            metrics: [None, None, None],
        })
    }

    /// Scrapes a service's metrics at `url` (its `METRICS_ADDR`) rather than under its base URL.
    pub fn with_metrics_url(
        mut self,
        upstream: Upstream,
        name: &'static str,
        url: Option<&str>,
    ) -> Result<Upstreams, BadUrl> {
        self.metrics[upstream as usize] = url.map(|url| base_url(name, url)).transpose()?;
        Ok(self)
    }

    /// The service's `/metrics`.
    pub fn metrics_url(&self, upstream: Upstream) -> Url {
        self.metrics[upstream as usize]
            .clone()
            .unwrap_or_else(|| self.endpoint(upstream, "metrics"))
    }

    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    pub fn base(&self, upstream: Upstream) -> &Url {
        match upstream {
            Upstream::Commands => &self.commands,
            Upstream::Queries => &self.queries,
            Upstream::Projector => &self.projector,
        }
    }

    /// `path` (with no leading slash) under the service's base URL, for its own endpoints
    /// (`/metrics`, `/readyz`).
    pub fn endpoint(&self, upstream: Upstream, path: &str) -> Url {
        let mut url = self.base(upstream).clone();
        let joined = format!("{}/{path}", url.path().trim_end_matches('/'));
        url.set_path(&joined);
        url
    }

    /// The URL a request for `path` (as sent, still percent-encoded, after `/api/{service}/`)
    /// with `query` is forwarded to; `None` unless it lands under the service's `v1/`.
    pub fn forward_url(&self, upstream: Upstream, path: &str, query: Option<&str>) -> Option<Url> {
        forward_url(self.base(upstream), path, query)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the answer is larger than {0} bytes")]
    TooLarge(usize),
    #[error(transparent)]
    Http(#[from] reqwest::Error),
}

/// A service's answer read whole, up to `limit` bytes.
pub async fn read_limited(
    mut answer: reqwest::Response,
    limit: usize,
) -> Result<Vec<u8>, ReadError> {
    let mut body = Vec::new();
    while let Some(chunk) = answer.chunk().await? {
        if body.len() + chunk.len() > limit {
            return Err(ReadError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn base_url(name: &'static str, url: &str) -> Result<Url, BadUrl> {
    let bad = || BadUrl {
        name,
        url: url.to_owned(),
    };
    let parsed = Url::parse(url).map_err(|_| bad())?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(bad());
    }
    Ok(parsed)
}

/// See [`Upstreams::forward_url`]. Dot segments (`..`, `%2e%2e`) and backslashes are refused
/// rather than resolved, and the URL is checked again once parsed: a path cannot climb out of
/// `v1/` to a service's other endpoints.
fn forward_url(base: &Url, path: &str, query: Option<&str>) -> Option<Url> {
    if !path.starts_with("v1/") || path.contains('\\') || path.to_ascii_lowercase().contains("%5c")
    {
        return None;
    }
    let dot = |segment: &str| {
        let segment = segment.to_ascii_lowercase().replace("%2e", ".");
        segment == "." || segment == ".."
    };
    if path.split('/').any(dot) {
        return None;
    }
    let root = format!("{}/", base.path().trim_end_matches('/'));
    let prefix = format!("{root}v1/");
    let mut url = base.clone();
    url.set_path(&format!("{root}{path}"));
    url.set_query(query.filter(|q| !q.is_empty()));
    url.set_fragment(None);
    let same_place = url.scheme() == base.scheme()
        && url.host() == base.host()
        && url.port_or_known_default() == base.port_or_known_default()
        && url.path().starts_with(&prefix);
    same_place.then_some(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(url: &str) -> Url {
        Url::parse(url).unwrap()
    }

    fn forwarded(base_url: &str, path: &str, query: Option<&str>) -> Option<String> {
        forward_url(&base(base_url), path, query).map(|u| u.to_string())
    }

    #[test]
    fn a_path_under_v1_is_forwarded_with_its_query() {
        assert_eq!(
            forwarded(
                "http://127.0.0.1:8083",
                "v1/admin/dead-letters",
                Some("limit=5&cursor=a%2Bb")
            )
            .as_deref(),
            Some("http://127.0.0.1:8083/v1/admin/dead-letters?limit=5&cursor=a%2Bb")
        );
        // A base URL with a path of its own (behind a reverse proxy) keeps it.
        assert_eq!(
            forwarded("http://gateway/projector/", "v1/admin/projections", None).as_deref(),
            Some("http://gateway/projector/v1/admin/projections")
        );
        // Percent-encoded characters stay as they were sent.
        assert_eq!(
            forwarded("http://h:1", "v1/products/A%2FB", Some("")).as_deref(),
            Some("http://h:1/v1/products/A%2FB")
        );
    }

    #[test]
    fn nothing_outside_v1_is_reachable() {
        for path in [
            "metrics",
            "readyz",
            "v2/x",
            "v1",
            "v1/../metrics",
            "v1/%2e%2E/metrics",
            "v1/.%2e/metrics",
            "v1/./admin",
            "v1/..",
            "v1\\..\\metrics",
            "v1/%5c..%5cmetrics",
        ] {
            assert_eq!(forwarded("http://h:1", path, None), None, "{path}");
        }
    }

    #[test]
    fn endpoints_are_under_the_base_path() {
        let upstreams =
            Upstreams::new("http://a:1", "http://b:2/q/", "http://c:3").expect("valid URLs");
        assert_eq!(
            upstreams.endpoint(Upstream::Queries, "metrics").as_str(),
            "http://b:2/q/metrics"
        );
        assert_eq!(
            upstreams.endpoint(Upstream::Commands, "readyz").as_str(),
            "http://a:1/readyz"
        );
    }

    #[test]
    fn base_urls_must_be_http() {
        assert!(Upstreams::new("ftp://a", "http://b", "http://c").is_err());
        assert!(Upstreams::new("http://a", "not a url", "http://c").is_err());
    }

    #[test]
    fn services_are_named_by_their_segment() {
        assert_eq!(
            Upstream::from_segment("projector"),
            Some(Upstream::Projector)
        );
        assert_eq!(Upstream::from_segment("Projector"), None);
        assert_eq!(Upstream::Commands.service_name(), "command-service");
    }
}
