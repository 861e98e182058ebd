//! The words of a page and of an activation code, rendered from the templates in
//! `templates/` (minijinja; overridable from `templates_dir`). SMS carries the public (insecure)
//! subject and content when the engagement has them; voice and email carry the secure ones. Every
//! message names the accept code and how to use it, because acknowledging is the one thing the
//! reader must be able to do. Templates named `*.html` are HTML-escaped (minijinja's auto-escape
//! by file name), so a subject like `<b>` cannot inject markup into an email.

use super::records::Message;
use crate::delivery::ChannelKind;
use minijinja::{Environment, Value, context};
use std::path::Path;
use std::sync::OnceLock;

/// Every template, as shipped in `templates/` (embedded at compile time).
pub const TEMPLATES: &[(&str, &str)] = &[
    ("page/sms.txt", include_str!("../../templates/page/sms.txt")),
    (
        "page/voice.txt",
        include_str!("../../templates/page/voice.txt"),
    ),
    (
        "page/email_subject.txt",
        include_str!("../../templates/page/email_subject.txt"),
    ),
    (
        "page/email.txt",
        include_str!("../../templates/page/email.txt"),
    ),
    (
        "page/email.html",
        include_str!("../../templates/page/email.html"),
    ),
    (
        "page/bundle_sms.txt",
        include_str!("../../templates/page/bundle_sms.txt"),
    ),
    (
        "page/bundle_voice.txt",
        include_str!("../../templates/page/bundle_voice.txt"),
    ),
    (
        "page/bundle_email_subject.txt",
        include_str!("../../templates/page/bundle_email_subject.txt"),
    ),
    (
        "page/bundle_email.txt",
        include_str!("../../templates/page/bundle_email.txt"),
    ),
    (
        "page/bundle_email.html",
        include_str!("../../templates/page/bundle_email.html"),
    ),
    (
        "activation/sms.txt",
        include_str!("../../templates/activation/sms.txt"),
    ),
    (
        "activation/voice.txt",
        include_str!("../../templates/activation/voice.txt"),
    ),
    (
        "activation/email_subject.txt",
        include_str!("../../templates/activation/email_subject.txt"),
    ),
    (
        "activation/email.txt",
        include_str!("../../templates/activation/email.txt"),
    ),
    (
        "activation/email.html",
        include_str!("../../templates/activation/email.html"),
    ),
];

static CONFIGURED: OnceLock<Environment<'static>> = OnceLock::new();
static BUILT_IN: OnceLock<Environment<'static>> = OnceLock::new();

/// The shipped templates, with any file of the same name in `dir` used instead. Every template
/// is rendered once with sample values, so a broken override is reported at start (and by
/// `klaxon check-config`), not when someone is being paged.
pub fn load(dir: Option<&Path>) -> Result<Environment<'static>, String> {
    let mut env = Environment::new();
    for (name, shipped) in TEMPLATES {
        let source = crate::templates::source(dir, name, shipped)?;
        env.add_template_owned(name.to_string(), source)
            .map_err(|e| format!("template {name}: {e}"))?;
    }
    for (name, _) in TEMPLATES {
        let tmpl = env
            .get_template(name)
            .map_err(|e| format!("template {name}: {e}"))?;
        tmpl.render(sample())
            .map_err(|e| format!("template {name}: {e}"))?;
    }
    Ok(env)
}

fn sample() -> Value {
    context! {
        sender => "cli", subject => "Checkout is down", content => "Error rate 40%",
        public_subject => "Checkout alert", public_content => "See email",
        code => "123456", spoken_code => "1 2 3 4 5 6", page_arn => "arn:aws:ssm-contacts:us-east-1:111122223333:page/a/b",
        channel_name => "phone", alias => "akuam", minutes => 15,
        pages => vec![context! {
            sender => "cli", subject => "Checkout is down", content => "Error rate 40%",
            code => "123456", spoken_code => "1 2 3 4 5 6",
            page_arn => "arn:aws:ssm-contacts:us-east-1:111122223333:page/a/b",
        }],
    }
}

