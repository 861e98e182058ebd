//! `klaxon import opsgenie`: reads Opsgenie's REST API and writes the set-up into the target
//! through the same steps as the AWS importer: users become personal contacts with their
//! channels (plans empty at first), schedules' rotations become rotations with their future
//! overrides, each schedule an on-call schedule contact, then every plan: personal ones from
//! the users' "new alert" notification rules, escalation ones from escalations.
//!
//! Opsgenie objects carry ids the target never sees, so each gets a stand-in source ARN (the
//! target's own ARN for contacts, whose ARN is their alias) and the ArnMap does the rest.

use super::arn::ArnMap;
use super::aws::{
    RunOptions, SrcContact, WantOverride, apply_overrides, channel, contact_plan, ensure_contact,
    list_channels, list_rotations, rotation,
};
use super::opsgenie_api::{self as og, Api};
use super::target::Target;
use super::{Kind, Outcome, Report};
use aws_sdk_ssmcontacts::primitives::DateTime;
use aws_sdk_ssmcontacts::types::{
    ActivationStatus, ChannelTargetInfo, ChannelType, ContactChannel, ContactChannelAddress,
    ContactTargetInfo, ContactType, CoverageTime, DayOfWeek, HandOffTime, Plan, RecurrenceSettings,
    Rotation, Stage, Target as PlanTarget, WeeklySetting,
};
use std::collections::{BTreeMap, HashMap, HashSet};

/// AWS's limit on a stage's duration.
const MAX_STAGE_MINUTES: i64 = 30;

pub struct Source {
    users: Vec<SrcUser>,
    schedules: Vec<og::Schedule>,
    overrides: HashMap<String, Vec<og::Override>>,
    escalations: Vec<og::Escalation>,
}

struct SrcUser {
    user: og::User,
    contacts: Vec<og::Contact>,
    rule: Option<og::NotificationRule>,
}

/// Reads everything first, so that a source that cannot be read changes nothing.
pub async fn read(api: &Api) -> Result<Source, String> {
    let mut users = Vec::new();
    for user in api.users().await? {
        let contacts = api.contacts(&user.id).await?;
        let mut rules: Vec<og::NotificationRule> = api
            .notification_rules(&user.id)
            .await?
            .into_iter()
            .filter(|r| r.action_type == "create-alert" && r.enabled != Some(false))
            .collect();
        rules.sort_by_key(|r| r.order.unwrap_or(i64::MAX));
        let rule = match rules.first() {
            Some(r) => Some(api.notification_rule(&user.id, &r.id).await?),
            None => None,
        };
        users.push(SrcUser {
            user,
            contacts,
            rule,
        });
    }
    // Aliases are handed out in this order, so it must not depend on the API's.
    users.sort_by_key(|u| (u.user.username.to_lowercase(), u.user.username.clone()));
    let mut schedules = api.schedules().await?;
    schedules.sort_by(|a, b| a.name.cmp(&b.name));
    let mut overrides = HashMap::new();
    for s in &schedules {
        overrides.insert(s.id.clone(), api.overrides(&s.id).await?);
    }
    let mut escalations = api.escalations().await?;
    escalations.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(Source {
        users,
        schedules,
        overrides,
        escalations,
    })
}

/// Valid, unique aliases (lower case letters, digits, `-` and `_`), handed out in a fixed
/// order so that a rerun gives every resource the alias it had.
#[derive(Default)]
pub struct Aliases(HashSet<String>);

impl Aliases {
    pub fn take(&mut self, wanted: &str) -> String {
        let mut base: String = wanted
            .to_lowercase()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        base = base.trim_matches('-').chars().take(240).collect();
        if base.is_empty() {
            base = "contact".into();
        }
        let mut alias = base.clone();
        let mut n = 2;
        while !self.0.insert(alias.clone()) {
            alias = format!("{base}-{n}");
            n += 1;
        }
        alias
    }
}

