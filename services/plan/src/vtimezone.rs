//! The VTIMEZONE (RFC 5545 3.6.5) an iCalendar file must carry for each `TZID` it uses, built
//! from the IANA data chrono-tz compiles in: the zone's transitions over the years a plan
//! spans, found by probing its offsets, written as yearly RRULEs where they follow one ("the
//! last Sunday of March at 02:00") and as single onsets where they do not. A rule still in
//! force twelve years past the span (or at the end of the data, 2099) is left open-ended, so
//! calendars place later occurrences of an endless series right too.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Timelike, Weekday};
use chrono_tz::{OffsetComponents, OffsetName, Tz};

/// The span probed is cut to this many years (a series reaches at most 100 years ahead).
const MAX_YEARS: i32 = 110;
/// The last year the compiled-in IANA data has transitions for (chrono-tz computes rules
/// through 2099): rules in force then are taken to go on.
const LAST_KNOWN_YEAR: i32 = 2099;
/// Years probed past the span, so a rule is left open-ended only when it holds beyond it
/// (Cairo's "last Thursday of October at 24:00" falls in November when the 31st is a
/// Thursday).
const LOOK_AHEAD_YEARS: i32 = 12;
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
/// so a plain observance ahead of a negative one that comes after it is DAYLIGHT too (only
/// while the zone still has negative DST: Namibia's CAT after 2017 is standard time again).
struct Kinds {
    /// Offset and onset (UTC) of each observance with negative DST.
    negative_dst: Vec<(i32, NaiveDateTime)>,
}

impl Kinds {
    fn of<'a>(observances: impl Iterator<Item = (&'a Observance, NaiveDateTime)>) -> Self {
        Self {
            negative_dst: observances
                .filter(|(o, _)| o.dst < 0)
                .map(|(o, at)| (o.offset, at))
                .collect(),
        }
    }

    /// The kind of `o` in force from the UTC instant `onset`.
    fn kind(&self, o: &Observance, onset: NaiveDateTime) -> &'static str {
        let daylight = o.dst > 0
            || (o.dst == 0
                && self
                    .negative_dst
                    .iter()
                    .any(|(offset, at)| *offset < o.offset && *at > onset));
        if daylight { "DAYLIGHT" } else { "STANDARD" }
    }
}

/// A change of observance at the UTC instant `at`.
#[derive(Debug, Clone)]
struct Transition {
    at: NaiveDateTime,
    from: i32,
    to: Observance,
    /// STANDARD or DAYLIGHT ([`Kinds`]; set once every transition is known).
    kind: &'static str,
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
    NaiveDate::from_ymd_opt(year, month, 1).map_or(31, |d| u32::from(d.num_days_in_month()))
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
                found.push(Transition {
                    at: hi,
                    from,
                    to,
                    kind: "",
                });
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
    let latest_start = u32::from(l.num_days_in_month()) - 6;
    (l.day().saturating_sub(6).max(1)..=l.day().min(latest_start)).collect()
}

