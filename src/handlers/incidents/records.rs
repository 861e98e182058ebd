//! How incidents resources are kept in the store: record kinds and the JSON bodies the
//! handlers own. Top-level resources are keyed by their ARN; children (timeline events,
//! related items, policies) name their owner as the record's parent.

use crate::shapes::incidents::{GetResponsePlanOutput, IncidentRecord, TimelineEvent};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const REPLICATION_SET: &str = "replication-set";
pub const RESPONSE_PLAN: &str = "response-plan";
pub const INCIDENT: &str = "incident-record";
/// An OPEN incident's dedupe string → its ARN, so a matching start finds it in one read.
pub const DEDUPE: &str = "incident-dedupe";
pub const EVENT: &str = "timeline-event";
pub const RELATED: &str = "related-item";
pub const POLICY: &str = "resource-policy";
pub const TAGS: &str = "incident-tags";

/// Everything Incident Manager keeps for an account; deleting the replication set removes it.
pub const ALL_KINDS: &[&str] = &[
    INCIDENT,
    DEDUPE,
    EVENT,
    RELATED,
    POLICY,
    TAGS,
    RESPONSE_PLAN,
    REPLICATION_SET,
];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RegionBody {
    pub sse_kms_key_id: Option<String>,
    /// CREATING, ACTIVE or DELETING as last written; pending states settle at `settles_at_ms`.
    pub status: String,
    pub changed_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplicationSetBody {
    pub regions: BTreeMap<String, RegionBody>,
    /// CREATING or UPDATING while a change is pending, else ACTIVE.
    pub status: String,
    pub settles_at_ms: i64,
    pub deletion_protected: bool,
    pub created_by: String,
    pub created_ms: i64,
    pub last_modified_by: String,
    pub last_modified_ms: i64,
}

pub type PlanBody = GetResponsePlanOutput;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IncidentBody {
    pub record: IncidentRecord,
    pub plan_arn: String,
    /// Whether the DEDUPE index points at this incident.
    pub dedupe_indexed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventBody {
    pub event: TimelineEvent,
    /// Written by Klaxon itself; only `Custom Event` and `Note` are the caller's to change.
    pub automatic: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DedupeBody {
    pub incident_arn: String,
}

pub type TagMap = BTreeMap<String, String>;
