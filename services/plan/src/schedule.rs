//! Recurrence (RFC 5545 RRULE through the `rrule` crate) and schedule expansion, done in the
//! plan's local time so a 09:00 item stays at 09:00 across DST changes.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset as _, TimeZone, Utc};
use chrono::{Datelike as _, Months};
use chrono_tz::Tz;
use rrule::{Frequency, RRule, RRuleSet, Unvalidated};

use crate::model::{Item, Plan, Recurrence};

/// The local time DTSTART and templates default to.
pub const DEFAULT_TIME: NaiveTime = match NaiveTime::from_hms_opt(9, 0, 0) {
    Some(t) => t,
    None => panic!("09:00 is a time"),
};

/// A local date-time in `tz` as an instant: DST-safe. In a spring-forward gap the wall clock
/// moves forward by the gap (02:30 → 03:30); in a fall-back overlap the earlier instant wins.
pub fn resolve_local(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    match tz.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) => t.to_utc(),
        chrono::LocalResult::Ambiguous(earliest, _) => earliest.to_utc(),
        chrono::LocalResult::None => {
            // The offset in force before the gap, applied to the wall-clock time.
            let before = tz
                .offset_from_utc_datetime(&(local - Duration::hours(6)))
                .fix();
            (local - Duration::seconds(i64::from(before.local_minus_utc()))).and_utc()
        }
    }
}

/// The plan's DTSTART in local time: its start date at the earliest dated item's local time
/// of day, or 09:00. The earliest by time, not the first by position: reordering the items
/// must not move the series (its exceptions are instants of it).
pub fn dtstart_local(tz: Tz, start: NaiveDate, items: &[Item]) -> NaiveDateTime {
    let time = items
        .iter()
        .filter_map(|i| i.due_at)
        .min()
        .map(|d| d.with_timezone(&tz).time())
        .unwrap_or(DEFAULT_TIME);
    start.and_time(time)
}

/// How far from DTSTART the items of a recurring plan may be due.
pub const MAX_ITEM_SPREAD_DAYS: i64 = 366;

/// The most occurrences a rule may have (`COUNT`): a series with a count is walked from its
/// start, so this bounds what a schedule of it costs.
pub const MAX_COUNT: u32 = 10_000;

/// A plan's recurrence, ready to expand.
pub struct Series {
    set: RRuleSet,
    tz: Tz,
    pub dtstart: NaiveDateTime,
    /// The rule as given (without `RRULE:`).
    rule: String,
    freq: Frequency,
    /// Whether the rule names days itself (BYDAY, BYMONTHDAY, BYYEARDAY, BYWEEKNO, BYMONTH,
    /// BYSETPOS) rather than taking them from DTSTART.
    names_days: bool,
    /// Whether it names days only within a week (BYDAY, BYSETPOS): a weekly rule moved by
    /// whole weeks then picks the same days.
    names_only_weekdays: bool,
    /// The first occurrences, for the `.ics` (walked once per series, not once per item).
    listing: std::sync::OnceLock<Listing>,
}

/// The most occurrences an `.ics` lists for an item whose series no rule can state, and how
/// far after DTSTART it looks for them (which also bounds the walk).
pub const MAX_LISTED_OCCURRENCES: u16 = 1_000;
pub const LISTED_YEARS: u32 = 100;
/// A rule with COUNT must reach its last occurrence within this many years of DTSTART: its
/// walk (from DTSTART, as COUNT counts from there) is then bounded on every schedule.
pub const MAX_COUNT_SPAN_YEARS: u32 = 100;

struct Listing {
    dates: Vec<NaiveDateTime>,
    truncated: bool,
    /// Whether DTSTART itself is the first occurrence.
    starts_on_dtstart: bool,
}

/// How one item of a recurring plan repeats, in iCalendar terms. Each item is due at its
/// offset from every occurrence of the plan's series; a calendar repeats an event from its
/// own DTSTART, so the plan's rule only fits where moving DTSTART by the offset moves every
/// occurrence by it.
#[derive(Debug, Clone, PartialEq)]
pub enum ItemRepeat {
    /// The plan's rule from the item's first occurrence, `UNTIL` moved by the offset, and
    /// the exceptions (the plan's, moved; DTSTART's own when it is not an occurrence).
    Rule {
        start: NaiveDateTime,
        rrule: String,
        exdates: Vec<NaiveDateTime>,
    },
    /// Every occurrence, listed (`truncated`: the series goes on past the last one).
    Dates {
        dates: Vec<NaiveDateTime>,
        truncated: bool,
    },
}