fn is_last_of_month(t: &Transition) -> bool {
    let l = t.local();
    l.day() + 7 > u32::from(l.num_days_in_month())
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
        if t.local().year() != prev.local().year() + 1
            || t.shape() != prev.shape()
            || t.kind != prev.kind
        {
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

    /// The day of the month the rule names: `None` for the last such weekday, else the first
    /// day of the seven-day window. Where the members leave it open, the commonest form wins:
    /// the last weekday, then the nth (a window from the 1st, 8th, 15th or 22nd).
    fn window_start(&self) -> Option<u32> {
        // "The last" only where it is also the window the onsets settle on, in a month whose
        // length does not change (else "the Saturday before the last Sunday" or February's
        // "Sunday on or after the 22nd" would be read as the last one): or where no window fits.
        let month = self.members[0].local().month();
        let last_window = (month != 2).then(|| days_in_month(2001, month) - 6);
        if self.last
            && (self.window_starts.is_empty()
                || last_window.is_some_and(|s| self.window_starts.contains(&s)))
        {
            return None;
        }
        let nth = self.window_starts.iter().find(|s| *s % 7 == 1);
        Some(*nth.unwrap_or(&self.window_starts[0]))
    }

    /// BYDAY (and BYMONTHDAY) of the rule.
    fn by_day(&self) -> String {
        // The weekday's code alone ("SU"); the position is written here (rrule's `Nth(1, _)`
        // would print no number, which means every such weekday of the month).
        let day = rrule::NWeekday::Every(self.members[0].local().weekday());
        match self.window_start() {
            None => format!("BYDAY=-1{day}"),
            Some(start) if start % 7 == 1 => format!("BYDAY={}{day}", start / 7 + 1),
            Some(start) => {
                let days: Vec<String> = (start..start + 7).map(|d| d.to_string()).collect();
                format!("BYDAY={day};BYMONTHDAY={}", days.join(","))
            }
        }
    }

    /// The rule's onset (wall-clock time) in `year`.
    fn onset_in(&self, year: i32) -> Option<NaiveDateTime> {
        let (month, weekday, seconds) = self.members[0].shape();
        let days = match self.window_start() {
            None => {
                let end = days_in_month(year, month);
                (end - 6)..=end
            }
            Some(start) => start..=start + 6,
        };
        let date = days
            .filter_map(|d| NaiveDate::from_ymd_opt(year, month, d))
            .find(|d| d.weekday() == weekday)?;
        Some(date.and_hms_opt(0, 0, 0)? + Duration::seconds(i64::from(seconds)))
    }
}

/// [`lines`], remembered (a plan's calendar is fetched again and again, and building it
/// probes the zone's offsets over decades): at most [`CACHED`] spans, forgotten all at once
/// when full.
pub fn cached(tz: Tz, from_year: i32, to_year: i32) -> Arc<[String]> {
    static CACHE: LazyLock<Mutex<HashMap<Span, Arc<[String]>>>> = LazyLock::new(Mutex::default);
    let key = (tz, from_year, to_year);
    let cache = || {
        CACHE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    };
    if let Some(hit) = cache().get(&key) {
        return hit.clone();
    }
    let built: Arc<[String]> = lines(tz, from_year, to_year).into();
    let mut cache = cache();
    if cache.len() >= CACHED {
        cache.clear();
    }
    cache.insert(key, built.clone());
    built
}

/// A zone and the years of a VTIMEZONE.
type Span = (Tz, i32, i32);

/// How many VTIMEZONEs [`cached`] keeps.
const CACHED: usize = 512;

/// The VTIMEZONE component for `tz` covering `from_year` to `to_year` (and, for the rules
/// still in force at its end, every later year), as content lines.
pub fn lines(tz: Tz, from_year: i32, to_year: i32) -> Vec<String> {
    let from_year = from_year.min(LAST_KNOWN_YEAR);
    let to_year =
        (to_year.clamp(from_year, from_year + MAX_YEARS) + LOOK_AHEAD_YEARS).min(LAST_KNOWN_YEAR);
    let (initial, mut found) = transitions(tz, from_year, to_year);
    let mut out = vec!["BEGIN:VTIMEZONE".to_owned(), format!("TZID:{}", tz.name())];
    let kinds = Kinds::of(
        std::iter::once((&initial, span_start(from_year)))
            .chain(found.iter().map(|t| (&t.to, t.at))),
    );
    for t in &mut found {
        t.kind = kinds.kind(&t.to, t.at);
    }
    // Writes one observance up to its END line, which it returns.
    let observance =
        |out: &mut Vec<String>, kind: &str, to: &Observance, from: i32, start: &NaiveDateTime| {
            out.push(format!("BEGIN:{kind}"));
            out.push(format!("DTSTART:{}", crate::ics::local(start)));
            out.push(format!("TZOFFSETFROM:{}", format_offset(from)));
            out.push(format!("TZOFFSETTO:{}", format_offset(to.offset)));
            out.push(format!("TZNAME:{}", crate::ics::escape(&to.name)));
            format!("END:{kind}")
        };
    // In force from the start of the span (RFC 5545: an observance with no change).
    let start = span_start(from_year) + Duration::seconds(i64::from(initial.offset));
    let kind = kinds.kind(&initial, span_start(from_year));
    let end = observance(&mut out, kind, &initial, initial.offset, &start);
    out.push(end);

    // Runs of yearly onsets, per (from, to) pair, in order of their first onset.
    let mut runs: Vec<Run> = Vec::new();
    for t in found {
        // Any run of the same change may take it (a zone may make one change twice a year,
        // as Morocco did around Ramadan).
        let extended = runs.iter_mut().rev().any(|r| {
            let last = r.members.last().expect("a run has a member");
            last.from == t.from && last.to == t.to && r.extend(&t)
        });
        if !extended {
            runs.push(Run::new(t));
        }
    }
    runs.sort_by_key(|r| r.members[0].at);
    // Per change (offset from → observance to) still made in the last two years probed, its
    // latest yearly rule carries on past them. When single onsets came after it (a year that
    // broke the rule: Cairo's 24:00 onset falls in November when October ends on a Thursday),
    // it keeps its UNTIL and goes on from the year after the last of them, so the years
    // probed stay exact. A change no longer made ends with its UNTIL.
    let key = |r: &Run| (r.members[0].from, r.members[0].to.clone());
    let last_year_of = |k: &(i32, Observance)| {
        runs.iter()
            .filter(|o| key(o) == *k)
            .map(|o| o.members.last().expect("a run has a member").local().year())
            .max()
    };
    let carries_on: Vec<bool> = runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.members.len() > 1
                && last_year_of(&key(r)).is_some_and(|y| y >= to_year - 1)
                && !runs[i + 1..]
                    .iter()
                    .any(|o| o.members.len() > 1 && key(o) == key(r))
        })
        .collect();
    let rrule = |run: &Run, until: Option<&NaiveDateTime>| {
        let until = until.map_or_else(String::new, |u| {
            format!(";UNTIL={}", crate::ics::utc(&u.and_utc()))
        });
        format!(
            "RRULE:FREQ=YEARLY;BYMONTH={};{}{until}",
            run.members[0].local().month(),
            run.by_day()
        )
    };
    for (run, carries_on) in runs.iter().zip(&carries_on) {
        let first = &run.members[0];
        let last = run.members.last().expect("a run has a member");
        let end = observance(&mut out, first.kind, &first.to, first.from, &first.local());
        let resumes_after = last_year_of(&key(run)).filter(|y| *y > last.local().year());
        if run.members.len() > 1 {
            let open_ended = *carries_on && resumes_after.is_none();
            // UNTIL is a UTC time (RFC 5545 3.6.5), but some readers (python-dateutil, as
            // icalendar uses it) compare it with the wall-clock onsets. The later of the last
            // onset's UTC and wall-clock times keeps that onset for both, and the next one is
            // a year on.
            let until = last.at.max(last.local());
            out.push(rrule(run, (!open_ended).then_some(&until)));
        }
        out.push(end);
        if *carries_on && let Some(start) = resumes_after.and_then(|y| run.onset_in(y + 1)) {
            let end = observance(&mut out, first.kind, &first.to, first.from, &start);
            out.push(rrule(run, None));
            out.push(end);
        }
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
    ///
    /// `wall_clock_until`: UNTIL compared with the wall-clock onsets instead, as some readers
    /// (python-dateutil) do; the VTIMEZONE must read the same either way.
    fn onsets_read_back(
        lines: &[String],
        until: NaiveDateTime,
        wall_clock_until: bool,
    ) -> Vec<(NaiveDateTime, i32)> {
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
                    .filter(|onset| {
                        let compared = if wall_clock_until {
                            *onset
                        } else {
                            *onset - Duration::seconds(i64::from(from))
                        };
                        rule_until.is_none_or(|u| compared <= u)
                    })
                    .map(|onset| (onset - Duration::seconds(i64::from(from)), to)),
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

    /// Every `step` from `from` until `until`, and a second either side of each transition
    /// chrono-tz has in that time (found by probing every 15 minutes, not by `transitions`).
    fn instants(
        tz: Tz,
        from: NaiveDateTime,
        until: NaiveDateTime,
        step: Duration,
    ) -> Vec<NaiveDateTime> {
        let mut out = Vec::new();
        let (mut t, mut previous) = (from, Observance::at(tz, from).offset);
        let mut next_sample = from;
        while t < until {
            let offset = Observance::at(tz, t).offset;
            if offset != previous {
                let (mut lo, mut hi) = (t - Duration::minutes(15), t);
                while hi - lo > Duration::seconds(1) {
                    let mid = lo + Duration::seconds((hi - lo).num_seconds() / 2);
                    if Observance::at(tz, mid).offset == previous {
                        lo = mid
                    } else {
                        hi = mid
                    }
                }
                out.extend([lo, hi]);
                previous = offset;
            }
            if t >= next_sample {
                out.push(t);
                next_sample += step;
            }
            t += Duration::minutes(15);
        }
        out
    }

    #[test]
    fn calendars_reading_the_vtimezone_get_every_offset_the_zone_has() {
        use chrono_tz::{Africa, America, Asia, Australia, Europe, Pacific};
        // Northern and southern DST, none, a half-hour zone, DST abolished in the span
        // (São Paulo 2019), rules changed in the span (Fiji, Nuuk), negative DST (Dublin,
        // which chrono-tz reports as base +1 with -1 of "DST" in winter; Casablanca's Ramadan
        // hour back), a date-line jump (Apia), Chile's "Sunday on or after the 2nd", Cairo's
        // onset at 24:00 that moves to November when October ends on a Thursday.
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
            America::Nuuk,
            Africa::Cairo,
            Africa::Casablanca,
        ];
        let (from, to) = (2010, 2030);
        let probed_until = year_start(to + LOOK_AHEAD_YEARS + 1);
        for tz in zones {
            let lines = lines(tz, from, to);
            let near = instants(tz, span_start(from), probed_until, Duration::hours(6));
            let far = instants(tz, probed_until, year_start(2099), Duration::days(1));
            for wall_clock_until in [false, true] {
                let onsets = onsets_read_back(&lines, year_start(2100), wall_clock_until);
                // Exact through the span and the years probed past it.
                for &at in &near {
                    assert_eq!(
                        offset_at(&onsets, at),
                        Observance::at(tz, at).offset,
                        "{} at {at} UTC:\n{}",
                        tz.name(),
                        lines.join("\n")
                    );
                }
                // Past them, the open-ended rules carry on to the end of the IANA data: exact but
                // for Casablanca (its Ramadan hour follows the moon) and Cairo in the years its
                // onset moves to November (then a week early).
                if tz == Africa::Casablanca {
                    continue;
                }
                for &at in &far {
                    let cairo_november = tz == Africa::Cairo
                        && at.month() >= 10
                        && NaiveDate::from_ymd_opt(at.year(), 10, 31)
                            .unwrap()
                            .weekday()
                            == Weekday::Thu;
                    if !cairo_november {
                        assert_eq!(
                            offset_at(&onsets, at),
                            Observance::at(tz, at).offset,
                            "{} at {at} UTC, past the years probed:\n{}",
                            tz.name(),
                            lines.join("\n")
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn rules_in_force_at_the_end_of_the_iana_data_go_on() {
        let text = lines(chrono_tz::Europe::Berlin, 2090, 2150).join("\n");
        assert_eq!(text.matches("RRULE:").count(), 2, "{text}");
        assert!(!text.contains("UNTIL"), "{text}");
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
    fn namibia_is_standard_time_again_once_its_negative_dst_ended() {
        // 1994-2017: CAT (+2) summers and WAT (+1, negative DST) winters; CAT alone since.
        let text = lines(chrono_tz::Africa::Windhoek, 2015, 2020).join("\n");
        let last = text.rfind("BEGIN:").unwrap();
        assert!(
            text[last..].starts_with("BEGIN:STANDARD\nDTSTART:2017"),
            "{text}"
        );
        assert!(text.contains("BEGIN:DAYLIGHT\nDTSTART:2015"), "{text}");
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
    fn a_span_is_built_once() {
        let first = cached(chrono_tz::Asia::Tokyo, 2026, 2040);
        assert!(Arc::ptr_eq(
            &first,
            &cached(chrono_tz::Asia::Tokyo, 2026, 2040)
        ));
        assert_eq!(&first[..], &lines(chrono_tz::Asia::Tokyo, 2026, 2040)[..]);
        assert!(!Arc::ptr_eq(
            &first,
            &cached(chrono_tz::Asia::Tokyo, 2026, 2041)
        ));
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
