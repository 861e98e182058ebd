//! `klaxon import aws`: reads AWS Incident Manager (or anything that speaks its API, such as
//! another Klaxon) and writes the set-up into the target in dependency order: the replication
//! set; personal and escalation contacts (plans empty at first, since plans name channels and
//! other contacts); channels, with activation carried over; rotations and their future
//! overrides; then every contact's plan, schedules first; then response plans.

use super::arn::ArnMap;
use super::source::Source;
use super::target::Target;
use super::{Kind, Outcome, Report, sdk_message};
use aws_sdk_ssmcontacts::primitives::DateTime;
use aws_sdk_ssmcontacts::types::{
    ActivationStatus, ContactChannel, ContactChannelAddress, ContactType, Plan, RecurrenceSettings,
    Rotation, Tag,
};
use aws_sdk_ssmincidents::types::{
    AddRegionAction, RegionMapInputValue, UpdateReplicationSetAction,
};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    pub dry_run: bool,
    /// Send fresh activation codes instead of carrying activation over.
    pub reactivate: bool,
}

/// How far ahead overrides are read: AWS keeps them for at most a year or so ahead in practice.
const OVERRIDE_HORIZON_SECS: i64 = 2 * 366 * 24 * 3600;

pub(super) struct SrcContact {
    pub(super) arn: String,
    pub(super) alias: String,
    pub(super) display_name: Option<String>,
    pub(super) kind: ContactType,
    pub(super) plan: Plan,
    pub(super) tags: BTreeMap<String, String>,
}

