//! Runs a Command through the AWS SDK clients (this Klaxon, or AWS itself) and words the
//! answer. Nothing here touches the store: the bot is just another API client, so it works the
//! same against Klaxon and against AWS. SDK errors become plain words; nothing is a panic.

use super::command::{Command, ParseError, USAGE};
use super::render::{Platform, render};
use super::{Button, Caller, Reply};
use crate::config::ChatUser;
use aws_sdk_ssmcontacts::error::ProvideErrorMetadata;
use aws_sdk_ssmcontacts::types::{AcceptCodeValidation, AcceptType, ContactType};
use aws_sdk_ssmincidents::primitives::DateTime;
use aws_sdk_ssmincidents::types::{
    AttributeValueList, Condition, Filter, IncidentRecordStatus, TriggerDetails,
};
use minijinja::context;
use serde_json::json;

/// Incidents scanned when an incident is named by the first characters of its id.
const MAX_SCAN: usize = 1000;

pub struct Bot {
    pub incidents: aws_sdk_ssmincidents::Client,
    pub contacts: aws_sdk_ssmcontacts::Client,
    pub users: Vec<ChatUser>,
    pub now_ms: std::sync::Arc<dyn Fn() -> i64 + Send + Sync>,
}

/// Words built in code rather than from a template, escaped like template values for Slack
/// (they may carry input, a sender's name or an API message).
fn plain(platform: Platform, s: impl Into<String>) -> Reply {
    let s = s.into();
    Reply::text(match platform {
        Platform::Slack => super::render::slack_escape(&s),
        Platform::Discord => s,
    })
}

/// A failed step, already in words for the chat user.
struct Said(String);

type Step<T> = Result<T, Said>;

/// Errors that are about the input are repeated to the chat user; anything else (permissions,
/// throttling, a service fault) is logged and summarised, since replies are posted in the
/// channel and a denial names the bot's account and principal.
fn sdk_words<E: ProvideErrorMetadata>(what: &str, e: &E) -> Said {
    const ABOUT_THE_INPUT: &[&str] = &[
        "ValidationException",
        "ResourceNotFoundException",
        "ConflictException",
        "ServiceQuotaExceededException",
    ];
    match (e.code(), e.message()) {
        (Some(code), Some(m)) if ABOUT_THE_INPUT.contains(&code) => {
            Said(format!("Could not {what}: {m}"))
        }
        (code, m) => {
            tracing::warn!(code = ?code, message = ?m, "the bot's SDK call failed: could not {what}");
            Said(format!(
                "Could not {what}: Klaxon's API refused or failed the call (see the server log)."
            ))
        }
    }
}

