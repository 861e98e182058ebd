//! `/console/oncall`: for every on-call schedule and rotation, who is on call now and until
//! when, who is next, and each rotation's shifts over the next 14 days, in the rotation's own
//! time zone and labelled with it.

use super::ops::Caller;
use super::view::{self, ms};
use super::{Console, ConsoleError};
use crate::shapes::Timestamp;
use crate::shapes::contacts::*;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Response;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

const DAYS: usize = 14;
/// Pages of a list read before the rest is left off (100 items a page).
const MAX_READS: usize = 20;

/// Contact ARN → how a person is named on the page.
pub struct Names(HashMap<String, String>);

impl Names {
    pub async fn load(caller: &Caller<'_>) -> Result<(Names, Vec<Contact>), ConsoleError> {
        let mut all = Vec::new();
        let mut token = None;
        for _ in 0..MAX_READS {
            let out: ListContactsResult = caller
                .contacts(
                    "ListContacts",
                    &ListContactsRequest {
                        max_results: Some(100),
                        next_token: token.take(),
                        ..Default::default()
                    },
                )
                .await?;
            all.extend(out.contacts.unwrap_or_default());
            token = out.next_token;
            if token.is_none() {
                break;
            }
        }
        let names = all
            .iter()
            .filter_map(|c| Some((c.contact_arn.clone()?, name_of(c))))
            .collect();
        Ok((Names(names), all))
    }

    pub fn of(&self, arn: &str) -> String {
        self.0
            .get(arn)
            .cloned()
            .unwrap_or_else(|| view::tail(arn).to_string())
    }

    fn all(&self, arns: &[String]) -> String {
        let names: Vec<String> = arns.iter().map(|a| self.of(a)).collect();
        if names.is_empty() {
            "nobody".into()
        } else {
            names.join(", ")
        }
    }
}

pub fn name_of(c: &Contact) -> String {
    let alias = c.alias.clone().unwrap_or_default();
    match c.display_name.as_deref().filter(|d| !d.is_empty()) {
        Some(d) if d != alias => format!("{d} ({alias})"),
        _ => alias,
    }
}

async fn rotations(caller: &Caller<'_>) -> Result<Vec<Rotation>, ConsoleError> {
    let mut all = Vec::new();
    let mut token = None;
    for _ in 0..MAX_READS {
        let out: ListRotationsResult = caller
            .contacts(
                "ListRotations",
                &ListRotationsRequest {
                    max_results: Some(100),
                    next_token: token.take(),
                    rotation_name_prefix: None,
                },
            )
            .await?;
        all.extend(out.rotations.unwrap_or_default());
        token = out.next_token;
        if token.is_none() {
            break;
        }
    }
    Ok(all)
}

async fn shifts(
    caller: &Caller<'_>,
    rotation_arn: &str,
    from: i64,
    to: i64,
) -> Result<Vec<RotationShift>, ConsoleError> {
    let mut all = Vec::new();
    let mut token = None;
    for _ in 0..MAX_READS {
        let out: ListRotationShiftsResult = caller
            .contacts(
                "ListRotationShifts",
                &ListRotationShiftsRequest {
                    rotation_id: Some(rotation_arn.to_string()),
                    start_time: Some(Timestamp::from_millis(from)),
                    end_time: Some(Timestamp::from_millis(to)),
                    max_results: Some(1024),
                    next_token: token.take(),
                },
            )
            .await?;
        all.extend(out.rotation_shifts.unwrap_or_default());
        token = out.next_token;
        if token.is_none() {
            break;
        }
    }
    Ok(all)
}

struct Shift {
    start: i64,
    end: i64,
    contacts: Vec<String>,
    overridden: Option<Vec<String>>,
}

fn plain_shifts(raw: Vec<RotationShift>) -> Vec<Shift> {
    let mut out: Vec<Shift> = raw
        .into_iter()
        .filter_map(|s| {
            Some(Shift {
                start: ms(s.start_time)?,
                end: ms(s.end_time)?,
                overridden: (s.r#type == Some(ShiftType::Overridden)).then(|| {
                    s.shift_details
                        .and_then(|d| d.overridden_contact_ids)
                        .unwrap_or_default()
                }),
                contacts: s.contact_ids.unwrap_or_default(),
            })
        })
        .collect();
    out.sort_by_key(|s| s.start);
    out
}