fn tag_map(tags: &[Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .filter_map(|t| Some((t.key.clone()?, t.value.clone().unwrap_or_default())))
        .collect()
}

fn tag_list(tags: &BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// Tags for a create call: AWS rejects an empty list, so none is sent as absent.
fn create_tags(tags: &BTreeMap<String, String>) -> Option<Vec<Tag>> {
    (!tags.is_empty()).then(|| tag_list(tags))
}

fn empty_plan() -> Plan {
    Plan::builder().set_stages(Some(vec![])).build()
}

/// A plan with every source ARN in it rewritten, and empty lists made explicit so that a plan
/// compares equal however the service spelled "none".
fn rewrite_plan(p: &Plan, m: &ArnMap) -> Plan {
    let mut p = p.clone();
    for s in p.stages.get_or_insert_with(Vec::new).iter_mut() {
        for t in s.targets.iter_mut() {
            if let Some(c) = t.channel_target_info.as_mut() {
                c.contact_channel_id = m.rewrite(&c.contact_channel_id);
            }
            if let Some(c) = t.contact_target_info.as_mut() {
                c.contact_id = c.contact_id.as_deref().map(|id| m.rewrite(id));
            }
        }
    }
    let rotations = p.rotation_ids.take().unwrap_or_default();
    p.rotation_ids = Some(m.rewrite_all(&rotations));
    p
}

fn normal_plan(p: Option<Plan>) -> Plan {
    let mut p = p.unwrap_or_else(empty_plan);
    p.stages.get_or_insert_with(Vec::new);
    p.rotation_ids.get_or_insert_with(Vec::new);
    p
}

pub(super) fn normal_recurrence(r: Option<RecurrenceSettings>) -> Option<RecurrenceSettings> {
    r.map(|mut r| {
        if r.daily_settings.as_ref().is_some_and(|x| x.is_empty()) {
            r.daily_settings = None;
        }
        if r.weekly_settings.as_ref().is_some_and(|x| x.is_empty()) {
            r.weekly_settings = None;
        }
        if r.monthly_settings.as_ref().is_some_and(|x| x.is_empty()) {
            r.monthly_settings = None;
        }
        if r.shift_coverages.as_ref().is_some_and(|x| x.is_empty()) {
            r.shift_coverages = None;
        }
        r
    })
}

fn is_not_found<E: aws_sdk_ssmcontacts::error::ProvideErrorMetadata>(e: &E) -> bool {
    e.code() == Some("ResourceNotFoundException")
}

pub async fn run(src: &Source, dst: &Target, o: RunOptions, report: &mut Report) {
    let mut map = ArnMap::new(&dst.account, &dst.region);
    let rs_ready = replication_set(src, dst, o, report).await;
    let contacts = match read_contacts(src).await {
        Ok(c) => c,
        Err(e) => {
            report.record(Kind::Contact, "(all)", Outcome::Failed(e));
            return;
        }
    };
    let mut created = HashSet::new();
    let mut present = HashSet::new();
    for c in contacts
        .iter()
        .filter(|c| c.kind != ContactType::OncallSchedule)
    {
        match ensure_contact(dst, &map, c, o).await {
            Ok(made) => {
                present.insert(c.alias.clone());
                if made != Some(false) {
                    created.insert(c.alias.clone());
                }
            }
            Err(outcome) => report.record(Kind::Contact, &c.alias, outcome),
        }
    }
    for c in contacts
        .iter()
        .filter(|c| c.kind == ContactType::Personal && present.contains(&c.alias))
    {
        channels(src, dst, &mut map, c, o, report).await;
    }
    rotations(src, dst, &mut map, o, report).await;
    let order = |c: &&SrcContact| match c.kind {
        ContactType::OncallSchedule => 0,
        ContactType::Personal => 1,
        _ => 2,
    };
    let mut ordered: Vec<&SrcContact> = contacts.iter().collect();
    ordered.sort_by_key(order);
    for c in ordered {
        if c.kind != ContactType::OncallSchedule && !present.contains(&c.alias) {
            continue;
        }
        let outcome = contact_plan(dst, &map, c, created.contains(&c.alias), o).await;
        report.record(Kind::Contact, &c.alias, outcome);
    }
    response_plans(src, dst, &map, rs_ready, o, report).await;
}

async fn read_contacts(src: &Source) -> Result<Vec<SrcContact>, String> {
    let listed = src
        .contacts
        .list_contacts()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| sdk_message(&e))?;
    let mut out = Vec::with_capacity(listed.len());
    for c in listed {
        let got = src
            .contacts
            .get_contact()
            .contact_id(&c.contact_arn)
            .send()
            .await
            .map_err(|e| format!("{}: {}", c.alias, sdk_message(&e)))?;
        let tags = src
            .contacts
            .list_tags_for_resource()
            .resource_arn(&c.contact_arn)
            .send()
            .await
            .map_err(|e| format!("{}: {}", c.alias, sdk_message(&e)))?;
        out.push(SrcContact {
            arn: c.contact_arn,
            alias: got.alias,
            display_name: got.display_name,
            kind: got.r#type,
            plan: normal_plan(got.plan),
            tags: tag_map(tags.tags()),
        });
    }
    Ok(out)
}

/// Makes sure a personal or escalation contact exists at the target (with an empty plan when
/// new): `Some(true)` when it was created, `Some(false)` when it was there, `None` in a dry
/// run that would create it.
pub(super) async fn ensure_contact(
    dst: &Target,
    map: &ArnMap,
    c: &SrcContact,
    o: RunOptions,
) -> Result<Option<bool>, Outcome> {
    let arn = map.rewrite(&c.arn);
    match dst.contacts.get_contact().contact_id(&arn).send().await {
        Ok(t) if t.r#type != c.kind => Err(Outcome::Skipped(format!(
            "exists at the target as a {} contact",
            t.r#type.as_str()
        ))),
        Ok(_) => Ok(Some(false)),
        Err(e) if e.as_service_error().is_some_and(is_not_found) => {
            if o.dry_run {
                return Ok(None);
            }
            dst.contacts
                .create_contact()
                .alias(&c.alias)
                .set_display_name(c.display_name.clone())
                .r#type(c.kind.clone())
                .plan(empty_plan())
                .set_tags(create_tags(&c.tags))
                .send()
                .await
                .map_err(|e| Outcome::Failed(sdk_message(&e)))?;
            Ok(Some(true))
        }
        Err(e) => Err(Outcome::Failed(sdk_message(&e))),
    }
}