fn when(t: Option<&DateTime>) -> String {
    t.and_then(|t| jiff::Timestamp::from_millisecond(t.to_millis().ok()?).ok())
        .map(|t| t.strftime("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_default()
}

/// The last path segment of an ARN: an incident's id, a contact's alias.
fn tail(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

fn short(arn: &str) -> String {
    tail(arn).chars().take(8).collect()
}

/// Button ids: Discord allows 100 characters, so they carry ids rather than ARNs.
pub fn ack_action(page_arn: &str) -> String {
    let mut parts = page_arn.rsplit('/');
    let id = parts.next().unwrap_or_default();
    let alias = parts.next().unwrap_or_default();
    let full = format!("ack:{alias}/{id}");
    if full.len() <= 100 {
        full
    } else {
        format!("ack:/{id}")
    }
}

/// `resolve:<plan>/<id>`, which names the incident without a search (the ARN is the plan's
/// with `incident-record/`); `resolve:<id>` when that would be too long for Discord.
pub fn resolve_action(incident_arn: &str) -> String {
    let mut parts = incident_arn.rsplit('/');
    let id = parts.next().unwrap_or_default();
    let plan = parts.next().unwrap_or_default();
    let full = format!("resolve:{plan}/{id}");
    if !plan.is_empty() && full.len() <= 100 {
        full
    } else {
        format!("resolve:{id}")
    }
}

fn ack_button(page_arn: &str) -> Button {
    let alias = page_arn.rsplit('/').nth(1).unwrap_or_default();
    Button {
        label: format!("Acknowledge ({alias})"),
        action: ack_action(page_arn),
        danger: false,
    }
}

fn resolve_button(incident_arn: &str) -> Button {
    Button {
        label: "Resolve".into(),
        action: resolve_action(incident_arn),
        danger: true,
    }
}

impl Bot {
    fn now(&self) -> DateTime {
        DateTime::from_millis((self.now_ms)())
    }

    pub async fn run(&self, caller: &Caller, cmd: Command) -> Reply {
        let out = match cmd {
            Command::Help => Ok(help(caller.platform)),
            Command::Start {
                plan,
                impact,
                title,
            } => self.start(caller, &plan, impact, &title).await,
            Command::List => self.list(caller).await,
            Command::Show { incident } => self.show(caller, &incident).await,
            Command::Resolve { incident } => self.resolve(caller, &incident).await,
            Command::Impact { incident, impact } => self.impact(caller, &incident, impact).await,
            Command::Note { incident, text } => self.note(caller, &incident, &text).await,
            Command::Page { contact, message } => self.page(caller, &contact, &message).await,
            Command::Ack { code } => self.ack(caller, code.as_deref()).await,
            Command::Oncall { contact } => self.oncall(caller, contact.as_deref()).await,
            Command::Engagements => self.engagements(caller).await,
        };
        out.unwrap_or_else(|Said(s)| plain(caller.platform, s))
    }

    /// A button press: `ack:<alias>/<page id>` or `resolve:<incident id>`.
    pub async fn press(&self, caller: &Caller, action: &str) -> Reply {
        let out = match action.split_once(':') {
            Some(("ack", page)) => self.ack_button(caller, page).await,
            Some(("resolve", incident)) => self.resolve(caller, incident).await,
            _ => Err(Said(format!("Klaxon does not know the button {action:?}."))),
        };
        out.unwrap_or_else(|Said(s)| plain(caller.platform, s))
    }

    pub fn parse_failed(platform: Platform, e: &ParseError) -> Reply {
        plain(platform, e.to_string())
    }

    /// The alias of the contact the chat user is linked to.
    fn linked(&self, caller: &Caller) -> Step<String> {
        let found = self.users.iter().find(|u| match caller.platform {
            Platform::Slack => u.slack_user_id.as_deref() == Some(caller.user_id.as_str()),
            Platform::Discord => u.discord_user_id.as_deref() == Some(caller.user_id.as_str()),
        });
        match found {
            Some(u) => Ok(u.contact.clone()),
            None => {
                let key = match caller.platform {
                    Platform::Slack => "slack_user_id",
                    Platform::Discord => "discord_user_id",
                };
                Err(Said(format!(
                    "You are not linked to a Klaxon contact yet. Ask an operator to add\n[[chat.users]]\ncontact = \"<your alias>\"\n{key} = \"{}\"\nto Klaxon's configuration.",
                    caller.user_id
                )))
            }
        }
    }

    async fn contact_arn(&self, alias: &str) -> Step<String> {
        let mut token = None;
        loop {
            let out = self
                .contacts
                .list_contacts()
                .alias_prefix(alias)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| sdk_words("look up contacts", &e))?;
            if let Some(c) = out.contacts().iter().find(|c| c.alias() == alias) {
                return Ok(c.contact_arn().to_string());
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                return Err(Said(format!("There is no contact with the alias {alias}.")));
            }
        }
    }

    async fn plan_arn(&self, name: &str) -> Step<String> {
        let mut token = None;
        loop {
            let out = self
                .incidents
                .list_response_plans()
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| sdk_words("look up response plans", &e))?;
            if let Some(p) = out
                .response_plan_summaries()
                .iter()
                .find(|p| p.name() == name)
            {
                return Ok(p.arn().to_string());
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                return Err(Said(format!("There is no response plan named {name}.")));
            }
        }
    }

    /// An incident named by its ARN, its id, or the first characters of its id.
    async fn incident_arn(&self, name: &str) -> Step<String> {
        if name.starts_with("arn:") {
            return Ok(name.to_string());
        }
        if let Some((plan, id)) = name.split_once('/') {
            let plan_arn = self.plan_arn(plan).await?;
            return Ok(format!(
                "{}/{id}",
                plan_arn.replacen(":response-plan/", ":incident-record/", 1)
            ));
        }
        if name.len() < 4 {
            return Err(Said(format!(
                "{name:?} is too short to name an incident: give its ARN or the first 8 characters of its id."
            )));
        }
        let mut token = None;
        let mut found = Vec::new();
        let mut seen = 0;
        loop {
            let out = self
                .incidents
                .list_incident_records()
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| sdk_words("list incidents", &e))?;
            for i in out.incident_record_summaries() {
                if tail(i.arn()).starts_with(name) {
                    found.push(i.arn().to_string());
                }
            }
            seen += out.incident_record_summaries().len();
            token = out.next_token().map(str::to_string);
            if token.is_none() || seen >= MAX_SCAN {
                break;
            }
        }
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(Said(format!(
                "There is no incident whose id starts with {name}."
            ))),
            n => Err(Said(format!(
                "{n} incidents have ids starting with {name}; give more characters or the ARN."
            ))),
        }
    }

    async fn incident_reply(&self, platform: Platform, arn: &str) -> Step<Reply> {
        let r = self
            .incidents
            .get_incident_record()
            .arn(arn)
            .send()
            .await
            .map_err(|e| sdk_words("read the incident", &e))?;
        let Some(i) = r.incident_record() else {
            return Err(Said("Klaxon answered without the incident.".into()));
        };
        let open = *i.status() == IncidentRecordStatus::Open;
        let plan = arn.rsplit('/').nth(1).unwrap_or_default();
        let text = render(
            platform,
            "chat/incident.md",
            context! {
                title => i.title(), impact => i.impact(), status => i.status().as_str(),
                short_id => short(arn), plan => plan, created => when(Some(i.creation_time())),
                resolved => when(i.resolved_time()), summary => i.summary(),
            },
        );
        let buttons = if open {
            vec![resolve_button(arn)]
        } else {
            Vec::new()
        };
        Ok(Reply { text, buttons })
    }

    /// Who did what, on the incident's timeline (as a Custom Event, so it is not posted to the
    /// incident's channels as a note would be).
    async fn attribute(&self, caller: &Caller, arn: &str, action: &str) {
        let data = json!({
            "actor": caller.name, "userId": caller.user_id, "via": caller.platform.name(),
            "action": action,
        });
        let res = self
            .incidents
            .create_timeline_event()
            .incident_record_arn(arn)
            .event_time(self.now())
            .event_type("Custom Event")
            .event_data(data.to_string())
            .send()
            .await;
        if let Err(e) = res {
            tracing::warn!(incident = %arn, error = %aws_sdk_ssmincidents::error::DisplayErrorContext(&e), "could not record who acted");
        }
    }

    async fn start(
        &self,
        caller: &Caller,
        plan: &str,
        impact: Option<i32>,
        title: &str,
    ) -> Step<Reply> {
        let plan_arn = self.plan_arn(plan).await?;
        let trigger = TriggerDetails::builder()
            .source(format!(
                "klaxon.{}",
                caller.platform.name().to_ascii_lowercase()
            ))
            .timestamp(self.now())
            .raw_data(json!({"user": caller.name, "userId": caller.user_id}).to_string())
            .build()
            .map_err(|e| Said(format!("Could not start the incident: {e}")))?;
        let arn = self
            .incidents
            .start_incident()
            .response_plan_arn(&plan_arn)
            .title(title)
            .set_impact(impact)
            .trigger_details(trigger)
            .send()
            .await
            .map_err(|e| sdk_words("start the incident", &e))?
            .incident_record_arn;
        self.attribute(caller, &arn, "start").await;
        self.incident_reply(caller.platform, &arn).await
    }

    async fn list(&self, caller: &Caller) -> Step<Reply> {
        let open = Filter::builder()
            .key("status")
            .condition(Condition::Equals(AttributeValueList::StringValues(vec![
                "OPEN".into(),
            ])))
            .build()
            .map_err(|e| Said(e.to_string()))?;
        let out = self
            .incidents
            .list_incident_records()
            .filters(open)
            .max_results(25)
            .send()
            .await
            .map_err(|e| sdk_words("list incidents", &e))?;
        let items: Vec<_> = out
            .incident_record_summaries()
            .iter()
            .map(|i| {
                context! {
                    short_id => short(i.arn()), impact => i.impact(), title => i.title(),
                    created => when(Some(i.creation_time())),
                }
            })
            .collect();
        let text = render(
            caller.platform,
            "chat/incidents.md",
            context! { incidents => items },
        );
        Ok(Reply::text(text))
    }

    async fn show(&self, caller: &Caller, incident: &str) -> Step<Reply> {
        let arn = self.incident_arn(incident).await?;
        self.incident_reply(caller.platform, &arn).await
    }

    async fn resolve(&self, caller: &Caller, incident: &str) -> Step<Reply> {
        let arn = self.incident_arn(incident).await?;
        self.incidents
            .update_incident_record()
            .arn(&arn)
            .status(IncidentRecordStatus::Resolved)
            .send()
            .await
            .map_err(|e| sdk_words("resolve the incident", &e))?;
        self.attribute(caller, &arn, "resolve").await;
        self.incident_reply(caller.platform, &arn).await
    }

    async fn impact(&self, caller: &Caller, incident: &str, impact: i32) -> Step<Reply> {
        let arn = self.incident_arn(incident).await?;
        self.incidents
            .update_incident_record()
            .arn(&arn)
            .impact(impact)
            .send()
            .await
            .map_err(|e| sdk_words("change the impact", &e))?;
        self.attribute(caller, &arn, &format!("impact {impact}"))
            .await;
        self.incident_reply(caller.platform, &arn).await
    }

    async fn note(&self, caller: &Caller, incident: &str, text: &str) -> Step<Reply> {
        let arn = self.incident_arn(incident).await?;
        let content = format!("{text} — {} ({})", caller.name, caller.platform.name());
        self.incidents
            .create_timeline_event()
            .incident_record_arn(&arn)
            .event_time(self.now())
            .event_type("Note")
            .event_data(content)
            .send()
            .await
            .map_err(|e| sdk_words("add the note", &e))?;
        Ok(plain(
            caller.platform,
            format!("Note added to `{}`.", short(&arn)),
        ))
    }

    async fn page(&self, caller: &Caller, alias: &str, message: &str) -> Step<Reply> {
        let contact = self.contact_arn(alias).await?;
        let engagement = self
            .contacts
            .start_engagement()
            .contact_id(&contact)
            .sender(&caller.name)
            .subject(message)
            .content(format!(
                "{message}\n(paged by {} in {})",
                caller.name,
                caller.platform.name()
            ))
            .send()
            .await
            .map_err(|e| sdk_words(&format!("page {alias}"), &e))?
            .engagement_arn;
        let pages = self
            .contacts
            .list_pages_by_engagement()
            .engagement_id(&engagement)
            .send()
            .await
            .map_err(|e| sdk_words("list the pages", &e))?;
        let pages: Vec<String> = pages
            .pages()
            .iter()
            .map(|p| p.page_arn().to_string())
            .collect();
        let names: Vec<String> = pages
            .iter()
            .map(|p| p.rsplit('/').nth(1).unwrap_or_default().to_string())
            .collect();
        let text = render(
            caller.platform,
            "chat/paged.md",
            context! { contact => alias, caller => caller.name, message => message, pages => names },
        );
        Ok(Reply {
            text,
            buttons: pages.iter().map(|p| ack_button(p)).collect(),
        })
    }

    /// The caller's pages that nobody has read and whose engagement still runs, newest first.
    async fn open_pages(&self, contact: &str) -> Step<Vec<aws_sdk_ssmcontacts::types::Page>> {
        let mut token = None;
        let mut pages = Vec::new();
        loop {
            let out = self
                .contacts
                .list_pages_by_contact()
                .contact_id(contact)
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| sdk_words("list your pages", &e))?;
            pages.extend(
                out.pages()
                    .iter()
                    .filter(|p| p.read_time().is_none())
                    .cloned(),
            );
            token = out.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        pages.sort_by_key(|p| std::cmp::Reverse(p.sent_time().and_then(|t| t.to_millis().ok())));
        let mut open = Vec::new();
        for p in pages {
            let e = self
                .contacts
                .describe_engagement()
                .engagement_id(p.engagement_arn())
                .send()
                .await
                .map_err(|e| sdk_words("read an engagement", &e))?;
            if e.stop_time().is_none() {
                open.push(p);
            }
        }
        Ok(open)
    }

    async fn accept(
        &self,
        caller: &Caller,
        page: &str,
        code: Option<&str>,
    ) -> Result<
        (),
        aws_sdk_ssmcontacts::error::SdkError<
            aws_sdk_ssmcontacts::operation::accept_page::AcceptPageError,
        >,
    > {
        let validation = if code.is_some() {
            AcceptCodeValidation::Enforce
        } else {
            AcceptCodeValidation::Ignore
        };
        self.contacts
            .accept_page()
            .page_id(page)
            .accept_type(AcceptType::Read)
            .accept_code(code.unwrap_or("000000"))
            .accept_code_validation(validation)
            .note(format!(
                "acknowledged by {} in {}",
                caller.name,
                caller.platform.name()
            ))
            .send()
            .await
            .map(|_| ())
    }

    async fn ack(&self, caller: &Caller, code: Option<&str>) -> Step<Reply> {
        let alias = self.linked(caller)?;
        let contact = self.contact_arn(&alias).await?;
        let open = self.open_pages(&contact).await?;
        if open.is_empty() {
            return Ok(plain(caller.platform, format!("{alias} has no open page.")));
        }
        let candidates: Vec<_> = match code {
            Some(_) => open.iter().collect(),
            None => open.iter().take(1).collect(),
        };
        for p in candidates {
            match self.accept(caller, p.page_arn(), code).await {
                Ok(()) => {
                    return Ok(plain(
                        caller.platform,
                        format!("Acknowledged {alias}'s page from {}.", p.sender()),
                    ));
                }
                Err(e) if e.code() == Some("ValidationException") && code.is_some() => continue,
                Err(e) => return Err(sdk_words("acknowledge the page", &e)),
            }
        }
        Ok(plain(
            caller.platform,
            format!(
                "None of {alias}'s open pages has the code {}.",
                code.unwrap_or_default()
            ),
        ))
    }

    async fn ack_button(&self, caller: &Caller, page: &str) -> Step<Reply> {
        let alias = self.linked(caller)?;
        let (owner, id) = page.split_once('/').unwrap_or(("", page));
        if !owner.is_empty() && owner != alias {
            return Ok(plain(
                caller.platform,
                format!("This page is for {owner}; only {owner} can acknowledge it."),
            ));
        }
        let contact = self.contact_arn(&alias).await?;
        // The page ARN is the contact's with `page/<alias>/<id>` in place of `contact/<alias>`.
        let prefix = contact
            .rsplit_once(":contact/")
            .map(|(p, _)| p)
            .unwrap_or_default();
        let arn = format!("{prefix}:page/{alias}/{id}");
        match self.accept(caller, &arn, None).await {
            Ok(()) => Ok(plain(
                caller.platform,
                format!("{alias} acknowledged the page."),
            )),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(plain(
                caller.platform,
                "This page is not one of yours; only the paged person can acknowledge it.",
            )),
            Err(e) => Err(sdk_words("acknowledge the page", &e)),
        }
    }

    async fn oncall(&self, caller: &Caller, contact: Option<&str>) -> Step<Reply> {
        let schedules: Vec<String> = match contact {
            Some(alias) => vec![self.contact_arn(alias).await?],
            None => {
                let mut all = Vec::new();
                let mut token = None;
                loop {
                    let out = self
                        .contacts
                        .list_contacts()
                        .r#type(ContactType::OncallSchedule)
                        .set_next_token(token)
                        .send()
                        .await
                        .map_err(|e| sdk_words("list on-call schedules", &e))?;
                    all.extend(out.contacts().iter().map(|c| c.contact_arn().to_string()));
                    token = out.next_token().map(str::to_string);
                    if token.is_none() || all.len() >= 50 {
                        break all;
                    }
                }
            }
        };
        let now = (self.now_ms)();
        let mut out = Vec::new();
        for s in &schedules {
            let c = self
                .contacts
                .get_contact()
                .contact_id(s)
                .send()
                .await
                .map_err(|e| sdk_words("read the schedule", &e))?;
            if c.r#type() != &ContactType::OncallSchedule {
                return Err(Said(format!("{} is not an on-call schedule.", c.alias())));
            }
            let mut rotations = Vec::new();
            for r in c.plan().map(|p| p.rotation_ids()).unwrap_or_default() {
                let name = self
                    .contacts
                    .get_rotation()
                    .rotation_id(r)
                    .send()
                    .await
                    .map(|r| r.name().to_string())
                    .unwrap_or_else(|_| tail(r).to_string());
                let shifts = self
                    .contacts
                    .list_rotation_shifts()
                    .rotation_id(r)
                    .start_time(DateTime::from_millis(now))
                    .end_time(DateTime::from_millis(now + 62 * 86_400_000))
                    .max_results(2)
                    .send()
                    .await
                    .map_err(|e| sdk_words("read the rotation's shifts", &e))?;
                let who = |i: usize| -> Option<String> {
                    shifts.rotation_shifts().get(i).map(|s| {
                        s.contact_ids()
                            .iter()
                            .map(|c| tail(c))
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                };
                let now_on = shifts
                    .rotation_shifts()
                    .first()
                    .filter(|s| s.start_time().to_millis().unwrap_or(i64::MAX) <= now);
                let (current, next) = if now_on.is_some() {
                    (who(0), who(1))
                } else {
                    (None, who(0))
                };
                rotations.push(context! {
                    name => name, now => current,
                    until => now_on.map(|s| when(Some(s.end_time()))), next => next,
                });
            }
            out.push(context! { alias => c.alias(), rotations => rotations });
        }
        let text = render(
            caller.platform,
            "chat/oncall.md",
            context! { schedules => out },
        );
        Ok(Reply::text(text))
    }

    async fn engagements(&self, caller: &Caller) -> Step<Reply> {
        let mut token = None;
        let mut running = Vec::new();
        loop {
            let out = self
                .contacts
                .list_engagements()
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| sdk_words("list engagements", &e))?;
            for e in out.engagements() {
                if e.stop_time().is_none() {
                    running.push(context! {
                        contact => tail(e.contact_arn()), sender => e.sender(),
                        started => when(e.start_time()), incident => e.incident_id().map(short),
                    });
                }
            }
            token = out.next_token().map(str::to_string);
            if token.is_none() || running.len() >= 50 {
                break;
            }
        }
        let text = render(
            caller.platform,
            "chat/engagements.md",
            context! { engagements => running },
        );
        Ok(Reply::text(text))
    }
}

