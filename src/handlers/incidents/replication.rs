//! The replication set: one per account, the switch that turns Incident Manager on. Region
//! changes are pending for a settle time (scaled by --time-scale) and read back as
//! CREATING/UPDATING/DELETING until then, which is what the SDK waiters poll for.

use super::errors::{conflict, invalid, not_found};
use super::records::{ALL_KINDS, REPLICATION_SET, RegionBody, ReplicationSetBody};
use super::{ClientToken, IncidentsService, list_page, principal, save, tags};
use crate::domain::arn::{incidents_arn, new_id};
use crate::shapes::incidents::*;
use crate::shapes::{Context, Timestamp};
use crate::storage::{ListQuery, Reader, Record};

/// Nominal seconds a region change takes before it reads back as settled.
pub const SETTLE_SECS: i64 = 2;
pub const MAX_REGIONS: usize = 3;
const DEFAULT_KEY: &str = "DefaultKey";

const CREATING: &str = "CREATING";
const UPDATING: &str = "UPDATING";
const ACTIVE: &str = "ACTIVE";
const DELETING: &str = "DELETING";

/// The body as it stands at `now`: pending changes whose settle time has passed are applied.
pub fn settled(mut b: ReplicationSetBody, now: i64) -> ReplicationSetBody {
    if b.status == ACTIVE || now < b.settles_at_ms {
        return b;
    }
    let at = b.settles_at_ms;
    b.regions.retain(|_, r| r.status != DELETING);
    for r in b.regions.values_mut() {
        if r.status == CREATING {
            r.status = ACTIVE.into();
            r.changed_ms = at;
        }
    }
    b.status = ACTIVE.into();
    b
}

fn view(arn: &str, b: &ReplicationSetBody) -> ReplicationSet {
    let region_map = b
        .regions
        .iter()
        .map(|(name, r)| {
            // AWS names the AWS-owned key "DefaultKey"; Terraform's provider reads it back into state.
            let key = r.sse_kms_key_id.as_deref().unwrap_or(DEFAULT_KEY);
            let info = RegionInfo {
                sse_kms_key_id: Some(key.to_string()),
                status: Some(RegionStatus::parse(&r.status)),
                status_message: None,
                status_update_date_time: Some(Timestamp::from_millis(r.changed_ms)),
            };
            (name.clone(), info)
        })
        .collect();
    ReplicationSet {
        arn: Some(arn.to_string()),
        created_by: Some(b.created_by.clone()),
        created_time: Some(Timestamp::from_millis(b.created_ms)),
        deletion_protected: Some(b.deletion_protected),
        last_modified_by: Some(b.last_modified_by.clone()),
        last_modified_time: Some(Timestamp::from_millis(b.last_modified_ms)),
        region_map: Some(region_map),
        status: Some(ReplicationSetStatus::parse(&b.status)),
    }
}

/// The account's replication set record, if it has one.
pub async fn current(r: &mut dyn Reader, ctx: &Context) -> Result<Option<Record>, Error> {
    let q = ListQuery {
        kind: REPLICATION_SET.into(),
        account: ctx.account_id.clone(),
        limit: 1,
        ..Default::default()
    };
    Ok(r.list(&q).await?.into_iter().next())
}

/// Incident Manager features need a replication set that has finished creating.
pub async fn require_active(r: &mut dyn Reader, ctx: &Context, now: i64) -> Result<(), Error> {
    let Some(rec) = current(r, ctx).await? else {
        return Err(invalid(
            "Incident Manager is not set up in this account: create a replication set first",
        ));
    };
    let body = settled(serde_json::from_str(&rec.body)?, now);
    if body.status == CREATING {
        return Err(invalid(
            "the replication set is still being created; wait until its status is ACTIVE",
        ));
    }
    Ok(())
}

async fn load(
    r: &mut dyn Reader,
    ctx: &Context,
    arn: &str,
    now: i64,
) -> Result<(Record, ReplicationSetBody), Error> {
    let rec = r
        .get(REPLICATION_SET, &ctx.account_id, arn)
        .await?
        .ok_or_else(|| not_found(ResourceType::ReplicationSet, arn))?;
    let body = settled(serde_json::from_str(&rec.body)?, now);
    Ok((rec, body))
}

