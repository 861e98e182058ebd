//! `/klaxon <subcommand> …` parsed into a Command, the same for Slack (one line of text) and
//! Discord (a subcommand with named options). Pure: no I/O, table-tested below.

use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Start {
        plan: String,
        impact: Option<i32>,
        title: String,
    },
    List,
    Show {
        incident: String,
    },
    Resolve {
        incident: String,
    },
    Impact {
        incident: String,
        impact: i32,
    },
    Note {
        incident: String,
        text: String,
    },
    Page {
        contact: String,
        message: String,
    },
    Ack {
        code: Option<String>,
    },
    Oncall {
        contact: Option<String>,
    },
    Engagements,
    Help,
}

/// What was wrong, and the usage of the subcommand it was for (or of all of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub problem: String,
    pub usage: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}\nUsage: {}", self.problem, self.usage)
    }
}

/// Every subcommand with its usage, in the order `help` lists them.
pub const USAGE: &[(&str, &str)] = &[
    ("start", "/klaxon start <plan> [impact=<1-5>] <title…>"),
    ("list", "/klaxon list"),
    ("show", "/klaxon show <incident>"),
    ("resolve", "/klaxon resolve <incident>"),
    ("impact", "/klaxon impact <incident> <1-5>"),
    ("note", "/klaxon note <incident> <text…>"),
    ("page", "/klaxon page <contact> <message…>"),
    ("ack", "/klaxon ack [<code>]"),
    ("oncall", "/klaxon oncall [<contact>]"),
    ("engagements", "/klaxon engagements"),
    ("help", "/klaxon help"),
];

pub fn usage_of(sub: &str) -> String {
    USAGE
        .iter()
        .find(|(name, _)| *name == sub)
        .map(|(_, u)| u.to_string())
        .unwrap_or_else(|| {
            let names: Vec<&str> = USAGE.iter().map(|(n, _)| *n).collect();
            format!("/klaxon <{}>", names.join("|"))
        })
}

fn fail(sub: &str, problem: impl Into<String>) -> ParseError {
    ParseError {
        problem: problem.into(),
        usage: usage_of(sub),
    }
}

fn impact(sub: &str, s: &str) -> Result<i32, ParseError> {
    match s.parse::<i32>() {
        Ok(n) if (1..=5).contains(&n) => Ok(n),
        _ => Err(fail(
            sub,
            format!("impact must be a number from 1 (critical) to 5 (none), not {s:?}"),
        )),
    }
}

fn code(s: &str) -> Result<String, ParseError> {
    if s.len() == 6 && s.chars().all(|c| c.is_ascii_digit()) {
        Ok(s.to_string())
    } else {
        Err(fail(
            "ack",
            format!("an accept code is 6 digits, not {s:?}"),
        ))
    }
}

