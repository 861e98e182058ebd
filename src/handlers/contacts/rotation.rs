//! On-call rotations and their overrides, and the shifts they make (computed by
//! `domain::rotation`, never stored).

use super::errors::{invalid, invalid_fields, not_found, quota};
use super::idempotency::IdempotencyToken;
use super::records::*;
use super::{ContactsService, page_size, resume_after, save};
use crate::domain::arn::{contacts_arn, new_id};
use crate::domain::rotation::{self, Shift, time_zone};
use crate::handlers::paging::{decode_token, encode_token, page};
use crate::shapes::contacts::*;
use crate::shapes::{Context, FieldError, Timestamp};
use crate::storage::{ListQuery, Reader, Record, StoreError, list_all};

/// The longest window ListRotationShifts computes.
const MAX_WINDOW_MS: i64 = 5 * 366 * 24 * 3_600_000;

pub async fn load(
    r: &mut dyn Reader,
    ctx: &Context,
    id: &str,
) -> Result<(Record, RotationBody), Error> {
    let rec = r
        .get(ROTATION, &ctx.account_id, id)
        .await?
        .ok_or_else(|| not_found(RT_ROTATION, id))?;
    let body = serde_json::from_str(&rec.body)?;
    Ok((rec, body))
}

fn field(e: (String, String)) -> Error {
    invalid_fields(vec![FieldError::new(&e.0, e.1)])
}

fn check_time_zone(id: &str) -> Result<(), Error> {
    match time_zone(id) {
        Some(_) => Ok(()),
        None => Err(invalid(
            "TimeZoneId",
            format!(
                "{id} is not an IANA time zone such as America/New_York (designators such as PST are not supported)"
            ),
        )),
    }
}

/// Members must be existing personal contacts of the account.
async fn check_members(
    tx: &mut dyn Reader,
    ctx: &Context,
    ids: &[String],
    field: &str,
) -> Result<(), Error> {
    for (i, id) in ids.iter().enumerate() {
        let Some(rec) = tx.get(CONTACT, &ctx.account_id, id).await? else {
            return Err(not_found(RT_CONTACT, id));
        };
        let c: ContactBody = serde_json::from_str(&rec.body)?;
        if c.contact_type != ContactType::Personal.as_str() {
            return Err(invalid(
                &format!("{field}[{i}]"),
                "a rotation's members are personal contacts",
            ));
        }
    }
    Ok(())
}

fn to_shape(arn: &str, b: &RotationBody) -> Rotation {
    Rotation {
        rotation_arn: Some(arn.to_string()),
        name: Some(b.name.clone()),
        contact_ids: Some(b.contact_ids.clone()),
        start_time: b.start_given.then(|| Timestamp::from_millis(b.start_ms)),
        time_zone_id: Some(b.time_zone_id.clone()),
        recurrence: Some(b.recurrence.clone()),
    }
}

pub async fn create(
    svc: &ContactsService,
    ctx: Context,
    input: CreateRotationRequest,
) -> Result<CreateRotationResult, Error> {
    let now = svc.clock.now_ms();
    let recurrence = input.recurrence.clone().unwrap_or_default();
    super::records::recurrence(&recurrence).map_err(field)?;
    let tz = input.time_zone_id.clone().unwrap_or_default();
    check_time_zone(&tz)?;
    let guard = IdempotencyToken::new(
        &ctx,
        "CreateRotation",
        input.idempotency_token.as_deref(),
        &CreateRotationRequest {
            idempotency_token: None,
            ..input.clone()
        },
        now,
    );
    let mut tx = svc.store.begin().await?;
    if let Some(done) = guard.replayed(tx.as_mut()).await? {
        return Ok(CreateRotationResult {
            rotation_arn: Some(done),
        });
    }
    let members = input.contact_ids.clone().unwrap_or_default();
    check_members(tx.as_mut(), &ctx, &members, "ContactIds").await?;
    let arn = contacts_arn(&ctx.region, &ctx.account_id, "rotation", &new_id());
    let body = RotationBody {
        name: input.name.clone().unwrap_or_default(),
        contact_ids: members,
        start_ms: input.start_time.map(|t| t.millis()).unwrap_or(now),
        start_given: input.start_time.is_some(),
        time_zone_id: tz,
        recurrence,
    };
    tx.insert(&Record {
        kind: ROTATION.into(),
        account: ctx.account_id.clone(),
        id: arn.clone(),
        parent: Some(ctx.region.clone()),
        sort: body.name.clone(),
        body: serde_json::to_string(&body)?,
        created_ms: now,
        updated_ms: now,
    })
    .await?;
    if let Some(tags) = input.tags.clone().filter(|t| !t.is_empty()) {
        let tags = TagsBody {
            tags: super::tags::merged(Vec::new(), tags),
        };
        super::tags::write(tx.as_mut(), &ctx, &arn, tags, now).await?;
    }
    guard.remember(tx.as_mut(), &arn).await?;
    tx.commit().await?;
    Ok(CreateRotationResult {
        rotation_arn: Some(arn),
    })
}