async fn sync_tags_contacts(
    dst: &Target,
    arn: &str,
    want: &BTreeMap<String, String>,
    dry_run: bool,
) -> Result<bool, String> {
    let have = dst
        .contacts
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map_err(|e| sdk_message(&e))?;
    let have = tag_map(have.tags());
    if &have == want {
        return Ok(false);
    }
    if dry_run {
        return Ok(true);
    }
    let gone: Vec<String> = have
        .keys()
        .filter(|k| !want.contains_key(*k))
        .cloned()
        .collect();
    if !gone.is_empty() {
        dst.contacts
            .untag_resource()
            .resource_arn(arn)
            .set_tag_keys(Some(gone))
            .send()
            .await
            .map_err(|e| sdk_message(&e))?;
    }
    if !want.is_empty() {
        dst.contacts
            .tag_resource()
            .resource_arn(arn)
            .set_tags(Some(tag_list(want)))
            .send()
            .await
            .map_err(|e| sdk_message(&e))?;
    }
    Ok(true)
}

/// Brings a contact's display name, plan and tags to the source's; on-call schedules are
/// created here, since their plan must name their rotations from the start.
pub(super) async fn contact_plan(
    dst: &Target,
    map: &ArnMap,
    c: &SrcContact,
    created: bool,
    o: RunOptions,
) -> Outcome {
    let arn = map.rewrite(&c.arn);
    let plan = rewrite_plan(&c.plan, map);
    let current = match dst.contacts.get_contact().contact_id(&arn).send().await {
        Ok(t) => t,
        Err(e) if e.as_service_error().is_some_and(is_not_found) => {
            if o.dry_run {
                return Outcome::Created;
            }
            return match dst
                .contacts
                .create_contact()
                .alias(&c.alias)
                .set_display_name(c.display_name.clone())
                .r#type(c.kind.clone())
                .plan(plan)
                .set_tags(create_tags(&c.tags))
                .send()
                .await
            {
                Ok(_) => Outcome::Created,
                Err(e) => Outcome::Failed(sdk_message(&e)),
            };
        }
        Err(e) => return Outcome::Failed(sdk_message(&e)),
    };
    if current.r#type != c.kind {
        return Outcome::Skipped(format!(
            "exists at the target as a {} contact",
            current.r#type.as_str()
        ));
    }
    let mut changed = false;
    if normal_plan(current.plan) != plan || current.display_name != c.display_name {
        changed = true;
        if !o.dry_run
            && let Err(e) = dst
                .contacts
                .update_contact()
                .contact_id(&arn)
                .set_display_name(c.display_name.clone())
                .plan(plan)
                .send()
                .await
        {
            return Outcome::Failed(sdk_message(&e));
        }
    }
    match sync_tags_contacts(dst, &arn, &c.tags, o.dry_run).await {
        Ok(t) => changed |= t,
        Err(e) => return Outcome::Failed(e),
    }
    match (created, changed) {
        (true, _) => Outcome::Created,
        (false, true) => Outcome::Updated,
        (false, false) => Outcome::Unchanged,
    }
}

fn address(c: &ContactChannel) -> String {
    c.delivery_address
        .as_ref()
        .and_then(|a| a.simple_address.clone())
        .unwrap_or_default()
}

pub(super) async fn list_channels(
    client: &aws_sdk_ssmcontacts::Client,
    contact: &str,
) -> Result<Vec<ContactChannel>, String> {
    client
        .list_contact_channels()
        .contact_id(contact)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| sdk_message(&e))
}

/// A personal contact's channels, matched by name; an ACTIVATED source channel is activated at
/// the target by the operator route (or, with `--reactivate`, sent a fresh code).
async fn channels(
    src: &Source,
    dst: &Target,
    map: &mut ArnMap,
    c: &SrcContact,
    o: RunOptions,
    report: &mut Report,
) {
    let dst_contact = map.rewrite(&c.arn);
    let source = match list_channels(&src.contacts, &c.arn).await {
        Ok(s) => s,
        Err(e) => {
            return report.record(Kind::Channel, &format!("{}/*", c.alias), Outcome::Failed(e));
        }
    };
    let target = if o.dry_run
        && dst
            .contacts
            .get_contact()
            .contact_id(&dst_contact)
            .send()
            .await
            .is_err()
    {
        Vec::new()
    } else {
        match list_channels(&dst.contacts, &dst_contact).await {
            Ok(t) => t,
            Err(e) => {
                return report.record(Kind::Channel, &format!("{}/*", c.alias), Outcome::Failed(e));
            }
        }
    };
    let by_name: HashMap<&str, &ContactChannel> =
        target.iter().map(|t| (t.name.as_str(), t)).collect();
    for s in &source {
        let name = format!("{}/{}", c.alias, s.name);
        let outcome = channel(
            dst,
            map,
            &dst_contact,
            s,
            by_name.get(s.name.as_str()).copied(),
            o,
        )
        .await;
        report.record(Kind::Channel, &name, outcome);
    }
}