pub type FieldFault = (String, String);

impl Series {
    /// Parses and checks the rule and its exceptions; the error names the field.
    pub fn new(
        r: &Recurrence,
        tz: Tz,
        start: NaiveDate,
        items: &[Item],
    ) -> Result<Self, FieldFault> {
        let fault = |field: &str, msg: String| (field.to_owned(), msg);
        let rule = r.rrule.trim().trim_start_matches("RRULE:");
        if rule.is_empty() || rule.len() > 500 || rule.contains(['\n', '\r', ':']) {
            return Err(fault(
                "recurrence.rrule",
                "must be one RRULE value of at most 500 characters (FREQ=WEEKLY;BYDAY=MO)".into(),
            ));
        }
        let parsed: RRule<Unvalidated> = format!("RRULE:{rule}")
            .parse()
            .map_err(|e| fault("recurrence.rrule", format!("is not a valid RRULE: {e}")))?;
        // Sub-daily rules would make a year's schedule enormous; plans recur by the day at most.
        if matches!(
            parsed.get_freq(),
            Frequency::Hourly | Frequency::Minutely | Frequency::Secondly
        ) {
            return Err(fault(
                "recurrence.rrule",
                "FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY".into(),
            ));
        }
        // So are times of day in the rule (FREQ=DAILY with every BYHOUR, BYMINUTE and BYSECOND
        // is 86 400 a day); the time comes from the plan's items.
        if !(parsed.get_by_hour().is_empty()
            && parsed.get_by_minute().is_empty()
            && parsed.get_by_second().is_empty())
        {
            return Err(fault(
                "recurrence.rrule",
                "must not set BYHOUR, BYMINUTE or BYSECOND (the time of day comes from the items)"
                    .into(),
            ));
        }
        if parsed.get_count().is_some_and(|c| c > MAX_COUNT) {
            return Err(fault(
                "recurrence.rrule",
                format!("COUNT must be at most {MAX_COUNT}"),
            ));
        }
        let freq = parsed.get_freq();
        let names_only_weekdays = parsed.get_by_month_day().is_empty()
            && parsed.get_by_year_day().is_empty()
            && parsed.get_by_week_no().is_empty()
            && parsed.get_by_month().is_empty();
        let names_days = !(names_only_weekdays
            && parsed.get_by_weekday().is_empty()
            && parsed.get_by_set_pos().is_empty());
        let rtz = rrule::Tz::Tz(tz);
        let dtstart = dtstart_local(tz, start, items);
        // Items repeat with every occurrence, so they must sit near the series start; this
        // also bounds how many occurrences a schedule has to walk.
        let anchor = resolve_local(tz, dtstart);
        if items
            .iter()
            .filter_map(|i| i.due_at)
            .any(|d| (d - anchor).abs() > Duration::days(MAX_ITEM_SPREAD_DAYS))
        {
            return Err(fault(
                "recurrence",
                format!(
                    "items of a recurring plan must be due within {MAX_ITEM_SPREAD_DAYS} days of its start"
                ),
            ));
        }
        let dt_start = resolve_local(tz, dtstart).with_timezone(&rtz);
        let mut set = parsed
            .build(dt_start)
            .map_err(|e| fault("recurrence.rrule", format!("is not a valid RRULE: {e}")))?;
        if r.exdates.len() > crate::model::MAX_EXDATES {
            return Err(fault(
                "recurrence.exdates",
                format!("at most {} exceptions", crate::model::MAX_EXDATES),
            ));
        }
        for (i, raw) in r.exdates.iter().enumerate() {
            let dt = DateTime::parse_from_rfc3339(raw).map_err(|_| {
                fault(
                    &format!("recurrence.exdates.{i}"),
                    "must be an RFC 3339 date-time".into(),
                )
            })?;
            set = set.exdate(dt.with_timezone(&rtz));
        }
        Ok(Self {
            set,
            tz,
            dtstart,
            rule: rule.to_owned(),
            freq,
            names_days,
            names_only_weekdays,
            listing: std::sync::OnceLock::new(),
        })
    }