/// What an alarm notification led to.
#[derive(Debug, PartialEq, Eq)]
pub enum AlarmOutcome {
    Started(String),
    /// The alarm's incident is still open (or this very message was taken before).
    AlreadyOpen(String),
}

impl Bot {
    /// A CloudWatch alarm in ALARM state starts an incident with `plan`, unless an open incident
    /// already came from the same alarm. The client token comes from the SNS MessageId, so a
    /// redelivered message names the incident it started instead of starting another.
    pub async fn start_from_alarm(
        &self,
        plan: &str,
        alarm: &serde_json::Value,
        raw: &str,
        message_id: &str,
    ) -> Result<AlarmOutcome, String> {
        let alarm_arn = alarm["AlarmArn"].as_str().unwrap_or_default().to_string();
        let name = alarm["AlarmName"].as_str().unwrap_or("CloudWatch alarm");
        let plan_arn = self.plan_arn(plan).await.map_err(|Said(s)| s)?;
        if !alarm_arn.is_empty() {
            let open = Filter::builder()
                .key("status")
                .condition(Condition::Equals(AttributeValueList::StringValues(vec![
                    "OPEN".into(),
                ])))
                .build()
                .map_err(|e| e.to_string())?;
            let mut token = None;
            loop {
                let out = self
                    .incidents
                    .list_incident_records()
                    .filters(open.clone())
                    .set_next_token(token)
                    .send()
                    .await
                    .map_err(|e| sdk_words("list incidents", &e).0)?;
                if let Some(i) = out.incident_record_summaries().iter().find(|i| {
                    i.incident_record_source().and_then(|s| s.resource_arn())
                        == Some(alarm_arn.as_str())
                }) {
                    return Ok(AlarmOutcome::AlreadyOpen(i.arn().to_string()));
                }
                token = out.next_token().map(str::to_string);
                if token.is_none() {
                    break;
                }
            }
        }
        let when_ms = alarm["StateChangeTime"]
            .as_str()
            .and_then(parse_alarm_time)
            .unwrap_or_else(|| (self.now_ms)());
        let mut trigger = TriggerDetails::builder()
            .source("aws.cloudwatch")
            .timestamp(DateTime::from_millis(when_ms))
            .raw_data(raw.chars().take(10_000).collect::<String>());
        if !alarm_arn.is_empty() {
            trigger = trigger.trigger_arn(&alarm_arn);
        }
        let reason = alarm["NewStateReason"].as_str().unwrap_or_default();
        let title: String = if reason.is_empty() {
            name.to_string()
        } else {
            format!("{name}: {reason}")
        }
        .chars()
        .take(200)
        .collect();
        use sha2::Digest;
        let token = hex::encode(&sha2::Sha256::digest(message_id.as_bytes())[..16]);
        let arn = self
            .incidents
            .start_incident()
            .response_plan_arn(&plan_arn)
            .title(title)
            .client_token(format!("sns-{token}"))
            .trigger_details(trigger.build().map_err(|e| e.to_string())?)
            .send()
            .await
            .map_err(|e| sdk_words("start the incident", &e).0)?
            .incident_record_arn;
        Ok(AlarmOutcome::Started(arn))
    }
}