/// Uses the templates of `dir` (where present) from now on in this process.
pub fn configure(dir: Option<&Path>) -> Result<(), String> {
    let env = load(dir)?;
    let _ = CONFIGURED.set(env);
    Ok(())
}

fn built_in() -> &'static Environment<'static> {
    BUILT_IN.get_or_init(|| load(None).expect("the shipped templates render"))
}

/// Renders with the configured templates, falling back to the shipped ones: a message always
/// goes out.
fn render(name: &str, ctx: Value) -> String {
    let env = CONFIGURED.get().unwrap_or_else(built_in);
    let out = env.get_template(name).and_then(|t| t.render(ctx.clone()));
    match out {
        Ok(text) => text,
        Err(e) => {
            tracing::error!(template = name, error = %e, "template failed; using the shipped one");
            built_in()
                .get_template(name)
                .and_then(|t| t.render(ctx))
                .unwrap_or_default()
        }
    }
}

fn kind_name(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Sms => "sms",
        ChannelKind::Voice => "voice",
        ChannelKind::Email => "email",
    }
}

pub fn page_subject(kind: ChannelKind, m: &Message) -> String {
    match kind {
        ChannelKind::Sms => m
            .public_subject
            .clone()
            .unwrap_or_else(|| m.subject.clone()),
        ChannelKind::Voice => m.subject.clone(),
        ChannelKind::Email => render("page/email_subject.txt", page_context(m, "", "")),
    }
}

fn page_context(m: &Message, code: &str, page_arn: &str) -> Value {
    context! {
        sender => m.sender, subject => m.subject, content => m.content,
        public_subject => m.public_subject, public_content => m.public_content,
        incident_id => m.incident_id, code => code, spoken_code => spaced_digits(code),
        page_arn => page_arn,
    }
}

pub fn page_text(kind: ChannelKind, m: &Message, code: &str, page_arn: &str) -> String {
    render(
        &format!("page/{}.txt", kind_name(kind)),
        page_context(m, code, page_arn),
    )
}

/// The HTML part of a page's email; other channel types have none.
pub fn page_html(kind: ChannelKind, m: &Message, code: &str, page_arn: &str) -> Option<String> {
    (kind == ChannelKind::Email).then(|| render("page/email.html", page_context(m, code, page_arn)))
}

/// One page of a message that carries several (pages held back by a channel's rate limit).
pub struct BundleItem<'a> {
    pub message: &'a Message,
    pub code: &'a str,
    pub page_arn: &'a str,
}