    /// For a new or changed rule (not on every read: it walks the series): a rule with COUNT
    /// must end within [`MAX_COUNT_SPAN_YEARS`] of DTSTART.
    pub fn check_count_span(&self) -> Result<(), FieldFault> {
        let Some(rule) = self.set.get_rrule().first() else {
            return Ok(());
        };
        let Some(count) = rule.get_count() else {
            return Ok(());
        };
        let dt_start = *self.set.get_dt_start();
        let horizon = dt_start
            .checked_add_months(Months::new(12 * MAX_COUNT_SPAN_YEARS))
            .unwrap_or(dt_start);
        // Exceptions left out: they remove occurrences, not the series' end.
        let reached = RRuleSet::new(dt_start)
            .rrule(rule.clone())
            .before(horizon)
            .all(u16::try_from(count).unwrap_or(u16::MAX))
            .dates
            .len();
        if u32::try_from(reached).unwrap_or(u32::MAX) < count {
            return Err((
                "recurrence.rrule".into(),
                format!(
                    "with COUNT={count} the series must end within {MAX_COUNT_SPAN_YEARS} years of its start"
                ),
            ));
        }
        Ok(())
    }

    fn listing(&self) -> &Listing {
        self.listing.get_or_init(|| {
            let dt_start = *self.set.get_dt_start();
            let horizon = dt_start
                .checked_add_months(Months::new(12 * LISTED_YEARS))
                .unwrap_or(dt_start);
            let listed = self.set.clone().before(horizon).all(MAX_LISTED_OCCURRENCES);
            let rule = self.set.get_rrule().first();
            let goes_on = rule.is_some_and(|r| {
                r.get_count().is_none() && r.get_until().is_none_or(|u| *u > horizon)
            });
            Listing {
                starts_on_dtstart: listed.dates.first() == Some(&dt_start),
                dates: listed
                    .dates
                    .iter()
                    .map(|d| d.with_timezone(&self.tz).naive_local())
                    .collect(),
                truncated: listed.limited || goes_on,
            }
        })
    }

    /// How an item `offset` (local time) after DTSTART repeats.
    pub fn item_repeat(&self, offset: Duration) -> ItemRepeat {
        let start = self.dtstart + offset;
        let days = (start.date() - self.dtstart.date()).num_days();
        // Same day: the rule picks the same days. Otherwise only a rule that takes its days
        // from DTSTART (daily or weekly, or weekly moved by whole weeks) moves with it.
        let moves_with_item = days == 0
            || (!self.names_days && matches!(self.freq, Frequency::Daily | Frequency::Weekly))
            || (self.freq == Frequency::Weekly && self.names_only_weekdays && days % 7 == 0);
        let listing = self.listing();
        // A calendar counts DTSTART as the first occurrence, COUNT included: when DTSTART is
        // no occurrence, an EXDATE hides it but the count would still come one short.
        let has_count = self
            .set
            .get_rrule()
            .first()
            .and_then(|r| r.get_count())
            .is_some();
        let rule_fits = moves_with_item && (listing.starts_on_dtstart || !has_count);
        let local = |d: &DateTime<rrule::Tz>| d.with_timezone(&self.tz).naive_local();
        if !rule_fits {
            return ItemRepeat::Dates {
                dates: listing.dates.iter().map(|d| *d + offset).collect(),
                truncated: listing.truncated,
            };
        }
        let rrule = self
            .rule
            .split(';')
            .map(|part| match part.split_once('=') {
                Some((name, _)) if name.eq_ignore_ascii_case("UNTIL") && !offset.is_zero() => {
                    let until = self.set.get_rrule()[0]
                        .get_until()
                        .map(|u| resolve_local(self.tz, local(u) + offset));
                    until.map_or_else(
                        || part.to_owned(),
                        |u| format!("UNTIL={}", u.format("%Y%m%dT%H%M%SZ")),
                    )
                }
                _ => part.to_owned(),
            })
            .collect::<Vec<_>>()
            .join(";");
        let mut exdates: Vec<NaiveDateTime> = self
            .set
            .get_exdate()
            .iter()
            .map(|e| local(e) + offset)
            .collect();
        // A calendar counts DTSTART as an occurrence even when the rule does not.
        if !listing.starts_on_dtstart && !exdates.contains(&start) {
            exdates.insert(0, start);
        }
        ItemRepeat::Rule {
            start,
            rrule,
            exdates,
        }
    }

