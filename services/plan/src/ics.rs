//! A plan as an iCalendar (RFC 5545) file: one VEVENT per dated item. A recurring plan's
//! items repeat as its schedule has them (`Series::item_repeat`): with the plan's RRULE from
//! the item's own start where that rule moves with it, else as a list of dates (RDATE).

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};
use chrono_tz::Tz;

use crate::model::Plan;
use crate::schedule::{ItemRepeat, MAX_LISTED_OCCURRENCES, Series};

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

pub(crate) fn utc(ts: &DateTime<Utc>) -> String {
    ts.format("%Y%m%dT%H%M%SZ").to_string()
}

pub(crate) fn local(ts: &NaiveDateTime) -> String {
    ts.format("%Y%m%dT%H%M%S").to_string()
}

pub fn render(plan: &Plan) -> String {
    let mut events = String::new();
    // The years the local (TZID) times written span, for the VTIMEZONE they need.
    let mut zoned_years: Option<(i32, i32)> = None;
    let mut line = |l: String| push_line(&mut events, &l);
    let tz: Option<Tz> = plan.timezone.parse().ok();
    // As the schedule does: a stored rule that no longer parses makes one-off events.
    let series = plan
        .recurrence
        .as_ref()
        .zip(tz)
        .and_then(|(r, tz)| Some((Series::new(r, tz, plan.start_date, &plan.items).ok()?, tz)));
    for item in &plan.items {
        let Some(due) = item.due_at else { continue };
        let repeat = series.as_ref().map(|(s, tz)| {
            let offset = due.with_timezone(tz).naive_local() - s.dtstart;
            s.item_repeat(offset)
        });
        if let Some(ItemRepeat::Dates { dates, .. }) = &repeat
            && dates.is_empty()
        {
            continue; // the series never reaches this item (as in the schedule)
        }
        line("BEGIN:VEVENT".into());
        // Item ids are kept from the client's body, so two plans may share one: the plan's
        // id makes the UID unique.
        line(format!("UID:{}-{}@plangen", plan.id, item.id));
        line(format!("DTSTAMP:{}", utc(&plan.updated_at)));
        // Recurring: local times with TZID, so the series follows DST.
        let mut zoned = |t: &NaiveDateTime| {
            let year = t.year();
            zoned_years =
                Some(zoned_years.map_or((year, year), |(a, b)| (a.min(year), b.max(year))));
            format!("TZID={}:{}", plan.timezone, local(t))
        };
        match repeat {
            Some(ItemRepeat::Rule {
                start,
                rrule,
                exdates,
            }) => {
                line(format!("DTSTART;{}", zoned(&start)));
                line(format!("RRULE:{rrule}"));
                for ex in &exdates {
                    line(format!("EXDATE;{}", zoned(ex)));
                }
            }
            Some(ItemRepeat::Dates { dates, truncated }) => {
                line(format!("DTSTART;{}", zoned(&dates[0])));
                for date in &dates[1..] {
                    line(format!("RDATE;{}", zoned(date)));
                }
                if truncated {
                    line(format!(
                        "X-PLANGEN-NOTE:only the first {MAX_LISTED_OCCURRENCES} occurrences"
                    ));
                }
            }
            None => line(format!("DTSTART:{}", utc(&due))),
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

    let mut out = String::with_capacity(events.len() + 2048);
    let mut line = |l: &str| push_line(&mut out, l);
    line("BEGIN:VCALENDAR");
    line("VERSION:2.0");
    line("PRODID:-//Plangen//Plan service//EN");
    line("CALSCALE:GREGORIAN");
    line(&format!("X-WR-CALNAME:{}", escape(&plan.title)));
    line(&format!("X-WR-TIMEZONE:{}", plan.timezone));
    // RFC 5545 3.2.19: every TZID used needs its VTIMEZONE: from the first written year to
    // the last, or to the plan's last change if later (an endless series is read today);
    // `vtimezone` probes years past that itself, for the rules that carry on.
    if let (Some(tz), Some((first, last))) = (tz, zoned_years) {
        let until = last.max(plan.updated_at.year());
        for l in crate::vtimezone::cached(tz, first, until).iter() {
            line(l);
        }
    }
    out.push_str(&events);
    push_line(&mut out, "END:VCALENDAR");
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
