//! What a replay is asked to publish, checked against the event contract and the store: the
//! routing keys its `types` name, and its range of positions. Pure functions.

/// The routing keys a replay publishes, from the `types` of its request. Each entry is a
/// routing key (`order.placed`) or every key of one aggregate (`order.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeFilter {
    /// The entries as asked for, each once: what a resuming replay asks for again.
    pub named: Vec<String>,
    /// The routing keys they name, each once.
    pub keys: Vec<String>,
}

impl TypeFilter {
    /// The filter `types` describes, or the entries that name no event.
    pub fn parse(types: &[String]) -> Result<TypeFilter, Vec<String>> {
        let mut filter = TypeFilter {
            named: Vec::new(),
            keys: Vec::new(),
        };
        let mut unknown = Vec::new();
        for wanted in types {
            let named = stockflow_events::routing_keys(wanted);
            if named.is_empty() {
                unknown.push(wanted.clone());
            }
            if !filter.named.contains(wanted) {
                filter.named.push(wanted.clone());
            }
            for key in named {
                if !filter.keys.contains(&key) {
                    filter.keys.push(key);
                }
            }
        }
        if unknown.is_empty() {
            Ok(filter)
        } else {
            Err(unknown)
        }
    }
}

/// The positions a replay covers: those after `after`, up to and including `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub after: i64,
    pub to: i64,
}

/// Why a range cannot be replayed from a store whose head is given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("`after` ({after}) is past the store's head ({head})")]
pub struct PastHead {
    pub after: i64,
    pub head: i64,
}

impl Range {
    /// The range asked for (`to` defaults to the head), against a store whose head is
    /// `head`. A `to` past the head is cut down to it: the events after it are not stored
    /// yet, and will reach the queue live. `after` must not be past the head.
    pub fn resolve(after: i64, to: Option<i64>, head: i64) -> Result<Range, PastHead> {
        if after > head {
            return Err(PastHead { after, head });
        }
        let to = to.unwrap_or(head).min(head);
        Ok(Range { after, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn a_routing_key_names_itself_and_a_wildcard_its_aggregate() {
        let filter = TypeFilter::parse(&strings(&["order.placed", "order.*", "order.placed"]))
            .expect("known types");
        assert_eq!(filter.named, strings(&["order.placed", "order.*"]));
        assert_eq!(
            filter.keys,
            strings(&[
                "order.placed",
                "order.line_filled",
                "order.ready",
                "order.cancelled",
                "order.shipped",
            ])
        );
        let product = TypeFilter::parse(&strings(&["product.*"])).expect("known");
        assert!(product.keys.iter().all(|k| k.starts_with("product.")));
        assert!(
            product
                .keys
                .contains(&"product.replenishment_requested".to_owned())
        );
    }

    #[test]
    fn entries_that_name_no_event_are_all_reported() {
        assert_eq!(
            TypeFilter::parse(&strings(&[
                "order.placed",
                "order.nope",
                "invoice.*",
                "*",
                ""
            ])),
            Err(strings(&["order.nope", "invoice.*", "*", ""]))
        );
        // A wildcard stands for the event name only.
        assert!(TypeFilter::parse(&strings(&["order.pl*"])).is_err());
    }

    #[test]
    fn a_range_ends_at_the_head_at_most() {
        assert_eq!(Range::resolve(0, None, 40), Ok(Range { after: 0, to: 40 }));
        assert_eq!(
            Range::resolve(5, Some(20), 40),
            Ok(Range { after: 5, to: 20 })
        );
        assert_eq!(
            Range::resolve(5, Some(90), 40),
            Ok(Range { after: 5, to: 40 })
        );
        assert_eq!(
            Range::resolve(40, None, 40),
            Ok(Range { after: 40, to: 40 })
        );
        assert_eq!(
            Range::resolve(41, None, 40),
            Err(PastHead {
                after: 41,
                head: 40
            })
        );
    }
}