    /// Occurrences (local DTSTART-series times) whose instants fall in `[from, to]`, at most
    /// `limit`.
    pub fn occurrences(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u16,
    ) -> (Vec<NaiveDateTime>, bool) {
        let rtz = rrule::Tz::Tz(self.tz);
        let result = self
            .starting_near(from)
            .after(from.with_timezone(&rtz))
            .before(to.with_timezone(&rtz))
            .all(limit);
        let dates = result
            .dates
            .into_iter()
            .map(|d| d.with_timezone(&self.tz).naive_local())
            .collect();
        (dates, result.limited)
    }

    /// The series to walk for occurrences from `from` on. `rrule` walks every occurrence from
    /// DTSTART, so a plan that began decades before the range would cost a step per day of
    /// them on every schedule. A rule without COUNT repeats whole periods (INTERVAL days,
    /// weeks, months or years, counted from DTSTART's), so the walk can begin at the start
    /// of the last such period more than one period before `from`, with the same validated
    /// rule (its BYxxx defaults already taken from the real DTSTART) and exceptions: that
    /// yields the same occurrences from `from` on. A rule with COUNT counts from DTSTART and
    /// is walked whole (COUNT is at most [`MAX_COUNT`]).
    fn starting_near(&self, from: DateTime<Utc>) -> RRuleSet {
        let Some(rule) = self.set.get_rrule().first() else {
            return self.set.clone();
        };
        if rule.get_count().is_some() {
            return self.set.clone();
        }
        let start = self.dtstart.date();
        let target = from.with_timezone(&self.tz).date_naive();
        let interval = i64::from(rule.get_interval().max(1));
        // Whole periods (of `unit` days, months or years) from DTSTART's to the one holding
        // `target`, less one for slack.
        let periods_before = |elapsed: i64, unit: i64| elapsed / (unit * interval) - 1;
        let begin = match rule.get_freq() {
            Frequency::Daily | Frequency::Weekly => {
                let unit = if rule.get_freq() == Frequency::Daily {
                    1
                } else {
                    7
                };
                let k = periods_before((target - start).num_days(), unit);
                (k > 0).then(|| start + Duration::days(k * unit * interval))
            }
            Frequency::Monthly => {
                let months = i64::from(target.year() - start.year()) * 12
                    + i64::from(target.month())
                    - i64::from(start.month());
                let k = periods_before(months, 1);
                (k > 0)
                    .then(|| u32::try_from(k * interval).ok())
                    .flatten()
                    .and_then(|m| start.with_day(1)?.checked_add_months(Months::new(m)))
            }
            Frequency::Yearly => {
                let k = periods_before(i64::from(target.year() - start.year()), 1);
                (k > 0)
                    .then(|| i32::try_from(k * interval).ok())
                    .flatten()
                    .and_then(|y| NaiveDate::from_ymd_opt(start.year() + y, 1, 1))
            }
            _ => None,
        };
        let Some(begin) = begin else {
            return self.set.clone();
        };
        let rtz = rrule::Tz::Tz(self.tz);
        let dt_start =
            resolve_local(self.tz, begin.and_time(self.dtstart.time())).with_timezone(&rtz);
        let mut set = RRuleSet::new(dt_start).rrule(rule.clone());
        for ex in self.set.get_exdate() {
            set = set.exdate(*ex);
        }
        set
    }
}

