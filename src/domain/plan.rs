//! Rules an engagement plan must follow for its contact's type. Pure: the handler gathers
//! which referenced channels, contacts and rotations exist and passes them in.

use std::collections::{HashMap, HashSet};

/// An on-call schedule may name at most this many rotations (AWS's quota).
pub const MAX_ROTATIONS_PER_SCHEDULE: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactKind {
    Personal,
    Escalation,
    OncallSchedule,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetView {
    Channel(String),
    Contact(String),
    /// Both or neither member set: a target must be exactly one of the two.
    Malformed,
}

#[derive(Debug, Clone, Default)]
pub struct StageView {
    pub duration_minutes: i32,
    pub targets: Vec<TargetView>,
}

#[derive(Debug, Clone, Default)]
pub struct PlanView {
    pub stages: Vec<StageView>,
    pub rotation_ids: Vec<String>,
}

/// What exists among the things a plan refers to.
#[derive(Debug, Clone, Default)]
pub struct Known {
    /// Channels that belong to the contact whose plan this is.
    pub own_channels: HashSet<String>,
    pub contacts: HashMap<String, ContactKind>,
    pub rotations: HashSet<String>,
}

/// Returns (member path, message) for every rule the plan breaks.
pub fn check_plan(kind: ContactKind, plan: &PlanView, known: &Known) -> Vec<(String, String)> {
    let mut errs = Vec::new();
    if kind == ContactKind::OncallSchedule {
        if !plan.stages.is_empty() {
            errs.push((
                "Plan.Stages".into(),
                "an on-call schedule's plan has rotations, not stages".into(),
            ));
        }
        if plan.rotation_ids.len() > MAX_ROTATIONS_PER_SCHEDULE {
            errs.push((
                "Plan.RotationIds".into(),
                format!(
                    "an on-call schedule can have at most {MAX_ROTATIONS_PER_SCHEDULE} rotations"
                ),
            ));
        }
        let mut seen = HashSet::new();
        for (i, r) in plan.rotation_ids.iter().enumerate() {
            if !known.rotations.contains(r) {
                errs.push((
                    format!("Plan.RotationIds[{i}]"),
                    format!("rotation {r} does not exist"),
                ));
            } else if !seen.insert(r) {
                errs.push((
                    format!("Plan.RotationIds[{i}]"),
                    "rotation is listed twice".into(),
                ));
            }
        }
        return errs;
    }
    if !plan.rotation_ids.is_empty() {
        errs.push((
            "Plan.RotationIds".into(),
            "only an on-call schedule's plan has rotations".into(),
        ));
    }
    for (s, stage) in plan.stages.iter().enumerate() {
        if stage.duration_minutes == 0 && stage.targets.is_empty() {
            errs.push((
                format!("Plan.Stages[{s}].DurationInMinutes"),
                "can only be 0 when the stage has a target".into(),
            ));
        }
        for (t, target) in stage.targets.iter().enumerate() {
            let path = format!("Plan.Stages[{s}].Targets[{t}]");
            match (kind, target) {
                (_, TargetView::Malformed) => errs.push((
                    path,
                    "set exactly one of ChannelTargetInfo and ContactTargetInfo".into(),
                )),
                (ContactKind::Personal, TargetView::Channel(c))
                    if !known.own_channels.contains(c) =>
                {
                    errs.push((
                        format!("{path}.ChannelTargetInfo.ContactChannelId"),
                        format!("channel {c} is not one of this contact's channels"),
                    ))
                }
                (ContactKind::Personal, TargetView::Contact(_)) => errs.push((
                    path,
                    "a personal contact's plan targets its own channels".into(),
                )),
                (ContactKind::Escalation, TargetView::Channel(_)) => errs.push((
                    path,
                    "an escalation plan targets contacts, not channels".into(),
                )),
                (ContactKind::Escalation, TargetView::Contact(c)) => match known.contacts.get(c) {
                    None => errs.push((
                        format!("{path}.ContactTargetInfo.ContactId"),
                        format!("contact {c} does not exist"),
                    )),
                    Some(ContactKind::Escalation) => errs.push((
                        format!("{path}.ContactTargetInfo.ContactId"),
                        "an escalation plan cannot target another escalation plan".into(),
                    )),
                    Some(_) => {}
                },
                _ => {}
            }
        }
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(d: i32, targets: Vec<TargetView>) -> StageView {
        StageView {
            duration_minutes: d,
            targets,
        }
    }

    #[test]
    fn personal_plan_targets_own_channels_only() {
        let known = Known {
            own_channels: ["ch1".to_string()].into(),
            ..Default::default()
        };
        let ok = PlanView {
            stages: vec![stage(5, vec![TargetView::Channel("ch1".into())])],
            ..Default::default()
        };
        assert!(check_plan(ContactKind::Personal, &ok, &known).is_empty());
        let bad = PlanView {
            stages: vec![
                stage(0, vec![]),
                stage(
                    1,
                    vec![
                        TargetView::Channel("other".into()),
                        TargetView::Contact("c".into()),
                    ],
                ),
            ],
            ..Default::default()
        };
        let errs = check_plan(ContactKind::Personal, &bad, &known);
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert_eq!(errs[0].0, "Plan.Stages[0].DurationInMinutes");
    }

    #[test]
    fn escalation_plan_targets_existing_non_escalation_contacts() {
        let known = Known {
            contacts: [
                ("p".to_string(), ContactKind::Personal),
                ("e".to_string(), ContactKind::Escalation),
            ]
            .into(),
            ..Default::default()
        };
        let plan = PlanView {
            stages: vec![stage(
                1,
                vec![
                    TargetView::Contact("p".into()),
                    TargetView::Contact("e".into()),
                    TargetView::Contact("x".into()),
                    TargetView::Malformed,
                ],
            )],
            ..Default::default()
        };
        assert_eq!(check_plan(ContactKind::Escalation, &plan, &known).len(), 3);
    }

    #[test]
    fn schedules_name_existing_rotations_within_the_quota() {
        let rotations: HashSet<String> = (0..9).map(|i| format!("r{i}")).collect();
        let known = Known {
            rotations,
            ..Default::default()
        };
        let plan = PlanView {
            rotation_ids: (0..9).map(|i| format!("r{i}")).collect(),
            ..Default::default()
        };
        assert_eq!(
            check_plan(ContactKind::OncallSchedule, &plan, &known).len(),
            1
        );
        let plan = PlanView {
            rotation_ids: vec!["missing".into()],
            ..Default::default()
        };
        assert_eq!(
            check_plan(ContactKind::OncallSchedule, &plan, &known).len(),
            1
        );
    }
}