/// A rotation name AWS accepts: letters, digits, `_ - .` and spaces.
fn rotation_name(schedule: &str, rotation: &str) -> String {
    format!("{schedule} {rotation}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-. ".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(128)
        .collect()
}

/// Opsgenie writes phone numbers as `<country code>-<number>`; AWS wants E.164.
fn e164(to: &str) -> String {
    let digits: String = to.chars().filter(|c| c.is_ascii_digit()).collect();
    format!("+{digits}")
}

fn channel_type(method: &str) -> Option<ChannelType> {
    match method {
        "sms" => Some(ChannelType::Sms),
        "voice" => Some(ChannelType::Voice),
        "email" => Some(ChannelType::Email),
        _ => None,
    }
}

fn address(c: &og::Contact) -> String {
    if c.method == "email" {
        c.to.clone()
    } else {
        e164(&c.to)
    }
}

fn day_of_week(d: &str) -> Option<(u8, DayOfWeek)> {
    Some(match d {
        "monday" => (0, DayOfWeek::Mon),
        "tuesday" => (1, DayOfWeek::Tue),
        "wednesday" => (2, DayOfWeek::Wed),
        "thursday" => (3, DayOfWeek::Thu),
        "friday" => (4, DayOfWeek::Fri),
        "saturday" => (5, DayOfWeek::Sat),
        "sunday" => (6, DayOfWeek::Sun),
        _ => return None,
    })
}

const WEEK: [DayOfWeek; 7] = [
    DayOfWeek::Mon,
    DayOfWeek::Tue,
    DayOfWeek::Wed,
    DayOfWeek::Thu,
    DayOfWeek::Fri,
    DayOfWeek::Sat,
    DayOfWeek::Sun,
];

fn hand_off(hour: i32, minute: i32) -> HandOffTime {
    HandOffTime::builder()
        .hour_of_day(hour)
        .minute_of_hour(minute)
        .build()
}

fn cover(
    out: &mut HashMap<DayOfWeek, Vec<CoverageTime>>,
    day: u8,
    from: (i32, i32),
    to: (i32, i32),
) {
    out.entry(WEEK[day as usize % 7].clone()).or_default().push(
        CoverageTime::builder()
            .start(hand_off(from.0, from.1))
            .end(hand_off(to.0, to.1))
            .build(),
    );
}

/// Opsgenie time restrictions as AWS shift coverages. A window over several days becomes one
/// per day (a coverage whose end is not after its start runs to the end time the next day, so
/// a whole day is 00:00 to 00:00).
pub fn coverages(r: &og::TimeRestriction) -> Result<HashMap<DayOfWeek, Vec<CoverageTime>>, String> {
    let mut out = HashMap::new();
    match r.kind.as_str() {
        "time-of-day" => {
            let x = r
                .restriction
                .as_ref()
                .ok_or("a time-of-day restriction without its times")?;
            for day in 0..7 {
                cover(
                    &mut out,
                    day,
                    (x.start_hour, x.start_min),
                    (x.end_hour, x.end_min),
                );
            }
        }
        "weekday-and-time-of-day" => {
            for x in r.restrictions.iter().flatten() {
                let day = |d: &Option<String>| {
                    d.as_deref()
                        .and_then(day_of_week)
                        .map(|d| d.0)
                        .ok_or_else(|| format!("unknown weekday {d:?}"))
                };
                let (from, to) = (day(&x.start_day)?, day(&x.end_day)?);
                let (start, end) = ((x.start_hour, x.start_min), (x.end_hour, x.end_min));
                let mut span = (to as i32 - from as i32).rem_euclid(7);
                if span == 0 && end <= start {
                    span = 7;
                }
                if span == 0 {
                    cover(&mut out, from, start, end);
                    continue;
                }
                cover(&mut out, from, start, (0, 0));
                for d in 1..span {
                    cover(&mut out, (from as i32 + d) as u8, (0, 0), (0, 0));
                }
                if end != (0, 0) {
                    cover(&mut out, to, (0, 0), end);
                }
            }
        }
        other => return Err(format!("time restriction type {other} is not known")),
    }
    Ok(out)
}

/// An Opsgenie rotation as AWS recurrence settings and start, in the schedule's time zone:
/// hand-offs at the start's local time, every `length` days or weeks.
pub fn recurrence(r: &og::Rotation, tz: &str) -> Result<(RecurrenceSettings, DateTime), String> {
    let start: jiff::Timestamp = r
        .start_date
        .parse()
        .map_err(|e| format!("startDate {}: {e}", r.start_date))?;
    let zone = jiff::tz::TimeZone::get(tz).map_err(|e| format!("time zone {tz}: {e}"))?;
    let local = zone.to_datetime(start);
    let at = hand_off(local.hour() as i32, local.minute() as i32);
    let mut b = RecurrenceSettings::builder()
        .number_of_on_calls(1)
        .recurrence_multiplier(r.length.unwrap_or(1).max(1) as i32);
    b = match r.kind.as_str() {
        "daily" => b.daily_settings(at),
        "weekly" => {
            let wd = WEEK[local.weekday().to_monday_zero_offset() as usize].clone();
            b.weekly_settings(
                WeeklySetting::builder()
                    .day_of_week(wd)
                    .hand_off_time(at)
                    .build()
                    .map_err(|e| e.to_string())?,
            )
        }
        "hourly" => return Err("hourly rotations have no AWS counterpart".into()),
        other => return Err(format!("rotation type {other} is not known")),
    };
    if let Some(tr) = &r.time_restriction {
        b = b.set_shift_coverages(Some(coverages(tr)?));
    }
    let settings = b.build().map_err(|e| e.to_string())?;
    Ok((settings, DateTime::from_millis(start.as_millisecond())))
}

fn contact_arn(dst: &Target, alias: &str) -> String {
    format!(
        "arn:aws:ssm-contacts:{}:{}:contact/{alias}",
        dst.region, dst.account
    )
}

fn source_channel_arn(user: &og::User, c: &og::Contact) -> String {
    format!("opsgenie:user/{}/contact/{}", user.id, c.id)
}

/// Channel names: the method, numbered when a user has several of one kind.
fn channel_names(contacts: &[og::Contact]) -> Vec<String> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    contacts
        .iter()
        .map(|c| {
            let n = seen.entry(c.method.as_str()).or_default();
            *n += 1;
            if *n == 1 {
                c.method.clone()
            } else {
                format!("{}-{n}", c.method)
            }
        })
        .collect()
}

