//! Test-only fault injection: make file downloads fail the ways real networks and servers do.
//!
//! A [`Fault`] applies to the next `times` GETs of file content (on the Hub or the CDN)
//! whose path contains `path_contains`. Faults exist only in the state tests build; `hf
//! serve` never injects any.

use std::time::Duration;

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this status (and `Retry-After` seconds, for 429/503).
    Status {
        /// HTTP status.
        status: u16,
        /// `Retry-After` header value in seconds.
        retry_after: Option<u64>,
    },
    /// Send this many bytes of the body, then reset the connection.
    CutAfter(u64),
    /// Send this many bytes, then send nothing for `pause`, then the rest.
    Stall {
        /// Bytes before the pause.
        after: u64,
        /// How long to pause.
        pause: Duration,
    },
    /// Send bytes that differ from the file (same length).
    WrongBytes,
    /// Ignore `Range` and send the whole file with 200.
    IgnoreRange,
}

/// A fault and where it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// What goes wrong.
    pub kind: FaultKind,
    /// Only requests whose path contains this (all when `None`).
    pub path_contains: Option<String>,
    /// How many requests it applies to.
    pub times: u32,
}

impl Fault {
    /// A fault for the next `times` content requests.
    pub fn new(kind: FaultKind, times: u32) -> Self {
        Self { kind, path_contains: None, times }
    }

    /// Restricts the fault to paths containing `fragment`.
    #[must_use]
    pub fn on(mut self, fragment: &str) -> Self {
        self.path_contains = Some(fragment.to_owned());
        self
    }
}

/// Takes the fault that applies to a request for `path`, if any, counting it down.
pub(crate) fn take(faults: &mut Vec<Fault>, path: &str) -> Option<FaultKind> {
    let index =
        faults.iter().position(|f| f.times > 0 && f.path_contains.as_deref().is_none_or(|p| path.contains(p)))?;
    let fault = &mut faults[index];
    fault.times -= 1;
    let kind = fault.kind.clone();
    if fault.times == 0 {
        faults.remove(index);
    }
    Some(kind)
}
