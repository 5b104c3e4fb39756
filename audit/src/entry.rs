//! An entry of the audit log, before it is recorded: who acted, what they did to what, why,
//! and how it ended. The reason is the operator's and is checked; the subject and the target
//! come from tokens and paths, and are made safe to store rather than refused, since an
//! action must be recorded whatever they hold.

/// The longest reason taken, in characters.
pub const MAX_REASON_CHARS: usize = 500;
/// Subjects and target names are cut to this many characters: enough for any real one.
const MAX_NAME_CHARS: usize = 200;

/// One action, as it is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The `sub` of the token that acted.
    pub subject: String,
    /// `<thing>.<verb>`, like `replay.start`.
    pub action: &'static str,
    pub target: Target,
    pub reason: Option<Reason>,
    pub outcome: Outcome,
}

impl Entry {
    /// The subject as stored: control characters escaped, cut to a bounded length.
    pub(crate) fn stored_subject(&self) -> String {
        printable(&self.subject)
    }
}

/// Why an operator acted: at most 500 characters, no control characters (one line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason(String);

impl Reason {
    /// The reason given, checked; an empty one is no reason. The error says what is wrong.
    pub fn parse(reason: Option<String>) -> Result<Option<Reason>, String> {
        match reason {
            None => Ok(None),
            Some(reason) if reason.is_empty() => Ok(None),
            Some(reason) if reason.chars().count() > MAX_REASON_CHARS => {
                Err(format!("must be at most {MAX_REASON_CHARS} characters"))
            }
            Some(reason) if reason.chars().any(char::is_control) => {
                Err("must not contain control characters (one line)".into())
            }
            Some(reason) => Ok(Some(Reason(reason))),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What an action was aimed at: `<kind>:<name>`, like `queue:billing.events`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target(String);

impl Target {
    /// `name` may be anything a request carried (a path segment that names nothing): its
    /// control characters are escaped and it is cut to a bounded length.
    pub fn new(kind: &'static str, name: &str) -> Target {
        Target(format!("{kind}:{}", printable(name)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How an action ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Taken on, and going on in the background (a replay that started).
    Accepted,
    /// Carried out.
    Done,
    /// Refused, with the problem code the operator was answered.
    Refused(&'static str),
}

impl Outcome {
    pub fn as_text(&self) -> String {
        match self {
            Outcome::Accepted => "accepted".to_owned(),
            Outcome::Done => "done".to_owned(),
            Outcome::Refused(code) => format!("refused: {code}"),
        }
    }
}

/// `text` with its control characters escaped (`\u{0}`: PostgreSQL stores no NUL), cut to
/// [`MAX_NAME_CHARS`] characters with an ellipsis.
fn printable(text: &str) -> String {
    let mut out = String::new();
    for (count, c) in text.chars().enumerate() {
        if count == MAX_NAME_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_is_one_line_of_at_most_500_characters() {
        let longest = "é".repeat(MAX_REASON_CHARS);
        assert_eq!(
            Reason::parse(Some(longest.clone())).map(|r| r.map(|r| r.0)),
            Ok(Some(longest.clone()))
        );
        assert_eq!(Reason::parse(None), Ok(None));
        assert_eq!(Reason::parse(Some(String::new())), Ok(None));
        for bad in [format!("{longest}e"), "two\nlines".into(), "a\u{0}b".into()] {
            assert!(Reason::parse(Some(bad.clone())).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn targets_keep_printable_names_and_escape_the_rest() {
        assert_eq!(
            Target::new("queue", "billing.events").as_str(),
            "queue:billing.events"
        );
        assert_eq!(
            Target::new("replay", "a\u{0}b\nc").as_str(),
            "replay:a\\u{0}b\\u{a}c"
        );
        let long = Target::new("replay", &"x".repeat(1_000));
        assert_eq!(long.as_str().chars().count(), "replay:".len() + 200 + 1);
        assert!(long.as_str().ends_with('…'));
    }

    #[test]
    fn outcomes_read_as_recorded() {
        assert_eq!(Outcome::Accepted.as_text(), "accepted");
        assert_eq!(Outcome::Done.as_text(), "done");
        assert_eq!(
            Outcome::Refused("queue_not_found").as_text(),
            "refused: queue_not_found"
        );
    }
}