fn stage(minutes: i64, targets: Vec<PlanTarget>) -> Stage {
    Stage::builder()
        .duration_in_minutes(minutes as i32)
        .set_targets(Some(targets))
        .build()
        .expect("duration and targets are set")
}

/// Stages from (minute at which it fires, targets) pairs: each stage lasts until the next one
/// fires, clamped to AWS's stage limit (noted); a first delay cannot be kept, since a plan's
/// first stage starts at once.
fn stages(
    mut at: Vec<(i64, Vec<PlanTarget>)>,
    report: &Report,
    kind: Kind,
    name: &str,
) -> Vec<Stage> {
    at.sort_by_key(|x| x.0);
    if let Some((first, _)) = at.first()
        && *first > 0
    {
        report.note(
            kind,
            name,
            &format!("the first step's {first}-minute delay is not kept: a plan starts at once"),
        );
    }
    let mut out = Vec::new();
    for i in 0..at.len() {
        let gap = at.get(i + 1).map_or(0, |n| n.0.saturating_sub(at[i].0));
        if gap > MAX_STAGE_MINUTES {
            report.note(
                kind,
                name,
                &format!(
                    "stage {} waits {gap} minutes at the source; clamped to {MAX_STAGE_MINUTES}",
                    i + 1
                ),
            );
        }
        out.push(stage(gap.min(MAX_STAGE_MINUTES), at[i].1.clone()));
    }
    out
}

fn contact_target(arn: String) -> PlanTarget {
    PlanTarget::builder()
        .contact_target_info(
            ContactTargetInfo::builder()
                .contact_id(arn)
                .is_essential(false)
                .build()
                .expect("is_essential is set"),
        )
        .build()
}

fn channel_target(arn: String) -> PlanTarget {
    PlanTarget::builder()
        .channel_target_info(
            ChannelTargetInfo::builder()
                .contact_channel_id(arn)
                .build()
                .expect("the channel is set"),
        )
        .build()
}

fn plan(stages: Vec<Stage>, rotations: Vec<String>) -> Plan {
    Plan::builder()
        .set_stages(Some(stages))
        .set_rotation_ids(Some(rotations))
        .build()
}