/// One dated item (or one occurrence of it) in a schedule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Entry {
    pub plan_id: String,
    pub plan_title: String,
    pub item_id: String,
    pub title: String,
    #[serde(with = "crate::http::ts_format")]
    #[schema(value_type = String, format = DateTime)]
    pub due_at: DateTime<Utc>,
    pub duration_minutes: Option<u32>,
    pub done: bool,
    /// The occurrence (of the plan's rule) this entry belongs to; `null` for plans that do
    /// not recur.
    #[serde(with = "crate::http::ts_format_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub occurrence: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooMany;

/// Appends `plan`'s entries due in `[from, to)` to `out`; fails past `cap` entries in all.
pub fn expand(
    plan: &Plan,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    cap: usize,
    out: &mut Vec<Entry>,
) -> Result<(), TooMany> {
    let entry = |item: &Item, due: DateTime<Utc>, done: bool, occurrence| Entry {
        plan_id: plan.id.clone(),
        plan_title: plan.title.clone(),
        item_id: item.id.clone(),
        title: item.title.clone(),
        due_at: due,
        duration_minutes: item.duration_minutes,
        done,
        occurrence,
    };
    let tz: Option<Tz> = plan.timezone.parse().ok();
    let series = match (&plan.recurrence, tz) {
        (Some(r), Some(tz)) => match Series::new(r, tz, plan.start_date, &plan.items) {
            Ok(s) => Some(s),
            Err(e) => {
                // Stored rules were checked on write; a rule the crate now refuses is skipped.
                tracing::warn!(plan = %plan.id, error = ?e, "stored recurrence no longer parses");
                None
            }
        },
        _ => None,
    };
    let Some(series) = series else {
        for item in &plan.items {
            if let Some(due) = item.due_at
                && due >= from
                && due < to
            {
                push(out, cap, entry(item, due, item.done_at.is_some(), None))?;
            }
        }
        return Ok(());
    };
    let tz = series.tz;
    // Each item keeps its local offset from DTSTART in every occurrence.
    let offsets: Vec<(&Item, Duration)> = plan
        .items
        .iter()
        .filter_map(|i| {
            i.due_at
                .map(|d| (i, d.with_timezone(&tz).naive_local() - series.dtstart))
        })
        .collect();
    let (Some(min), Some(max)) = (
        offsets.iter().map(|(_, o)| *o).min(),
        offsets.iter().map(|(_, o)| *o).max(),
    ) else {
        return Ok(());
    };
    // Occurrences whose shifted items can land in range, with a day's slack for DST.
    let lo = from - max - Duration::days(1);
    let hi = to - min + Duration::days(1);
    let (occurrences, _) = series.occurrences(lo, hi, u16::MAX);
    for occ in occurrences {
        let occurrence = resolve_local(tz, occ);
        let shift = occ - series.dtstart;
        for (item, offset) in &offsets {
            let due = resolve_local(tz, series.dtstart + *offset + shift);
            if due >= from && due < to {
                // Only the first occurrence carries the item's own done state.
                let done = shift.is_zero() && item.done_at.is_some();
                push(out, cap, entry(item, due, done, Some(occurrence)))?;
            }
        }
    }
    Ok(())
}

