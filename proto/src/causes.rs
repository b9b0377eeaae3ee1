//! How a failure is told in logs and answers: the error with every cause under it. Client
//! libraries keep the useful part deep down (hyper says only "client error (Connect)", reqwest
//! "error sending request", tonic "transport error"; the refused connection or the unknown
//! certificate issuer is further down), so Vigil's binaries never print only the top.

/// `error` and its sources, outermost first, joined by `": "`.
pub fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // Some wrappers repeat their source's message in their own; say it once.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::causes;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn every_cause_is_told_once() {
        let error = Outer(std::io::Error::other("connection refused"));
        assert_eq!(causes(&error), "outer: connection refused");
        let plain = std::io::Error::other("alone");
        assert_eq!(causes(&plain), "alone");
    }
}