/// Parses the text after `/klaxon` (Slack sends it as one line).
pub fn parse(text: &str) -> Result<Command, ParseError> {
    let text = text.trim();
    let (sub, rest) = match text.split_once(char::is_whitespace) {
        Some((s, r)) => (s, r.trim()),
        None => (text, ""),
    };
    let sub = sub.to_ascii_lowercase();
    let words: Vec<&str> = rest.split_whitespace().collect();
    let rest_after = |n: usize| -> String {
        let mut r = rest;
        for _ in 0..n {
            r = r
                .trim_start()
                .split_once(char::is_whitespace)
                .map(|(_, t)| t)
                .unwrap_or("");
        }
        r.trim().to_string()
    };
    let need = |n: usize, what: &str| -> Result<(), ParseError> {
        if words.len() < n {
            Err(fail(&sub, format!("{what} is missing")))
        } else {
            Ok(())
        }
    };
    let no_more = |n: usize| -> Result<(), ParseError> {
        if words.len() > n {
            Err(fail(&sub, format!("unexpected {:?}", words[n])))
        } else {
            Ok(())
        }
    };
    match sub.as_str() {
        "" | "help" => Ok(Command::Help),
        "start" => {
            need(1, "the response plan")?;
            let plan = words[0].to_string();
            let (impact, skip) = match words.get(1).and_then(|w| w.strip_prefix("impact=")) {
                Some(v) => (Some(impact("start", v)?), 2),
                None => (None, 1),
            };
            let title = rest_after(skip);
            if title.is_empty() {
                return Err(fail("start", "the title is missing"));
            }
            Ok(Command::Start {
                plan,
                impact,
                title,
            })
        }
        "list" => no_more(0).map(|_| Command::List),
        "engagements" => no_more(0).map(|_| Command::Engagements),
        "show" | "resolve" => {
            need(
                1,
                "the incident (its ARN or the first 8 characters of its id)",
            )?;
            no_more(1)?;
            let incident = words[0].to_string();
            Ok(if sub == "show" {
                Command::Show { incident }
            } else {
                Command::Resolve { incident }
            })
        }
        "impact" => {
            need(1, "the incident")?;
            need(2, "the impact (1-5)")?;
            no_more(2)?;
            Ok(Command::Impact {
                incident: words[0].to_string(),
                impact: impact("impact", words[1])?,
            })
        }
        "note" => {
            need(1, "the incident")?;
            need(2, "the text of the note")?;
            Ok(Command::Note {
                incident: words[0].to_string(),
                text: rest_after(1),
            })
        }
        "page" => {
            need(1, "the contact's alias")?;
            need(2, "the message")?;
            Ok(Command::Page {
                contact: words[0].to_string(),
                message: rest_after(1),
            })
        }
        "ack" => {
            no_more(1)?;
            Ok(Command::Ack {
                code: words.first().map(|w| code(w)).transpose()?,
            })
        }
        "oncall" => {
            no_more(1)?;
            Ok(Command::Oncall {
                contact: words.first().map(|w| w.to_string()),
            })
        }
        other => Err(ParseError {
            problem: format!("there is no subcommand {other:?}"),
            usage: usage_of(""),
        }),
    }
}

/// A Discord option's value: strings and integers are all the command set uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OptionValue {
    Str(String),
    Int(i64),
}

