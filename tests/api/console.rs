//! The web console in a real browser: Debian's Chromium driven by playwright-core through
//! tests/console/driver.mjs, against a server on 127.0.0.1:0 with a manual clock. The scenario
//! and its assertions live here; what the console did is checked through the AWS SDK.
//! Screenshots of each page go to target/console-screenshots/.

use crate::engagements::{engage, only_page, person};
use crate::helpers::*;
use crate::rotations::{daily, rotation, schedule};
use klaxon::domain::clock::Clock;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

const REFUSED: &str = "Those credentials were not accepted";

struct Browser {
    _child: Child,
    stdin: ChildStdin,
    lines: Lines<BufReader<ChildStdout>>,
    base: String,
}

fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots")
}

/// The browser, or None (with SKIPPED printed) where Chromium or playwright-core is missing;
/// under CI=true a missing one fails the test, since .ci/run installs both.
async fn browser(app: &TestApp) -> Option<Browser> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console");
    let chromium = std::env::var("KLAXON_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let node = std::process::Command::new("node").arg("--version").output();
    let missing = if !Path::new(&chromium).exists() {
        Some(format!(
            "no Chromium at {chromium} (apt-get install chromium)"
        ))
    } else if !dir.join("node_modules/playwright-core").exists() {
        Some("playwright-core is not installed (npm install --prefix tests/console)".into())
    } else if !node.is_ok_and(|o| o.status.success()) {
        Some("node is not installed".into())
    } else {
        None
    };
    if let Some(why) = missing {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI=true but the browser test cannot run: {why}"
        );
        eprintln!("SKIPPED: {why}; the console browser test did not run");
        return None;
    }
    let mut child = Command::new("node")
        .arg("driver.mjs")
        .current_dir(&dir)
        .env("KLAXON_CHROMIUM", &chromium)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let stdin = child.stdin.take().unwrap();
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    Some(Browser {
        _child: child,
        stdin,
        lines,
        base: app.url(),
    })
}

impl Browser {
    async fn run(&mut self, cmd: Value) -> Value {
        let line = format!("{cmd}\n");
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        let answer = self
            .lines
            .next_line()
            .await
            .unwrap()
            .expect("the driver answers");
        let v: Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(v["ok"], true, "{cmd} → {}", v["error"]);
        v
    }

    async fn goto(&mut self, path: &str) -> Value {
        let url = format!("{}{path}", self.base);
        self.run(json!({"op": "goto", "url": url})).await
    }

    async fn fill(&mut self, selector: &str, value: &str) {
        self.run(json!({"op": "fill", "selector": selector, "value": value}))
            .await;
    }

    async fn select(&mut self, selector: &str, value: &str) {
        self.run(json!({"op": "select", "selector": selector, "value": value}))
            .await;
    }

    /// Clicks a link or button and returns the page that answers.
    async fn click(&mut self, selector: &str) -> Value {
        self.run(json!({"op": "click", "selector": selector})).await
    }

    async fn text(&mut self, selector: &str) -> String {
        self.run(json!({"op": "text", "selector": selector})).await["text"]
            .as_str()
            .unwrap()
            .to_string()
    }

    async fn eval(&mut self, expr: &str) -> Value {
        self.run(json!({"op": "eval", "expr": expr})).await["value"].clone()
    }

    async fn shot(&mut self, name: &str) {
        let path = screenshots().join(format!("{name}.png"));
        self.run(json!({"op": "screenshot", "path": path})).await;
    }

    /// A form post outside any page (no CSRF token unless given), with the browser's cookies.
    async fn post(&mut self, path: &str, form: Value) -> Value {
        let url = format!("{}{path}", self.base);
        self.run(json!({"op": "post", "url": url, "form": form}))
            .await
    }