struct Ctx<'a> {
    dst: &'a Target,
    o: RunOptions,
    map: ArnMap,
    /// Opsgenie user id (and username) → target contact ARN.
    users: HashMap<String, String>,
    /// Opsgenie schedule id (and name) → target contact ARN.
    schedules: HashMap<String, String>,
}

pub async fn run(src: &Source, dst: &Target, o: RunOptions, report: &mut Report) {
    let mut cx = Ctx {
        dst,
        o,
        map: ArnMap::new(&dst.account, &dst.region),
        users: HashMap::new(),
        schedules: HashMap::new(),
    };
    let mut aliases = Aliases::default();
    let people: Vec<SrcContact> = src
        .users
        .iter()
        .map(|u| {
            let local = u.user.username.split('@').next().unwrap_or_default();
            let alias = aliases.take(local);
            let arn = contact_arn(dst, &alias);
            cx.users.insert(u.user.id.clone(), arn.clone());
            cx.users.insert(u.user.username.clone(), arn.clone());
            let display_name = u.user.full_name.as_deref().and_then(|full| {
                let valid = display_name(full);
                if valid.as_deref() != Some(full) {
                    report.note(
                        Kind::Contact,
                        &alias,
                        &format!(
                            "display name {full:?} became {:?} (AWS allows letters, digits, spaces, _ . -)",
                            valid.as_deref().unwrap_or("")
                        ),
                    );
                }
                valid
            });
            SrcContact {
                arn,
                alias,
                display_name,
                kind: ContactType::Personal,
                plan: plan(vec![], vec![]),
                tags: BTreeMap::new(),
            }
        })
        .collect();
    let schedule_aliases: Vec<String> = src
        .schedules
        .iter()
        .map(|s| aliases.take(&s.name))
        .collect();
    for (s, alias) in src.schedules.iter().zip(&schedule_aliases) {
        let arn = contact_arn(dst, alias);
        cx.schedules.insert(s.id.clone(), arn.clone());
        cx.schedules.insert(s.name.clone(), arn);
    }
    let escalation_aliases: Vec<String> = src
        .escalations
        .iter()
        .map(|e| aliases.take(&e.name))
        .collect();

    let mut created = HashSet::new();
    let mut present = HashSet::new();
    for (u, c) in src.users.iter().zip(&people) {
        match ensure_contact(dst, &cx.map, c, o).await {
            Ok(made) => {
                present.insert(c.alias.clone());
                if made != Some(false) {
                    created.insert(c.alias.clone());
                }
                channels(&mut cx, u, c, report).await;
            }
            Err(outcome) => report.record(Kind::Contact, &c.alias, outcome),
        }
    }

    let mut schedule_rotations: Vec<Vec<String>> = Vec::new();
    for s in &src.schedules {
        let none = Vec::new();
        let ovs = src.overrides.get(&s.id).unwrap_or(&none);
        schedule_rotations.push(rotations(&mut cx, s, ovs, report).await);
    }
    for (s, (alias, rots)) in src
        .schedules
        .iter()
        .zip(schedule_aliases.iter().zip(schedule_rotations))
    {
        let c = SrcContact {
            arn: contact_arn(dst, alias),
            alias: alias.clone(),
            display_name: Some(s.name.clone()),
            kind: ContactType::OncallSchedule,
            plan: plan(vec![], rots),
            tags: BTreeMap::new(),
        };
        let outcome = contact_plan(dst, &cx.map, &c, false, o).await;
        report.record(Kind::Contact, alias, outcome);
    }

    for (u, mut c) in src.users.iter().zip(people) {
        if !present.contains(&c.alias) {
            continue;
        }
        c.plan = plan(personal_stages(&cx, u, &c.alias, report), vec![]);
        let outcome = contact_plan(dst, &cx.map, &c, created.contains(&c.alias), o).await;
        report.record(Kind::Contact, &c.alias, outcome);
    }

    for (e, alias) in src.escalations.iter().zip(&escalation_aliases) {
        let mut c = SrcContact {
            arn: contact_arn(dst, alias),
            alias: alias.clone(),
            display_name: Some(e.name.clone()),
            kind: ContactType::Escalation,
            plan: plan(vec![], vec![]),
            tags: BTreeMap::new(),
        };
        let made = match ensure_contact(dst, &cx.map, &c, o).await {
            Ok(m) => m != Some(false),
            Err(outcome) => {
                report.record(Kind::Contact, alias, outcome);
                continue;
            }
        };
        c.plan = plan(escalation_stages(&cx, e, alias, report), vec![]);
        let outcome = contact_plan(dst, &cx.map, &c, made, o).await;
        report.record(Kind::Contact, alias, outcome);
    }
}

