//! A plan as an iCalendar (RFC 5545) file: one VEVENT per dated item; a recurring plan's
//! items carry its RRULE/EXDATE, shifted to each item's own local time.

use chrono::{DateTime, NaiveDateTime, Utc};
use chrono_tz::Tz;

use crate::model::Plan;
use crate::schedule::dtstart_local;

/// TEXT escaping (RFC 5545 3.3.11).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds a content line at 75 octets (never inside a UTF-8 sequence) and ends it with CRLF.
fn push_line(out: &mut String, line: &str) {
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

fn utc(ts: &DateTime<Utc>) -> String {
    ts.format("%Y%m%dT%H%M%SZ").to_string()
}

fn local(ts: &NaiveDateTime) -> String {
    ts.format("%Y%m%dT%H%M%S").to_string()
}

pub fn render(plan: &Plan) -> String {
    let mut out = String::new();
    let mut line = |l: String| push_line(&mut out, &l);
    line("BEGIN:VCALENDAR".into());
    line("VERSION:2.0".into());
    line("PRODID:-//Plangen//Plan service//EN".into());
    line("CALSCALE:GREGORIAN".into());
    line(format!("X-WR-CALNAME:{}", escape(&plan.title)));
    line(format!("X-WR-TIMEZONE:{}", plan.timezone));
    let tz: Option<Tz> = plan.timezone.parse().ok();
    let recurrence = plan.recurrence.as_ref().zip(tz);
    let dtstart = tz.map(|tz| dtstart_local(tz, plan.start_date, &plan.items));
    for item in &plan.items {
        let Some(due) = item.due_at else { continue };
        line("BEGIN:VEVENT".into());
        line(format!("UID:{}@plangen", item.id));
        line(format!("DTSTAMP:{}", utc(&plan.updated_at)));
        match (recurrence, dtstart) {
            (Some((r, tz)), Some(dtstart)) => {
                // Recurring: local times with TZID, so the series follows DST.
                let start = due.with_timezone(&tz).naive_local();
                let shift = start - dtstart;
                line(format!("DTSTART;TZID={}:{}", plan.timezone, local(&start)));
                line(format!("RRULE:{}", r.rrule));
                for ex in &r.exdates {
                    if let Ok(ex) = DateTime::parse_from_rfc3339(ex) {
                        let ex = ex.with_timezone(&tz).naive_local() + shift;
                        line(format!("EXDATE;TZID={}:{}", plan.timezone, local(&ex)));
                    }
                }
            }
            _ => line(format!("DTSTART:{}", utc(&due))),
        }
        if let Some(minutes) = item.duration_minutes {
            line(format!("DURATION:PT{minutes}M"));
        }
        line(format!("SUMMARY:{}", escape(&item.title)));
        if let Some(notes) = &item.notes {
            line(format!("DESCRIPTION:{}", escape(notes)));
        }
        if item.done_at.is_some() {
            line("STATUS:CONFIRMED".into());
            line("X-PLANGEN-DONE:TRUE".into());
        }
        line("END:VEVENT".into());
    }
    line("END:VCALENDAR".into());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_long_lines_folded() {
        assert_eq!(escape("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
        let mut out = String::new();
        push_line(&mut out, &format!("SUMMARY:{}", "é".repeat(60)));
        for l in out.split("\r\n") {
            assert!(l.len() <= 75, "{}", l.len());
        }
        let unfolded = out.replace("\r\n ", "");
        assert_eq!(unfolded, format!("SUMMARY:{}\r\n", "é".repeat(60)));
    }
}
