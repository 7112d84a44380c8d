//! The VTIMEZONE (RFC 5545 3.6.5) an iCalendar file must carry for each `TZID` it uses, built
//! from the IANA data chrono-tz compiles in: the zone's transitions over the years a plan
//! spans, found by probing its offsets, written as yearly RRULEs where they follow one ("the
//! last Sunday of March at 02:00") and as single onsets where they do not. A rule still in
//! force at the end of the span is left open-ended, so calendars place later occurrences of
//! an endless series right too.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Weekday};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

/// The span probed is cut to this many years (a series reaches at most 100 years ahead).
const MAX_YEARS: i32 = 110;
/// Offsets are probed this often, then the change is narrowed down to the second. No zone
/// has changed its offset twice within a day since the early 20th century.
const PROBE_STEP: Duration = Duration::hours(12);

/// What is in force from some instant on: the total offset (seconds east of UTC), the sign
/// of its DST part, and its abbreviation.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Observance {
    offset: i32,
    dst: i8,
    name: String,
}

impl Observance {
    fn at(tz: Tz, utc: NaiveDateTime) -> Self {
        let o = tz.offset_from_utc_datetime(&utc);
        let offset = (o.base_utc_offset() + o.dst_offset()).num_seconds() as i32;
        Self {
            offset,
            dst: o.dst_offset().num_seconds().signum() as i8,
            name: o
                .abbreviation()
                .map_or_else(|| format_offset(offset), str::to_owned),
        }
    }
}

/// Which observances are written as DAYLIGHT: those with DST. The IANA data gives Ireland a
/// negative DST (winter is GMT as "daylight" time, an hour back from Irish Standard Time);
/// calendars, like the data's "rearguard" form, expect the summer hour ahead to be DAYLIGHT,
/// so in a zone with negative DST it is the plain observances ahead of a negative one.
struct Kinds {
    negative_dst_offsets: Vec<i32>,
}

impl Kinds {
    fn of<'a>(observances: impl Iterator<Item = &'a Observance>) -> Self {
        Self {
            negative_dst_offsets: observances
                .filter(|o| o.dst < 0)
                .map(|o| o.offset)
                .collect(),
        }
    }

    fn kind(&self, o: &Observance) -> &'static str {
        let daylight =
            o.dst > 0 || (o.dst == 0 && self.negative_dst_offsets.iter().any(|n| *n < o.offset));
        if daylight { "DAYLIGHT" } else { "STANDARD" }
    }
}

/// A change of observance at the UTC instant `at`.
#[derive(Debug, Clone)]
struct Transition {
    at: NaiveDateTime,
    from: i32,
    to: Observance,
}

impl Transition {
    /// The wall-clock time of the onset, in the offset before it (how DTSTART is written).
    fn local(&self) -> NaiveDateTime {
        self.at + Duration::seconds(i64::from(self.from))
    }

    /// Month, weekday and time of day: what a yearly rule keeps fixed.
    fn shape(&self) -> (u32, Weekday, u32) {
        let l = self.local();
        (l.month(), l.weekday(), l.num_seconds_from_midnight())
    }
}

fn days_in_month(year: i32, month: u32) -> u32 {
    let (y, m) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(y, m, 1)
        .and_then(|d| d.pred_opt())
        .map_or(31, |d| d.day())
}

/// `+HHMM` (or `+HHMMSS`), as TZOFFSETFROM/TZOFFSETTO want it.
fn format_offset(seconds: i32) -> String {
    let sign = if seconds < 0 { '-' } else { '+' };
    let s = seconds.unsigned_abs();
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    if sec == 0 {
        format!("{sign}{h:02}{m:02}")
    } else {
        format!("{sign}{h:02}{m:02}{sec:02}")
    }
}

fn format_local(t: &NaiveDateTime) -> String {
    t.format("%Y%m%dT%H%M%S").to_string()
}

fn year_start(year: i32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(year, 1, 1)
        .expect("a year chrono can represent")
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
}

fn span_start(from_year: i32) -> NaiveDateTime {
    year_start(from_year) - Duration::days(1)
}