fn bundle_context(kind: ChannelKind, items: &[BundleItem<'_>]) -> Value {
    let pages: Vec<Value> = items
        .iter()
        .map(|i| {
            let m = i.message;
            // SMS carries the public words, as a single page's SMS does.
            let (subject, content) = match kind {
                ChannelKind::Sms => (
                    m.public_subject.as_ref().unwrap_or(&m.subject),
                    m.public_content.as_ref().unwrap_or(&m.content),
                ),
                _ => (&m.subject, &m.content),
            };
            context! {
                sender => m.sender, subject => subject, content => content, code => i.code,
                spoken_code => spaced_digits(i.code), page_arn => i.page_arn,
            }
        })
        .collect();
    context! { pages => pages }
}

pub fn bundle_subject(items: &[BundleItem<'_>]) -> String {
    render(
        "page/bundle_email_subject.txt",
        bundle_context(ChannelKind::Email, items),
    )
}

pub fn bundle_text(kind: ChannelKind, items: &[BundleItem<'_>]) -> String {
    render(
        &format!("page/bundle_{}.txt", kind_name(kind)),
        bundle_context(kind, items),
    )
}

pub fn bundle_html(kind: ChannelKind, items: &[BundleItem<'_>]) -> Option<String> {
    (kind == ChannelKind::Email)
        .then(|| render("page/bundle_email.html", bundle_context(kind, items)))
}

pub fn activation_html(
    kind: ChannelKind,
    channel_name: &str,
    alias: &str,
    code: &str,
    minutes: i64,
) -> Option<String> {
    (kind == ChannelKind::Email).then(|| {
        render(
            "activation/email.html",
            context! {
                channel_name => channel_name, alias => alias, code => code,
                spoken_code => spaced_digits(code), minutes => minutes,
            },
        )
    })
}

pub fn activation_subject(alias: &str) -> String {
    render(
        "activation/email_subject.txt",
        context! { alias => alias, channel_name => "", code => "", spoken_code => "", minutes => 0 },
    )
}

pub fn activation_text(
    kind: ChannelKind,
    channel_name: &str,
    alias: &str,
    code: &str,
    minutes: i64,
) -> String {
    render(
        &format!("activation/{}.txt", kind_name(kind)),
        context! {
            channel_name => channel_name, alias => alias, code => code,
            spoken_code => spaced_digits(code), minutes => minutes,
        },
    )
}

/// Digits read out one by one.
fn spaced_digits(code: &str) -> String {
    code.chars().map(String::from).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(public: bool) -> Message {
        Message {
            sender: "cli".into(),
            subject: "secret subject".into(),
            content: "secret content".into(),
            public_subject: public.then(|| "public subject".into()),
            public_content: public.then(|| "public content".into()),
            incident_id: None,
            chat_topics: Vec::new(),
        }
    }

    #[test]
    fn overrides_replace_shipped_templates_and_broken_ones_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("page")).unwrap();
        std::fs::write(
            dir.path().join("page/sms.txt"),
            "PAGE {{ code }} <{{ subject }}>",
        )
        .unwrap();
        let env = load(Some(dir.path())).unwrap();
        let text = env
            .get_template("page/sms.txt")
            .unwrap()
            .render(context! { code => "123456", subject => "a&b" })
            .unwrap();
        assert_eq!(
            text, "PAGE 123456 <a&b>",
            "text templates are not HTML-escaped"
        );
        let shipped = env
            .get_template("page/email.txt")
            .unwrap()
            .render(sample())
            .unwrap();
        assert!(
            shipped.contains("accept-page"),
            "other templates stay the shipped ones"
        );
        std::fs::write(dir.path().join("page/sms.txt"), "{{ code ").unwrap();
        let err = load(Some(dir.path())).unwrap_err();
        assert!(err.contains("page/sms.txt"), "{err}");
    }

    #[test]
    fn sms_prefers_public_text_and_every_kind_names_the_code() {
        let sms = page_text(ChannelKind::Sms, &msg(true), "123456", "arn:p");
        assert!(sms.contains("public subject: public content") && sms.contains("123456"));
        assert!(!sms.contains("secret"));
        let sms = page_text(ChannelKind::Sms, &msg(false), "123456", "arn:p");
        assert!(sms.contains("secret subject"));
        let voice = page_text(ChannelKind::Voice, &msg(true), "123456", "arn:p");
        assert!(voice.contains("1 2 3 4 5 6") && voice.contains("secret content"));
        let email = page_text(ChannelKind::Email, &msg(true), "123456", "arn:p");
        assert!(email.contains("--accept-code 123456") && email.contains("arn:p"));
        assert_eq!(page_subject(ChannelKind::Sms, &msg(true)), "public subject");
        assert_eq!(page_html(ChannelKind::Sms, &msg(true), "1", "arn:p"), None);
        assert_eq!(
            page_subject(ChannelKind::Email, &msg(true)),
            "secret subject"
        );
    }

    #[test]
    fn html_email_escapes_what_the_sender_wrote() {
        let mut m = msg(false);
        m.subject = "<script>alert(1)</script>".into();
        m.content = "a & b <i>".into();
        let html = page_html(ChannelKind::Email, &m, "123456", "arn:p").unwrap();
        assert!(
            html.contains("&lt;script&gt;") && !html.contains("<script>"),
            "{html}"
        );
        assert!(html.contains("a &amp; b &lt;i&gt;"), "{html}");
        assert!(html.contains("123456") && html.contains("arn:p"));
        let text = page_text(ChannelKind::Email, &m, "123456", "arn:p");
        assert!(text.contains("<script>"), "the text part is not escaped");
        let act =
            activation_html(ChannelKind::Email, "work <mail>", "akuam", "654321", 15).unwrap();
        assert!(
            act.contains("work &lt;mail&gt;") && act.contains("654321"),
            "{act}"
        );
    }
}
