//! Engagements: a contact is engaged with a message. A personal contact gets its page at once;
//! an escalation plan engages its targets stage by stage; an on-call schedule pages whoever is
//! on call. Everything an engagement does later is a timer written in the same transaction.

use super::error::{EngineError, Result};
use super::page::{self, Target};
use super::records::*;
use crate::domain::arn::{contacts_arn, creation_sort_key, new_id};
use crate::domain::clock::Durations;
use crate::handlers::contacts::records::{CONTACT, ContactBody, calculator_for};
use crate::storage::{ListQuery, Record, Timer, Tx, list_all};

pub struct Start {
    pub region: String,
    pub contact_arn: String,
    pub message: Message,
}

async fn load_contact(tx: &mut dyn Tx, account: &str, arn: &str) -> Result<Option<ContactBody>> {
    match tx.get(CONTACT, account, arn).await? {
        Some(rec) => Ok(Some(serde_json::from_str(&rec.body)?)),
        None => Ok(None),
    }
}

pub async fn load(tx: &mut dyn Tx, account: &str, arn: &str) -> Result<(Record, EngagementBody)> {
    let rec = tx
        .get(ENGAGEMENT, account, arn)
        .await?
        .ok_or_else(|| EngineError::not_found(RT_ENGAGEMENT, arn))?;
    let body = serde_json::from_str(&rec.body)?;
    Ok((rec, body))
}

async fn save(tx: &mut dyn Tx, rec: &mut Record, eng: &EngagementBody, now: i64) -> Result<()> {
    super::records::save(tx, rec, eng, now).await
}

/// StartEngagement inside the caller's transaction: the engagement, its first pages and sends
/// and the timers for everything later. Returns the engagement ARN.
pub async fn start(
    tx: &mut dyn Tx,
    account: &str,
    s: Start,
    now: i64,
    d: Durations,
) -> Result<String> {
    let contact = load_contact(tx, account, &s.contact_arn)
        .await?
        .ok_or_else(|| EngineError::not_found("CONTACT", &s.contact_arn))?;
    let arn = contacts_arn(
        &s.region,
        account,
        "engagement",
        &format!("{}/{}", contact.alias, new_id()),
    );
    let stages = if contact.contact_type == "ESCALATION" {
        escalation_stages(&contact)
    } else {
        Vec::new()
    };
    let mut eng = EngagementBody {
        region: s.region,
        contact_arn: s.contact_arn.clone(),
        contact_type: contact.contact_type.clone(),
        message: s.message,
        start_ms: now,
        stop_ms: None,
        stop_reason: None,
        escalation_stopped: false,
        stages,
        paged: Vec::new(),
    };
    match contact.contact_type.as_str() {
        "ESCALATION" => run_stage(tx, account, &arn, &mut eng, 0, now, d).await?,
        "ONCALL_SCHEDULE" => {
            let chain = vec![Resolution {
                contact_arn: s.contact_arn.clone(),
                contact_type: contact.contact_type.clone(),
                stage_index: None,
            }];
            page_schedule(
                tx,
                account,
                &arn,
                &mut eng,
                &s.contact_arn,
                true,
                chain,
                now,
                d,
            )
            .await?
        }
        _ => {
            let chain = vec![Resolution {
                contact_arn: s.contact_arn.clone(),
                contact_type: contact.contact_type.clone(),
                stage_index: None,
            }];
            let target = Target {
                contact_arn: &s.contact_arn,
                contact: &contact,
                essential: true,
                resolutions: chain,
            };
            page::create(tx, account, &arn, &eng, target, now, d).await?;
            eng.paged.push(s.contact_arn.clone());
        }
    }
    let sort = creation_sort_key(now);
    let parent = eng.message.incident_id.clone();
    insert(tx, (ENGAGEMENT, account, &arn), parent, &sort, &eng, now).await?;
    insert(
        tx,
        (OPEN_ENGAGEMENT, account, &arn),
        None,
        &sort,
        &Index {},
        now,
    )
    .await?;
    Ok(arn)
}

fn escalation_stages(contact: &ContactBody) -> Vec<EscalationStage> {
    contact
        .plan
        .stages
        .iter()
        .flatten()
        .map(|s| EscalationStage {
            duration_minutes: s.duration_in_minutes.unwrap_or(0),
            targets: s
                .targets
                .iter()
                .flatten()
                .filter_map(|t| t.contact_target_info.as_ref())
                .filter_map(|c| Some((c.contact_id.clone()?, c.is_essential.unwrap_or(false))))
                .collect(),
        })
        .collect()
}