fn push(out: &mut Vec<Entry>, cap: usize, e: Entry) -> Result<(), TooMany> {
    if out.len() >= cap {
        return Err(TooMany);
    }
    out.push(e);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    /// A dated item due at `due` (RFC 3339).
    fn item(due: &str) -> Item {
        Item {
            id: "i".into(),
            title: "t".into(),
            notes: None,
            due_at: Some(at(due)),
            duration_minutes: None,
            done_at: None,
            position: 0,
        }
    }

    #[test]
    fn local_times_resolve_across_dst_gaps_and_overlaps() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let d = |s: &str| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M").unwrap();
        assert_eq!(
            resolve_local(tz, d("2026-03-28 09:00")),
            at("2026-03-28T08:00:00Z")
        );
        assert_eq!(
            resolve_local(tz, d("2026-03-29 09:00")),
            at("2026-03-29T07:00:00Z")
        );
        // 02:30 does not exist on 29 March: it becomes 03:30 CEST.
        assert_eq!(
            resolve_local(tz, d("2026-03-29 02:30")),
            at("2026-03-29T01:30:00Z")
        );
        // 02:30 happens twice on 25 October: the first (CEST) wins.
        assert_eq!(
            resolve_local(tz, d("2026-10-25 02:30")),
            at("2026-10-25T00:30:00Z")
        );
    }

    #[test]
    fn bad_rules_and_exdates_name_their_field() {
        let tz: Tz = "UTC".parse().unwrap();
        let start = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let rec = |rule: &str, ex: &[&str]| Recurrence {
            rrule: rule.into(),
            exdates: ex.iter().map(|s| s.to_string()).collect(),
        };
        assert!(Series::new(&rec("FREQ=WEEKLY;BYDAY=MO", &[]), tz, start, &[]).is_ok());
        assert!(Series::new(&rec("RRULE:FREQ=DAILY;COUNT=3", &[]), tz, start, &[]).is_ok());
        for bad in [
            "FREQ=SOMETIMES",
            "",
            "FREQ=HOURLY",
            "FREQ=DAILY\nRRULE:FREQ=DAILY",
            "BYDAY=MO",
        ] {
            let e = Series::new(&rec(bad, &[]), tz, start, &[])
                .err()
                .unwrap_or_else(|| panic!("{bad}"));
            assert_eq!(e.0, "recurrence.rrule", "{bad}");
        }
        let e = Series::new(
            &rec("FREQ=DAILY", &["2026-01-06T09:00:00Z", "tuesday"]),
            tz,
            start,
            &[],
        )
        .err()
        .unwrap();
        assert_eq!(e.0, "recurrence.exdates.1");
    }

    #[test]
    fn rules_recur_at_most_daily_and_count_at_most_max_count() {
        let tz: Tz = "UTC".parse().unwrap();
        let start = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let rec = |rule: &str| Recurrence {
            rrule: rule.into(),
            exdates: vec![],
        };
        // 86 400 occurrences a day, within the 500-character limit.
        let every_second = format!(
            "FREQ=DAILY;BYHOUR={};BYMINUTE={};BYSECOND={}",
            (0..24).map(|h| h.to_string()).collect::<Vec<_>>().join(","),
            (0..60).map(|m| m.to_string()).collect::<Vec<_>>().join(","),
            (0..60).map(|s| s.to_string()).collect::<Vec<_>>().join(","),
        );
        assert!(every_second.len() <= 500);
        for bad in [
            every_second.as_str(),
            "FREQ=WEEKLY;BYHOUR=9",
            "FREQ=DAILY;BYMINUTE=0,30",
            "FREQ=DAILY;BYSECOND=1",
            "FREQ=DAILY;COUNT=10001",
        ] {
            let e = Series::new(&rec(bad), tz, start, &[]).err();
            assert_eq!(e.map(|e| e.0).as_deref(), Some("recurrence.rrule"), "{bad}");
        }
        assert!(Series::new(&rec("FREQ=DAILY;COUNT=10000"), tz, start, &[]).is_ok());
    }

    #[test]
    fn a_rule_with_count_must_end_within_a_century() {
        let tz: Tz = "UTC".parse().unwrap();
        let start = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let series = |rule: &str| {
            let r = Recurrence {
                rrule: rule.into(),
                exdates: vec![],
            };
            Series::new(&r, tz, start, &[]).unwrap()
        };
        // Every 29 February: 10 000 of them take 40 000 years (a day's step each on every
        // schedule, were it allowed).
        let sparse = series("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;COUNT=10000");
        assert_eq!(sparse.check_count_span().unwrap_err().0, "recurrence.rrule");
        for fine in [
            "FREQ=DAILY;COUNT=10000",
            "FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;COUNT=25",
            "FREQ=WEEKLY;BYDAY=MO",
        ] {
            assert!(series(fine).check_count_span().is_ok(), "{fine}");
        }
    }

    #[test]
    fn an_item_repeats_by_the_rule_only_where_the_rule_moves_with_it() {
        let tz: Tz = "UTC".parse().unwrap();
        let series = |rule: &str, start: (i32, u32, u32)| {
            let r = Recurrence {
                rrule: rule.into(),
                exdates: vec![],
            };
            let start = NaiveDate::from_ymd_opt(start.0, start.1, start.2).unwrap();
            Series::new(&r, tz, start, &[]).unwrap()
        };
        let is_rule = |s: &Series, days: i64| {
            matches!(s.item_repeat(Duration::days(days)), ItemRepeat::Rule { .. })
        };
        let monday = (2027, 1, 4);
        assert!(is_rule(&series("FREQ=WEEKLY;BYDAY=MO", monday), 7));
        assert!(!is_rule(&series("FREQ=WEEKLY;BYDAY=MO", monday), 1));
        // Whole weeks, but BYMONTH picks by month: a week later is another set of days.
        assert!(!is_rule(
            &series("FREQ=WEEKLY;BYMONTH=1;BYDAY=MO", monday),
            7
        ));
        assert!(is_rule(&series("FREQ=DAILY;INTERVAL=2", monday), 3));
        // DTSTART (a Wednesday) is no occurrence: with COUNT a calendar would count it.
        let wednesday = (2027, 1, 6);
        assert!(is_rule(&series("FREQ=WEEKLY;BYDAY=MO", wednesday), 0));
        assert!(!is_rule(
            &series("FREQ=WEEKLY;BYDAY=MO;COUNT=3", wednesday),
            0
        ));
        match series("FREQ=WEEKLY;BYDAY=MO;COUNT=3", wednesday).item_repeat(Duration::zero()) {
            ItemRepeat::Dates { dates, truncated } => {
                assert_eq!(dates.len(), 3);
                assert!(!truncated);
            }
            other => panic!("{other:?}"),
        }
        match series("FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29", monday).item_repeat(Duration::days(1)) {
            ItemRepeat::Dates { dates, truncated } => {
                // 2028..=2124 by fours, less 2100.
                assert_eq!(dates.len(), 24, "every 29 February in the century listed");
                assert!(truncated, "and the series goes on");
            }
            other => panic!("{other:?}"),
        }
    }

    /// Every occurrence in `[from, to]` by walking the whole series from DTSTART.
    fn walked_from_dtstart(
        s: &Series,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Vec<NaiveDateTime> {
        let rtz = rrule::Tz::Tz(s.tz);
        s.set
            .clone()
            .after(from.with_timezone(&rtz))
            .before(to.with_timezone(&rtz))
            .all(u16::MAX)
            .dates
            .into_iter()
            .map(|d| d.with_timezone(&s.tz).naive_local())
            .collect()
    }

    #[test]
    fn a_series_walked_from_near_the_range_gives_what_the_whole_walk_gives() {
        let rules = [
            "FREQ=DAILY",
            "FREQ=DAILY;INTERVAL=3",
            "FREQ=DAILY;INTERVAL=5;BYDAY=MO,TU,WE",
            "FREQ=DAILY;BYMONTH=2,3;BYMONTHDAY=29,30,31",
            "FREQ=WEEKLY;BYDAY=MO",
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=SA,SU",
            "FREQ=WEEKLY;INTERVAL=3;WKST=SU;BYDAY=SU,MO",
            "FREQ=WEEKLY;INTERVAL=2",
            "FREQ=MONTHLY",
            "FREQ=MONTHLY;INTERVAL=5",
            "FREQ=MONTHLY;BYMONTHDAY=31",
            "FREQ=MONTHLY;BYMONTHDAY=-1",
            "FREQ=MONTHLY;INTERVAL=2;BYDAY=-1FR",
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
            "FREQ=YEARLY",
            "FREQ=YEARLY;INTERVAL=4",
            "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
            "FREQ=YEARLY;BYWEEKNO=1,53;BYDAY=MO",
            "FREQ=YEARLY;BYYEARDAY=1,100,366",
            "FREQ=WEEKLY;BYDAY=TU;UNTIL=20310101T000000Z",
        ];
        let zones = [
            "UTC",
            "Europe/Berlin",
            "America/New_York",
            "Australia/Lord_Howe",
        ];
        let starts = [(1970, 1, 1), (2020, 2, 29), (2023, 10, 29), (2024, 3, 10)];
        let ranges = [
            ("2026-03-01T00:00:00Z", "2026-04-15T00:00:00Z"),
            ("2030-10-20T00:00:00Z", "2031-12-31T00:00:00Z"),
            ("2024-03-09T00:00:00Z", "2024-03-12T00:00:00Z"),
        ];
        let mut compared = 0;
        for rule in rules {
            for zone in zones {
                let tz: Tz = zone.parse().unwrap();
                for (y, m, d) in starts {
                    let start = NaiveDate::from_ymd_opt(y, m, d).unwrap();
                    // 02:30 local: inside some zones' spring-forward gaps.
                    let due = resolve_local(tz, start.and_hms_opt(2, 30, 0).unwrap());
                    let items = [item(&due.to_rfc3339())];
                    let r = Recurrence {
                        rrule: rule.into(),
                        exdates: vec![(due + Duration::days(2 * 365)).to_rfc3339()],
                    };
                    let s = Series::new(&r, tz, start, &items).unwrap();
                    for (from, to) in ranges {
                        let (from, to) = (at(from), at(to));
                        let (near, _) = s.occurrences(from, to, u16::MAX);
                        assert_eq!(
                            near,
                            walked_from_dtstart(&s, from, to),
                            "{rule} in {zone} from {start}, range {from}..{to}"
                        );
                        compared += near.len();
                    }
                }
            }
        }
        assert!(compared > 1_000, "compared only {compared} occurrences");
    }

    #[test]
    fn a_series_begun_long_ago_is_walked_from_near_the_range() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let start = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let from = at("2990-06-01T00:00:00Z");
        for (rule, at_most_days) in [
            ("FREQ=DAILY", 2),
            ("FREQ=WEEKLY;INTERVAL=3", 2 * 21),
            ("FREQ=MONTHLY;INTERVAL=7", 2 * 7 * 31),
            ("FREQ=YEARLY;INTERVAL=10", 2 * 10 * 366),
        ] {
            let r = Recurrence {
                rrule: rule.into(),
                exdates: vec![],
            };
            let s = Series::new(&r, tz, start, &[]).unwrap();
            let walked_from = s.starting_near(from).get_dt_start().to_utc();
            assert!(walked_from <= from, "{rule}: {walked_from}");
            assert!(
                from - walked_from <= Duration::days(at_most_days),
                "{rule}: walks from {walked_from}"
            );
            // A rule with COUNT counts from DTSTART: walked whole.
            let counted = Recurrence {
                rrule: format!("{rule};COUNT=5"),
                exdates: vec![],
            };
            let s = Series::new(&counted, tz, start, &[]).unwrap();
            assert_eq!(
                s.starting_near(from).get_dt_start().to_utc(),
                at("1970-01-01T08:00:00Z")
            );
        }
    }

    #[test]
    fn items_of_a_recurring_plan_stay_within_a_year_of_its_start() {
        let tz: Tz = "UTC".parse().unwrap();
        let start = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let r = Recurrence {
            rrule: "FREQ=DAILY".into(),
            exdates: vec![],
        };
        let near = [item("2026-01-05T09:00:00Z"), item("2026-12-31T09:00:00Z")];
        assert!(Series::new(&r, tz, start, &near).is_ok());
        let far = [item("2026-01-05T09:00:00Z"), item("2999-01-01T00:00:00Z")];
        assert_eq!(
            Series::new(&r, tz, start, &far).err().unwrap().0,
            "recurrence"
        );
    }

    #[test]
    fn weekly_occurrences_keep_their_local_time_and_skip_exdates() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let start = NaiveDate::from_ymd_opt(2026, 3, 16).unwrap(); // a Monday
        let r = Recurrence {
            rrule: "FREQ=WEEKLY;BYDAY=MO".into(),
            exdates: vec!["2026-03-23T09:00:00+01:00".into()],
        };
        let s = Series::new(&r, tz, start, &[]).unwrap();
        let (occ, _) = s.occurrences(at("2026-03-01T00:00:00Z"), at("2026-04-07T00:00:00Z"), 100);
        let shown: Vec<String> = occ
            .iter()
            .map(|o| o.format("%m-%d %H:%M").to_string())
            .collect();
        assert_eq!(shown, ["03-16 09:00", "03-30 09:00", "04-06 09:00"]);
    }
}