async fn channels(cx: &mut Ctx<'_>, u: &SrcUser, c: &SrcContact, report: &mut Report) {
    let target = if cx.o.dry_run
        && cx
            .dst
            .contacts
            .get_contact()
            .contact_id(&c.arn)
            .send()
            .await
            .is_err()
    {
        Vec::new()
    } else {
        match list_channels(&cx.dst.contacts, &c.arn).await {
            Ok(t) => t,
            Err(e) => {
                return report.record(Kind::Channel, &format!("{}/*", c.alias), Outcome::Failed(e));
            }
        }
    };
    let by_name: HashMap<&str, &ContactChannel> =
        target.iter().map(|t| (t.name.as_str(), t)).collect();
    for (oc, name) in u.contacts.iter().zip(channel_names(&u.contacts)) {
        let label = format!("{}/{name}", c.alias);
        let Some(kind) = channel_type(&oc.method) else {
            report.record(
                Kind::Channel,
                &label,
                Outcome::Skipped(format!("{} contacts have no AWS counterpart", oc.method)),
            );
            continue;
        };
        let enabled = oc.status.as_ref().is_some_and(|s| s.enabled);
        let s = ContactChannel::builder()
            .contact_channel_arn(source_channel_arn(&u.user, oc))
            .contact_arn(&c.arn)
            .name(&name)
            .r#type(kind)
            .delivery_address(
                ContactChannelAddress::builder()
                    .simple_address(address(oc))
                    .build(),
            )
            .activation_status(if enabled {
                ActivationStatus::Activated
            } else {
                ActivationStatus::NotActivated
            })
            .build()
            .expect("the channel's required fields are set");
        let existing = by_name.get(name.as_str()).copied();
        let outcome = channel(cx.dst, &mut cx.map, &c.arn, &s, existing, cx.o).await;
        report.record(Kind::Channel, &label, outcome);
    }
}

/// The user's first "new alert" notification rule as the contact's plan: each step engages
/// the channel of the contact method it names, at its `sendAfter`.
fn personal_stages(cx: &Ctx<'_>, u: &SrcUser, alias: &str, report: &Report) -> Vec<Stage> {
    let Some(rule) = &u.rule else {
        return Vec::new();
    };
    let mut at: BTreeMap<i64, Vec<PlanTarget>> = BTreeMap::new();
    for step in rule.steps.iter().filter(|s| s.enabled != Some(false)) {
        let found = u.contacts.iter().find(|c| {
            c.method == step.contact.method && step.contact.to.as_deref().is_none_or(|t| t == c.to)
        });
        let Some(found) = found.filter(|c| channel_type(&c.method).is_some()) else {
            report.note(
                Kind::Contact,
                alias,
                &format!(
                    "notification step by {} left out: no such channel",
                    step.contact.method
                ),
            );
            continue;
        };
        let minutes = step.send_after.as_ref().map_or(0, og::TimeAmount::minutes);
        let arn = cx.map.rewrite(&source_channel_arn(&u.user, found));
        if arn.starts_with("opsgenie:") {
            // Not created (a dry run, or it failed): nothing to point at yet.
            continue;
        }
        at.entry(minutes).or_default().push(channel_target(arn));
    }
    stages(at.into_iter().collect(), report, Kind::Contact, alias)
}