/// A rotation as the page shows it.
fn rotation_view(r: &Rotation, shifts: &[Shift], names: &Names, now: i64) -> Value {
    let tz = r.time_zone_id.clone().unwrap_or_else(|| "UTC".into());
    let current = shifts.iter().find(|s| s.start <= now && now < s.end);
    let next = match current {
        Some(c) => shifts
            .iter()
            .find(|s| s.start >= c.end && s.contacts != c.contacts),
        None => shifts.iter().find(|s| s.start > now),
    };
    let days: Vec<Value> = view::days(now, &tz, DAYS)
        .into_iter()
        .map(|(midnight, label)| {
            // The next midnight in the zone (a day can be 23 or 25 hours long).
            let end = view::days(midnight + 1, &tz, 2)
                .get(1)
                .map(|d| d.0)
                .unwrap_or(midnight + 86_400_000);
            let on: Vec<Value> = shifts
                .iter()
                .filter(|s| s.start < end && s.end > midnight)
                .map(|s| {
                    let from = if s.start <= midnight {
                        "00:00".to_string()
                    } else {
                        view::clock(s.start, &tz)
                    };
                    let to = if s.end >= end {
                        "24:00".to_string()
                    } else {
                        view::clock(s.end, &tz)
                    };
                    json!({
                        "from": from, "to": to, "names": names.all(&s.contacts),
                        "overridden": s.overridden.is_some(),
                        "replaced": s.overridden.as_ref().map(|o| names.all(o)),
                    })
                })
                .collect();
            json!({"label": label, "shifts": on})
        })
        .collect();
    json!({
        "name": r.name,
        "arn": r.rotation_arn,
        "tz": tz,
        "now": current.map(|s| json!({
            "names": names.all(&s.contacts),
            "until": view::at(s.end, &tz),
            "overridden": s.overridden.is_some(),
        })),
        "next": next.map(|s| json!({
            "names": names.all(&s.contacts),
            "from": view::at(s.start, &tz),
        })),
        "days": days,
    })
}

async fn oncall_ctx(c: &Console, who: &super::session::Session) -> Result<Value, ConsoleError> {
    let caller = Caller::new(&c.api, &who.account_id, &who.access_key_id);
    let now = c.clock.now_ms();
    let (names, contacts) = Names::load(&caller).await?;
    let rotations = rotations(&caller).await?;
    let mut views: HashMap<String, Value> = HashMap::new();
    for r in &rotations {
        let arn = r.rotation_arn.clone().unwrap_or_default();
        // From the start of today in the rotation's zone, so the calendar shows whole days.
        let tz = r.time_zone_id.as_deref().unwrap_or("UTC");
        let from = view::days(now, tz, 1).first().map(|d| d.0).unwrap_or(now);
        let shifts =
            plain_shifts(shifts(&caller, &arn, from, from + (DAYS as i64 + 1) * 86_400_000).await?);
        views.insert(arn, rotation_view(r, &shifts, &names, now));
    }
    let mut scheduled = std::collections::HashSet::new();
    let mut schedules = Vec::new();
    for s in contacts
        .iter()
        .filter(|c| c.r#type == Some(ContactType::OncallSchedule))
    {
        let got: GetContactResult = caller
            .contacts(
                "GetContact",
                &GetContactRequest {
                    contact_id: s.contact_arn.clone(),
                },
            )
            .await?;
        let ids = got.plan.and_then(|p| p.rotation_ids).unwrap_or_default();
        let mut rs = Vec::new();
        for id in &ids {
            scheduled.insert(id.clone());
            rs.push(
                views
                    .get(id)
                    .cloned()
                    .unwrap_or_else(|| json!({"name": view::tail(id), "missing": true})),
            );
        }
        let now_on: Vec<String> = rs
            .iter()
            .filter_map(|r| r["now"]["names"].as_str().map(str::to_string))
            .collect();
        schedules.push(json!({
            "name": name_of(s),
            "href": format!("/console/contacts/{}", view::segment(s.alias.as_deref().unwrap_or_default())),
            "now": now_on.join(", "),
            "rotations": rs,
        }));
    }
    let others: Vec<Value> = rotations
        .iter()
        .filter_map(|r| r.rotation_arn.as_ref())
        .filter(|a| !scheduled.contains(*a))
        .filter_map(|a| views.get(a).cloned())
        .collect();
    Ok(json!({"schedules": schedules, "rotations": others, "days": DAYS}))
}

pub async fn show(State(c): State<Arc<Console>>, req: Request) -> Response<Body> {
    c.view(req, "console/oncall.html", async |who, _| {
        oncall_ctx(&c, who).await
    })
    .await
}