pub(super) async fn channel(
    dst: &Target,
    map: &mut ArnMap,
    dst_contact: &str,
    s: &ContactChannel,
    existing: Option<&ContactChannel>,
    o: RunOptions,
) -> Outcome {
    let active = s.activation_status == ActivationStatus::Activated;
    let addr = address(s);
    let (arn, mut outcome, now_active) = match existing {
        Some(t) if t.r#type != s.r#type => {
            map.insert(&s.contact_channel_arn, &t.contact_channel_arn);
            return Outcome::Skipped(format!(
                "a {} channel of that name exists at the target",
                t.r#type.as_ref().map(|x| x.as_str()).unwrap_or("?")
            ));
        }
        Some(t) => {
            map.insert(&s.contact_channel_arn, &t.contact_channel_arn);
            let mut active_now = t.activation_status == ActivationStatus::Activated;
            let mut outcome = Outcome::Unchanged;
            if address(t) != addr {
                outcome = Outcome::Updated;
                active_now = false;
                if !o.dry_run
                    && let Err(e) = dst
                        .contacts
                        .update_contact_channel()
                        .contact_channel_id(&t.contact_channel_arn)
                        .delivery_address(
                            ContactChannelAddress::builder()
                                .simple_address(&addr)
                                .build(),
                        )
                        .send()
                        .await
                {
                    return Outcome::Failed(sdk_message(&e));
                }
            }
            (t.contact_channel_arn.clone(), outcome, active_now)
        }
        None => {
            if o.dry_run {
                return Outcome::Created;
            }
            // Codes go out at creation only when the operator asked for fresh ones.
            let send_code = active && o.reactivate;
            let made = match dst
                .contacts
                .create_contact_channel()
                .contact_id(dst_contact)
                .name(&s.name)
                .set_type(s.r#type.clone())
                .delivery_address(
                    ContactChannelAddress::builder()
                        .simple_address(&addr)
                        .build(),
                )
                .defer_activation(!send_code)
                .send()
                .await
            {
                Ok(m) => m.contact_channel_arn,
                Err(e) => return Outcome::Failed(sdk_message(&e)),
            };
            map.insert(&s.contact_channel_arn, &made);
            (made, Outcome::Created, send_code)
        }
    };
    if active && !now_active {
        if outcome == Outcome::Unchanged {
            outcome = Outcome::Updated;
        }
        if !o.dry_run {
            let done = if o.reactivate {
                dst.contacts
                    .send_activation_code()
                    .contact_channel_id(&arn)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| sdk_message(&e))
            } else {
                dst.activate(&arn).await
            };
            if let Err(e) = done {
                return Outcome::Failed(e);
            }
        }
    }
    outcome
}

pub(super) async fn list_rotations(
    client: &aws_sdk_ssmcontacts::Client,
) -> Result<Vec<Rotation>, String> {
    client
        .list_rotations()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| sdk_message(&e))
}

