//! The bot's words, rendered from the minijinja templates in `templates/chat/` (built in;
//! files of the same name under `templates_dir` replace them). Slack and Discord share the
//! templates; they differ in how bold is written and in escaping: every value written into a
//! Slack message has `&`, `<` and `>` escaped, so a title such as `<!channel>` cannot ping a
//! channel or forge a link. Discord messages are sent with mentions disabled instead.

use minijinja::{Environment, Value};
use std::path::Path;
use std::sync::OnceLock;

pub const TEMPLATES: &[(&str, &str)] = &[
    (
        "chat/incident.md",
        include_str!("../../templates/chat/incident.md"),
    ),
    (
        "chat/incidents.md",
        include_str!("../../templates/chat/incidents.md"),
    ),
    (
        "chat/paged.md",
        include_str!("../../templates/chat/paged.md"),
    ),
    (
        "chat/oncall.md",
        include_str!("../../templates/chat/oncall.md"),
    ),
    (
        "chat/engagements.md",
        include_str!("../../templates/chat/engagements.md"),
    ),
    ("chat/help.md", include_str!("../../templates/chat/help.md")),
    (
        "chat/update.md",
        include_str!("../../templates/chat/update.md"),
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    Slack,
    Discord,
}

impl Platform {
    pub fn name(self) -> &'static str {
        match self {
            Platform::Slack => "Slack",
            Platform::Discord => "Discord",
        }
    }

    fn bold(self) -> &'static str {
        match self {
            Platform::Slack => "*",
            Platform::Discord => "**",
        }
    }
}

/// Slack's three control characters in message text.
pub fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn environment(dir: Option<&Path>, platform: Platform) -> Result<Environment<'static>, String> {
    let mut env = Environment::new();
    if platform == Platform::Slack {
        env.set_formatter(|out, state, value| {
            if let Some(s) = value.as_str() {
                out.write_str(&slack_escape(s))?;
                Ok(())
            } else {
                minijinja::escape_formatter(out, state, value)
            }
        });
    }
    for (name, shipped) in TEMPLATES {
        let source = crate::templates::source(dir, name, shipped)?;
        env.add_template_owned(name.to_string(), source)
            .map_err(|e| format!("template {name}: {e}"))?;
    }
    Ok(env)
}

/// Loads the chat templates and renders each once with empty values, so a broken override is
/// reported at start and by `klaxon check-config`.
pub fn load(dir: Option<&Path>) -> Result<(), String> {
    let env = environment(dir, Platform::Slack)?;
    for (name, _) in TEMPLATES {
        env.get_template(name)
            .and_then(|t| t.render(minijinja::context! { b => "*" }))
            .map_err(|e| format!("template {name}: {e}"))?;
    }
    Ok(())
}

static CONFIGURED: OnceLock<(Environment<'static>, Environment<'static>)> = OnceLock::new();
static BUILT_IN: OnceLock<(Environment<'static>, Environment<'static>)> = OnceLock::new();

pub fn configure(dir: Option<&Path>) -> Result<(), String> {
    load(dir)?;
    let envs = (
        environment(dir, Platform::Slack)?,
        environment(dir, Platform::Discord)?,
    );
    let _ = CONFIGURED.set(envs);
    Ok(())
}

fn built_in() -> &'static (Environment<'static>, Environment<'static>) {
    BUILT_IN.get_or_init(|| {
        (
            environment(None, Platform::Slack).expect("shipped chat templates load"),
            environment(None, Platform::Discord).expect("shipped chat templates load"),
        )
    })
}

fn pick<'a>(
    envs: &'a (Environment<'static>, Environment<'static>),
    p: Platform,
) -> &'a Environment<'static> {
    match p {
        Platform::Slack => &envs.0,
        Platform::Discord => &envs.1,
    }
}

/// Renders `name` for `platform` with `ctx` (plus `b`, the platform's bold marker); a template
/// that fails falls back to the shipped one, so a reply always goes out.
pub fn render(platform: Platform, name: &str, ctx: Value) -> String {
    let ctx = minijinja::context! { b => platform.bold(), ..ctx };
    let configured = CONFIGURED.get().unwrap_or_else(built_in);
    let out = pick(configured, platform)
        .get_template(name)
        .and_then(|t| t.render(ctx.clone()));
    match out {
        Ok(s) => s.trim().to_string(),
        Err(e) => {
            tracing::error!(template = name, error = %e, "chat template failed; using the shipped one");
            pick(built_in(), platform)
                .get_template(name)
                .and_then(|t| t.render(ctx))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minijinja::context;

    #[test]
    fn slack_values_are_escaped_and_bold_differs_by_platform() {
        let ctx = context! { title => "<!channel> a & b", description => "" };
        let slack = render(Platform::Slack, "chat/update.md", ctx.clone());
        assert_eq!(slack, "*&lt;!channel&gt; a &amp; b*");
        let discord = render(Platform::Discord, "chat/update.md", ctx);
        assert_eq!(discord, "**<!channel> a & b**");
    }

    #[test]
    fn shipped_templates_load_and_overrides_are_checked() {
        load(None).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("chat")).unwrap();
        std::fs::write(dir.path().join("chat/help.md"), "{% for %}").unwrap();
        let e = load(Some(dir.path())).unwrap_err();
        assert!(e.contains("chat/help.md"), "{e}");
    }
}
