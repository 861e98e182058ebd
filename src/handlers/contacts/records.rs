//! How contacts resources are kept in the store: record kinds and the JSON bodies the
//! handlers own. Ids are the resources' ARNs, so an ARN lookup is a primary-key read.

use crate::shapes::contacts::{Plan, Tag};
use serde::{Deserialize, Serialize};

pub const CONTACT: &str = "contact";
pub const CHANNEL: &str = "contact-channel";
pub const POLICY: &str = "contact-policy";
pub const TAGS: &str = "tags";

/// Resource types named in ResourceNotFound / Conflict errors.
pub const RT_CONTACT: &str = "CONTACT";
pub const RT_CHANNEL: &str = "CONTACT_CHANNEL";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContactBody {
    pub alias: String,
    pub display_name: Option<String>,
    pub contact_type: String,
    pub plan: Plan,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Activation {
    /// Hash of the outstanding code, bound to the channel ARN.
    pub code_hash: Option<String>,
    pub expires_ms: i64,
    pub failed_attempts: u32,
    pub locked_until_ms: i64,
    /// When codes were sent, pruned to the rate-limit window.
    pub sent_ms: Vec<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChannelBody {
    pub contact_arn: String,
    pub name: String,
    pub channel_type: String,
    pub address: String,
    pub activated: bool,
    pub activation: Activation,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyBody {
    pub policy: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TagsBody {
    pub tags: Vec<Tag>,
}
