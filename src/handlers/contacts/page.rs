//! Pages through the API: describe, list by contact or engagement, receipts, resolution path,
//! and AcceptPage (which acknowledges, and may stop the escalation).

use super::errors::{invalid, not_found};
use super::records::{CONTACT, RT_CONTACT};
use super::{ContactsService, page_size, resume_after};
use crate::engine::page::{Accept, accept as engine_accept};
use crate::engine::records::{CONTACT_PAGE, ENGAGEMENT, PAGE, PageBody, RT_ENGAGEMENT, RT_PAGE};
use crate::handlers::incidents::{ACK_EVENT, engagement_event};
use crate::handlers::paging::{decode_token, encode_token, page};
use crate::shapes::contacts::*;
use crate::shapes::{Context, Timestamp};
use crate::storage::{ListQuery, Reader, Record};
use serde_json::json;

async fn load(r: &mut dyn Reader, ctx: &Context, id: &str) -> Result<(Record, PageBody), Error> {
    let rec = r
        .get(PAGE, &ctx.account_id, id)
        .await?
        .ok_or_else(|| not_found(RT_PAGE, id))?;
    let body = serde_json::from_str(&rec.body)?;
    Ok((rec, body))
}

fn summary(arn: &str, p: &PageBody) -> Page {
    Page {
        page_arn: Some(arn.to_string()),
        engagement_arn: Some(p.engagement_arn.clone()),
        contact_arn: Some(p.contact_arn.clone()),
        sender: Some(p.message.sender.clone()),
        incident_id: p.message.incident_id.clone(),
        sent_time: p.sent_ms.map(Timestamp::from_millis),
        delivery_time: p.delivery_ms.map(Timestamp::from_millis),
        read_time: p.read_ms.map(Timestamp::from_millis),
    }
}

pub async fn describe(
    svc: &ContactsService,
    ctx: Context,
    input: DescribePageRequest,
) -> Result<DescribePageResult, Error> {
    let id = input.page_id.unwrap_or_default();
    let mut r = svc.store.read().await?;
    let (rec, p) = load(r.as_mut(), &ctx, &id).await?;
    Ok(DescribePageResult {
        page_arn: Some(rec.id),
        engagement_arn: Some(p.engagement_arn),
        contact_arn: Some(p.contact_arn),
        sender: Some(p.message.sender),
        subject: Some(p.message.subject),
        content: Some(p.message.content),
        public_subject: p.message.public_subject,
        public_content: p.message.public_content,
        incident_id: p.message.incident_id,
        sent_time: p.sent_ms.map(Timestamp::from_millis),
        delivery_time: p.delivery_ms.map(Timestamp::from_millis),
        read_time: p.read_ms.map(Timestamp::from_millis),
    })
}

pub async fn list_by_engagement(
    svc: &ContactsService,
    ctx: Context,
    input: ListPagesByEngagementRequest,
) -> Result<ListPagesByEngagementResult, Error> {
    let id = input.engagement_id.unwrap_or_default();
    let scope = format!("pages:{id}");
    let after = resume_after(&scope, input.next_token.as_deref())?;
    let mut r = svc.store.read().await?;
    if r.get(ENGAGEMENT, &ctx.account_id, &id).await?.is_none() {
        return Err(not_found(RT_ENGAGEMENT, &id));
    }
    let q = ListQuery {
        kind: PAGE.into(),
        account: ctx.account_id.clone(),
        parent: Some(id),
        after,
        ..Default::default()
    };
    let p = page(r.as_mut(), q, &scope, page_size(input.max_results), |rec| {
        let b: PageBody = serde_json::from_str(&rec.body).ok()?;
        Some(summary(&rec.id, &b))
    })
    .await?;
    Ok(ListPagesByEngagementResult {
        next_token: p.next,
        pages: Some(p.items),
    })
}