/// One stage per rule, in the order of their delays.
fn escalation_stages(cx: &Ctx<'_>, e: &og::Escalation, alias: &str, report: &Report) -> Vec<Stage> {
    let mut at = Vec::new();
    for r in &e.rules {
        let found = match r.recipient.kind.as_str() {
            "user" => r
                .recipient
                .id
                .as_ref()
                .and_then(|id| cx.users.get(id))
                .or_else(|| r.recipient.username.as_ref().and_then(|n| cx.users.get(n))),
            "schedule" => r
                .recipient
                .id
                .as_ref()
                .and_then(|id| cx.schedules.get(id))
                .or_else(|| r.recipient.name.as_ref().and_then(|n| cx.schedules.get(n))),
            _ => None,
        };
        // A rule with nobody to engage is left out rather than kept as an empty stage: the
        // delays are counted from the alert, so the stages around it keep their timing.
        let Some(arn) = found else {
            report.note(
                Kind::Contact,
                alias,
                &format!(
                    "the rule at {} minutes is left out: recipient {} is not importable",
                    r.delay.minutes(),
                    r.recipient.label()
                ),
            );
            continue;
        };
        at.push((r.delay.minutes(), vec![contact_target(arn.clone())]));
    }
    stages(at, report, Kind::Contact, alias)
}

/// A schedule's rotations and their overrides; returns the target ARNs of those imported.
async fn rotations(
    cx: &mut Ctx<'_>,
    s: &og::Schedule,
    overrides: &[og::Override],
    report: &mut Report,
) -> Vec<String> {
    let target = match list_rotations(&cx.dst.contacts).await {
        Ok(t) => t,
        Err(e) => {
            report.record(Kind::Rotation, &format!("{}/*", s.name), Outcome::Failed(e));
            return Vec::new();
        }
    };
    let by_name: HashMap<&str, &Rotation> = target.iter().map(|t| (t.name.as_str(), t)).collect();
    let tz = s.timezone.clone().unwrap_or_else(|| "UTC".into());
    let mut out = Vec::new();
    for r in &s.rotations {
        let name = rotation_name(&s.name, r.name.as_deref().unwrap_or(&r.id));
        let members = match members(cx, r) {
            Ok(m) => m,
            Err(why) => {
                report.record(Kind::Rotation, &name, Outcome::Skipped(why));
                continue;
            }
        };
        let (settings, start) = match recurrence(r, &tz) {
            Ok(x) => x,
            Err(why) => {
                report.record(Kind::Rotation, &name, Outcome::Skipped(why));
                continue;
            }
        };
        if r.end_date.is_some() {
            report.note(
                Kind::Rotation,
                &name,
                "the rotation's end date is not kept: AWS rotations do not end",
            );
        }
        let want = Rotation::builder()
            .rotation_arn(format!("opsgenie:rotation/{}", r.id))
            .name(&name)
            .set_contact_ids(Some(members))
            .start_time(start)
            .time_zone_id(&tz)
            .recurrence(settings)
            .build()
            .expect("the rotation's required fields are set");
        let existing = by_name.get(name.as_str()).copied();
        let (outcome, arn) =
            rotation(cx.dst, &cx.map, &want, &BTreeMap::new(), existing, cx.o).await;
        report.record(Kind::Rotation, &name, outcome);
        let Some(arn) = arn else { continue };
        let wanted = rotation_overrides(cx, r, overrides, &name, report);
        apply_overrides(cx.dst, &name, &arn, &wanted, cx.o, report).await;
        out.push(arn);
    }
    out
}

fn members(cx: &Ctx<'_>, r: &og::Rotation) -> Result<Vec<String>, String> {
    r.participants
        .iter()
        .map(|p| match p.kind.as_str() {
            "user" => {
                p.id.as_ref()
                    .and_then(|id| cx.users.get(id))
                    .or_else(|| p.username.as_ref().and_then(|n| cx.users.get(n)))
                    .cloned()
                    .ok_or_else(|| format!("participant {} is not a known user", p.label()))
            }
            _ => Err(format!(
                "participant {} is not importable: AWS rotations take contacts only",
                p.label()
            )),
        })
        .collect()
}