pub async fn get(
    svc: &ContactsService,
    ctx: Context,
    input: GetRotationRequest,
) -> Result<GetRotationResult, Error> {
    let id = input.rotation_id.unwrap_or_default();
    let mut r = svc.store.read().await?;
    let (rec, b) = load(r.as_mut(), &ctx, &id).await?;
    let s = to_shape(&rec.id, &b);
    Ok(GetRotationResult {
        rotation_arn: s.rotation_arn,
        name: s.name,
        contact_ids: s.contact_ids,
        start_time: s.start_time,
        time_zone_id: s.time_zone_id,
        recurrence: s.recurrence,
    })
}

pub async fn update(
    svc: &ContactsService,
    ctx: Context,
    input: UpdateRotationRequest,
) -> Result<UpdateRotationResult, Error> {
    let id = input.rotation_id.unwrap_or_default();
    let now = svc.clock.now_ms();
    let recurrence = input.recurrence.unwrap_or_default();
    super::records::recurrence(&recurrence).map_err(field)?;
    if let Some(tz) = &input.time_zone_id {
        check_time_zone(tz)?;
    }
    let mut tx = svc.store.begin().await?;
    let (mut rec, mut b) = load(tx.as_mut(), &ctx, &id).await?;
    if let Some(members) = input.contact_ids {
        check_members(tx.as_mut(), &ctx, &members, "ContactIds").await?;
        b.contact_ids = members;
    }
    if let Some(t) = input.start_time {
        b.start_ms = t.millis();
        b.start_given = true;
    }
    if let Some(tz) = input.time_zone_id {
        b.time_zone_id = tz;
    }
    b.recurrence = recurrence;
    save(tx.as_mut(), &mut rec, &b, now).await?;
    tx.commit().await?;
    Ok(UpdateRotationResult {})
}

/// Deletes the rotation, its overrides and tags, and takes it out of every on-call schedule.
pub async fn delete(
    svc: &ContactsService,
    ctx: Context,
    input: DeleteRotationRequest,
) -> Result<DeleteRotationResult, Error> {
    let id = input.rotation_id.unwrap_or_default();
    let now = svc.clock.now_ms();
    let mut tx = svc.store.begin().await?;
    let (rec, _) = load(tx.as_mut(), &ctx, &id).await?;
    for mut contact in all(tx.as_mut(), &ctx, CONTACT).await? {
        let mut c: ContactBody = serde_json::from_str(&contact.body)?;
        let ids = c.plan.rotation_ids.get_or_insert_with(Vec::new);
        if ids.contains(&rec.id) {
            ids.retain(|r| *r != rec.id);
            save(tx.as_mut(), &mut contact, &c, now).await?;
        }
    }
    tx.delete_children(OVERRIDE, &ctx.account_id, &rec.id)
        .await?;
    tx.delete(TAGS, &ctx.account_id, &rec.id).await?;
    tx.delete(ROTATION, &ctx.account_id, &rec.id).await?;
    tx.commit().await?;
    Ok(DeleteRotationResult {})
}

/// Every record of a kind in the account (contacts, rotations: bounded by AWS's quotas).
async fn all(r: &mut dyn Reader, ctx: &Context, kind: &str) -> Result<Vec<Record>, StoreError> {
    let q = ListQuery {
        kind: kind.into(),
        account: ctx.account_id.clone(),
        ..Default::default()
    };
    list_all(r, q).await
}