/// The zone's observance at the start of `from_year` and its transitions until the end of
/// `to_year` (UTC).
fn transitions(tz: Tz, from_year: i32, to_year: i32) -> (Observance, Vec<Transition>) {
    // A day early: the span's first local midnight is on the day before in UTC east of it.
    let (start, end) = (span_start(from_year), year_start(to_year + 1));
    // Probed by offset and DST alone (no abbreviation string per probe): a change of name
    // alone is not a transition a calendar needs.
    let probe = |at: NaiveDateTime| {
        let o = tz.offset_from_utc_datetime(&at);
        (o.base_utc_offset(), o.dst_offset())
    };
    let initial = Observance::at(tz, start);
    let mut found = Vec::new();
    let (mut t, mut current) = (start, probe(start));
    while t < end {
        let next = (t + PROBE_STEP).min(end);
        if probe(next) != current {
            // The first second in (t, next] with the new observance.
            let (mut lo, mut hi) = (t, next);
            while hi - lo > Duration::seconds(1) {
                let mid = lo + Duration::seconds((hi - lo).num_seconds() / 2);
                if probe(mid) == current {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            let from = (current.0 + current.1).num_seconds() as i32;
            let to = Observance::at(tz, hi);
            // Only a reshuffle of base and DST with the same total and kind is no change.
            if to.offset != from || to.dst != current.1.num_seconds().signum() as i8 {
                found.push(Transition { at: hi, from, to });
            }
            current = probe(hi);
            t = hi;
        } else {
            t = next;
        }
    }
    (initial, found)
}

/// Transitions to one observance from one offset that follow one yearly rule, year after
/// year: the same month, weekday and time, on the last such weekday of the month or on the
/// one within a fixed seven-day window ("the Sunday on or after the 2nd", as Chile's rule
/// is; "the second Sunday" is the window from the 8th).
struct Run {
    members: Vec<Transition>,
    /// The first days of the windows every member's day falls in.
    window_starts: Vec<u32>,
    /// Whether every member fell on the last such weekday of its month.
    last: bool,
}

/// The seven-day windows of its month that `t`'s day falls in (by their first day).
fn windows_of(t: &Transition) -> Vec<u32> {
    let l = t.local();
    let latest_start = days_in_month(l.year(), l.month()) - 6;
    (l.day().saturating_sub(6).max(1)..=l.day().min(latest_start)).collect()
}

fn is_last_of_month(t: &Transition) -> bool {
    let l = t.local();
    l.day() + 7 > days_in_month(l.year(), l.month())
}

impl Run {
    fn new(t: Transition) -> Self {
        Self {
            window_starts: windows_of(&t),
            last: is_last_of_month(&t),
            members: vec![t],
        }
    }

    /// Takes `t` when it is the next year's onset under the same rule.
    fn extend(&mut self, t: &Transition) -> bool {
        let prev = self.members.last().expect("a run has a member");
        if t.local().year() != prev.local().year() + 1 || t.shape() != prev.shape() {
            return false;
        }
        let windows = windows_of(t);
        let window_starts: Vec<u32> = self
            .window_starts
            .iter()
            .copied()
            .filter(|s| windows.contains(s))
            .collect();
        let last = self.last && is_last_of_month(t);
        if window_starts.is_empty() && !last {
            return false;
        }
        self.window_starts = window_starts;
        self.last = last;
        self.members.push(t.clone());
        true
    }

    /// BYDAY (and BYMONTHDAY) of the rule. Where the members leave it open, the commonest
    /// form wins: the last weekday, then the nth (a window from the 1st, 8th, 15th or 22nd).
    fn by_day(&self) -> String {
        let day = match self.members[0].local().weekday() {
            Weekday::Mon => "MO",
            Weekday::Tue => "TU",
            Weekday::Wed => "WE",
            Weekday::Thu => "TH",
            Weekday::Fri => "FR",
            Weekday::Sat => "SA",
            Weekday::Sun => "SU",
        };
        if self.last {
            return format!("BYDAY=-1{day}");
        }
        let nth = self.window_starts.iter().find(|s| *s % 7 == 1);
        match nth {
            Some(start) => format!("BYDAY={}{day}", start / 7 + 1),
            None => {
                let start = self.window_starts[0];
                let days: Vec<String> = (start..start + 7).map(|d| d.to_string()).collect();
                format!("BYDAY={day};BYMONTHDAY={}", days.join(","))
            }
        }
    }
}

/// The VTIMEZONE component for `tz` covering `from_year` to `to_year` (and, for the rules
/// still in force at its end, every later year), as content lines.
pub fn lines(tz: Tz, from_year: i32, to_year: i32) -> Vec<String> {
    let to_year = to_year.clamp(from_year, from_year + MAX_YEARS);
    let (initial, found) = transitions(tz, from_year, to_year);
    let mut out = vec!["BEGIN:VTIMEZONE".to_owned(), format!("TZID:{}", tz.name())];
    let kinds = Kinds::of(std::iter::once(&initial).chain(found.iter().map(|t| &t.to)));
    let observance = |out: &mut Vec<String>, to: &Observance, from: i32, start: &NaiveDateTime| {
        out.push(format!("BEGIN:{}", kinds.kind(to)));
        out.push(format!("DTSTART:{}", format_local(start)));
        out.push(format!("TZOFFSETFROM:{}", format_offset(from)));
        out.push(format!("TZOFFSETTO:{}", format_offset(to.offset)));
        out.push(format!("TZNAME:{}", crate::ics::escape(&to.name)));
    };
    // In force from the start of the span (RFC 5545: an observance with no change).
    let start = span_start(from_year) + Duration::seconds(i64::from(initial.offset));
    observance(&mut out, &initial, initial.offset, &start);
    out.push(format!("END:{}", kinds.kind(&initial)));

    // Runs of yearly onsets, per (from, to) pair, in order of their first onset.
    let mut runs: Vec<Run> = Vec::new();
    for t in found {
        let open = runs.iter_mut().rev().find(|r| {
            let last = r.members.last().expect("a run has a member");
            last.from == t.from && last.to == t.to
        });
        let extended = open.is_some_and(|run| run.extend(&t));
        if !extended {
            runs.push(Run::new(t));
        }
    }
    runs.sort_by_key(|r| r.members[0].at);
    for run in &runs {
        let first = &run.members[0];
        observance(&mut out, &first.to, first.from, &first.local());
        if run.members.len() > 1 {
            let last = run.members.last().expect("a run has a member");
            let until = if last.local().year() >= to_year {
                String::new() // still in force: every later year too
            } else {
                format!(";UNTIL={}", last.at.format("%Y%m%dT%H%M%SZ"))
            };
            out.push(format!(
                "RRULE:FREQ=YEARLY;BYMONTH={};{}{until}",
                first.local().month(),
                run.by_day()
            ));
        }
        out.push(format!("END:{}", kinds.kind(&first.to)));
    }
    out.push("END:VTIMEZONE".to_owned());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The onsets (UTC) and offsets of the VTIMEZONE in `lines`, read as a calendar would:
    /// every observance's DTSTART and its RRULE's occurrences (expanded by the `rrule` crate),
    /// in the offset before the onset. The latest onset not after an instant is in force.
    fn onsets_read_back(lines: &[String], until: NaiveDateTime) -> Vec<(NaiveDateTime, i32)> {
        let parse_offset = |v: &str| {
            let sign = if v.starts_with('-') { -1 } else { 1 };
            let d = &v[1..];
            let n = |r: std::ops::Range<usize>| d.get(r).map_or(0, |x| x.parse::<i32>().unwrap());
            sign * (n(0..2) * 3600 + n(2..4) * 60 + n(4..6))
        };
        let mut all = Vec::new();
        for block in lines.split(|l| l.starts_with("END:STANDARD") || l.starts_with("END:DAYLIGHT"))
        {
            let field = |name: &str| {
                block
                    .iter()
                    .find_map(|l| l.strip_prefix(&format!("{name}:")).map(str::to_owned))
            };
            let Some(start) = field("DTSTART") else {
                continue;
            };
            let start = NaiveDateTime::parse_from_str(&start, "%Y%m%dT%H%M%S").unwrap();
            let from = parse_offset(&field("TZOFFSETFROM").unwrap());
            let to = parse_offset(&field("TZOFFSETTO").unwrap());
            // Wall-clock onsets, expanded as floating times (UTC stands in for "no zone").
            let utc = rrule::Tz::UTC;
            let dt_start = utc.from_utc_datetime(&start);
            let mut onsets = vec![start];
            let mut rule_until = None;
            if let Some(rule) = field("RRULE") {
                // UNTIL is a UTC instant (RFC 5545 3.6.5), compared with onsets in UTC below,
                // not with the floating wall-clock times expanded here.
                let (rule, until_text) = match rule.split_once(";UNTIL=") {
                    Some((r, u)) => (r.to_owned(), Some(u.to_owned())),
                    None => (rule, None),
                };
                rule_until = until_text
                    .map(|u| NaiveDateTime::parse_from_str(&u, "%Y%m%dT%H%M%SZ").unwrap());
                let rule: rrule::RRule<rrule::Unvalidated> = rule.parse().unwrap();
                let set = rrule::RRuleSet::new(dt_start).rrule(rule.validate(dt_start).unwrap());
                let horizon = utc.from_utc_datetime(&(until + Duration::days(400)));
                onsets = set
                    .before(horizon)
                    .all(1000)
                    .dates
                    .iter()
                    .map(|d| d.naive_utc())
                    .collect();
            }
            all.extend(
                onsets
                    .into_iter()
                    .map(|onset| (onset - Duration::seconds(i64::from(from)), to))
                    .filter(|(onset, _)| rule_until.is_none_or(|u| *onset <= u)),
            );
        }
        all.sort();
        all
    }

    fn offset_at(onsets: &[(NaiveDateTime, i32)], at: NaiveDateTime) -> i32 {
        let after = onsets.partition_point(|(onset, _)| *onset <= at);
        assert!(after > 0, "no observance in force at {at}");
        onsets[after - 1].1
    }

    #[test]
    fn calendars_reading_the_vtimezone_get_every_offset_the_zone_has() {
        use chrono_tz::{America, Asia, Australia, Europe, Pacific};
        // Northern and southern DST, none, a half-hour zone, DST abolished in the span
        // (São Paulo 2019), a rule change in the span (Fiji), negative DST (Dublin, which
        // chrono-tz reports as base +1 with -1 of "DST" in winter), a date-line jump (Apia).
        let zones = [
            Europe::Berlin,
            America::New_York,
            Australia::Sydney,
            Asia::Kolkata,
            America::Sao_Paulo,
            Pacific::Fiji,
            Europe::Dublin,
            Australia::Lord_Howe,
            Pacific::Apia,
            America::Santiago,
        ];
        for tz in zones {
            let (from, to) = (2010, 2030);
            let lines = lines(tz, from, to);
            let onsets = onsets_read_back(&lines, year_start(to + 10));
            // Every 6 hours, and a second either side of every real transition, through the
            // span and ten years past it (the open-ended rules).
            let (_, found) = transitions(tz, from, to + 10);
            let mut instants: Vec<NaiveDateTime> = found
                .iter()
                .flat_map(|t| [t.at - Duration::seconds(1), t.at])
                .collect();
            let mut t = span_start(from);
            while t < year_start(to + 10) {
                instants.push(t);
                t += Duration::hours(6);
            }
            for at in instants {
                let expected = Observance::at(tz, at).offset;
                assert_eq!(
                    offset_at(&onsets, at),
                    expected,
                    "{} at {at} UTC:\n{}",
                    tz.name(),
                    lines.join("\n")
                );
            }
        }
    }

    #[test]
    fn irish_summer_time_is_daylight_time_as_calendars_expect() {
        let text = lines(chrono_tz::Europe::Dublin, 2026, 2030).join("\n");
        assert!(
            text.contains("BEGIN:DAYLIGHT\nDTSTART:20260329T010000\nTZOFFSETFROM:+0000\nTZOFFSETTO:+0100\nTZNAME:IST\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\nEND:DAYLIGHT"),
            "{text}"
        );
        assert!(
            text.contains("BEGIN:STANDARD\nDTSTART:20261025T020000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0000\nTZNAME:GMT\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\nEND:STANDARD"),
            "{text}"
        );
    }

    #[test]
    fn a_rule_on_the_weekday_after_a_date_is_written_with_its_days() {
        // Chile: the Sunday on or after the 2nd of April and of September.
        let text = lines(chrono_tz::America::Santiago, 2026, 2036).join("\n");
        assert!(
            text.contains("RRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=SU;BYMONTHDAY=2,3,4,5,6,7,8\n"),
            "{text}"
        );
        assert!(
            text.contains("RRULE:FREQ=YEARLY;BYMONTH=9;BYDAY=SU;BYMONTHDAY=2,3,4,5,6,7,8\n"),
            "{text}"
        );
    }

    #[test]
    fn offsets_are_written_as_rfc_5545_wants() {
        assert_eq!(format_offset(3600), "+0100");
        assert_eq!(format_offset(-5 * 3600), "-0500");
        assert_eq!(format_offset(5 * 3600 + 45 * 60), "+0545");
        assert_eq!(format_offset(-(3600 + 15 * 60 + 30)), "-011530");
        assert_eq!(format_offset(0), "+0000");
    }

    #[test]
    fn berlin_is_two_open_ended_rules_after_its_start() {
        let l = lines(chrono_tz::Europe::Berlin, 2026, 2030);
        let text = l.join("\n");
        assert!(text.starts_with("BEGIN:VTIMEZONE\nTZID:Europe/Berlin\nBEGIN:STANDARD\nDTSTART:20251231T010000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0100\nTZNAME:CET\nEND:STANDARD\n"), "{text}");
        assert!(text.contains("BEGIN:DAYLIGHT\nDTSTART:20260329T020000\nTZOFFSETFROM:+0100\nTZOFFSETTO:+0200\nTZNAME:CEST\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\nEND:DAYLIGHT"), "{text}");
        assert!(text.contains("BEGIN:STANDARD\nDTSTART:20261025T030000\nTZOFFSETFROM:+0200\nTZOFFSETTO:+0100\nTZNAME:CET\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\nEND:STANDARD"), "{text}");
        assert_eq!(text.matches("BEGIN:").count(), 4, "{text}");
    }
}
