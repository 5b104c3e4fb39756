//! Catching up from stockflow's event feed: the replenishment requests this notifier has not
//! handled yet, read page by page from the query service (`GET /v1/events`, scope
//! `events:read`), filtered to the one routing key it needs.

use serde::Deserialize;

use crate::{Error, ROUTING_KEY, Replenishment, message};

/// Where the feed is, and the token that opens it.
#[derive(Debug, Clone)]
pub struct Feed {
    /// The query service's base URL, e.g. `http://127.0.0.1:8082`.
    pub url: String,
    /// A bearer token with the `events:read` scope.
    pub token: String,
}

/// A page of the feed: the events, the position to read on from, the store's head.
#[derive(Deserialize)]
struct Page {
    events: Vec<serde_json::Value>,
    next_after: i64,
    head: i64,
}

const PAGE: &str = "1000";

/// Reads every replenishment request after `after` up to the store's head, oldest first, and
/// hands each to `take`. Returns how many it read.
pub(crate) async fn catch_up(
    feed: &Feed,
    client: &reqwest::Client,
    mut after: i64,
    mut take: impl FnMut(Result<Replenishment, String>) -> Result<(), Error>,
) -> Result<u64, Error> {
    let url = format!("{}/v1/events", feed.url.trim_end_matches('/'));
    let mut read = 0;
    loop {
        let after_text = after.to_string();
        let page: Page = client
            .get(&url)
            .query(&[
                ("after", after_text.as_str()),
                ("type", ROUTING_KEY),
                ("limit", PAGE),
            ])
            .bearer_auth(&feed.token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        for event in page.events {
            read += 1;
            take(message::read_value(event))?;
        }
        // A filtered page may hold nothing and still move on; the head bounds the catch-up,
        // and what is committed after it arrives through the queue, bound before we began.
        if page.next_after >= page.head || page.next_after <= after {
            return Ok(read);
        }
        after = page.next_after;
    }
}
