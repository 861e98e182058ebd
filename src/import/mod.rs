//! `klaxon import`: brings a team's set-up from AWS Incident Manager or Opsgenie into a Klaxon
//! in one command, safely and repeatably.
//!
//! Everything is written through the target Klaxon's own API with the AWS SDK clients: the
//! running server's when one listens on the configured address, otherwise an in-process
//! server's started on the same configuration for the run. So the server's read cache, its
//! validation and its idempotency rules apply exactly as for any other caller, and a running
//! server sees the import at once. The one step outside the AWS API is carrying over a
//! channel's activation, done through the operator route (`crate::operator`).
//!
//! Resources are matched by alias (contacts), name (channels within a contact, rotations,
//! response plans) or value (overrides), so a second run creates nothing and a third carries
//! over what changed at the source.

pub mod arn;
pub mod aws;
pub mod opsgenie;
pub mod opsgenie_api;
pub mod source;
pub mod target;

use std::collections::BTreeMap;
use std::io::IsTerminal;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("source: {0}")]
    Source(String),
    #[error("target: {0}")]
    Target(String),
    #[error("configuration: {0}")]
    Config(String),
}

/// An SDK error with the service's own message, not just "service error".
pub fn sdk_message<E, R>(e: &aws_sdk_ssmcontacts::error::SdkError<E, R>) -> String
where
    E: std::error::Error + aws_sdk_ssmcontacts::error::ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    match e.as_service_error() {
        Some(s) => format!(
            "{}: {}",
            s.code().unwrap_or("error"),
            s.message().unwrap_or_default()
        ),
        None => format!("{}", aws_sdk_ssmcontacts::error::DisplayErrorContext(e)),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Kind {
    ReplicationSet,
    Contact,
    Channel,
    Rotation,
    Override,
    ResponsePlan,
}

impl Kind {
    pub fn label(self) -> &'static str {
        match self {
            Kind::ReplicationSet => "replication-set",
            Kind::Contact => "contact",
            Kind::Channel => "contact-channel",
            Kind::Rotation => "rotation",
            Kind::Override => "rotation-override",
            Kind::ResponsePlan => "response-plan",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
    Skipped(String),
    Failed(String),
}

impl Outcome {
    fn column(&self) -> usize {
        match self {
            Outcome::Created => 0,
            Outcome::Updated => 1,
            Outcome::Unchanged => 2,
            Outcome::Skipped(_) => 3,
            Outcome::Failed(_) => 4,
        }
    }
}

/// What a run did, kind by kind; also prints a line per resource that needs the operator's
/// eye (and, in a dry run, every change it would make) and a progress line per 100 resources.
pub struct Report {
    counts: BTreeMap<Kind, [usize; 5]>,
    pub dry_run: bool,
    seen: usize,
    tty: bool,
}

impl Report {
    pub fn new(dry_run: bool) -> Report {
        Report {
            counts: BTreeMap::new(),
            dry_run,
            seen: 0,
            tty: std::io::stderr().is_terminal(),
        }
    }

    pub fn record(&mut self, kind: Kind, name: &str, outcome: Outcome) {
        self.counts.entry(kind).or_default()[outcome.column()] += 1;
        let verb = if self.dry_run { "would " } else { "" };
        match &outcome {
            Outcome::Created if self.dry_run => println!("would create {} {name}", kind.label()),
            Outcome::Updated if self.dry_run => println!("would update {} {name}", kind.label()),
            Outcome::Skipped(why) => println!("{verb}skip {} {name}: {why}", kind.label()),
            Outcome::Failed(why) => println!("FAILED {} {name}: {why}", kind.label()),
            _ => {}
        }
        self.seen += 1;
        if self.seen.is_multiple_of(100) {
            if self.tty {
                eprint!("\r{} resources…", self.seen);
            } else {
                eprintln!("{} resources…", self.seen);
            }
        }
    }

    /// Something brought across only in part (a delay clamped, a recipient left out): a line
    /// for the operator, not a resource of its own.
    pub fn note(&self, kind: Kind, name: &str, what: &str) {
        println!("note {} {name}: {what}", kind.label());
    }

    /// How many resources of `kind` ended in `outcome`'s column.
    pub fn count(&self, kind: Kind, outcome: &Outcome) -> usize {
        self.counts.get(&kind).map_or(0, |c| c[outcome.column()])
    }

    pub fn failed(&self) -> usize {
        self.counts.values().map(|c| c[4]).sum()
    }

    pub fn changed(&self) -> usize {
        self.counts.values().map(|c| c[0] + c[1]).sum()
    }

    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<18} {:>8} {:>8} {:>10} {:>8} {:>7}\n",
            "kind", "created", "updated", "unchanged", "skipped", "failed"
        );
        for (k, c) in &self.counts {
            out.push_str(&format!(
                "{:<18} {:>8} {:>8} {:>10} {:>8} {:>7}\n",
                k.label(),
                c[0],
                c[1],
                c[2],
                c[3],
                c[4]
            ));
        }
        if self.dry_run {
            out.push_str("(dry run: nothing was changed)\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_counts_each_kind_by_outcome() {
        let mut r = Report::new(false);
        r.record(Kind::Contact, "a", Outcome::Created);
        r.record(Kind::Contact, "b", Outcome::Unchanged);
        r.record(Kind::Channel, "a/sms", Outcome::Failed("bad".into()));
        assert_eq!(r.failed(), 1);
        assert_eq!(r.changed(), 1);
        assert_eq!(r.count(Kind::Contact, &Outcome::Unchanged), 1);
        let t = r.table();
        assert!(
            t.contains("contact                   1        0          1        0       0"),
            "{t}"
        );
    }
}
