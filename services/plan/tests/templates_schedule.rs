//! Plans from templates (over HTTP to a real template service), schedules with recurrence,
//! iCalendar output, and bad input — against every backend available.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

fn dst_template() -> Value {
    json!({
        "name": "Berlin week", "description": "Across the spring DST change", "category": "Test",
        "tags": ["dst"], "visibility": "private",
        "steps": [
            { "title": "Day before", "offsetDays": -1, "timeOfDay": "09:00" },
            { "title": "Start", "offsetDays": 0, "timeOfDay": "09:00", "durationMinutes": 60 },
            { "title": "After the change", "offsetDays": 1, "timeOfDay": "09:00" },
            { "title": "Default time", "offsetDays": 2 },
            { "title": "In the gap", "offsetDays": 1, "timeOfDay": "02:30" }
        ]
    })
}

#[tokio::test]
async fn from_template_resolves_local_times_across_a_dst_change() {
    for h in harnesses().await {
        let b = h.backend;
        let template_id = h.create_template("ada", dst_template()).await;
        let res = h
            .post("/from-template", "ada", &json!({
                "templateId": template_id, "startDate": "2026-03-28", "timezone": "Europe/Berlin"
            }))
            .await;
        assert_eq!(res.status(), 201, "[{b}]");
        assert_eq!(res.headers()["etag"], "\"1\"");
        let p: Value = res.json().await.unwrap();
        assert_eq!(p["title"], "Berlin week", "the template's name by default");
        assert_eq!(p["templateId"], template_id.as_str());
        assert_eq!(p["templateVersion"], 1);
        assert_eq!(p["tags"], json!(["dst"]));
        assert_eq!(p["endDate"], "2026-03-30");
        let dues: Vec<&str> = p["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["dueAt"].as_str().unwrap())
            .collect();
        assert_eq!(
            dues,
            [
                "2026-03-27T08:00:00.000000Z", // CET, +01:00
                "2026-03-28T08:00:00.000000Z",
                "2026-03-29T07:00:00.000000Z", // CEST, +02:00: still 09:00 local
                "2026-03-30T07:00:00.000000Z", // 09:00 by default
                "2026-03-29T01:30:00.000000Z", // 02:30 does not exist: 03:30 CEST
            ],
            "[{b}]"
        );
        assert_eq!(p["items"][1]["durationMinutes"], 60);

        let res = h
            .post("/from-template", "ada", &json!({
                "templateId": template_id, "startDate": "2026-03-28", "timezone": "America/New_York", "title": "NY"
            }))
            .await;
        let p: Value = res.json().await.unwrap();
        assert_eq!(p["title"], "NY");
        assert_eq!(
            p["items"][1]["dueAt"], "2026-03-28T13:00:00.000000Z",
            "[{b}] EDT since 8 March"
        );

        // Someone else's private template is not found, through the template service's rules.
        let res = h
            .post(
                "/from-template",
                "bob",
                &json!({"templateId": template_id, "startDate": "2026-03-28", "timezone": "UTC"}),
            )
            .await;
        assert_problem(res, 404, "not-found").await;
        let res = h
            .post("/from-template", "ada", &json!({"templateId": uuid::Uuid::now_v7().to_string(), "startDate": "2026-03-28", "timezone": "UTC"}))
            .await;
        assert_problem(res, 404, "not-found").await;
        let res = h
            .post(
                "/from-template",
                "ada",
                &json!({"templateId": "../../etc", "startDate": "2026-03-28", "timezone": "UTC"}),
            )
            .await;
        assert_problem(res, 404, "not-found").await;
        let p = assert_problem(
            h.post("/from-template", "ada", &json!({"templateId": template_id, "startDate": "28.03.2026", "timezone": "Berlin"})).await,
            422,
            "validation",
        )
        .await;
        assert_eq!(fields(&p), ["startDate", "timezone"]);
        assert_eq!(h.count("bob").await, 0);
        assert_eq!(h.count("ada").await, 2, "[{b}]");

        // Idempotent too.
        let send = || {
            h.req(Method::POST, "/from-template", "ada")
                .header("idempotency-key", "tpl-1")
                .json(&json!({"templateId": template_id, "startDate": "2026-03-28", "timezone": "UTC"}))
                .send()
        };
        let first: Value = send().await.unwrap().json().await.unwrap();
        let again: Value = send().await.unwrap().json().await.unwrap();
        assert_eq!(first["id"], again["id"], "[{b}]");
        assert_eq!(h.count("ada").await, 3, "[{b}]");
    }
}

#[tokio::test]
async fn an_unreachable_template_service_is_a_502_and_makes_no_plan() {
    // A port where nothing listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let options = Options {
        template_url: Some(format!("http://127.0.0.1:{port}")),
        template_timeout_ms: Some(2000),
        ..Default::default()
    };
    let body = json!({"templateId": uuid::Uuid::now_v7().to_string(), "startDate": "2026-03-28", "timezone": "UTC"});
    for h in harnesses_with(options).await {
        // The same keyed request twice: the failed first attempt gave its key up before it
        // answered, so the retry runs (and fails the same way) rather than meeting a 409.
        for attempt in 0..2 {
            let res = h
                .req(Method::POST, "/from-template", "ada")
                .header("idempotency-key", "down-1")
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 502, "[{}] attempt {attempt}", h.backend);
            assert_problem(res, 502, "bad-gateway").await;
        }
        assert_eq!(h.count("ada").await, 0, "[{}] no half-made plan", h.backend);
    }
}