    /// Script errors and refused loads (a CSP violation shows as one) since the last call;
    /// Chromium's note of each 4xx page the test asked for is not one.
    async fn problems(&mut self) -> Vec<String> {
        let v = self.run(json!({"op": "problems"})).await;
        let all: Vec<String> = serde_json::from_value(v["problems"].clone()).unwrap();
        all.into_iter()
            .filter(|p| {
                !p.starts_with("Failed to load resource: the server responded with a status of 4")
            })
            .collect()
    }

    async fn sign_in(&mut self, key: &str, secret: &str) -> Value {
        self.goto("/console/sign-in").await;
        self.fill("#access_key_id", key).await;
        self.fill("#secret_access_key", secret).await;
        self.click("button:has-text('Sign in')").await
    }

    async fn close(mut self) {
        self.run(json!({"op": "close"})).await;
    }
}

fn path_of(v: &Value) -> String {
    let url = v["url"].as_str().unwrap();
    let rest = url.split_once("://").unwrap().1;
    rest[rest.find('/').unwrap()..].to_string()
}

fn console_path(incident_arn: &str) -> String {
    format!(
        "/console/incidents/{}",
        incident_arn.split_once(":incident-record/").unwrap().1
    )
}

async fn checkout_plan(app: &TestApp, contact: &str) -> String {
    crate::incidents_setup::ready(app).await;
    app.incidents()
        .create_response_plan()
        .name("checkout")
        .display_name("Checkout")
        .incident_template(crate::incidents_setup::template("Checkout is down", 2))
        .engagements(contact)
        .send()
        .await
        .unwrap()
        .arn
}

async fn start(app: &TestApp, plan: &str, title: &str, impact: i32) -> String {
    app.incidents()
        .start_incident()
        .response_plan_arn(plan)
        .title(title)
        .impact(impact)
        .send()
        .await
        .unwrap()
        .incident_record_arn
}

async fn record(app: &TestApp, arn: &str) -> aws_sdk_ssmincidents::types::IncidentRecord {
    app.incidents()
        .get_incident_record()
        .arn(arn)
        .send()
        .await
        .unwrap()
        .incident_record
        .unwrap()
}