/// The rotations that list a contact as a member.
pub async fn rotations_of(
    r: &mut dyn Reader,
    ctx: &Context,
    contact: &str,
) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for rec in all(r, ctx, ROTATION).await? {
        let b: RotationBody = serde_json::from_str(&rec.body)?;
        if b.contact_ids.iter().any(|c| c == contact) {
            out.push(rec.id);
        }
    }
    Ok(out)
}

pub async fn list(
    svc: &ContactsService,
    ctx: Context,
    input: ListRotationsRequest,
) -> Result<ListRotationsResult, Error> {
    let after = resume_after("rotations", input.next_token.as_deref())?;
    let q = ListQuery {
        kind: ROTATION.into(),
        account: ctx.account_id.clone(),
        parent: Some(ctx.region.clone()),
        sort_prefix: input.rotation_name_prefix.clone(),
        after,
        ..Default::default()
    };
    let mut r = svc.store.read().await?;
    let p = page(
        r.as_mut(),
        q,
        "rotations",
        page_size(input.max_results),
        |rec| {
            let b: RotationBody = serde_json::from_str(&rec.body).ok()?;
            Some(to_shape(&rec.id, &b))
        },
    )
    .await?;
    Ok(ListRotationsResult {
        next_token: p.next,
        rotations: Some(p.items),
    })
}

/// The overrides of a rotation, oldest created first (later ones win where they overlap).
pub async fn overrides(
    r: &mut dyn Reader,
    ctx: &Context,
    rotation: &str,
) -> Result<Vec<(Record, OverrideBody)>, Error> {
    let q = ListQuery {
        kind: OVERRIDE.into(),
        account: ctx.account_id.clone(),
        parent: Some(rotation.to_string()),
        limit: (MAX_OVERRIDES + 1) as i64,
        ..Default::default()
    };
    let mut out = Vec::new();
    for rec in r.list(&q).await? {
        let b: OverrideBody = serde_json::from_str(&rec.body)?;
        out.push((rec, b));
    }
    out.sort_by_key(|(_, b)| b.create_ms);
    Ok(out)
}

fn shift_shape(s: Shift) -> RotationShift {
    RotationShift {
        contact_ids: Some(s.members),
        start_time: Some(Timestamp::from_millis(s.start_ms)),
        end_time: Some(Timestamp::from_millis(s.end_ms)),
        r#type: Some(if s.overridden.is_some() {
            ShiftType::Overridden
        } else {
            ShiftType::Regular
        }),
        shift_details: s.overridden.map(|o| ShiftDetails {
            overridden_contact_ids: Some(o),
        }),
    }
}

fn window(start: Option<Timestamp>, end: Option<Timestamp>, now: i64) -> Result<(i64, i64), Error> {
    let from = start.map(|t| t.millis()).unwrap_or(now);
    let to = end.map(|t| t.millis()).unwrap_or(from);
    if to <= from {
        return Err(invalid("EndTime", "must be after StartTime"));
    }
    if to - from > MAX_WINDOW_MS {
        return Err(invalid("EndTime", "the window can span at most five years"));
    }
    Ok((from, to))
}

/// Shifts paged by position: the token names the index of the next shift in the window.
fn page_shifts(
    all: Vec<Shift>,
    scope: &str,
    token: Option<&str>,
    max: Option<i32>,
) -> Result<(Vec<RotationShift>, Option<String>), Error> {
    let from = match token.filter(|t| !t.is_empty()) {
        None => 0,
        Some(t) => decode_token(scope, t)
            .and_then(|(pos, _)| pos.parse::<usize>().ok())
            .ok_or_else(|| invalid("NextToken", "is not a token this list returned"))?,
    };
    let max = page_size(max);
    let next = (from + max < all.len()).then(|| encode_token(scope, &(from + max).to_string(), ""));
    Ok((
        all.into_iter()
            .skip(from)
            .take(max)
            .map(shift_shape)
            .collect(),
        next,
    ))
}

pub async fn shifts(
    svc: &ContactsService,
    ctx: Context,
    input: ListRotationShiftsRequest,
) -> Result<ListRotationShiftsResult, Error> {
    let id = input.rotation_id.unwrap_or_default();
    let (from, to) = window(input.start_time, input.end_time, svc.clock.now_ms())?;
    let mut r = svc.store.read().await?;
    let (rot, ovs) = calculator_for::<Error>(r.as_mut(), &ctx.account_id, &id)
        .await?
        .ok_or_else(|| not_found(RT_ROTATION, &id))?;
    let all = rotation::shifts(&rot, &ovs, from, to);
    let scope = format!("shifts:{id}:{from}:{to}");
    let (items, next) = page_shifts(all, &scope, input.next_token.as_deref(), input.max_results)?;
    Ok(ListRotationShiftsResult {
        next_token: next,
        rotation_shifts: Some(items),
    })
}