async fn rotations(
    src: &Source,
    dst: &Target,
    map: &mut ArnMap,
    o: RunOptions,
    report: &mut Report,
) {
    let source = match list_rotations(&src.contacts).await {
        Ok(s) => s,
        Err(e) => return report.record(Kind::Rotation, "(all)", Outcome::Failed(e)),
    };
    let target = match list_rotations(&dst.contacts).await {
        Ok(t) => t,
        Err(e) => return report.record(Kind::Rotation, "(all)", Outcome::Failed(e)),
    };
    let by_name: HashMap<&str, &Rotation> = target.iter().map(|t| (t.name.as_str(), t)).collect();
    for s in &source {
        let tags = match src
            .contacts
            .list_tags_for_resource()
            .resource_arn(&s.rotation_arn)
            .send()
            .await
        {
            Ok(t) => tag_map(t.tags()),
            Err(e) => {
                report.record(Kind::Rotation, &s.name, Outcome::Failed(sdk_message(&e)));
                continue;
            }
        };
        let existing = by_name.get(s.name.as_str()).copied();
        let (outcome, arn) = rotation(dst, map, s, &tags, existing, o).await;
        report.record(Kind::Rotation, &s.name, outcome);
        if let Some(arn) = arn {
            map.insert(&s.rotation_arn, &arn);
            overrides(src, dst, map, s, &arn, o, report).await;
        }
    }
}

pub(super) async fn rotation(
    dst: &Target,
    map: &ArnMap,
    s: &Rotation,
    tags: &BTreeMap<String, String>,
    existing: Option<&Rotation>,
    o: RunOptions,
) -> (Outcome, Option<String>) {
    let members = map.rewrite_all(s.contact_ids());
    let want = normal_recurrence(s.recurrence.clone());
    let Some(t) = existing else {
        if o.dry_run {
            return (Outcome::Created, None);
        }
        return match dst
            .contacts
            .create_rotation()
            .name(&s.name)
            .set_contact_ids(Some(members))
            .set_start_time(s.start_time)
            .set_time_zone_id(s.time_zone_id.clone())
            .set_recurrence(want)
            .set_tags(create_tags(tags))
            .send()
            .await
        {
            Ok(r) => (Outcome::Created, Some(r.rotation_arn)),
            Err(e) => (Outcome::Failed(sdk_message(&e)), None),
        };
    };
    let mut changed = false;
    if t.contact_ids() != members.as_slice()
        || t.start_time != s.start_time
        || t.time_zone_id != s.time_zone_id
        || normal_recurrence(t.recurrence.clone()) != want
    {
        changed = true;
        if !o.dry_run
            && let Err(e) = dst
                .contacts
                .update_rotation()
                .rotation_id(&t.rotation_arn)
                .set_contact_ids(Some(members))
                .set_start_time(s.start_time)
                .set_time_zone_id(s.time_zone_id.clone())
                .set_recurrence(want)
                .send()
                .await
        {
            return (
                Outcome::Failed(sdk_message(&e)),
                Some(t.rotation_arn.clone()),
            );
        }
    }
    match sync_tags_contacts(dst, &t.rotation_arn, tags, o.dry_run).await {
        Ok(x) => changed |= x,
        Err(e) => return (Outcome::Failed(e), Some(t.rotation_arn.clone())),
    }
    let outcome = if changed {
        Outcome::Updated
    } else {
        Outcome::Unchanged
    };
    (outcome, Some(t.rotation_arn.clone()))
}

type OverrideKey = (i64, i64, Vec<String>);

async fn list_overrides(
    client: &aws_sdk_ssmcontacts::Client,
    rotation: &str,
    from: DateTime,
    to: DateTime,
) -> Result<Vec<aws_sdk_ssmcontacts::types::RotationOverride>, String> {
    client
        .list_rotation_overrides()
        .rotation_id(rotation)
        .start_time(from)
        .end_time(to)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(|e| sdk_message(&e))
}

/// A source rotation's future (and ongoing) overrides at the target.
async fn overrides(
    src: &Source,
    dst: &Target,
    map: &ArnMap,
    s: &Rotation,
    arn: &str,
    o: RunOptions,
    report: &mut Report,
) {
    let (from, to) = override_window();
    let source = match list_overrides(&src.contacts, &s.rotation_arn, from, to).await {
        Ok(x) => x,
        Err(e) => {
            return report.record(Kind::Override, &format!("{}/*", s.name), Outcome::Failed(e));
        }
    };
    let want: Vec<WantOverride> = source
        .iter()
        .map(|ov| WantOverride {
            start: ov.start_time,
            end: ov.end_time,
            people: map.rewrite_all(&ov.new_contact_ids),
        })
        .collect();
    apply_overrides(dst, &s.name, arn, &want, o, report).await;
}

