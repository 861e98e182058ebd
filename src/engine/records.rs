//! How the engine keeps engagements, pages and delivery attempts in the store. Ids are ARNs
//! (attempts: derived from page, stage, channel and attempt number), so every lookup is a
//! primary-key read.

use super::error::Result;
use crate::storage::{Record, Tx};
use serde::{Deserialize, Serialize};

pub const ENGAGEMENT: &str = "engagement";
/// Present while an engagement has not been stopped; counted for the open-engagements gauge.
pub const OPEN_ENGAGEMENT: &str = "engagement-open";
pub const PAGE: &str = "page";
/// Page ARN under its contact (the record's parent), for ListPagesByContact.
pub const CONTACT_PAGE: &str = "contact-page";
pub const ATTEMPT: &str = "delivery-attempt";

/// Indexes that inbound webhooks read before they know the account: they live under this
/// pseudo-account. `SENT_TO`: what was sent to a phone number or (lower-cased) email address
/// (parent = the address); `PROVIDER_MESSAGE`: a provider's message id → the attempt;
/// `REPLY_TOKEN`: a page's email reply token → the page.
pub const GLOBAL: &str = "*";
pub const SENT_TO: &str = "sent-to";
pub const PROVIDER_MESSAGE: &str = "provider-message";
pub const REPLY_TOKEN: &str = "reply-token";
/// A page's send held back by its channel's rate limit (parent = the channel ARN, id = the
/// attempt id): the channel's bundle timer sends every held page together when the window allows.
pub const HELD: &str = "held-send";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReplyTokenBody {
    pub account: String,
    pub page_arn: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SentToBody {
    pub account: String,
    pub attempt_id: String,
    pub channel_arn: String,
    pub page_arn: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProviderMessageBody {
    pub account: String,
    pub attempt_id: String,
    /// The other attempts that went out in the same (bundled) message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bundled: Vec<String>,
}

/// Timer kinds: the next escalation stage, the next stage of a contact's own plan, a send.
pub const T_STAGE: &str = "engagement-stage";
pub const T_PAGE_STAGE: &str = "page-stage";
pub const T_SEND: &str = "send";
/// The hourly sweep of the inbound indexes (`prune.rs`).
pub const T_PRUNE: &str = "prune";
/// Posting one incident update to the chat channels of one topic (`chat.rs`).
pub const T_CHAT: &str = "chat-update";
/// Sending the held pages of one rate-limited channel as one message (`bundle.rs`).
pub const T_BUNDLE: &str = "send-bundle";

/// Resource types named in errors.
pub const RT_ENGAGEMENT: &str = "ENGAGEMENT";
pub const RT_PAGE: &str = "PAGE";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Message {
    pub sender: String,
    pub subject: String,
    pub content: String,
    pub public_subject: Option<String>,
    pub public_content: Option<String>,
    pub incident_id: Option<String>,
    /// The incident's chat topics (its chatChannel's SNS topic ARNs): a page's first send and
    /// its acknowledgement are posted there.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chat_topics: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EscalationStage {
    pub duration_minutes: i32,
    /// (contact ARN, is essential)
    pub targets: Vec<(String, bool)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EngagementBody {
    pub region: String,
    pub contact_arn: String,
    pub contact_type: String,
    pub message: Message,
    pub start_ms: i64,
    pub stop_ms: Option<i64>,
    pub stop_reason: Option<String>,
    /// An essential contact acknowledged: no later escalation stage runs.
    pub escalation_stopped: bool,
    /// The escalation plan as it was when the engagement started.
    pub stages: Vec<EscalationStage>,
    /// Contacts that already have their page in this engagement (one page per contact).
    pub paged: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ChannelStage {
    pub duration_minutes: i32,
    /// (contact channel ARN, retry interval in minutes)
    pub targets: Vec<(String, i32)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum PageState {
    Open,
    Read,
    Stopped,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReceiptBody {
    pub channel_arn: Option<String>,
    pub receipt_type: String,
    pub info: Option<String>,
    pub time_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Resolution {
    pub contact_arn: String,
    pub contact_type: String,
    pub stage_index: Option<i32>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PageBody {
    pub engagement_arn: String,
    pub engagement_start_ms: i64,
    pub contact_arn: String,
    pub alias: String,
    pub region: String,
    pub message: Message,
    /// The accept code sent with every message of this page. Kept in clear because later
    /// stages and retries must repeat it; never returned by the API.
    pub code: String,
    pub essential: bool,
    pub state: PageState,
    /// The contact's own plan as it was when the page was created.
    pub stages: Vec<ChannelStage>,
    pub created_ms: i64,
    pub sent_ms: Option<i64>,
    pub delivery_ms: Option<i64>,
    pub read_ms: Option<i64>,
    pub receipts: Vec<ReceiptBody>,
    pub resolutions: Vec<Resolution>,
    /// Names the page in the Reply-To of its emails; unguessable.
    #[serde(default)]
    pub reply_token: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum AttemptState {
    Pending,
    Sending,
    Sent,
    Error,
    /// The page was acknowledged or stopped (or the channel deactivated) before the send.
    Cancelled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Purpose {
    Page,
    Activation,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttemptBody {
    pub state: AttemptState,
    pub purpose: Purpose,
    pub page_arn: Option<String>,
    pub engagement_arn: Option<String>,
    pub engagement_start_ms: Option<i64>,
    pub channel_arn: String,
    pub channel_type: String,
    pub address: String,
    pub stage: i32,
    pub attempt: i32,
    pub retry_minutes: i32,
    /// The code the message carries; an activation code is dropped once it has been sent.
    pub code: Option<String>,
    pub subject: String,
    pub text: String,
    /// An email's HTML part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
    pub created_ms: i64,
    /// How many times a send of this attempt was begun (more than one only after a crash).
    pub sends_begun: i32,
    pub sent_ms: Option<i64>,
    pub provider_id: Option<String>,
    pub error: Option<String>,
    #[serde(default)]
    pub reply_token: Option<String>,
    /// Temporary provider failures in a row (the send is tried again until the page closes).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub temp_failures: i32,
    /// Waiting in its channel's bundle (`HELD`) for the rate limit's window.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
}

fn is_zero(n: &i32) -> bool {
    *n == 0
}

/// Inserts a new record created at `now`.
pub async fn insert<T: Serialize>(
    tx: &mut dyn Tx,
    (kind, account, id): (&str, &str, &str),
    parent: Option<String>,
    sort: &str,
    body: &T,
    now: i64,
) -> Result<()> {
    tx.insert_new(&Record {
        kind: kind.into(),
        account: account.into(),
        id: id.into(),
        parent,
        sort: sort.into(),
        body: serde_json::to_string(body)?,
        created_ms: now,
        updated_ms: now,
    })
    .await?;
    Ok(())
}

/// Writes a changed body back to its record.
pub async fn save<T: Serialize>(
    tx: &mut dyn Tx,
    rec: &mut Record,
    body: &T,
    now: i64,
) -> Result<()> {
    rec.body = serde_json::to_string(body)?;
    rec.updated_ms = now;
    tx.update(rec).await?;
    Ok(())
}

/// The empty body of an index record: its id and parent are the whole point.
#[derive(Serialize)]
pub struct Index {}
