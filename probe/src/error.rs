//! The probe's one error type: what stops it (a bad configuration, a resource it cannot set up,
//! a key the control plane keeps refusing) and what fails one exchange with the control plane
//! or the engine (logged and retried). A failed check is not an error: it is an `Outcome`.

/// Why the probe, or one of its exchanges, failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProbeError {
    /// A `VIGIL_PROBE_*` setting is invalid.
    #[error("{0}")]
    Config(String),
    /// Something the probe needs could not be made (an HTTP client, TLS, a resolver, an ICMP
    /// socket, the metrics listener).
    #[error("{0}")]
    Setup(String),
    /// The control plane refused the probe's key.
    #[error(
        "the control plane refuses this probe's key ({status}): check VIGIL_PROBE_KEY (the key \
         shown when the probe was registered){}",
        if *.gave_up > 0 { format!("; refused {} times in a row, giving up", .gave_up) } else { String::new() }
    )]
    KeyRefused {
        /// The HTTP status of the refusal.
        status: u16,
        /// The refusals in a row after which the probe stops (0 while it keeps trying).
        gave_up: u32,
    },
    /// An assignment poll failed (network, timeout, an unexpected answer).
    #[error("{0}")]
    ControlPlane(String),
    /// Sending results to the ingest engine failed.
    #[error("{0}")]
    Engine(String),
}
