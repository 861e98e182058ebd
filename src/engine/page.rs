//! Pages: one per engaged personal contact, each with its own accept code, sent to the
//! contact's activated channels stage by stage until it is acknowledged or stopped.

use super::error::{EngineError, Result};
use super::message::{page_html, page_subject, page_text};
use super::outbox::{enqueue, page_attempt_id};
use super::records::*;
use crate::delivery::ChannelKind;
use crate::domain::arn::{contacts_arn, creation_sort_key, new_id};
use crate::domain::clock::Durations;
use crate::domain::codes::new_code;
use crate::handlers::contacts::records::{CHANNEL, ChannelBody, ContactBody};
use crate::storage::{Record, Timer, Tx};
use subtle::ConstantTimeEq;

/// Who a page is for and how the engagement reached them.
pub struct Target<'a> {
    pub contact_arn: &'a str,
    pub contact: &'a ContactBody,
    pub essential: bool,
    pub resolutions: Vec<Resolution>,
}

/// The contact's own plan as channel stages.
fn channel_stages(contact: &ContactBody) -> Vec<ChannelStage> {
    contact
        .plan
        .stages
        .iter()
        .flatten()
        .map(|s| ChannelStage {
            duration_minutes: s.duration_in_minutes.unwrap_or(0),
            targets: s
                .targets
                .iter()
                .flatten()
                .filter_map(|t| t.channel_target_info.as_ref())
                .filter_map(|c| {
                    Some((
                        c.contact_channel_id.clone()?,
                        c.retry_interval_in_minutes.unwrap_or(0),
                    ))
                })
                .collect(),
        })
        .collect()
}

/// Creates the page and runs stage 0 of the contact's plan at once.
pub async fn create(
    tx: &mut dyn Tx,
    account: &str,
    engagement_arn: &str,
    eng: &EngagementBody,
    target: Target<'_>,
    now: i64,
    d: Durations,
) -> Result<String> {
    let alias = target.contact.alias.clone();
    let arn = contacts_arn(
        &eng.region,
        account,
        "page",
        &format!("{alias}/{}", new_id()),
    );
    let mut page = PageBody {
        engagement_arn: engagement_arn.to_string(),
        engagement_start_ms: eng.start_ms,
        contact_arn: target.contact_arn.to_string(),
        alias,
        region: eng.region.clone(),
        message: eng.message.clone(),
        code: new_code(),
        essential: target.essential,
        state: PageState::Open,
        stages: channel_stages(target.contact),
        created_ms: now,
        sent_ms: None,
        delivery_ms: None,
        read_ms: None,
        receipts: Vec::new(),
        resolutions: target.resolutions,
        reply_token: Some(uuid::Uuid::new_v4().simple().to_string()),
    };
    run_stage(tx, account, &arn, &mut page, 0, now, d).await?;
    let sort = creation_sort_key(now);
    let parent = Some(engagement_arn.to_string());
    insert(tx, (PAGE, account, &arn), parent, &sort, &page, now).await?;
    let parent = Some(target.contact_arn.to_string());
    insert(
        tx,
        (CONTACT_PAGE, account, &arn),
        parent,
        &sort,
        &Index {},
        now,
    )
    .await?;
    if let Some(token) = &page.reply_token {
        let body = ReplyTokenBody {
            account: account.to_string(),
            page_arn: arn.clone(),
        };
        insert(tx, (REPLY_TOKEN, GLOBAL, token), None, &sort, &body, now).await?;
    }
    Ok(arn)
}