/// Engages the targets of escalation stage `idx` and schedules the next stage.
pub async fn run_stage(
    tx: &mut dyn Tx,
    account: &str,
    arn: &str,
    eng: &mut EngagementBody,
    idx: usize,
    now: i64,
    d: Durations,
) -> Result<()> {
    if eng.stop_ms.is_some() || eng.escalation_stopped {
        return Ok(());
    }
    let Some(stage) = eng.stages.get(idx).cloned() else {
        return Ok(());
    };
    let top = Resolution {
        contact_arn: eng.contact_arn.clone(),
        contact_type: eng.contact_type.clone(),
        stage_index: Some(idx as i32),
    };
    for (contact_arn, essential) in &stage.targets {
        let Some(contact) = load_contact(tx, account, contact_arn).await? else {
            tracing::warn!(engagement = %arn, contact = %contact_arn, "escalation target no longer exists; skipped");
            continue;
        };
        let chain = vec![
            top.clone(),
            Resolution {
                contact_arn: contact_arn.clone(),
                contact_type: contact.contact_type.clone(),
                stage_index: None,
            },
        ];
        if contact.contact_type == "ONCALL_SCHEDULE" {
            page_schedule(
                tx,
                account,
                arn,
                eng,
                contact_arn,
                *essential,
                chain,
                now,
                d,
            )
            .await?;
        } else if !eng.paged.contains(contact_arn) {
            let target = Target {
                contact_arn,
                contact: &contact,
                essential: *essential,
                resolutions: chain,
            };
            page::create(tx, account, arn, eng, target, now, d).await?;
            eng.paged.push(contact_arn.clone());
        }
    }
    if idx + 1 < eng.stages.len() {
        let due = now + d.scaled_ms(stage.duration_minutes as i64 * 60);
        tx.schedule(&Timer::new(account, T_STAGE, arn, idx as i64 + 1, due))
            .await?;
    }
    Ok(())
}

/// Pages whoever an on-call schedule resolves to at `now` (each gets its own page).
#[allow(clippy::too_many_arguments)]
async fn page_schedule(
    tx: &mut dyn Tx,
    account: &str,
    arn: &str,
    eng: &mut EngagementBody,
    schedule_arn: &str,
    essential: bool,
    chain: Vec<Resolution>,
    now: i64,
    d: Durations,
) -> Result<()> {
    for member in on_call(tx, account, schedule_arn, now).await? {
        if eng.paged.contains(&member) {
            continue;
        }
        let Some(contact) = load_contact(tx, account, &member).await? else {
            continue;
        };
        let mut resolutions = chain.clone();
        resolutions.push(Resolution {
            contact_arn: member.clone(),
            contact_type: contact.contact_type.clone(),
            stage_index: None,
        });
        let target = Target {
            contact_arn: &member,
            contact: &contact,
            essential,
            resolutions,
        };
        page::create(tx, account, arn, eng, target, now, d).await?;
        eng.paged.push(member);
    }
    Ok(())
}

/// The personal contacts on call at `now` in each rotation of a schedule, in rotation order,
/// each once.
async fn on_call(
    tx: &mut dyn Tx,
    account: &str,
    schedule_arn: &str,
    now: i64,
) -> Result<Vec<String>> {
    let Some(schedule) = load_contact(tx, account, schedule_arn).await? else {
        return Ok(Vec::new());
    };
    let mut out: Vec<String> = Vec::new();
    for rotation in schedule.plan.rotation_ids.iter().flatten() {
        let Some((rot, overrides)) = calculator_for::<EngineError>(tx, account, rotation).await?
        else {
            tracing::warn!(schedule = %schedule_arn, rotation = %rotation, "rotation missing or unreadable; skipped");
            continue;
        };
        for member in crate::domain::rotation::on_call(&rot, &overrides, now) {
            if !out.contains(&member) {
                out.push(member);
            }
        }
    }
    Ok(out)
}

/// An essential contact acknowledged: no later escalation stage runs.
pub async fn stop_escalation(tx: &mut dyn Tx, account: &str, arn: &str, now: i64) -> Result<()> {
    let (mut rec, mut eng) = load(tx, account, arn).await?;
    if !eng.escalation_stopped {
        eng.escalation_stopped = true;
        save(tx, &mut rec, &eng, now).await?;
    }
    Ok(())
}

/// StopEngagement: ends all paging and puts a STOP receipt on every page still open. Stopping
/// an engagement that has already stopped changes nothing (the first StopTime stays); returns
/// whether this call stopped it.
pub async fn stop(
    tx: &mut dyn Tx,
    account: &str,
    arn: &str,
    reason: Option<&str>,
    now: i64,
) -> Result<bool> {
    let (mut rec, mut eng) = load(tx, account, arn).await?;
    if eng.stop_ms.is_some() {
        return Ok(false);
    }
    eng.stop_ms = Some(now);
    eng.stop_reason = reason.map(str::to_string);
    save(tx, &mut rec, &eng, now).await?;
    tx.delete(OPEN_ENGAGEMENT, account, arn).await?;
    let q = ListQuery {
        kind: PAGE.into(),
        account: account.into(),
        parent: Some(arn.to_string()),
        ..Default::default()
    };
    for mut prec in list_all(tx, q).await? {
        let mut p: PageBody = serde_json::from_str(&prec.body)?;
        if p.state != PageState::Open {
            continue;
        }
        p.state = PageState::Stopped;
        p.receipts.push(ReceiptBody {
            channel_arn: None,
            receipt_type: "STOP".into(),
            info: reason.map(str::to_string),
            time_ms: now,
        });
        page::save(tx, &mut prec, &p, now).await?;
    }
    Ok(true)
}

/// Stops every open engagement started for an incident (it was resolved).
pub async fn stop_for_incident(
    tx: &mut dyn Tx,
    account: &str,
    incident_arn: &str,
    reason: &str,
    now: i64,
) -> Result<usize> {
    let q = ListQuery {
        kind: ENGAGEMENT.into(),
        account: account.into(),
        parent: Some(incident_arn.to_string()),
        ..Default::default()
    };
    let mut stopped = 0;
    for rec in list_all(tx, q).await? {
        if stop(tx, account, &rec.id, Some(reason), now).await? {
            stopped += 1;
        }
    }
    Ok(stopped)
}