/// From now to the horizon: past overrides are history, not set-up.
pub(super) fn override_window() -> (DateTime, DateTime) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    (
        DateTime::from_secs(now),
        DateTime::from_secs(now + OVERRIDE_HORIZON_SECS),
    )
}

/// An override as the target should have it (people as target ARNs).
pub(super) struct WantOverride {
    pub(super) start: DateTime,
    pub(super) end: DateTime,
    pub(super) people: Vec<String>,
}

/// Brings a target rotation's future overrides to `want`, matched by window and people; one
/// the source no longer has is removed, so that an override moved at the source is not doubled.
pub(super) async fn apply_overrides(
    dst: &Target,
    rotation: &str,
    arn: &str,
    want: &[WantOverride],
    o: RunOptions,
    report: &mut Report,
) {
    let (from, to) = override_window();
    let target = match list_overrides(&dst.contacts, arn, from, to).await {
        Ok(x) => x,
        Err(e) => {
            return report.record(Kind::Override, &format!("{rotation}/*"), Outcome::Failed(e));
        }
    };
    let key = |start: &DateTime, end: &DateTime, people: Vec<String>| -> OverrideKey {
        (
            start.to_millis().unwrap_or(0),
            end.to_millis().unwrap_or(0),
            people,
        )
    };
    let mut have: HashMap<OverrideKey, String> = target
        .iter()
        .map(|t| {
            (
                key(&t.start_time, &t.end_time, t.new_contact_ids.clone()),
                t.rotation_override_id.clone(),
            )
        })
        .collect();
    for ov in want {
        let people = ov.people.clone();
        let k = key(&ov.start, &ov.end, people.clone());
        let name = format!("{rotation}/{}", ov.start);
        if have.remove(&k).is_some() {
            report.record(Kind::Override, &name, Outcome::Unchanged);
            continue;
        }
        if o.dry_run {
            report.record(Kind::Override, &name, Outcome::Created);
            continue;
        }
        let r = dst
            .contacts
            .create_rotation_override()
            .rotation_id(arn)
            .set_new_contact_ids(Some(people))
            .start_time(ov.start)
            .end_time(ov.end)
            .send()
            .await;
        let outcome = match r {
            Ok(_) => Outcome::Created,
            Err(e) => Outcome::Failed(sdk_message(&e)),
        };
        report.record(Kind::Override, &name, outcome);
    }
    for ((start, _, _), id) in have {
        let name = format!(
            "{rotation}/{} (no longer at the source: removed)",
            DateTime::from_millis(start)
        );
        if o.dry_run {
            report.record(Kind::Override, &name, Outcome::Updated);
            continue;
        }
        let r = dst
            .contacts
            .delete_rotation_override()
            .rotation_id(arn)
            .rotation_override_id(&id)
            .send()
            .await;
        let outcome = match r {
            Ok(_) => Outcome::Updated,
            Err(e) => Outcome::Failed(sdk_message(&e)),
        };
        report.record(Kind::Override, &name, outcome);
    }
}