/// The schedule's overrides that apply to this rotation (all of them when an override names
/// no rotation) and are not over.
fn rotation_overrides(
    cx: &Ctx<'_>,
    r: &og::Rotation,
    overrides: &[og::Override],
    name: &str,
    report: &Report,
) -> Vec<WantOverride> {
    let now = jiff::Timestamp::now();
    let mut out = Vec::new();
    for ov in overrides {
        let applies = ov.rotations.is_empty()
            || ov.rotations.iter().any(|x| {
                x.id.as_deref() == Some(r.id.as_str()) || (x.name.is_some() && x.name == r.name)
            });
        if !applies {
            continue;
        }
        let (Ok(start), Ok(end)) = (
            ov.start_date.parse::<jiff::Timestamp>(),
            ov.end_date.parse::<jiff::Timestamp>(),
        ) else {
            report.note(
                Kind::Override,
                name,
                &format!("override {}: unreadable dates", ov.alias),
            );
            continue;
        };
        if end <= now {
            continue;
        }
        let who = match ov.user.kind.as_str() {
            "user" => ov
                .user
                .id
                .as_ref()
                .and_then(|id| cx.users.get(id))
                .or_else(|| ov.user.username.as_ref().and_then(|n| cx.users.get(n))),
            _ => None,
        };
        let Some(who) = who else {
            report.note(
                Kind::Override,
                name,
                &format!(
                    "override {}: {} is not importable",
                    ov.alias,
                    ov.user.label()
                ),
            );
            continue;
        };
        out.push(WantOverride {
            start: DateTime::from_millis(start.as_millisecond()),
            end: DateTime::from_millis(end.as_millisecond()),
            people: vec![who.clone()],
        });
    }
    out
}

/// A person's full name as a valid DisplayName (the model's pattern: letters, separators,
/// numbers, `_`, `.`, `-`): apostrophes are dropped ("O'Brien" is "OBrien"), combining marks too
/// (the letter stays), anything else becomes a space; at most 255 characters. None when nothing
/// is left.
fn display_name(full: &str) -> Option<String> {
    static KEEP: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"^[\p{L}\p{N}_.\-]$").unwrap());
    static DROP: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"^[\p{M}'`\u{2019}\u{02bc}]$").unwrap());
    let mut out = String::new();
    let mut buf = [0u8; 4];
    for c in full.chars() {
        let one = &*c.encode_utf8(&mut buf);
        if KEEP.is_match(one) {
            out.push(c);
        } else if !DROP.is_match(one) {
            out.push(' ');
        }
    }
    let name: String = out
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(255)
        .collect();
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_names_become_valid_display_names_keeping_the_letters() {
        assert_eq!(
            display_name("Frank O'Brien").as_deref(),
            Some("Frank OBrien")
        );
        assert_eq!(
            display_name("Zoë D\u{2019}Arcy-Núñez").as_deref(),
            Some("Zoë DArcy-Núñez")
        );
        assert_eq!(
            display_name("Smith, John (ops)").as_deref(),
            Some("Smith John ops")
        );
        assert_eq!(display_name("李 小龍").as_deref(), Some("李 小龍"));
        assert_eq!(display_name("!!!"), None);
        let pattern = regex::Regex::new(r"^[\p{L}\p{Z}\p{N}_.\-]*$").unwrap();
        for n in ["Frank O'Brien", "A/B <c@d>", "Ünïcödé—dash"] {
            assert!(pattern.is_match(&display_name(n).unwrap()), "{n}");
        }
    }

    #[test]
    fn aliases_come_from_the_local_part_and_stay_unique() {
        let mut a = Aliases::default();
        assert_eq!(a.take("Jane.Doe"), "jane-doe");
        assert_eq!(a.take("jane.doe"), "jane-doe-2");
        assert_eq!(a.take("Ops Team!"), "ops-team");
        assert_eq!(a.take("***"), "contact");
    }

    #[test]
    fn a_window_over_days_becomes_one_coverage_a_day() {
        let r = og::TimeRestriction {
            kind: "weekday-and-time-of-day".into(),
            restriction: None,
            restrictions: Some(vec![og::Restriction {
                start_day: Some("friday".into()),
                end_day: Some("monday".into()),
                start_hour: 18,
                start_min: 0,
                end_hour: 8,
                end_min: 30,
            }]),
        };
        let c = coverages(&r).unwrap();
        let days: Vec<usize> = WEEK.iter().map(|d| c.get(d).map_or(0, Vec::len)).collect();
        assert_eq!(days, vec![1, 0, 0, 0, 1, 1, 1]);
        assert_eq!(c[&DayOfWeek::Mon][0].end.as_ref().unwrap().hour_of_day, 8);
    }

    #[test]
    fn phone_numbers_become_e164() {
        assert_eq!(e164("39-123456"), "+39123456");
        assert_eq!(e164("+1 555 0100"), "+15550100");
    }
}
