//! How contacts resources are kept in the store: record kinds and the JSON bodies the
//! handlers own. Ids are the resources' ARNs, so an ARN lookup is a primary-key read.

use crate::domain::rotation::{
    LocalTime, Override as DomainOverride, Pattern, Recurrence, Rotation as DomainRotation,
    local_time, time_zone,
};
use crate::shapes::contacts::{DayOfWeek, HandOffTime, Plan, RecurrenceSettings, Tag};
use crate::storage::{ListQuery, Reader, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A rotation can have at most this many overrides (AWS documents no number; a bound keeps a
/// shift calculation's cost in check).
pub const MAX_OVERRIDES: usize = 1000;

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
    /// Who activated the channel without a code (an operator's import); `None` when its owner
    /// gave the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activated_by: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyBody {
    pub policy: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TagsBody {
    pub tags: Vec<Tag>,
}

pub const ROTATION: &str = "rotation";
pub const OVERRIDE: &str = "rotation-override";
pub const RT_ROTATION: &str = "ROTATION";
pub const RT_OVERRIDE: &str = "ROTATION_OVERRIDE";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RotationBody {
    pub name: String,
    pub contact_ids: Vec<String>,
    pub start_ms: i64,
    /// Whether the caller chose `start_ms`; a start Klaxon picked is not reported back, so that a
    /// client which never set one (Terraform) reads back what it wrote.
    #[serde(default = "given")]
    pub start_given: bool,
    pub time_zone_id: String,
    pub recurrence: RecurrenceSettings,
}

fn given() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OverrideBody {
    pub rotation_arn: String,
    pub new_contact_ids: Vec<String>,
    pub start_ms: i64,
    pub end_ms: i64,
    pub create_ms: i64,
}

fn day_index(d: &str) -> Option<u8> {
    DayOfWeek::VALUES
        .iter()
        .position(|v| *v == d)
        .map(|i| i as u8)
}

fn hand_off(t: &Option<HandOffTime>, path: &str) -> Result<LocalTime, (String, String)> {
    match t {
        Some(HandOffTime {
            hour_of_day: Some(h),
            minute_of_hour: Some(m),
        }) => Ok(local_time(*h, *m)),
        _ => Err((path.into(), "needs HourOfDay and MinuteOfHour".into())),
    }
}

/// The recurrence as the shift calculator takes it, or the (member path, message) it breaks.
pub fn recurrence(r: &RecurrenceSettings) -> Result<Recurrence, (String, String)> {
    let daily = r.daily_settings.as_deref().unwrap_or_default();
    let weekly = r.weekly_settings.as_deref().unwrap_or_default();
    let monthly = r.monthly_settings.as_deref().unwrap_or_default();
    let set = [!daily.is_empty(), !weekly.is_empty(), !monthly.is_empty()];
    if set.iter().filter(|x| **x).count() != 1 {
        return Err((
            "Recurrence".into(),
            "set exactly one of DailySettings, WeeklySettings and MonthlySettings".into(),
        ));
    }
    let pattern = if !daily.is_empty() {
        let mut times = Vec::new();
        for (i, t) in daily.iter().enumerate() {
            times.push(hand_off(
                &Some(t.clone()),
                &format!("Recurrence.DailySettings[{i}]"),
            )?);
        }
        Pattern::Daily(times)
    } else if !weekly.is_empty() {
        let mut days = Vec::new();
        for (i, w) in weekly.iter().enumerate() {
            let path = format!("Recurrence.WeeklySettings[{i}]");
            let day = w
                .day_of_week
                .as_ref()
                .and_then(|d| day_index(d.as_str()))
                .ok_or_else(|| (format!("{path}.DayOfWeek"), "must be MON..SUN".to_string()))?;
            days.push((
                day,
                hand_off(&w.hand_off_time, &format!("{path}.HandOffTime"))?,
            ));
        }
        Pattern::Weekly(days)
    } else {
        let mut days = Vec::new();
        for (i, m) in monthly.iter().enumerate() {
            let path = format!("Recurrence.MonthlySettings[{i}]");
            let day = m
                .day_of_month
                .filter(|d| (1..=31).contains(d))
                .ok_or_else(|| (format!("{path}.DayOfMonth"), "must be 1..31".to_string()))?;
            days.push((
                day as u8,
                hand_off(&m.hand_off_time, &format!("{path}.HandOffTime"))?,
            ));
        }
        Pattern::Monthly(days)
    };
    let mut coverage = BTreeMap::new();
    for (day, windows) in r.shift_coverages.iter().flatten() {
        let path = format!("Recurrence.ShiftCoverages.{day}");
        let d = day_index(day).ok_or_else(|| (path.clone(), "is not MON..SUN".to_string()))?;
        let mut spans = Vec::new();
        for (i, w) in windows.iter().enumerate() {
            let s = hand_off(&w.start, &format!("{path}[{i}].Start"))?;
            let e = hand_off(&w.end, &format!("{path}[{i}].End"))?;
            if s == e {
                return Err((format!("{path}[{i}]"), "Start and End must differ".into()));
            }
            spans.push((s, e));
        }
        coverage.insert(d, spans);
    }
    Ok(Recurrence {
        on_calls: r.number_of_on_calls.unwrap_or(1).max(1) as usize,
        multiplier: r.recurrence_multiplier.unwrap_or(1).clamp(1, 100) as u32,
        pattern,
        coverage,
    })
}

impl RotationBody {
    /// The rotation for the shift calculator; None if its stored settings no longer parse.
    pub fn calculator(&self) -> Option<DomainRotation> {
        Some(DomainRotation {
            members: self.contact_ids.clone(),
            start_ms: self.start_ms,
            tz: time_zone(&self.time_zone_id)?,
            recurrence: recurrence(&self.recurrence).ok()?,
        })
    }
}

impl OverrideBody {
    pub fn calculator(&self) -> DomainOverride {
        DomainOverride {
            start_ms: self.start_ms,
            end_ms: self.end_ms,
            members: self.new_contact_ids.clone(),
        }
    }
}

/// A rotation and its overrides (oldest created first, so later ones win) as the shift
/// calculator takes them; None when the rotation does not exist or its settings do not parse.
pub async fn calculator_for<E: From<StoreError> + From<serde_json::Error>>(
    r: &mut dyn Reader,
    account: &str,
    rotation: &str,
) -> Result<Option<(DomainRotation, Vec<DomainOverride>)>, E> {
    let Some(rec) = r.get(ROTATION, account, rotation).await? else {
        return Ok(None);
    };
    let body: RotationBody = serde_json::from_str(&rec.body)?;
    let Some(rot) = body.calculator() else {
        return Ok(None);
    };
    let q = ListQuery {
        kind: OVERRIDE.into(),
        account: account.into(),
        parent: Some(rotation.to_string()),
        limit: (MAX_OVERRIDES + 1) as i64,
        ..Default::default()
    };
    let mut overrides = Vec::new();
    for rec in r.list(&q).await? {
        overrides.push(serde_json::from_str::<OverrideBody>(&rec.body)?);
    }
    overrides.sort_by_key(|o| o.create_ms);
    Ok(Some((
        rot,
        overrides.iter().map(OverrideBody::calculator).collect(),
    )))
}