/// Queues a send to every activated channel of stage `idx` and schedules the next stage.
pub async fn run_stage(
    tx: &mut dyn Tx,
    account: &str,
    page_arn: &str,
    page: &mut PageBody,
    idx: usize,
    now: i64,
    d: Durations,
) -> Result<()> {
    if page.state != PageState::Open {
        return Ok(());
    }
    let Some(stage) = page.stages.get(idx).cloned() else {
        return Ok(());
    };
    for (channel_arn, retry) in &stage.targets {
        let Some(rec) = tx.get(CHANNEL, account, channel_arn).await? else {
            continue;
        };
        let channel: ChannelBody = serde_json::from_str(&rec.body)?;
        if !channel.activated || channel.contact_arn != page.contact_arn {
            continue;
        }
        let kind = ChannelKind::parse(&channel.channel_type).unwrap_or(ChannelKind::Email);
        let attempt = AttemptBody {
            state: AttemptState::Pending,
            purpose: Purpose::Page,
            page_arn: Some(page_arn.to_string()),
            engagement_arn: Some(page.engagement_arn.clone()),
            engagement_start_ms: Some(page.engagement_start_ms),
            channel_arn: channel_arn.clone(),
            channel_type: channel.channel_type.clone(),
            address: channel.address.clone(),
            stage: idx as i32,
            attempt: 1,
            retry_minutes: *retry,
            code: Some(page.code.clone()),
            subject: page_subject(kind, &page.message),
            text: page_text(kind, &page.message, &page.code, page_arn),
            html: page_html(kind, &page.message, &page.code, page_arn),
            created_ms: now,
            sends_begun: 0,
            sent_ms: None,
            provider_id: None,
            error: None,
            reply_token: page.reply_token.clone(),
            temp_failures: 0,
            held: false,
        };
        let id = page_attempt_id(page_arn, idx as i32, channel_arn, 1);
        enqueue(tx, account, &id, &attempt, now).await?;
    }
    if idx + 1 < page.stages.len() {
        let due = now + d.scaled_ms(stage.duration_minutes as i64 * 60);
        tx.schedule(&Timer::new(
            account,
            T_PAGE_STAGE,
            page_arn,
            idx as i64 + 1,
            due,
        ))
        .await?;
    }
    Ok(())
}

pub async fn load(tx: &mut dyn Tx, account: &str, arn: &str) -> Result<(Record, PageBody)> {
    let rec = tx
        .get(PAGE, account, arn)
        .await?
        .ok_or_else(|| EngineError::not_found(RT_PAGE, arn))?;
    let body = serde_json::from_str(&rec.body)?;
    Ok((rec, body))
}

pub async fn save(tx: &mut dyn Tx, rec: &mut Record, page: &PageBody, now: i64) -> Result<()> {
    super::records::save(tx, rec, page, now).await
}

pub struct Accept<'a> {
    pub page_arn: &'a str,
    pub channel_arn: Option<&'a str>,
    /// true for READ, false for DELIVERED.
    pub read: bool,
    pub note: Option<&'a str>,
    pub code: &'a str,
    /// AcceptCodeValidation ENFORCE (the default): the code must be the page's.
    pub enforce: bool,
}

/// What an acceptance changed, for the incident timeline.
pub struct Accepted {
    pub page: PageBody,
    /// This call moved the page to READ (the first acknowledgement).
    pub acknowledged: bool,
}

/// AcceptPage: checks the code, records the receipt and, on the first READ, stops paging this
/// contact; an essential contact's READ also stops the escalation. A wrong code changes nothing.
pub async fn accept(tx: &mut dyn Tx, account: &str, a: Accept<'_>, now: i64) -> Result<Accepted> {
    let (mut rec, mut page) = load(tx, account, a.page_arn).await?;
    if a.enforce && !bool::from(a.code.as_bytes().ct_eq(page.code.as_bytes())) {
        return Err(EngineError::invalid(
            "AcceptCode",
            "is not the code sent with this page",
        ));
    }
    if let Some(ch) = a.channel_arn {
        let owned = match tx.get(CHANNEL, account, ch).await? {
            Some(r) => {
                serde_json::from_str::<ChannelBody>(&r.body)?.contact_arn == page.contact_arn
            }
            None => false,
        };
        if !owned {
            return Err(EngineError::invalid(
                "ContactChannelId",
                "is not a channel of the paged contact",
            ));
        }
    }
    page.receipts.push(ReceiptBody {
        channel_arn: a.channel_arn.map(str::to_string),
        receipt_type: if a.read { "READ" } else { "DELIVERED" }.into(),
        info: a.note.map(str::to_string),
        time_ms: now,
    });
    page.delivery_ms.get_or_insert(now);
    let mut acknowledged = false;
    if a.read {
        page.read_ms.get_or_insert(now);
        if page.state == PageState::Open {
            page.state = PageState::Read;
            acknowledged = true;
        }
    }
    save(tx, &mut rec, &page, now).await?;
    if acknowledged && page.essential {
        super::engagement::stop_escalation(tx, account, &page.engagement_arn, now).await?;
    }
    Ok(Accepted { page, acknowledged })
}
