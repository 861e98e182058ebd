//! Related items of an incident. An item's `generatedId` is derived from its identifier
//! (type and value), so adding the same item twice is recognised and rejected.

use super::errors::{conflict, invalid, not_found};
use super::records::{INCIDENT, IncidentBody, RELATED};
use super::timeline::{UPDATED, automatic, update_data};
use super::{ClientToken, IncidentsService, list_page};
use crate::domain::arn::creation_sort_key;
use crate::shapes::Context;
use crate::shapes::incidents::*;
use crate::storage::{ListQuery, Record, StoreError, Tx};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

pub fn generated_id(identifier: &ItemIdentifier) -> String {
    let kind = identifier
        .r#type
        .as_ref()
        .map(|t| t.as_str())
        .unwrap_or("OTHER");
    let value = serde_json::to_string(&identifier.value).unwrap_or_default();
    let digest = Sha256::digest(format!("{kind}\n{value}").as_bytes());
    format!("related-item/{kind}/{}", hex::encode_upper(&digest[..16]))
}

fn record_id(incident: &str, generated: &str) -> String {
    format!("{incident}|{generated}")
}

/// Adds one item to an incident; an item with the same identifier is a conflict.
pub async fn add(
    tx: &mut dyn Tx,
    ctx: &Context,
    incident: &str,
    item: &RelatedItem,
    now: i64,
) -> Result<String, Error> {
    let identifier = item.identifier.clone().unwrap_or_default();
    let generated = generated_id(&identifier);
    let stored = RelatedItem {
        generated_id: Some(generated.clone()),
        identifier: Some(identifier),
        title: item.title.clone(),
    };
    let rec = Record {
        kind: RELATED.into(),
        account: ctx.account_id.clone(),
        id: record_id(incident, &generated),
        parent: Some(incident.to_string()),
        sort: creation_sort_key(now),
        body: serde_json::to_string(&stored)?,
        created_ms: now,
        updated_ms: now,
    };
    match tx.insert(&rec).await {
        Err(StoreError::Conflict) => Err(conflict(
            Some(ResourceType::IncidentRecord),
            incident,
            format!("the incident already has the related item {generated}"),
            None,
        )),
        other => Ok(other.map(|_| generated)?),
    }
}

/// Every item of `items` must be distinct; a repeated identifier is a validation error.
pub fn check_distinct(field: &str, items: &[RelatedItem]) -> Result<(), Error> {
    let mut seen = std::collections::BTreeSet::new();
    for (i, item) in items.iter().enumerate() {
        let id = generated_id(&item.identifier.clone().unwrap_or_default());
        if !seen.insert(id) {
            return Err(invalid(format!(
                "{field}[{i}]: the same related item appears twice"
            )));
        }
    }
    Ok(())
}

pub async fn update(
    svc: &IncidentsService,
    ctx: Context,
    input: UpdateRelatedItemsInput,
) -> Result<UpdateRelatedItemsOutput, Error> {
    let incident = input.incident_record_arn.clone().unwrap_or_default();
    let now = svc.clock.now_ms();
    let guard = ClientToken::new(
        &ctx,
        "UpdateRelatedItems",
        input.client_token.as_deref(),
        &input,
        now,
    );
    let mut tx = svc.store.begin().await?;
    if guard.replayed(tx.as_mut()).await?.is_some() {
        return Ok(UpdateRelatedItemsOutput {});
    }
    let rec = tx
        .get(INCIDENT, &ctx.account_id, &incident)
        .await?
        .ok_or_else(|| not_found(ResourceType::IncidentRecord, &incident))?;
    let title = serde_json::from_str::<IncidentBody>(&rec.body)?
        .record
        .title
        .unwrap_or_default();
    let update = input.related_items_update.clone().unwrap_or_default();
    let change: Value;
    if let Some(item) = &update.item_to_add {
        add(tx.as_mut(), &ctx, &incident, item, now).await?;
        change = json!({"itemToAdd": item});
    } else if let Some(identifier) = &update.item_to_remove {
        let generated = generated_id(identifier);
        if !tx
            .delete(RELATED, &ctx.account_id, &record_id(&incident, &generated))
            .await?
        {
            return Err(not_found(ResourceType::IncidentRecord, &generated));
        }
        change = json!({"itemToRemove": identifier});
    } else {
        return Err(invalid(
            "relatedItemsUpdate: exactly one member must be set",
        ));
    }
    let data = update_data(&ctx, &title, vec![("relatedItems", Value::Null, change)]);
    automatic::<Error>(tx.as_mut(), &ctx, &incident, UPDATED, data, now).await?;
    guard.remember(tx.as_mut(), "").await?;
    tx.commit().await?;
    Ok(UpdateRelatedItemsOutput {})
}

pub async fn list(
    svc: &IncidentsService,
    ctx: Context,
    input: ListRelatedItemsInput,
) -> Result<ListRelatedItemsOutput, Error> {
    let incident = input.incident_record_arn.unwrap_or_default();
    let scope = format!("related/{incident}");
    let q = ListQuery {
        kind: RELATED.into(),
        account: ctx.account_id.clone(),
        parent: Some(incident.clone()),
        ..Default::default()
    };
    let mut r = svc.store.read().await?;
    let p = list_page(
        r.as_mut(),
        q,
        &scope,
        input.next_token.as_deref(),
        input.max_results,
        |rec| serde_json::from_str::<RelatedItem>(&rec.body).ok(),
    )
    .await?;
    Ok(ListRelatedItemsOutput {
        next_token: p.next,
        related_items: Some(p.items),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_follow_the_model_pattern_and_the_identifier() {
        let id = |url: &str| {
            generated_id(&ItemIdentifier {
                r#type: Some(ItemType::Attachment),
                value: Some(ItemValue {
                    url: Some(url.into()),
                    ..Default::default()
                }),
            })
        };
        let a = id("https://a");
        let re = regex::Regex::new(
            PATTERNS
                .iter()
                .find(|p| p.contains("related-item"))
                .unwrap(),
        )
        .unwrap();
        assert!(re.is_match(&a), "{a}");
        assert_eq!(a, id("https://a"));
        assert_ne!(a, id("https://b"));
    }
}