pub async fn preview(
    svc: &ContactsService,
    _ctx: Context,
    input: ListPreviewRotationShiftsRequest,
) -> Result<ListPreviewRotationShiftsResult, Error> {
    let now = svc.clock.now_ms();
    let recurrence =
        super::records::recurrence(&input.recurrence.clone().unwrap_or_default()).map_err(field)?;
    let tz_id = input.time_zone_id.clone().unwrap_or_default();
    check_time_zone(&tz_id)?;
    let (from, to) = window(input.start_time, input.end_time, now)?;
    let rot = rotation::Rotation {
        members: input.members.clone().unwrap_or_default(),
        start_ms: input.rotation_start_time.map(|t| t.millis()).unwrap_or(now),
        tz: time_zone(&tz_id).ok_or_else(super::errors::internal)?,
        recurrence,
    };
    let mut ovs = Vec::new();
    for (i, o) in input.overrides.iter().flatten().enumerate() {
        let (s, e) = (
            o.start_time.map(|t| t.millis()),
            o.end_time.map(|t| t.millis()),
        );
        let (Some(s), Some(e)) = (s, e) else {
            return Err(invalid(
                &format!("Overrides[{i}]"),
                "needs StartTime and EndTime",
            ));
        };
        if e <= s {
            return Err(invalid(
                &format!("Overrides[{i}].EndTime"),
                "must be after StartTime",
            ));
        }
        ovs.push(rotation::Override {
            start_ms: s,
            end_ms: e,
            members: o.new_members.clone().unwrap_or_default(),
        });
    }
    let all = rotation::shifts(&rot, &ovs, from, to);
    let scope = format!("preview:{from}:{to}");
    let (items, next) = page_shifts(all, &scope, input.next_token.as_deref(), input.max_results)?;
    Ok(ListPreviewRotationShiftsResult {
        next_token: next,
        rotation_shifts: Some(items),
    })
}

pub async fn create_override(
    svc: &ContactsService,
    ctx: Context,
    input: CreateRotationOverrideRequest,
) -> Result<CreateRotationOverrideResult, Error> {
    let id = input.rotation_id.clone().unwrap_or_default();
    let now = svc.clock.now_ms();
    let (start, end) = (
        input.start_time.map(|t| t.millis()).unwrap_or_default(),
        input.end_time.map(|t| t.millis()).unwrap_or_default(),
    );
    if end <= start {
        return Err(invalid("EndTime", "must be after StartTime"));
    }
    let guard = IdempotencyToken::new(
        &ctx,
        "CreateRotationOverride",
        input.idempotency_token.as_deref(),
        &CreateRotationOverrideRequest {
            idempotency_token: None,
            ..input.clone()
        },
        now,
    );
    let mut tx = svc.store.begin().await?;
    if let Some(done) = guard.replayed(tx.as_mut()).await? {
        return Ok(CreateRotationOverrideResult {
            rotation_override_id: Some(done),
        });
    }
    let (rec, _) = load(tx.as_mut(), &ctx, &id).await?;
    let members = input.new_contact_ids.clone().unwrap_or_default();
    check_members(tx.as_mut(), &ctx, &members, "NewContactIds").await?;
    let existing = ListQuery {
        kind: OVERRIDE.into(),
        account: ctx.account_id.clone(),
        parent: Some(rec.id.clone()),
        limit: MAX_OVERRIDES as i64,
        ..Default::default()
    };
    if tx.list(&existing).await?.len() >= MAX_OVERRIDES {
        return Err(quota(
            RT_ROTATION,
            &rec.id,
            "overrides-per-rotation",
            format!("a rotation can have at most {MAX_OVERRIDES} overrides"),
        ));
    }
    let override_id = new_id();
    let body = OverrideBody {
        rotation_arn: rec.id.clone(),
        new_contact_ids: members,
        start_ms: start,
        end_ms: end,
        create_ms: now,
    };
    tx.insert(&Record {
        kind: OVERRIDE.into(),
        account: ctx.account_id.clone(),
        id: override_id.clone(),
        parent: Some(rec.id.clone()),
        sort: format!("{:016}-{override_id}", start.max(0)),
        body: serde_json::to_string(&body)?,
        created_ms: now,
        updated_ms: now,
    })
    .await?;
    guard.remember(tx.as_mut(), &override_id).await?;
    tx.commit().await?;
    Ok(CreateRotationOverrideResult {
        rotation_override_id: Some(override_id),
    })
}