/// The source's replication set regions at the target. Returns whether the target's set is
/// ACTIVE (response plans need it).
async fn replication_set(src: &Source, dst: &Target, o: RunOptions, report: &mut Report) -> bool {
    let regions = match source_regions(src).await {
        Ok(Some(r)) => r,
        Ok(None) => return target_active(dst).await,
        Err(e) => {
            report.record(Kind::ReplicationSet, "(source)", Outcome::Failed(e));
            return false;
        }
    };
    let listed = match dst.incidents.list_replication_sets().send().await {
        Ok(l) => l.replication_set_arns,
        Err(e) => {
            report.record(
                Kind::ReplicationSet,
                "(target)",
                Outcome::Failed(sdk_message(&e)),
            );
            return false;
        }
    };
    let name = regions.keys().cloned().collect::<Vec<_>>().join(",");
    let outcome = match listed.first() {
        None if o.dry_run => Outcome::Created,
        None => {
            let mut req = dst.incidents.create_replication_set();
            for (region, key) in &regions {
                req = req.regions(
                    region,
                    RegionMapInputValue::builder()
                        .set_sse_kms_key_id(key.clone())
                        .build(),
                );
            }
            match req.send().await {
                Ok(_) => Outcome::Created,
                Err(e) => Outcome::Failed(sdk_message(&e)),
            }
        }
        Some(arn) => match dst.incidents.get_replication_set().arn(arn).send().await {
            Err(e) => Outcome::Failed(sdk_message(&e)),
            Ok(got) => {
                let have = got
                    .replication_set
                    .map(|r| r.region_map)
                    .unwrap_or_default();
                let missing: Vec<&String> =
                    regions.keys().filter(|r| !have.contains_key(*r)).collect();
                if missing.is_empty() {
                    Outcome::Unchanged
                } else if o.dry_run {
                    Outcome::Updated
                } else {
                    let mut req = dst.incidents.update_replication_set().arn(arn);
                    for r in missing {
                        match AddRegionAction::builder().region_name(r).build() {
                            Ok(a) => {
                                req = req.actions(UpdateReplicationSetAction::AddRegionAction(a))
                            }
                            Err(e) => return fail_rs(report, &name, e.to_string()),
                        }
                    }
                    match req.send().await {
                        Ok(_) => Outcome::Updated,
                        Err(e) => Outcome::Failed(sdk_message(&e)),
                    }
                }
            }
        },
    };
    let failed = matches!(outcome, Outcome::Failed(_));
    report.record(Kind::ReplicationSet, &name, outcome);
    if o.dry_run || failed {
        return !failed;
    }
    wait_active(dst).await
}

fn fail_rs(report: &mut Report, name: &str, e: String) -> bool {
    report.record(Kind::ReplicationSet, name, Outcome::Failed(e));
    false
}

async fn source_regions(src: &Source) -> Result<Option<BTreeMap<String, Option<String>>>, String> {
    let listed = src
        .incidents
        .list_replication_sets()
        .send()
        .await
        .map_err(|e| sdk_message(&e))?;
    let Some(arn) = listed.replication_set_arns.first() else {
        return Ok(None);
    };
    let got = src
        .incidents
        .get_replication_set()
        .arn(arn)
        .send()
        .await
        .map_err(|e| sdk_message(&e))?;
    let map = got
        .replication_set
        .map(|r| r.region_map)
        .unwrap_or_default();
    Ok(Some(
        map.into_iter()
            .map(|(k, v)| (k, v.sse_kms_key_id.filter(|k| k != "DefaultKey")))
            .collect(),
    ))
}

async fn target_active(dst: &Target) -> bool {
    let Ok(l) = dst.incidents.list_replication_sets().send().await else {
        return false;
    };
    let Some(arn) = l.replication_set_arns.first() else {
        return false;
    };
    matches!(
        dst.incidents.get_replication_set().arn(arn).send().await,
        Ok(g) if g.replication_set.as_ref().is_some_and(|r| r.status == aws_sdk_ssmincidents::types::ReplicationSetStatus::Active)
    )
}

