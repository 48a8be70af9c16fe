//! One write of one resource: what it expects of the stored version, and what comes with
//! it (a sealed secret value, a watch event, the quotas it must stay within).

use super::{Quota, Record};

/// What a write expects of the stored resource: the optimistic-concurrency check, said in a
/// type instead of "version 0 means any".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    /// Write whatever the stored version is (the server's own status writes).
    Any,
    /// Write only while the stored version is still this one; otherwise `Conflict`.
    Version(i64),
}

impl Precondition {
    /// The precondition a request asks for with `metadata.resourceVersion`: proto3 cannot tell
    /// an unset 0 from a value, so 0 (unset) asks for none. Only the API edge should call this.
    pub fn from_resource_version(version: i64) -> Self {
        if version == 0 {
            Precondition::Any
        } else {
            Precondition::Version(version)
        }
    }
}

/// A write of one resource, built with named options:
/// `Write::new(&record).expecting(Precondition::Version(3)).sealed(Some(&value)).event(true)`.
#[derive(Debug, Clone)]
pub struct Write<'a> {
    /// The record to write (its `version` is ignored: see `precondition`).
    pub record: &'a Record,
    /// What an update expects of the stored version (creates ignore it).
    pub precondition: Precondition,
    /// The encrypted secret value to store beside it, if any.
    pub secret: Option<&'a [u8]>,
    /// Whether to record a watch event (workspaces).
    pub event: bool,
    /// The quotas the write must stay within, checked in its transaction: none, one, or
    /// both of a Workspace's (a build is created active, so it counts against both).
    pub quotas: [Option<Quota>; 2],
}

impl<'a> Write<'a> {
    /// A write of `record` at any version, with no secret value and no watch event.
    pub fn new(record: &'a Record) -> Self {
        Self {
            record,
            precondition: Precondition::Any,
            secret: None,
            event: false,
            quotas: [None, None],
        }
    }

    /// The same write, only while the stored resource meets `precondition`.
    pub fn expecting(self, precondition: Precondition) -> Self {
        Self {
            precondition,
            ..self
        }
    }

    /// The same write, storing the sealed secret value `secret` beside the resource.
    pub fn sealed(self, secret: Option<&'a [u8]>) -> Self {
        Self { secret, ..self }
    }

    /// The same write, recording a watch event when `event` (workspaces).
    pub fn event(self, event: bool) -> Self {
        Self { event, ..self }
    }

    /// The same write, refused with `QuotaExceeded` unless the owner stays within `quota`
    /// (as well as within a quota given before; a third replaces the second).
    pub fn within(mut self, quota: Quota) -> Self {
        match &mut self.quotas {
            [first @ None, _] => *first = Some(quota),
            [Some(_), second] => *second = Some(quota),
        }
        self
    }
}