#[tokio::test]
async fn a_template_service_that_hangs_is_a_504() {
    // Accepts connections, never answers.
    let hanging = plangen_core::testing::HangingServer::start().await;
    let options = Options {
        template_url: Some(format!("http://127.0.0.1:{}", hanging.port)),
        template_timeout_ms: Some(300),
        ..Default::default()
    };
    for h in harnesses_with(options).await {
        let res = h
            .post("/from-template", "ada", &json!({"templateId": uuid::Uuid::now_v7().to_string(), "startDate": "2026-03-28", "timezone": "UTC"}))
            .await;
        assert_problem(res, 504, "gateway-timeout").await;
        assert_eq!(h.count("ada").await, 0, "[{}]", h.backend);
    }
}

#[tokio::test]
async fn a_keyed_request_abandoned_mid_way_gives_its_key_up_so_the_retry_runs_at_once() {
    // Accepts connections, never answers: the plan service's request is abandoned first.
    let hanging = plangen_core::testing::HangingServer::start().await;
    let options = Options {
        template_url: Some(format!("http://127.0.0.1:{}", hanging.port)),
        template_timeout_ms: Some(5000),
        request_timeout_ms: Some(500),
        ..Default::default()
    };
    let body = json!({"templateId": uuid::Uuid::now_v7().to_string(), "startDate": "2026-03-28", "timezone": "UTC"});
    for h in harnesses_with(options).await {
        let b = h.backend;
        let send = || {
            h.req(Method::POST, "/from-template", "ada")
                .header("idempotency-key", "abandoned-1")
                .json(&body)
                .send()
        };
        assert_problem(send().await.unwrap(), 503, "timeout").await;
        // Not "still being processed" for the next minute: the retry runs (and, the template
        // service still hanging, is abandoned in turn).
        let started = std::time::Instant::now();
        loop {
            let res = send().await.unwrap();
            if res.status() != 409 {
                assert_problem(res, 503, "timeout").await;
                break;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(3),
                "[{b}] the key is still claimed {:?} later",
                started.elapsed()
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(h.count("ada").await, 0, "[{b}] no plan");
    }
}

fn weekly_plan() -> Value {
    json!({
        "title": "Weekly review", "startDate": "2026-03-16", "timezone": "Europe/Berlin",
        "items": [
            { "title": "Review", "dueAt": "2026-03-16T08:00:00Z", "durationMinutes": 45 },
            { "title": "Follow-up", "dueAt": "2026-03-17T16:30:00Z" },
            { "title": "Someday" }
        ],
        "recurrence": { "rrule": "FREQ=WEEKLY;BYDAY=MO;COUNT=6", "exdates": ["2026-03-30T09:00:00+02:00"] }
    })
}

#[tokio::test]
async fn the_schedule_expands_a_weekly_rule_in_local_time_and_orders_by_time() {
    for h in harnesses().await {
        let b = h.backend;
        let weekly = h.create("ada", weekly_plan()).await;
        let mut one_off = plan("One-off");
        one_off["items"] = json!([{ "title": "Dentist", "dueAt": "2026-03-24T07:15:00Z" }, { "title": "Far away", "dueAt": "2027-01-01T00:00:00Z" }]);
        let one_off = h.create("ada", one_off).await;
        h.create("bob", weekly_plan()).await;

        let s = h
            .get_json(
                "/schedule?from=2026-03-16T00:00:00Z&to=2026-04-14T00:00:00Z",
                "ada",
            )
            .await;
        let got: Vec<(String, String)> = s["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["title"].as_str().unwrap().to_owned(),
                    e["dueAt"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let want = [
            ("Review", "2026-03-16T08:00:00.000000Z"),    // 09:00 CET
            ("Follow-up", "2026-03-17T16:30:00.000000Z"), // 17:30 CET
            ("Review", "2026-03-23T08:00:00.000000Z"),
            ("Dentist", "2026-03-24T07:15:00.000000Z"),
            ("Follow-up", "2026-03-24T16:30:00.000000Z"),
            // 30 March is an exception; after the DST change 09:00 CEST is 07:00 UTC.
            ("Review", "2026-04-06T07:00:00.000000Z"),
            ("Follow-up", "2026-04-07T15:30:00.000000Z"),
            ("Review", "2026-04-13T07:00:00.000000Z"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        assert_eq!(got, want, "[{b}]");
        let first = &s["items"][0];
        assert_eq!(first["planId"], weekly["id"]);
        assert_eq!(first["planTitle"], "Weekly review");
        assert_eq!(first["itemId"], weekly["items"][0]["id"]);
        assert_eq!(first["durationMinutes"], 45);
        assert_eq!(first["occurrence"], "2026-03-16T08:00:00.000000Z");
        assert_eq!(s["items"][4]["occurrence"], "2026-03-23T08:00:00.000000Z");
        assert_eq!(s["items"][3]["occurrence"], Value::Null);
        assert_eq!(s["items"][3]["planId"], one_off["id"]);

        // COUNT=6 ends the series: 16.3 + 5 more Mondays (30.3 skipped) end on 20.4.
        let late = h
            .get_json(
                "/schedule?from=2026-04-20T00:00:00Z&to=2026-05-20T00:00:00Z",
                "ada",
            )
            .await;
        let late: Vec<&str> = late["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["dueAt"].as_str().unwrap())
            .collect();
        assert_eq!(
            late,
            ["2026-04-20T07:00:00.000000Z", "2026-04-21T15:30:00.000000Z"],
            "[{b}]"
        );

        for (query, field) in [
            ("", "from,to"),
            ("?from=2026-01-01T00:00:00Z", "to"),
            ("?from=yesterday&to=2026-01-02T00:00:00Z", "from"),
            ("?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z", "to"),
            ("?from=2026-01-01T00:00:00Z&to=2027-01-03T00:00:00Z", "to"),
        ] {
            let p = assert_problem(
                h.get(&format!("/schedule{query}"), "ada").await,
                422,
                "validation",
            )
            .await;
            assert_eq!(fields(&p).join(","), field, "[{b}] {query}");
        }
    }
}

/// Content lines of an iCalendar text, unfolded.
fn unfold(ics: &str) -> Vec<String> {
    assert!(ics.contains("\r\n"), "CRLF line ends");
    ics.replace("\r\n ", "")
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn events(lines: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut current: Option<Vec<String>> = None;
    for l in lines {
        match l.as_str() {
            "BEGIN:VEVENT" => current = Some(Vec::new()),
            "END:VEVENT" => out.push(current.take().expect("END without BEGIN")),
            _ => {
                if let Some(c) = current.as_mut() {
                    c.push(l.clone());
                }
            }
        }
    }
    out
}

/// RFC 5545 3.2.19: every TZID a calendar uses has its VTIMEZONE, ahead of the events, and
/// there is no other. Returns the TZIDs.
fn assert_every_tzid_has_its_vtimezone(lines: &[String]) -> BTreeSet<String> {
    let used: BTreeSet<String> = lines
        .iter()
        .filter_map(|l| {
            let params = l.split_once(':')?.0;
            let tzid = params.split(';').find_map(|p| p.strip_prefix("TZID="))?;
            Some(tzid.to_owned())
        })
        .collect();
    let defined: BTreeSet<String> = lines
        .iter()
        .filter_map(|l| l.strip_prefix("TZID:").map(str::to_owned))
        .collect();
    assert_eq!(used, defined, "{lines:?}");
    if !used.is_empty() {
        let position = |l: &str| lines.iter().position(|x| x == l).unwrap();
        assert!(position("END:VTIMEZONE") < position("BEGIN:VEVENT"));
        assert!(
            lines
                .iter()
                .any(|l| l == "BEGIN:STANDARD" || l == "BEGIN:DAYLIGHT")
        );
    }
    used
}

fn prop<'a>(event: &'a [String], name: &str) -> Option<&'a str> {
    event.iter().find_map(|l| {
        let (key, value) = l.split_once(':')?;
        (key == name || key.starts_with(&format!("{name};"))).then_some(value)
    })
}

#[tokio::test]
async fn calendar_ics_parses_back_into_the_plan() {
    for h in harnesses().await {
        let b = h.backend;
        let mut body = plan("Launch; phase 1, \"beta\"");
        body["items"][0]["notes"] = json!("Line one\nline two, with a comma");
        body["items"][0]["title"] = json!(format!("Long {}", "é".repeat(50)));
        let p = h.create("ada", body).await;
        let res = h
            .get(
                &format!("/{}/calendar.ics", p["id"].as_str().unwrap()),
                "ada",
            )
            .await;
        assert_eq!(res.status(), 200, "[{b}]");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/calendar")
        );
        let text = res.text().await.unwrap();
        for raw in text.split("\r\n") {
            assert!(raw.len() <= 75, "folded at 75 octets: {raw}");
        }
        let lines = unfold(&text);
        assert_eq!(lines.first().unwrap(), "BEGIN:VCALENDAR");
        assert_eq!(lines.last().unwrap(), "END:VCALENDAR");
        assert!(lines.contains(&"VERSION:2.0".to_owned()));
        assert!(
            lines.contains(&"X-WR-CALNAME:Launch\\; phase 1\\, \"beta\"".to_owned()),
            "{lines:?}"
        );
        assert!(
            assert_every_tzid_has_its_vtimezone(&lines).is_empty(),
            "[{b}] one-off events are in UTC: no VTIMEZONE"
        );
        let ev = events(&lines);
        assert_eq!(ev.len(), 1, "[{b}] only dated items become events");
        assert_eq!(
            prop(&ev[0], "UID"),
            Some(
                format!(
                    "{}-{}@plangen",
                    p["id"].as_str().unwrap(),
                    p["items"][0]["id"].as_str().unwrap()
                )
                .as_str()
            )
        );
        assert_eq!(prop(&ev[0], "DTSTART"), Some("20260302T080000Z"));
        assert_eq!(prop(&ev[0], "DURATION"), Some("PT30M"));
        assert_eq!(
            prop(&ev[0], "SUMMARY"),
            Some(format!("Long {}", "é".repeat(50)).as_str())
        );
        assert_eq!(
            prop(&ev[0], "DESCRIPTION"),
            Some("Line one\\nline two\\, with a comma")
        );

        let weekly = h.create("ada", weekly_plan()).await;
        let lines = unfold(&h.calendar(&weekly, "ada").await);
        assert_eq!(
            assert_every_tzid_has_its_vtimezone(&lines),
            BTreeSet::from(["Europe/Berlin".to_owned()]),
            "[{b}]"
        );
        for rule in [
            "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
            "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
        ] {
            assert!(lines.contains(&rule.to_owned()), "[{b}] {lines:?}");
        }
        let ev = events(&lines);
        assert_eq!(ev.len(), 2, "[{b}]");
        assert!(ev[0].contains(&"DTSTART;TZID=Europe/Berlin:20260316T090000".to_owned()));
        assert_eq!(prop(&ev[0], "RRULE"), Some("FREQ=WEEKLY;BYDAY=MO;COUNT=6"));
        assert_eq!(prop(&ev[0], "EXDATE"), Some("20260330T090000"));
        // The follow-up is a Tuesday: BYDAY=MO from its own start would put it on Mondays,
        // so its dates are listed.
        assert_eq!(prop(&ev[1], "DTSTART"), Some("20260317T173000"));
        assert_eq!(prop(&ev[1], "RRULE"), None);
        assert_eq!(prop(&ev[1], "RDATE"), Some("20260324T173000"));
    }
}

impl Harness {
    async fn calendar(&self, plan: &Value, user: &str) -> String {
        let res = self
            .get(
                &format!("/{}/calendar.ics", plan["id"].as_str().unwrap()),
                user,
            )
            .await;
        assert_eq!(res.status(), 200);
        res.text().await.unwrap()
    }
}

/// Every instant each item of `plan`'s `.ics` falls on, as a calendar would expand it
/// (the `rrule` crate reading the event's DTSTART, RRULE, RDATE and EXDATE lines, plus
/// DTSTART itself, which RFC 5545 counts as the first instance and `rrule` only when the
/// rule yields it), by item id.
fn calendar_instants(plan: &Value, ics: &str) -> BTreeMap<String, Vec<String>> {
    let prefix = format!("{}-", plan["id"].as_str().unwrap());
    let mut out = BTreeMap::new();
    for event in events(&unfold(ics)) {
        let uid = prop(&event, "UID").unwrap();
        let item = uid
            .strip_prefix(&prefix)
            .and_then(|u| u.strip_suffix("@plangen"))
            .unwrap_or_else(|| panic!("UID {uid}"))
            .to_owned();
        let recurrence: Vec<&str> = event
            .iter()
            .filter(|l| {
                ["DTSTART", "RRULE", "RDATE", "EXDATE"]
                    .iter()
                    .any(|n| l.starts_with(n))
            })
            .map(String::as_str)
            .collect();
        let set: rrule::RRuleSet = recurrence
            .join("\n")
            .parse()
            .unwrap_or_else(|e| panic!("{e}: {recurrence:?}"));
        let dtstart = *set.get_dt_start();
        let excluded = set.get_exdate().contains(&dtstart);
        let instants: BTreeSet<String> = set
            .all(5_000)
            .dates
            .iter()
            .chain((!excluded).then_some(&dtstart))
            .map(|d| d.to_utc().format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string())
            .collect();
        let instants = instants.into_iter().collect();
        out.insert(item, instants);
    }
    out
}

#[tokio::test]
async fn a_calendar_repeats_each_item_on_the_days_the_schedule_has_it() {
    let plans = [
        // Review sits on DTSTART (the rule as given); Follow-up a day later (listed).
        weekly_plan(),
        // A Wednesday start with BYDAY=MO: DTSTART is no occurrence, so it is an exception.
        json!({
            "title": "Off-rule start", "startDate": "2026-03-18", "timezone": "Europe/Berlin",
            "items": [
                { "title": "Same day", "dueAt": "2026-03-18T08:00:00Z" },
                { "title": "Next week", "dueAt": "2026-03-25T12:00:00Z" }
            ],
            "recurrence": { "rrule": "FREQ=WEEKLY;BYDAY=MO;UNTIL=20260601T000000Z", "exdates": [] }
        }),
        // Daily until a day: the item a day after DTSTART keeps its last occurrence (UNTIL
        // moved with it), across the spring DST change.
        json!({
            "title": "Daily", "startDate": "2026-03-25", "timezone": "Europe/Berlin",
            "items": [
                { "title": "Standup", "dueAt": "2026-03-25T08:00:00Z" },
                { "title": "Next-day note", "dueAt": "2026-03-26T17:00:00Z" }
            ],
            "recurrence": { "rrule": "FREQ=DAILY;UNTIL=20260405T080000Z", "exdates": ["2026-03-29T09:00:00+02:00"] }
        }),
        // Whole weeks later, but the rule names a month: moving it would change the days.
        json!({
            "title": "January Mondays", "startDate": "2027-01-04", "timezone": "Europe/Berlin",
            "items": [
                { "title": "Kick-off", "dueAt": "2027-01-04T08:00:00Z" },
                { "title": "A week on", "dueAt": "2027-01-11T08:00:00Z" }
            ],
            "recurrence": { "rrule": "FREQ=WEEKLY;BYMONTH=1;BYDAY=MO;COUNT=4", "exdates": [] }
        }),
        // Month ends: an item a day later is listed (the 1st after each 31st).
        json!({
            "title": "Month end", "startDate": "2026-01-31", "timezone": "America/New_York",
            "items": [
                { "title": "Close books", "dueAt": "2026-01-31T14:00:00Z" },
                { "title": "Report", "dueAt": "2026-02-01T15:00:00Z" }
            ],
            "recurrence": { "rrule": "FREQ=MONTHLY;BYMONTHDAY=31;COUNT=4", "exdates": [] }
        }),
    ];
    for h in harnesses().await {
        let b = h.backend;
        for body in &plans {
            let plan = h.create("cal", body.clone()).await;
            let ics = h.calendar(&plan, "cal").await;
            assert_eq!(
                assert_every_tzid_has_its_vtimezone(&unfold(&ics)),
                BTreeSet::from([plan["timezone"].as_str().unwrap().to_owned()]),
                "[{b}]"
            );
            let from_ics = calendar_instants(&plan, &ics);
            let range = ("2026-01-01T00:00:00Z", "2026-12-31T00:00:00Z");
            let range = if plan["title"] == "January Mondays" {
                ("2027-01-01T00:00:00Z", "2027-12-31T00:00:00Z")
            } else {
                range
            };
            let scheduled = scheduled_instants(&h, "cal", &plan, range).await;
            assert!(
                scheduled.values().all(|v| v.len() >= 2),
                "[{b}] {}: every item recurs in range: {scheduled:?}",
                plan["title"]
            );
            assert_eq!(from_ics, scheduled, "[{b}] {}", plan["title"]);
        }

        // Item ids may come from the client, so two plans can share them; UIDs may not.
        let first = h.create("cal", weekly_plan()).await;
        let mut copy = weekly_plan();
        copy["items"] = first["items"].clone();
        let second = h.create("cal", copy).await;
        assert_eq!(first["items"][0]["id"], second["items"][0]["id"], "[{b}]");
        let uids = |ics: String| -> Vec<String> {
            events(&unfold(&ics))
                .iter()
                .map(|e| prop(e, "UID").unwrap().to_owned())
                .collect()
        };
        let (a, c) = (
            uids(h.calendar(&first, "cal").await),
            uids(h.calendar(&second, "cal").await),
        );
        assert!(a.iter().all(|u| !c.contains(u)), "[{b}] {a:?} / {c:?}");
    }
}

#[tokio::test]
async fn reordering_items_does_not_move_a_recurring_series() {
    for h in harnesses().await {
        let b = h.backend;
        let plan = h.create("ada", weekly_plan()).await;
        let range = ("2026-03-16T00:00:00Z", "2026-04-14T00:00:00Z");
        let before = scheduled_instants(&h, "ada", &plan, range).await;
        let follow_up = plan["items"][1]["id"].as_str().unwrap();
        let res = h
            .patch_item(
                plan["id"].as_str().unwrap(),
                follow_up,
                "ada",
                None,
                &json!({ "position": 0 }),
            )
            .await;
        assert_eq!(res.status(), 200, "[{b}]");
        let moved: Value = res.json().await.unwrap();
        assert_eq!(moved["items"][0]["id"], follow_up, "[{b}] reordered");
        let after = scheduled_instants(&h, "ada", &plan, range).await;
        assert_eq!(after, before, "[{b}]");
        // The 30 March exception still holds: no entry on 30 or 31 March.
        assert!(
            after
                .values()
                .flatten()
                .all(|t| !t.starts_with("2026-03-30") && !t.starts_with("2026-03-31")),
            "[{b}] {after:?}"
        );
    }
}

/// Every instant the schedule puts each item of `plan` on in `[from, to)`, by item id.
async fn scheduled_instants(
    h: &Harness,
    user: &str,
    plan: &Value,
    (from, to): (&str, &str),
) -> BTreeMap<String, Vec<String>> {
    let s = h
        .get_json(&format!("/schedule?from={from}&to={to}"), user)
        .await;
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in s["items"].as_array().unwrap() {
        if e["planId"] == plan["id"] {
            out.entry(e["itemId"].as_str().unwrap().to_owned())
                .or_default()
                .push(e["dueAt"].as_str().unwrap().to_owned());
        }
    }
    out
}

#[tokio::test]
async fn a_rule_that_repeats_within_a_day_is_refused() {
    for h in harnesses().await {
        let mut body = weekly_plan();
        let hours = (0..24).map(|h| h.to_string()).collect::<Vec<_>>().join(",");
        body["recurrence"]["rrule"] = json!(format!("FREQ=DAILY;BYHOUR={hours}"));
        let p = assert_problem(h.post("", "ada", &body).await, 422, "validation").await;
        assert_eq!(fields(&p), ["recurrence.rrule"], "[{}]", h.backend);
        assert_eq!(h.count("ada").await, 0, "[{}]", h.backend);
    }
}

#[tokio::test]
async fn malformed_bodies_queries_and_ids_get_problem_json() {
    for h in harnesses().await {
        let b = h.backend;
        let res = h
            .req(Method::POST, "", "ada")
            .header("content-type", "application/json")
            .body("{\"title\": ")
            .send()
            .await
            .unwrap();
        assert_problem(res, 400, "malformed-request").await;
        let res = h
            .req(Method::POST, "", "ada")
            .body("title=x")
            .send()
            .await
            .unwrap();
        assert_problem(res, 415, "unsupported-media-type").await;
        let p = assert_problem(
            h.post("", "ada", &json!({"title": "x"})).await,
            422,
            "validation",
        )
        .await;
        assert_eq!(fields(&p), ["startDate"], "[{b}]");
        let p = assert_problem(h.post("", "ada", &json!({"title": "x", "startDate": "2026-01-01", "timezone": "UTC", "status": "paused"})).await, 422, "validation").await;
        assert_eq!(fields(&p), ["status"], "[{b}]");

        let body = json!({
            "title": "", "startDate": "2026-02-30", "endDate": "2025-01-01", "timezone": "Mars/Olympus",
            "tags": ["x".repeat(33)],
            "items": [{"title": "ok", "dueAt": "next tuesday"}, {"title": "ok", "durationMinutes": 0, "id": "a b"}]
        });
        let p = assert_problem(h.post("", "ada", &body).await, 422, "validation").await;
        assert_eq!(
            fields(&p),
            [
                "title",
                "startDate",
                "timezone",
                "tags.0",
                "items.0.dueAt",
                "items.1.id",
                "items.1.durationMinutes"
            ],
            "[{b}] {p}"
        );
        let mut body = plan("Dates");
        body["startDate"] = json!("2026-03-10");
        body["endDate"] = json!("2026-03-09");
        body["items"] = json!([{"title": "far", "dueAt": "3000-01-01T00:00:00Z"}]);
        let p = assert_problem(h.post("", "ada", &body).await, 422, "validation").await;
        assert_eq!(fields(&p), ["endDate", "items.0.dueAt"], "[{b}]");
        let mut body = plan("Rule");
        body["recurrence"] = json!({"rrule": "FREQ=FORTNIGHTLY", "exdates": []});
        let p = assert_problem(h.post("", "ada", &body).await, 422, "validation").await;
        assert_eq!(fields(&p), ["recurrence.rrule"], "[{b}]");
        body["recurrence"] = json!({"rrule": "FREQ=WEEKLY", "exdates": ["soon"]});
        let p = assert_problem(h.post("", "ada", &body).await, 422, "validation").await;
        assert_eq!(fields(&p), ["recurrence.exdates.0"], "[{b}]");
        body["recurrence"] = json!({"rrule": "FREQ=WEEKLY", "exdates": []});
        body["items"] = json!([{"title": "now", "dueAt": "2026-03-02T08:00:00Z"}, {"title": "much later", "dueAt": "2028-03-02T08:00:00Z"}]);
        let p = assert_problem(h.post("", "ada", &body).await, 422, "validation").await;
        assert_eq!(fields(&p), ["recurrence"], "[{b}]");
        let mut body = plan("Too many");
        body["items"] = json!(vec![json!({"title": "i"}); 501]);
        let p = assert_problem(h.post("", "ada", &body).await, 422, "validation").await;
        assert_eq!(fields(&p), ["items"], "[{b}]");
        body["items"] = json!(vec![json!({"title": "i"}); 500]);
        assert_eq!(
            h.post("", "ada", &body).await.status(),
            201,
            "[{b}] 500 items are fine"
        );

        for (query, field) in [
            ("?limit=0", "limit"),
            ("?limit=1000", "limit"),
            ("?sort=ownerId", "sort"),
            ("?cursor=%%%", "cursor"),
            ("?status=paused", "status"),
            ("?from=2026-13-01", "from"),
            ("?from=2026-03-02&to=2026-03-01", "to"),
            ("?owner=me", "owner"),
        ] {
            let p = assert_problem(h.get(query, "ada").await, 422, "validation").await;
            assert_eq!(fields(&p), [field], "[{b}] {query}");
        }
        assert_problem(h.get("/x%20y", "ada").await, 404, "not-found").await;
        assert_problem(
            h.get("/0192a000-0000-7000-8000-000000000000", "ada").await,
            404,
            "not-found",
        )
        .await;
        let res = h.http.get(h.url("")).send().await.unwrap();
        assert_problem(res, 401, "unauthenticated").await;
        let res = h.http.get(h.server.url("/readyz")).send().await.unwrap();
        assert_eq!(res.status(), 200, "[{b}] readyz");
        let doc: Value = h
            .http
            .get(h.server.url("/openapi.json"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            doc["paths"]["/api/plans/{id}/items/{item_id}"]["patch"].is_object(),
            "{doc}"
        );
        assert!(doc["paths"]["/api/plans/from-template"]["post"].is_object());
    }
}
