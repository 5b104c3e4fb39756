//! Logging for every stockflow process: `RUST_LOG` filters, `LOG_FORMAT` picks JSON lines
//! (production) or pretty text, and URLs are logged without their passwords.

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Json,
    Pretty,
}

/// Installs the global subscriber once; later calls (tests starting many services) are no-ops.
pub fn init(format: LogFormat) {
    // sqlx reports PostgreSQL's NOTICEs ("relation already exists, skipping") at info.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx::postgres::notice=warn"));
    // Logs go to stderr, so that a command's own output on stdout stays machine-readable.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}

/// For tests: logs go through the test harness's capture, so they show only for failures.
pub fn init_test() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// The URL with any password replaced, fit for logs. A comma-separated list of URLs (the
/// several addresses `DATABASE_URL` and `AMQP_URL` may hold) is redacted address by address.
pub fn redact_url(url: &str) -> String {
    if url.contains(',') {
        let addresses: Vec<String> = url
            .split(',')
            .map(str::trim)
            .filter(|address| !address.is_empty())
            .map(redact_one)
            .collect();
        return addresses.join(",");
    }
    redact_one(url)
}

fn redact_one(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((credentials, host)) => match credentials.split_once(':') {
                Some((user, _password)) => format!("{scheme}://{user}:***@{host}"),
                None => url.to_owned(),
            },
            None => url.to_owned(),
        },
        None => "<invalid url>".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_never_reach_the_logs() {
        assert_eq!(
            super::redact_url("amqp://guest:secret@host:5672/%2f"),
            "amqp://guest:***@host:5672/%2f"
        );
        // No password, nothing to hide.
        assert_eq!(super::redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(super::redact_url("nonsense"), "<invalid url>");
    }

    #[test]
    fn every_address_of_a_list_loses_its_password() {
        assert_eq!(
            super::redact_url("amqp://u:one@h1:5701/%2f,amqp://u:two@h2:5702/%2f"),
            "amqp://u:***@h1:5701/%2f,amqp://u:***@h2:5702/%2f"
        );
        assert_eq!(
            super::redact_url("postgres://p@h1:5442/db, postgres://p:pw@h2:5443/db"),
            "postgres://p@h1:5442/db,postgres://p:***@h2:5443/db"
        );
    }
}
