//! How an error reaches a log line: with the whole chain of its sources, once. The runtime's
//! errors keep their cause as `#[source]` (see the error policies of [`crate::handler`] and
//! [`crate::http::problem`]); this is where the chain is written out.

use std::error::Error as StdError;

/// Any error, kept with its chain of sources.
pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// `err` and every source under it, `: `-separated, for a log line. A source whose text its
/// error already quotes (`"…failed: {0}"`) is not repeated.
pub fn error_chain(err: &(dyn StdError + 'static)) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(source) = next {
        let text = source.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = source.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer: {0}")]
    struct Quoting(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Wrapping(#[source] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("inner")]
    struct Inner(#[source] std::io::Error);

    #[test]
    fn the_chain_names_every_source_once() {
        let io = || std::io::Error::other("disk full");
        assert_eq!(error_chain(&Wrapping(Inner(io()))), "outer: inner: disk full");
        assert_eq!(error_chain(&Quoting(Inner(io()))), "outer: inner: disk full");
    }
}