pub async fn list_by_contact(
    svc: &ContactsService,
    ctx: Context,
    input: ListPagesByContactRequest,
) -> Result<ListPagesByContactResult, Error> {
    let id = input.contact_id.unwrap_or_default();
    let scope = format!("contact-pages:{id}");
    let after = resume_after(&scope, input.next_token.as_deref())?;
    let mut r = svc.store.read().await?;
    if r.get(CONTACT, &ctx.account_id, &id).await?.is_none() {
        return Err(not_found(RT_CONTACT, &id));
    }
    let q = ListQuery {
        kind: CONTACT_PAGE.into(),
        account: ctx.account_id.clone(),
        parent: Some(id),
        after,
        ..Default::default()
    };
    let arns = page(r.as_mut(), q, &scope, page_size(input.max_results), |rec| {
        Some(rec.id.clone())
    })
    .await?;
    let mut pages = Vec::with_capacity(arns.items.len());
    for arn in &arns.items {
        if let Some(rec) = r.get(PAGE, &ctx.account_id, arn).await? {
            let b: PageBody = serde_json::from_str(&rec.body)?;
            pages.push(summary(arn, &b));
        }
    }
    Ok(ListPagesByContactResult {
        next_token: arns.next,
        pages: Some(pages),
    })
}

/// Receipts oldest first; the token is the position in the page's receipt list.
pub async fn receipts(
    svc: &ContactsService,
    ctx: Context,
    input: ListPageReceiptsRequest,
) -> Result<ListPageReceiptsResult, Error> {
    let id = input.page_id.unwrap_or_default();
    let scope = format!("receipts:{id}");
    let from = match input.next_token.as_deref().filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => decode_token(&scope, t)
            .and_then(|(pos, _)| pos.parse::<usize>().ok())
            .ok_or_else(|| invalid("NextToken", "is not a token this list returned"))?,
    };
    let mut r = svc.store.read().await?;
    let (_, p) = load(r.as_mut(), &ctx, &id).await?;
    let max = page_size(input.max_results);
    let items: Vec<Receipt> = p
        .receipts
        .iter()
        .skip(from)
        .take(max)
        .map(|x| Receipt {
            contact_channel_arn: x.channel_arn.clone(),
            receipt_type: Some(ReceiptType::parse(&x.receipt_type)),
            receipt_info: x.info.clone(),
            receipt_time: Some(Timestamp::from_millis(x.time_ms)),
        })
        .collect();
    let next = (from + max < p.receipts.len())
        .then(|| encode_token(&scope, &(from + max).to_string(), ""));
    Ok(ListPageReceiptsResult {
        next_token: next,
        receipts: Some(items),
    })
}

/// The path from the engaged contact to the paged one (ListPageResolutions has no limit key, so
/// the whole path comes in one response).
pub async fn resolutions(
    svc: &ContactsService,
    ctx: Context,
    input: ListPageResolutionsRequest,
) -> Result<ListPageResolutionsResult, Error> {
    let id = input.page_id.unwrap_or_default();
    let mut r = svc.store.read().await?;
    let (_, p) = load(r.as_mut(), &ctx, &id).await?;
    Ok(ListPageResolutionsResult {
        next_token: None,
        page_resolutions: Some(
            p.resolutions
                .iter()
                .map(|x| ResolutionContact {
                    contact_arn: Some(x.contact_arn.clone()),
                    r#type: Some(ContactType::parse(&x.contact_type)),
                    stage_index: x.stage_index,
                })
                .collect(),
        ),
    })
}

pub async fn accept(
    svc: &ContactsService,
    ctx: Context,
    input: AcceptPageRequest,
) -> Result<AcceptPageResult, Error> {
    let id = input.page_id.clone().unwrap_or_default();
    let now = svc.clock.now_ms();
    let enforce = !matches!(
        input.accept_code_validation,
        Some(AcceptCodeValidation::Ignore)
    );
    let a = Accept {
        page_arn: &id,
        channel_arn: input.contact_channel_id.as_deref(),
        read: matches!(input.accept_type, Some(AcceptType::Read)),
        note: input.note.as_deref(),
        code: input.accept_code.as_deref().unwrap_or_default(),
        enforce,
    };
    let mut tx = svc.store.begin().await?;
    let done = engine_accept(tx.as_mut(), &ctx.account_id, a, now).await?;
    if done.acknowledged {
        let data = json!({
            "contactArn": done.page.contact_arn,
            "engagementArn": done.page.engagement_arn,
            "pageArn": id,
        });
        let incident = done.page.message.incident_id.as_deref();
        engagement_event::<Error>(tx.as_mut(), &ctx, incident, ACK_EVENT, data, now).await?;
    }
    tx.commit().await?;
    Ok(AcceptPageResult {})
}