pub async fn create(
    svc: &IncidentsService,
    ctx: Context,
    input: CreateReplicationSetInput,
) -> Result<CreateReplicationSetOutput, Error> {
    let regions = input.regions.clone().unwrap_or_default();
    if regions.len() > MAX_REGIONS {
        return Err(invalid(format!(
            "regions: a replication set has at most {MAX_REGIONS} Regions"
        )));
    }
    let now = svc.clock.now_ms();
    let guard = ClientToken::new(
        &ctx,
        "CreateReplicationSet",
        input.client_token.as_deref(),
        &input,
        now,
    );
    let mut tx = svc.store.begin().await?;
    if let Some(arn) = guard.replayed(tx.as_mut()).await? {
        return Ok(CreateReplicationSetOutput { arn: Some(arn) });
    }
    if let Some(existing) = current(tx.as_mut(), &ctx).await? {
        return Err(conflict(
            Some(ResourceType::ReplicationSet),
            &existing.id,
            "this account already has a replication set",
            None,
        ));
    }
    let arn = incidents_arn(&ctx.account_id, "replication-set", &new_id());
    let who = principal(&ctx);
    let body = ReplicationSetBody {
        regions: regions
            .into_iter()
            .map(|(name, v)| {
                let region = RegionBody {
                    sse_kms_key_id: v.sse_kms_key_id,
                    status: CREATING.into(),
                    changed_ms: now,
                };
                (name, region)
            })
            .collect(),
        status: CREATING.into(),
        settles_at_ms: now + svc.durations.scaled_ms(SETTLE_SECS),
        deletion_protected: false,
        created_by: who.clone(),
        created_ms: now,
        last_modified_by: who,
        last_modified_ms: now,
    };
    tx.insert(&Record {
        kind: REPLICATION_SET.into(),
        account: ctx.account_id.clone(),
        id: arn.clone(),
        parent: None,
        sort: arn.clone(),
        body: serde_json::to_string(&body)?,
        created_ms: now,
        updated_ms: now,
    })
    .await?;
    if let Some(t) = input.tags.filter(|t| !t.is_empty()) {
        tags::write(
            tx.as_mut(),
            &ctx,
            &arn,
            ResourceType::ReplicationSet,
            t,
            now,
        )
        .await?;
    }
    guard.remember(tx.as_mut(), &arn).await?;
    tx.commit().await?;
    Ok(CreateReplicationSetOutput { arn: Some(arn) })
}

pub async fn get(
    svc: &IncidentsService,
    ctx: Context,
    input: GetReplicationSetInput,
) -> Result<GetReplicationSetOutput, Error> {
    let arn = input.arn.unwrap_or_default();
    let mut r = svc.store.read().await?;
    let (_, body) = load(r.as_mut(), &ctx, &arn, svc.clock.now_ms()).await?;
    Ok(GetReplicationSetOutput {
        replication_set: Some(view(&arn, &body)),
    })
}

pub async fn list(
    svc: &IncidentsService,
    ctx: Context,
    input: ListReplicationSetsInput,
) -> Result<ListReplicationSetsOutput, Error> {
    let scope = format!("replication-sets/{}", ctx.account_id);
    let q = ListQuery {
        kind: REPLICATION_SET.into(),
        account: ctx.account_id.clone(),
        ..Default::default()
    };
    let mut r = svc.store.read().await?;
    let p = list_page(
        r.as_mut(),
        q,
        &scope,
        input.next_token.as_deref(),
        input.max_results,
        |rec| Some(rec.id.clone()),
    )
    .await?;
    Ok(ListReplicationSetsOutput {
        next_token: p.next,
        replication_set_arns: Some(p.items),
    })
}

/// Applies one region change; the set reads UPDATING until the change settles.
fn apply(
    body: &mut ReplicationSetBody,
    action: UpdateReplicationSetAction,
    now: i64,
) -> Result<(), Error> {
    if let Some(add) = action.add_region_action {
        let name = add.region_name.unwrap_or_default();
        if body.regions.contains_key(&name) {
            return Err(invalid(format!(
                "actions[0].addRegionAction.regionName: {name} is already in the replication set"
            )));
        }
        if body.regions.len() >= MAX_REGIONS {
            return Err(invalid(format!(
                "actions[0].addRegionAction: a replication set has at most {MAX_REGIONS} Regions"
            )));
        }
        let region = RegionBody {
            sse_kms_key_id: add.sse_kms_key_id,
            status: CREATING.into(),
            changed_ms: now,
        };
        body.regions.insert(name, region);
    }
    if let Some(del) = action.delete_region_action {
        let name = del.region_name.unwrap_or_default();
        if !body.regions.contains_key(&name) {
            return Err(invalid(format!(
                "actions[0].deleteRegionAction.regionName: {name} is not in the replication set"
            )));
        }
        if body.regions.len() == 1 {
            return Err(invalid(
                "actions[0].deleteRegionAction: the last Region cannot be removed; delete the replication set instead",
            ));
        }
        if let Some(r) = body.regions.get_mut(&name) {
            r.status = DELETING.into();
            r.changed_ms = now;
        }
    }
    Ok(())
}

