//! Recurrence (RFC 5545 RRULE through the `rrule` crate) and schedule expansion, done in the
//! plan's local time so a 09:00 item stays at 09:00 across DST changes.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, NaiveTime, Offset as _, TimeZone, Utc};
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

/// The plan's DTSTART in local time: its start date at the first dated item's local time of
/// day (by position), or 09:00.
pub fn dtstart_local(tz: Tz, start: NaiveDate, items: &[Item]) -> NaiveDateTime {
    let time = items
        .iter()
        .find_map(|i| i.due_at)
        .map(|d| d.with_timezone(&tz).time())
        .unwrap_or(DEFAULT_TIME);
    start.and_time(time)
}

/// How far from DTSTART the items of a recurring plan may be due.
pub const MAX_ITEM_SPREAD_DAYS: i64 = 366;

/// A plan's recurrence, ready to expand.
pub struct Series {
    set: RRuleSet,
    tz: Tz,
    pub dtstart: NaiveDateTime,
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
        Ok(Self { set, tz, dtstart })
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
            .set
            .clone()
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
    fn items_of_a_recurring_plan_stay_within_a_year_of_its_start() {
        let tz: Tz = "UTC".parse().unwrap();
        let start = NaiveDate::from_ymd_opt(2026, 1, 5).unwrap();
        let item = |due: &str| Item {
            id: "i".into(),
            title: "t".into(),
            notes: None,
            due_at: Some(at(due)),
            duration_minutes: None,
            done_at: None,
            position: 0,
        };
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