/// Builds a Command from a Discord subcommand and its named options (`plan`, `title`, `impact`,
/// `incident`, `text`, `contact`, `message`, `code`).
pub fn from_options(sub: &str, opts: &HashMap<String, OptionValue>) -> Result<Command, ParseError> {
    let text = |name: &str| -> Option<String> {
        match opts.get(name) {
            Some(OptionValue::Str(s)) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
            Some(OptionValue::Int(n)) => Some(n.to_string()),
            None => None,
        }
    };
    let required = |name: &str| -> Result<String, ParseError> {
        text(name).ok_or_else(|| fail(sub, format!("{name} is missing")))
    };
    let impact_opt = |sub: &str| -> Result<Option<i32>, ParseError> {
        text("impact").map(|v| impact(sub, &v)).transpose()
    };
    match sub {
        "help" => Ok(Command::Help),
        "list" => Ok(Command::List),
        "engagements" => Ok(Command::Engagements),
        "start" => Ok(Command::Start {
            plan: required("plan")?,
            impact: impact_opt("start")?,
            title: required("title")?,
        }),
        "show" => Ok(Command::Show {
            incident: required("incident")?,
        }),
        "resolve" => Ok(Command::Resolve {
            incident: required("incident")?,
        }),
        "impact" => Ok(Command::Impact {
            incident: required("incident")?,
            impact: impact_opt("impact")?.ok_or_else(|| fail("impact", "impact is missing"))?,
        }),
        "note" => Ok(Command::Note {
            incident: required("incident")?,
            text: required("text")?,
        }),
        "page" => Ok(Command::Page {
            contact: required("contact")?,
            message: required("message")?,
        }),
        "ack" => Ok(Command::Ack {
            code: text("code").map(|c| code(&c)).transpose()?,
        }),
        "oncall" => Ok(Command::Oncall {
            contact: text("contact"),
        }),
        other => Err(ParseError {
            problem: format!("there is no subcommand {other:?}"),
            usage: usage_of(""),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Command {
        parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    #[test]
    fn parses_every_subcommand() {
        let cases: Vec<(&str, Command)> = vec![
            ("", Command::Help),
            ("help", Command::Help),
            ("HELP", Command::Help),
            (
                "start checkout Checkout is down",
                Command::Start {
                    plan: "checkout".into(),
                    impact: None,
                    title: "Checkout is down".into(),
                },
            ),
            (
                "start checkout impact=2   Checkout  is down ",
                Command::Start {
                    plan: "checkout".into(),
                    impact: Some(2),
                    title: "Checkout  is down".into(),
                },
            ),
            ("list", Command::List),
            (
                "show 1a2b3c4d",
                Command::Show {
                    incident: "1a2b3c4d".into(),
                },
            ),
            (
                "resolve arn:aws:ssm-incidents::111122223333:incident-record/checkout/x",
                Command::Resolve {
                    incident: "arn:aws:ssm-incidents::111122223333:incident-record/checkout/x"
                        .into(),
                },
            ),
            (
                "impact 1a2b3c4d 1",
                Command::Impact {
                    incident: "1a2b3c4d".into(),
                    impact: 1,
                },
            ),
            (
                "note 1a2b3c4d rolled back to v41",
                Command::Note {
                    incident: "1a2b3c4d".into(),
                    text: "rolled back to v41".into(),
                },
            ),
            (
                "page akuam please look at checkout",
                Command::Page {
                    contact: "akuam".into(),
                    message: "please look at checkout".into(),
                },
            ),
            ("ack", Command::Ack { code: None }),
            (
                "ack 123456",
                Command::Ack {
                    code: Some("123456".into()),
                },
            ),
            ("oncall", Command::Oncall { contact: None }),
            (
                "oncall primary",
                Command::Oncall {
                    contact: Some("primary".into()),
                },
            ),
            ("engagements", Command::Engagements),
        ];
        for (text, want) in cases {
            assert_eq!(ok(text), want, "{text:?}");
        }
    }

    #[test]
    fn wrong_input_names_the_problem_and_the_usage() {
        let cases: Vec<(&str, &str, &str)> = vec![
            ("start", "response plan is missing", "/klaxon start <plan>"),
            ("start checkout", "title is missing", "/klaxon start"),
            (
                "start checkout impact=9 Down",
                "impact must be",
                "/klaxon start",
            ),
            ("start checkout impact=x Down", "not \"x\"", "/klaxon start"),
            ("show", "incident", "/klaxon show <incident>"),
            ("show a b", "unexpected \"b\"", "/klaxon show"),
            (
                "impact 1a2b3c4d",
                "impact (1-5) is missing",
                "/klaxon impact",
            ),
            ("impact 1a2b3c4d 0", "impact must be", "/klaxon impact"),
            (
                "note 1a2b3c4d",
                "text of the note is missing",
                "/klaxon note",
            ),
            ("page akuam", "message is missing", "/klaxon page"),
            ("ack 12345", "6 digits", "/klaxon ack"),
            ("ack 123456 7", "unexpected", "/klaxon ack"),
            ("list all", "unexpected \"all\"", "/klaxon list"),
            (
                "frobnicate",
                "no subcommand \"frobnicate\"",
                "start|list|show",
            ),
        ];
        for (text, problem, usage) in cases {
            let e = parse(text).unwrap_err();
            assert!(e.problem.contains(problem), "{text:?}: {e}");
            assert!(e.usage.contains(usage), "{text:?}: {e}");
        }
    }

    #[test]
    fn discord_options_build_the_same_commands() {
        let o = |pairs: &[(&str, OptionValue)]| -> HashMap<String, OptionValue> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect()
        };
        assert_eq!(
            from_options(
                "start",
                &o(&[
                    ("plan", OptionValue::Str("checkout".into())),
                    ("title", OptionValue::Str("Checkout is down".into())),
                    ("impact", OptionValue::Int(2)),
                ])
            )
            .unwrap(),
            ok("start checkout impact=2 Checkout is down")
        );
        assert_eq!(
            from_options("ack", &o(&[("code", OptionValue::Str("123456".into()))])).unwrap(),
            ok("ack 123456")
        );
        assert_eq!(
            from_options(
                "impact",
                &o(&[
                    ("incident", OptionValue::Str("1a2b3c4d".into())),
                    ("impact", OptionValue::Int(7))
                ])
            )
            .unwrap_err()
            .usage,
            usage_of("impact")
        );
        assert!(
            from_options("page", &o(&[("contact", OptionValue::Str("a".into()))]))
                .unwrap_err()
                .problem
                .contains("message")
        );
        assert_eq!(from_options("oncall", &o(&[])).unwrap(), ok("oncall"));
    }
}