/// CloudWatch writes `2017-01-12T16:30:42.236+0000`.
fn parse_alarm_time(t: &str) -> Option<i64> {
    let fixed = if t.len() > 5 && (t.ends_with("+0000") || t.ends_with("-0000")) {
        format!("{}Z", &t[..t.len() - 5])
    } else {
        t.to_string()
    };
    fixed
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|ts| ts.as_millisecond())
}

pub fn help(platform: Platform) -> Reply {
    let usage: Vec<&str> = USAGE.iter().map(|(_, u)| *u).collect();
    Reply::text(render(
        platform,
        "chat/help.md",
        context! { usage => usage },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn button_ids_fit_discord_and_name_the_page_owner() {
        let page = "arn:aws:ssm-contacts:us-east-1:111122223333:page/akuam/0191b3c4-1111-7222-8333-944455556666";
        assert_eq!(
            ack_action(page),
            "ack:akuam/0191b3c4-1111-7222-8333-944455556666"
        );
        let long = format!(
            "arn:aws:ssm-contacts:us-east-1:111122223333:page/{}/id",
            "a".repeat(120)
        );
        assert_eq!(ack_action(&long), "ack:/id");
        assert_eq!(
            parse_alarm_time("2017-01-12T16:30:42.236+0000"),
            Some(1_484_238_642_236)
        );
        let inc = "arn:aws:ssm-incidents::111122223333:incident-record/checkout/0191b3c4-aaaa";
        assert_eq!(resolve_action(inc), "resolve:checkout/0191b3c4-aaaa");
        let long = format!(
            "arn:aws:ssm-incidents::111122223333:incident-record/{}/0191b3c4-aaaa",
            "p".repeat(100)
        );
        assert_eq!(resolve_action(&long), "resolve:0191b3c4-aaaa");
        assert_eq!(short(inc), "0191b3c4");
    }
}