async fn receipts(app: &TestApp, page: &str) -> Vec<String> {
    app.contacts()
        .list_page_receipts()
        .page_id(page)
        .send()
        .await
        .unwrap()
        .receipts
        .unwrap_or_default()
        .iter()
        .map(|r| r.receipt_type.as_str().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_responder_signs_in_finds_the_incident_and_works_it_in_the_browser() {
    use aws_sdk_ssmincidents::types::IncidentRecordStatus;
    let app = spawn().await;
    let Some(mut b) = browser(&app).await else {
        return;
    };
    let (contact, _, _) = person(&app, "akuam", 10).await;
    let plan = checkout_plan(&app, &contact).await;
    let incident = start(&app, &plan, "Checkout is down", 2).await;
    let markup = start(&app, &plan, "<script>alert(1)</script><b>bold</b>", 4).await;
    app.tick().await;

    // Signed out, a page sends the browser to sign in, and back after.
    let v = b.goto("/console/incidents").await;
    assert!(
        path_of(&v).starts_with("/console/sign-in?next="),
        "{}",
        v["url"]
    );
    b.fill("#access_key_id", KEY).await;
    b.fill("#secret_access_key", "not-the-secret").await;
    let wrong = b.click("button:has-text('Sign in')").await;
    assert_eq!(wrong["status"], 401);
    let wrong_words = b.text(".notice.error").await;
    assert!(wrong_words.contains(REFUSED), "{wrong_words}");
    b.shot("sign-in-refused").await;
    b.fill("#access_key_id", "AKIDNOSUCHKEY").await;
    b.fill("#secret_access_key", "whatever").await;
    let unknown = b.click("button:has-text('Sign in')").await;
    assert_eq!(unknown["status"], wrong["status"]);
    assert_eq!(b.text(".notice.error").await, wrong_words);

    b.fill("#access_key_id", KEY).await;
    b.fill("#secret_access_key", SECRET).await;
    let v = b.click("button:has-text('Sign in')").await;
    assert_eq!(path_of(&v), "/console/incidents");
    let cookies = b.run(json!({"op": "cookies"})).await;
    let session = cookies["cookies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "klaxon_session")
        .expect("the session cookie")
        .clone();
    assert_eq!(session["httpOnly"], true);
    assert_eq!(session["sameSite"], "Strict");
    assert_eq!(session["secure"], false);
    for (h, want) in [
        ("x-frame-options", "DENY"),
        ("referrer-policy", "same-origin"),
    ] {
        assert_eq!(v["headers"][h], want, "{h}");
    }
    let csp = v["headers"]["content-security-policy"].as_str().unwrap();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );

    // The incidents started through the API are listed, the markup one as text.
    let list = b.text("main").await;
    assert!(list.contains("Checkout is down"), "{list}");
    assert!(
        list.contains("<script>alert(1)</script><b>bold</b>"),
        "{list}"
    );
    assert_eq!(
        b.eval("document.querySelectorAll('main script, main b').length")
            .await,
        0
    );
    b.shot("incidents").await;

    // Open it: title, impact, status, the timeline and the engagement with its page.
    let v = b.click("a:has-text('Checkout is down')").await;
    assert_eq!(path_of(&v), console_path(&incident));
    let page = b.text("main").await;
    for want in [
        "Checkout is down",
        "OPEN",
        "High",
        "Incident started",
        "Page sent",
        "Page to akuam",
        "SENT",
    ] {
        assert!(page.contains(want), "{want} missing from:\n{page}");
    }
    let problems = b.problems().await;
    assert!(problems.is_empty(), "{problems:?}");

    // Add a note: it is a timeline event through the API.
    b.fill("#text", "Rolled back to v41").await;
    let v = b.click("button:has-text('Add note')").await;
    assert_eq!(v["status"], 200);
    assert!(b.text(".notice.done").await.contains("Note added"));
    let events = app
        .incidents()
        .list_timeline_events()
        .incident_record_arn(&incident)
        .send()
        .await
        .unwrap()
        .event_summaries;
    let note = events
        .iter()
        .find(|e| e.event_type == "Note")
        .expect("a Note event");
    let data = app
        .incidents()
        .get_timeline_event()
        .incident_record_arn(&incident)
        .event_id(&note.event_id)
        .send()
        .await
        .unwrap()
        .event
        .unwrap()
        .event_data;
    assert!(
        data.contains("Rolled back to v41") && data.contains(KEY),
        "{data}"
    );
    assert!(b.text(".timeline").await.contains("Rolled back to v41"));

    // Change the impact.
    b.select("#impact", "1").await;
    b.click("button:has-text('Change impact')").await;
    assert_eq!(record(&app, &incident).await.impact, 1);
    assert!(b.text("main").await.contains("Critical"));

    // A post without the CSRF token (or with a wrong one) is refused and changes nothing.
    let base = console_path(&incident);
    let forged = b.post(&format!("{base}/resolve"), json!({})).await;
    assert_eq!(forged["status"], 403);
    let forged = b
        .post(
            &format!("{base}/resolve"),
            json!({"csrf_token": "0".repeat(64)}),
        )
        .await;
    assert_eq!(forged["status"], 403);
    let forged = b
        .post(&format!("{base}/note"), json!({"text": "forged"}))
        .await;
    assert_eq!(forged["status"], 403);
    assert_eq!(
        record(&app, &incident).await.status,
        IncidentRecordStatus::Open
    );

    // Acknowledge the page from the incident: its receipts show READ.
    let eng = app
        .contacts()
        .list_engagements()
        .incident_id(&incident)
        .send()
        .await
        .unwrap()
        .engagements;
    let page_arn = only_page(&app, &eng[0].engagement_arn).await;
    b.goto(&base).await;
    let v = b.click("button:has-text('Acknowledge')").await;
    assert_eq!(path_of(&v), format!("{base}?done=acknowledged"));
    assert!(
        receipts(&app, &page_arn)
            .await
            .contains(&"READ".to_string())
    );
    let page = b.text("main").await;
    assert!(
        page.contains("READ") && page.contains("acknowledged"),
        "{page}"
    );
    assert!(
        page.contains("Page acknowledged"),
        "the timeline has the acknowledgement"
    );
    b.shot("incident").await;

    // On a 360 px phone nothing scrolls sideways.
    b.run(json!({"op": "viewport", "width": 360, "height": 780}))
        .await;
    for path in [
        base.clone(),
        "/console/incidents".into(),
        console_path(&markup),
    ] {
        b.goto(&path).await;
        let wide = b
            .eval("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            .await;
        assert_eq!(wide, 0, "{path} scrolls sideways by {wide} px at 360 px");
    }
    b.goto(&base).await;
    b.shot("incident-phone").await;
    b.run(json!({"op": "viewport", "width": 1280, "height": 900}))
        .await;

    // Resolve it.
    b.goto(&base).await;
    b.click("button:has-text('Resolve')").await;
    assert_eq!(
        record(&app, &incident).await.status,
        IncidentRecordStatus::Resolved
    );
    assert!(b.text("main").await.contains("RESOLVED"));

    // Start one from the console: it goes through StartIncident.
    b.goto("/console/incidents").await;
    b.select("#response_plan", &plan).await;
    b.fill("#title", "Payments are slow").await;
    b.select("#impact", "3").await;
    let v = b.click("button:has-text('Start incident')").await;
    assert!(
        path_of(&v).starts_with("/console/incidents/checkout/"),
        "{}",
        v["url"]
    );
    assert!(b.text(".notice.done").await.contains("Incident started"));
    let listed = app
        .incidents()
        .list_incident_records()
        .send()
        .await
        .unwrap()
        .incident_record_summaries;
    let started = listed
        .iter()
        .find(|r| r.title == "Payments are slow")
        .expect("started");
    assert_eq!(started.impact, 3);

    // A missing incident is a 404 page in words.
    let v = b
        .goto("/console/incidents/checkout/00000000-0000-0000-0000-000000000000")
        .await;
    assert_eq!(v["status"], 404);
    assert!(b.text("main").await.contains("There is no incident"));

    // Sign out ends the session on the server: the old cookie no longer opens a page.
    let token = session["value"].as_str().unwrap().to_string();
    b.goto("/console/incidents").await;
    let v = b.click("button:has-text('Sign out')").await;
    assert_eq!(path_of(&v), "/console/sign-in");
    let v = b.goto("/console/oncall").await;
    assert!(path_of(&v).starts_with("/console/sign-in"), "{}", v["url"]);
    let cookie = format!("klaxon_session={token}");
    let old = raw(
        &app,
        "GET",
        "/console/incidents",
        &[("cookie", &cookie)],
        b"",
        None,
    )
    .await;
    assert_eq!(old.status, 303);
    assert!(
        old.header("location")
            .unwrap()
            .starts_with("/console/sign-in")
    );
    let problems = b.problems().await;
    assert!(problems.is_empty(), "{problems:?}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_on_call_page_names_who_the_api_says_is_on_call_and_who_is_next() {
    use aws_sdk_ssmcontacts::primitives::DateTime;
    let app = spawn().await;
    let Some(mut b) = browser(&app).await else {
        return;
    };
    let akua = crate::channels::personal(&app, "akuam").await;
    let jdoe = crate::channels::personal(&app, "jdoe").await;
    let tz = "America/New_York";
    let now = app.clock.now_ms();
    // The hand-off is a few hours after "now" whatever the hour the test runs at, so the jump
    // past it below stays well inside the session's 12 hours.
    let handoff_hour = handoff_hour_after(now, tz);
    let rot = rotation(
        &app,
        "primary",
        &[&akua, &jdoe],
        now - 3 * 86_400_000,
        tz,
        daily(handoff_hour),
    )
    .await;
    schedule(&app, "primary-oncall", &[&rot]).await;
    let shifts = app
        .contacts()
        .list_rotation_shifts()
        .rotation_id(&rot)
        .start_time(DateTime::from_millis(now))
        .end_time(DateTime::from_millis(now + 3 * 86_400_000))
        .send()
        .await
        .unwrap()
        .rotation_shifts
        .unwrap();
    let alias = |s: &aws_sdk_ssmcontacts::types::RotationShift| {
        s.contact_ids.as_ref().unwrap()[0]
            .rsplit('/')
            .next()
            .unwrap()
            .to_string()
    };
    let (first, second) = (alias(&shifts[0]), alias(&shifts[1]));
    assert_ne!(first, second);
    // An hour of the second person's shift is covered by the first.
    let tomorrow = shifts[1].start_time.to_millis().unwrap();
    app.contacts()
        .create_rotation_override()
        .rotation_id(&rot)
        .new_contact_ids(if first == "akuam" { &akua } else { &jdoe })
        .start_time(DateTime::from_millis(tomorrow + 3_600_000))
        .end_time(DateTime::from_millis(tomorrow + 2 * 3_600_000))
        .send()
        .await
        .unwrap();

    b.sign_in(KEY, SECRET).await;
    let v = b.goto("/console/oncall").await;
    assert_eq!(v["status"], 200);
    assert_eq!(b.text(".oncall-now").await, first);
    assert_eq!(b.text(".oncall-next").await, second);
    let handoff = b.text(".handoff").await;
    assert!(
        handoff.contains(&format!("{handoff_hour:02}:00"))
            && (handoff.contains("EST") || handoff.contains("EDT")),
        "{handoff}"
    );
    let page = b.text("main").await;
    assert!(
        page.contains("On call now") && page.contains("Next"),
        "{page}"
    );
    assert!(page.contains("America/New_York"), "{page}");
    assert!(
        page.contains(&format!("{first} override for {second}")),
        "the override is marked:\n{page}"
    );
    assert!(page.contains("primary-oncall"), "{page}");
    b.shot("oncall").await;

    // After the hand-off the next person is on call.
    let end = shifts[0].end_time.to_millis().unwrap();
    assert!(
        end - now < 8 * 3_600_000,
        "the hand-off is hours away, not a day"
    );
    app.clock.advance_ms(end - now + 60_000);
    let v = b.goto("/console/oncall").await;
    assert_eq!(path_of(&v), "/console/oncall", "still signed in");
    assert_eq!(b.text(".oncall-now").await, second);
    let problems = b.problems().await;
    assert!(problems.is_empty(), "{problems:?}");
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engagements_and_contacts_pages_acknowledge_stop_and_show_plans() {
    let app = spawn().await;
    let Some(mut b) = browser(&app).await else {
        return;
    };
    let (contact, _, _) = person(&app, "akuam", 10).await;
    let first = engage(&app, &contact).await;
    let second = engage(&app, &contact).await;
    app.tick().await;
    let page_arn = only_page(&app, &first).await;

    b.sign_in(KEY, SECRET).await;
    b.goto("/console/engagements").await;
    let text = b.text("main").await;
    assert!(
        text.contains("Checkout is down") && text.contains("Page to akuam"),
        "{text}"
    );
    b.shot("engagements").await;
    let ack = format!("form:has(input[value='{page_arn}']) button:has-text('Acknowledge')");
    let v = b.click(&ack).await;
    assert_eq!(path_of(&v), "/console/engagements?done=acknowledged");
    assert!(
        receipts(&app, &page_arn)
            .await
            .contains(&"READ".to_string())
    );

    let stop = format!("form:has(input[value='{second}']) button:has-text('Stop')");
    b.click(&stop).await;
    let stopped = app
        .contacts()
        .describe_engagement()
        .engagement_id(&second)
        .send()
        .await
        .unwrap();
    assert!(stopped.stop_time.is_some());
    assert!(!b.text("main").await.contains(&second));

    b.goto("/console/contacts").await;
    b.click("a:has-text('akuam')").await;
    let text = b.text("main").await;
    for want in [
        "Channels",
        "activated",
        "Engagement plan",
        "Stage 1",
        "Stage 2",
        "Recent pages",
    ] {
        assert!(text.contains(want), "{want} missing from:\n{text}");
    }
    b.shot("contact").await;

    // A session ends after [console] session_hours (12) whatever is done with it.
    app.clock.advance_ms(12 * 3_600_000 + 1);
    let v = b.goto("/console/contacts").await;
    assert!(path_of(&v).starts_with("/console/sign-in"), "{}", v["url"]);
    let problems = b.problems().await;
    assert!(problems.is_empty(), "{problems:?}");
    b.close().await;

    // Sign-in attempts are limited per client address, right or wrong.
    let form = format!("access_key_id={KEY}&secret_access_key=wrong");
    let ct = [("content-type", "application/x-www-form-urlencoded")];
    let mut statuses = Vec::new();
    for _ in 0..11 {
        statuses.push(
            raw(&app, "POST", "/console/sign-in", &ct, form.as_bytes(), None)
                .await
                .status,
        );
    }
    assert_eq!(statuses[..10], [401; 10], "{statuses:?}");
    assert_eq!(statuses[10], 429);
}

/// A local hour 2 to 4 hours after `now` in `tz`, avoiding 01:00–03:59, the hours a DST change
/// skips or repeats (a daily hand-off there would not be once a day on the change's date).
fn handoff_hour_after(now: i64, tz: &str) -> i32 {
    let at = jiff::Timestamp::from_millisecond(now).unwrap();
    let local = jiff::tz::TimeZone::get(tz).unwrap().to_datetime(at);
    let mut hour = (i32::from(local.hour()) + 3) % 24;
    if (1..4).contains(&hour) {
        hour = 4;
    }
    hour
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_past_session_hours_signs_in_again_and_returns_to_the_page_asked_for() {
    let app = spawn().await;
    let cookie = sign_in_raw(&app).await;
    html(&app, &cookie, "/console/oncall").await;

    // One millisecond before the 12 hours are up the session still opens pages.
    app.clock.advance_ms(12 * 3_600_000 - 1);
    html(&app, &cookie, "/console/oncall?days=14").await;

    // At 12 hours it has ended: the page asked for leads to the sign-in form, which remembers it.
    app.clock.advance_ms(1);
    let r = raw(
        &app,
        "GET",
        "/console/oncall?days=14",
        &[("cookie", &cookie)],
        b"",
        None,
    )
    .await;
    assert_eq!(r.status, 303);
    let to = r.header("location").unwrap().to_string();
    assert_eq!(to, "/console/sign-in?next=%2Fconsole%2Foncall%3Fdays%3D14");
    let form_page = raw(&app, "GET", &to, &[], b"", None).await;
    assert_eq!(form_page.status, 200);
    let page = form_page.body.as_str().unwrap();
    assert!(page.contains("name=\"next\""), "{page}");

    // Signing in there goes back to that page, with a new session that opens it.
    let form = format!(
        "access_key_id={KEY}&secret_access_key={SECRET}&next=%2Fconsole%2Foncall%3Fdays%3D14"
    );
    let ct = [("content-type", "application/x-www-form-urlencoded")];
    let r = raw(&app, "POST", "/console/sign-in", &ct, form.as_bytes(), None).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/console/oncall?days=14"));
    let fresh = r
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    assert_ne!(fresh, cookie);
    html(&app, &fresh, "/console/oncall?days=14").await;
    // The ended session stays ended.
    let r = raw(
        &app,
        "GET",
        "/console/oncall",
        &[("cookie", &cookie)],
        b"",
        None,
    )
    .await;
    assert_eq!(r.status, 303);
}

/// Signs in without a browser; returns the Cookie header for later requests.
async fn sign_in_raw(app: &TestApp) -> String {
    let form = format!("access_key_id={KEY}&secret_access_key={SECRET}");
    let ct = [("content-type", "application/x-www-form-urlencoded")];
    let r = raw(app, "POST", "/console/sign-in", &ct, form.as_bytes(), None).await;
    assert_eq!(r.status, 303);
    let set = r.header("set-cookie").unwrap();
    set.split(';').next().unwrap().to_string()
}

async fn html(app: &TestApp, cookie: &str, path: &str) -> String {
    let r = raw(app, "GET", path, &[("cookie", cookie)], b"", None).await;
    assert_eq!(r.status, 200, "GET {path}");
    for h in [
        "content-security-policy",
        "x-frame-options",
        "referrer-policy",
    ] {
        assert!(r.header(h).is_some(), "{h} on {path}");
    }
    r.body.as_str().unwrap().to_string()
}

/// The href of the link whose text is `text`.
fn link_to(page: &str, text: &str) -> Option<String> {
    let end = page.find(&format!(">{text}</a>"))?;
    let start = page[..end].rfind("href=\"")? + 6;
    let href = &page[start..end];
    Some(
        href[..href.find('"')?]
            .replace("&amp;", "&")
            .replace("&#x2f;", "/"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_lists_and_timelines_come_in_pages() {
    use aws_sdk_ssmincidents::primitives::DateTime;
    let app = spawn().await;
    crate::incidents_setup::ready(&app).await;
    let plan = app
        .incidents()
        .create_response_plan()
        .name("bulk")
        .incident_template(crate::incidents_setup::template("Bulk", 3))
        .send()
        .await
        .unwrap()
        .arn;
    let mut first = String::new();
    for i in 0..120 {
        first = start(&app, &plan, &format!("Incident {i}"), 3).await;
    }
    for i in 0..150 {
        app.incidents()
            .create_timeline_event()
            .incident_record_arn(&first)
            .event_time(DateTime::from_millis(app.clock.now_ms() + i))
            .event_type("Custom Event")
            .event_data(format!("\"step {i}\""))
            .send()
            .await
            .unwrap();
    }
    let cookie = sign_in_raw(&app).await;
    let page = html(&app, &cookie, "/console/incidents?status=open").await;
    assert_eq!(page.matches("<tr class=\"impact-3\">").count(), 100);
    let more = link_to(&page, "More open incidents").expect("a link to the rest");
    let rest = html(&app, &cookie, &more).await;
    assert_eq!(rest.matches("<tr class=\"impact-3\">").count(), 20);
    assert!(link_to(&rest, "More open incidents").is_none());

    let path = console_path(&first);
    let page = html(&app, &cookie, &path).await;
    assert_eq!(page.matches("<li class=\"event\">").count(), 100);
    let later = link_to(&page, "Later events").expect("a link to later events");
    let rest = html(&app, &cookie, &later).await;
    // 150 notes, the incident's creation and nothing else (the plan engages nobody).
    assert_eq!(rest.matches("<li class=\"event\">").count(), 51);
    assert!(rest.contains("step 149"));

    // Signed out, a post changes nothing and sign-in leads back to the page it came from.
    let ct = [("content-type", "application/x-www-form-urlencoded")];
    let r = raw(
        &app,
        "POST",
        &format!("{path}/note"),
        &ct,
        b"text=late",
        None,
    )
    .await;
    assert_eq!(r.status, 303);
    let next = percent_encoding::utf8_percent_encode(&path, percent_encoding::NON_ALPHANUMERIC);
    assert_eq!(
        r.header("location").unwrap(),
        format!("/console/sign-in?next={next}")
    );
}