async fn load_override(
    r: &mut dyn Reader,
    ctx: &Context,
    rotation: &str,
    id: &str,
) -> Result<OverrideBody, Error> {
    let (rec, _) = load(r, ctx, rotation).await?;
    match r.get(OVERRIDE, &ctx.account_id, id).await? {
        Some(o) if o.parent.as_deref() == Some(rec.id.as_str()) => {
            Ok(serde_json::from_str(&o.body)?)
        }
        _ => Err(not_found(RT_OVERRIDE, id)),
    }
}

pub async fn get_override(
    svc: &ContactsService,
    ctx: Context,
    input: GetRotationOverrideRequest,
) -> Result<GetRotationOverrideResult, Error> {
    let rotation = input.rotation_id.unwrap_or_default();
    let id = input.rotation_override_id.unwrap_or_default();
    let mut r = svc.store.read().await?;
    let o = load_override(r.as_mut(), &ctx, &rotation, &id).await?;
    Ok(GetRotationOverrideResult {
        rotation_override_id: Some(id),
        rotation_arn: Some(o.rotation_arn),
        new_contact_ids: Some(o.new_contact_ids),
        start_time: Some(Timestamp::from_millis(o.start_ms)),
        end_time: Some(Timestamp::from_millis(o.end_ms)),
        create_time: Some(Timestamp::from_millis(o.create_ms)),
    })
}

pub async fn delete_override(
    svc: &ContactsService,
    ctx: Context,
    input: DeleteRotationOverrideRequest,
) -> Result<DeleteRotationOverrideResult, Error> {
    let rotation = input.rotation_id.unwrap_or_default();
    let id = input.rotation_override_id.unwrap_or_default();
    let mut tx = svc.store.begin().await?;
    load_override(tx.as_mut(), &ctx, &rotation, &id).await?;
    tx.delete(OVERRIDE, &ctx.account_id, &id).await?;
    tx.commit().await?;
    Ok(DeleteRotationOverrideResult {})
}

/// Overrides overlapping [StartTime, EndTime), by start time.
pub async fn list_overrides(
    svc: &ContactsService,
    ctx: Context,
    input: ListRotationOverridesRequest,
) -> Result<ListRotationOverridesResult, Error> {
    let rotation = input.rotation_id.unwrap_or_default();
    let (from, to) = (
        input.start_time.map(|t| t.millis()).unwrap_or_default(),
        input.end_time.map(|t| t.millis()).unwrap_or_default(),
    );
    if to <= from {
        return Err(invalid("EndTime", "must be after StartTime"));
    }
    let scope = format!("overrides:{rotation}");
    let after = resume_after(&scope, input.next_token.as_deref())?;
    let mut r = svc.store.read().await?;
    load(r.as_mut(), &ctx, &rotation).await?;
    let q = ListQuery {
        kind: OVERRIDE.into(),
        account: ctx.account_id.clone(),
        parent: Some(rotation.clone()),
        sort_max: Some(format!("{:016}", to.max(0))),
        after,
        ..Default::default()
    };
    let p = page(r.as_mut(), q, &scope, page_size(input.max_results), |rec| {
        let o: OverrideBody = serde_json::from_str(&rec.body).ok()?;
        (o.end_ms > from).then(|| RotationOverride {
            rotation_override_id: Some(rec.id.clone()),
            new_contact_ids: Some(o.new_contact_ids),
            start_time: Some(Timestamp::from_millis(o.start_ms)),
            end_time: Some(Timestamp::from_millis(o.end_ms)),
            create_time: Some(Timestamp::from_millis(o.create_ms)),
        })
    })
    .await?;
    Ok(ListRotationOverridesResult {
        next_token: p.next,
        rotation_overrides: Some(p.items),
    })
}