pub async fn update(
    svc: &IncidentsService,
    ctx: Context,
    input: UpdateReplicationSetInput,
) -> Result<UpdateReplicationSetOutput, Error> {
    let arn = input.arn.clone().unwrap_or_default();
    let now = svc.clock.now_ms();
    let guard = ClientToken::new(
        &ctx,
        "UpdateReplicationSet",
        input.client_token.as_deref(),
        &input,
        now,
    );
    let mut tx = svc.store.begin().await?;
    if guard.replayed(tx.as_mut()).await?.is_some() {
        return Ok(UpdateReplicationSetOutput {});
    }
    let (mut rec, mut body) = load(tx.as_mut(), &ctx, &arn, now).await?;
    if body.status != ACTIVE {
        return Err(conflict(
            Some(ResourceType::ReplicationSet),
            &arn,
            format!(
                "the replication set is {}; retry once it is ACTIVE",
                body.status
            ),
            Some(body.settles_at_ms),
        ));
    }
    for action in input.actions.clone().unwrap_or_default() {
        apply(&mut body, action, now)?;
    }
    body.status = UPDATING.into();
    body.settles_at_ms = now + svc.durations.scaled_ms(SETTLE_SECS);
    body.last_modified_by = principal(&ctx);
    body.last_modified_ms = now;
    save(tx.as_mut(), &mut rec, &body, now).await?;
    guard.remember(tx.as_mut(), "").await?;
    tx.commit().await?;
    Ok(UpdateReplicationSetOutput {})
}

pub async fn set_deletion_protection(
    svc: &IncidentsService,
    ctx: Context,
    input: UpdateDeletionProtectionInput,
) -> Result<UpdateDeletionProtectionOutput, Error> {
    let arn = input.arn.unwrap_or_default();
    let now = svc.clock.now_ms();
    let mut tx = svc.store.begin().await?;
    let (mut rec, mut body) = load(tx.as_mut(), &ctx, &arn, now).await?;
    body.deletion_protected = input.deletion_protected.unwrap_or(false);
    body.last_modified_by = principal(&ctx);
    body.last_modified_ms = now;
    save(tx.as_mut(), &mut rec, &body, now).await?;
    tx.commit().await?;
    Ok(UpdateDeletionProtectionOutput {})
}

/// Deleting the replication set deletes every Incident Manager record of the account.
pub async fn delete(
    svc: &IncidentsService,
    ctx: Context,
    input: DeleteReplicationSetInput,
) -> Result<DeleteReplicationSetOutput, Error> {
    let arn = input.arn.unwrap_or_default();
    let now = svc.clock.now_ms();
    let mut tx = svc.store.begin().await?;
    let (_, body) = load(tx.as_mut(), &ctx, &arn, now).await?;
    if body.deletion_protected {
        return Err(invalid(
            "deletion protection is enabled for this replication set; disable it with UpdateDeletionProtection first",
        ));
    }
    for kind in ALL_KINDS {
        tx.delete_all(kind, &ctx.account_id).await?;
    }
    tx.commit().await?;
    Ok(DeleteReplicationSetOutput {})
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn body(status: &str, settles: i64) -> ReplicationSetBody {
        let mut regions = BTreeMap::new();
        for (name, st) in [
            ("us-east-1", ACTIVE),
            ("us-west-2", DELETING),
            ("eu-west-1", CREATING),
        ] {
            regions.insert(
                name.to_string(),
                RegionBody {
                    sse_kms_key_id: None,
                    status: st.into(),
                    changed_ms: 1,
                },
            );
        }
        ReplicationSetBody {
            regions,
            status: status.into(),
            settles_at_ms: settles,
            deletion_protected: false,
            created_by: "p".into(),
            created_ms: 0,
            last_modified_by: "p".into(),
            last_modified_ms: 0,
        }
    }

    #[test]
    fn pending_changes_settle_at_their_time() {
        let before = settled(body(UPDATING, 100), 99);
        assert_eq!(before.status, UPDATING);
        assert_eq!(before.regions.len(), 3);
        let after = settled(body(UPDATING, 100), 100);
        assert_eq!(after.status, ACTIVE);
        assert_eq!(
            after
                .regions
                .iter()
                .map(|(k, v)| (k.clone(), v.status.clone()))
                .collect::<Vec<_>>(),
            [
                ("eu-west-1".to_string(), ACTIVE.to_string()),
                ("us-east-1".to_string(), ACTIVE.to_string())
            ]
        );
        assert_eq!(after.regions["eu-west-1"].changed_ms, 100);
    }
}