/// A new replication set reads CREATING for a while (as in AWS); response plans wait for it.
async fn wait_active(dst: &Target) -> bool {
    for _ in 0..120 {
        if target_active(dst).await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    false
}

type IncTags = BTreeMap<String, String>;

async fn incident_tags(
    client: &aws_sdk_ssmincidents::Client,
    arn: &str,
) -> Result<IncTags, String> {
    client
        .list_tags_for_resource()
        .resource_arn(arn)
        .send()
        .await
        .map(|t| t.tags.into_iter().collect())
        .map_err(|e| sdk_message(&e))
}

async fn response_plans(
    src: &Source,
    dst: &Target,
    map: &ArnMap,
    ready: bool,
    o: RunOptions,
    report: &mut Report,
) {
    let listed: Result<Vec<_>, _> = src
        .incidents
        .list_response_plans()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await;
    let listed = match listed {
        Ok(l) => l,
        Err(e) => {
            return report.record(
                Kind::ResponsePlan,
                "(all)",
                Outcome::Failed(sdk_message(&e)),
            );
        }
    };
    for s in listed {
        let outcome = if !ready && !o.dry_run {
            Outcome::Failed("the target has no ACTIVE replication set".into())
        } else {
            response_plan(src, dst, map, &s.arn, o).await
        };
        report.record(Kind::ResponsePlan, &s.name, outcome);
    }
}

async fn response_plan(
    src: &Source,
    dst: &Target,
    map: &ArnMap,
    arn: &str,
    o: RunOptions,
) -> Outcome {
    let s = match src.incidents.get_response_plan().arn(arn).send().await {
        Ok(s) => s,
        Err(e) => return Outcome::Failed(sdk_message(&e)),
    };
    let tags = match incident_tags(&src.incidents, arn).await {
        Ok(t) => t,
        Err(e) => return Outcome::Failed(e),
    };
    let Some(template) = s.incident_template.clone() else {
        return Outcome::Skipped("the source gave no incident template".into());
    };
    let engagements = map.rewrite_all(s.engagements());
    let target_arn = map.rewrite(&s.arn);
    let current = match dst
        .incidents
        .get_response_plan()
        .arn(&target_arn)
        .send()
        .await
    {
        Ok(c) => c,
        Err(e)
            if e.as_service_error().is_some_and(|x| {
                aws_sdk_ssmincidents::error::ProvideErrorMetadata::code(x)
                    == Some("ResourceNotFoundException")
            }) =>
        {
            if o.dry_run {
                return Outcome::Created;
            }
            let r = dst
                .incidents
                .create_response_plan()
                .name(&s.name)
                .set_display_name(s.display_name.clone())
                .incident_template(template)
                .set_chat_channel(s.chat_channel.clone())
                .set_engagements(Some(engagements))
                .set_actions(s.actions.clone())
                .set_integrations(s.integrations.clone())
                .set_tags((!tags.is_empty()).then(|| tags.into_iter().collect()))
                .send()
                .await;
            return match r {
                Ok(_) => Outcome::Created,
                Err(e) => Outcome::Failed(sdk_message(&e)),
            };
        }
        Err(e) => return Outcome::Failed(sdk_message(&e)),
    };
    let mut changed = false;
    let same = current.display_name == s.display_name
        && current.incident_template == s.incident_template
        && current.chat_channel == s.chat_channel
        && current.engagements() == engagements.as_slice()
        && current.actions() == s.actions()
        && current.integrations() == s.integrations();
    if !same {
        changed = true;
        if !o.dry_run {
            let r = dst
                .incidents
                .update_response_plan()
                .arn(&target_arn)
                .set_display_name(s.display_name.clone())
                .incident_template_title(&template.title)
                .incident_template_impact(template.impact)
                .set_incident_template_summary(template.summary.clone())
                .set_incident_template_dedupe_string(template.dedupe_string.clone())
                .set_incident_template_notification_targets(template.notification_targets.clone())
                .set_chat_channel(s.chat_channel.clone())
                .set_engagements(Some(engagements))
                .set_actions(s.actions.clone())
                .set_integrations(s.integrations.clone())
                .send()
                .await;
            if let Err(e) = r {
                return Outcome::Failed(sdk_message(&e));
            }
        }
    }
    let have = match incident_tags(&dst.incidents, &target_arn).await {
        Ok(t) => t,
        Err(e) => return Outcome::Failed(e),
    };
    if have != tags {
        changed = true;
        if !o.dry_run {
            let gone: Vec<String> = have
                .keys()
                .filter(|k| !tags.contains_key(*k))
                .cloned()
                .collect();
            if !gone.is_empty()
                && let Err(e) = dst
                    .incidents
                    .untag_resource()
                    .resource_arn(&target_arn)
                    .set_tag_keys(Some(gone))
                    .send()
                    .await
            {
                return Outcome::Failed(sdk_message(&e));
            }
            if !tags.is_empty()
                && let Err(e) = dst
                    .incidents
                    .tag_resource()
                    .resource_arn(&target_arn)
                    .set_tags(Some(tags.into_iter().collect()))
                    .send()
                    .await
            {
                return Outcome::Failed(sdk_message(&e));
            }
        }
    }
    if changed {
        Outcome::Updated
    } else {
        Outcome::Unchanged
    }
}
