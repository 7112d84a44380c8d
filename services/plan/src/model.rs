//! A plan as stored and as the API shows it, and the bodies that create or change one.

use std::collections::HashSet;

use chrono::{DateTime, NaiveDate, Utc};
use plangen_core::Problem;
use plangen_core::tags::{check_tags, normalise_tags};
use plangen_core::validate::Violations;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::{null_as_default, plausible_id, ts_format, ts_format_opt};
use crate::schedule;

pub const MAX_ITEMS: usize = 500;
pub use plangen_core::tags::MAX_TAGS;
pub const MAX_DURATION_MINUTES: u32 = 10_080;
pub const MAX_EXDATES: usize = 366;

/// Dates and times outside these years are refused (and cannot overflow date arithmetic).
pub const MIN_YEAR: i32 = 1970;
pub const MAX_YEAR: i32 = 2999;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Draft,
    Active,
    Completed,
    Archived,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Active => "active",
            Self::Completed => "completed",
            Self::Archived => "archived",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "draft" => Some(Self::Draft),
            "active" => Some(Self::Active),
            "completed" => Some(Self::Completed),
            "archived" => Some(Self::Archived),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    Medium,
    High,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub id: String,
    pub title: String,
    pub notes: Option<String>,
    #[serde(with = "ts_format_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<DateTime<Utc>>,
    pub duration_minutes: Option<u32>,
    #[serde(with = "ts_format_opt")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub done_at: Option<DateTime<Utc>>,
    pub position: u32,
}

/// An RFC 5545 rule; its DTSTART is the plan's start date at its first dated item's local time
/// (09:00 without one), in the plan's time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Recurrence {
    /// `FREQ=WEEKLY;BYDAY=MO` (an `RRULE:` prefix is accepted and dropped).
    pub rrule: String,
    /// Occurrences to skip, RFC 3339 date-times of the plan's DTSTART series.
    #[serde(default)]
    pub exdates: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub id: String,
    pub owner_id: String,
    pub title: String,
    pub description: String,
    pub status: Status,
    #[schema(value_type = String, format = Date)]
    pub start_date: NaiveDate,
    #[schema(value_type = Option<String>, format = Date)]
    pub end_date: Option<NaiveDate>,
    pub timezone: String,
    pub tags: Vec<String>,
    pub priority: Priority,
    pub template_id: Option<String>,
    pub template_version: Option<i64>,
    pub items: Vec<Item>,
    pub recurrence: Option<Recurrence>,
    pub version: i64,
    #[serde(with = "ts_format")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(with = "ts_format")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

impl Plan {
    /// Earliest and latest `dueAt` of its items, as sortable text (for schedule candidates).
    pub fn due_bounds(&self) -> (Option<String>, Option<String>) {
        let dues = self.items.iter().filter_map(|i| i.due_at);
        let min = dues.clone().min().map(|d| crate::http::sortable(&d));
        let max = dues.max().map(|d| crate::http::sortable(&d));
        (min, max)
    }

    /// Items in position order, positions renumbered 0..n.
    pub fn renumber(&mut self) {
        for (i, item) in self.items.iter_mut().enumerate() {
            item.position = i as u32;
        }
    }
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ItemInput {
    /// Keep an existing item's id (and with it its identity) across an edit.
    #[serde(default)]
    pub id: Option<String>,
    pub title: String,
    #[serde(default)]
    pub notes: Option<String>,
    /// RFC 3339.
    #[serde(default)]
    pub due_at: Option<String>,
    #[serde(default)]
    pub duration_minutes: Option<u32>,
    #[serde(default)]
    pub done_at: Option<String>,
}

/// The body of `POST /` and `PUT /:id`. Server-owned fields are ignored if sent.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanInput {
    pub title: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub description: String,
    #[serde(default)]
    pub status: Option<Status>,
    /// `YYYY-MM-DD`.
    pub start_date: String,
    #[serde(default)]
    pub end_date: Option<String>,
    /// IANA name (`Europe/Berlin`).
    pub timezone: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<String>,
    #[serde(default)]
    pub priority: Option<Priority>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub items: Vec<ItemInput>,
    #[serde(default)]
    pub recurrence: Option<Recurrence>,
}

/// What a checked [`PlanInput`] becomes: every field parsed.
#[derive(Debug, Clone)]
pub struct PlanFields {
    pub title: String,
    pub description: String,
    pub status: Status,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub timezone: String,
    pub tags: Vec<String>,
    pub priority: Priority,
    pub items: Vec<Item>,
    pub recurrence: Option<Recurrence>,
}

pub fn parse_date(v: &mut Violations, field: &str, raw: &str) -> Option<NaiveDate> {
    match NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        Ok(d) if (MIN_YEAR..=MAX_YEAR).contains(&chrono::Datelike::year(&d)) && raw.len() == 10 => {
            Some(d)
        }
        Ok(_) => {
            v.add(field, format!("must be between {MIN_YEAR} and {MAX_YEAR}"));
            None
        }
        Err(_) => {
            v.add(field, "must be a date (YYYY-MM-DD)");
            None
        }
    }
}

pub fn parse_datetime(v: &mut Violations, field: &str, raw: &str) -> Option<DateTime<Utc>> {
    match DateTime::parse_from_rfc3339(raw) {
        Ok(d) if (MIN_YEAR..=MAX_YEAR).contains(&chrono::Datelike::year(&d.to_utc())) => {
            // Stored at microsecond precision, like every other timestamp.
            DateTime::from_timestamp_micros(d.timestamp_micros())
        }
        Ok(_) => {
            v.add(field, format!("must be between {MIN_YEAR} and {MAX_YEAR}"));
            None
        }
        Err(_) => {
            v.add(
                field,
                "must be an RFC 3339 date-time (2026-03-01T09:00:00Z)",
            );
            None
        }
    }
}

pub fn check_timezone(v: &mut Violations, field: &str, raw: &str) -> Option<chrono_tz::Tz> {
    match raw.parse::<chrono_tz::Tz>() {
        Ok(tz) => Some(tz),
        Err(_) => {
            v.add(field, "must be an IANA time zone (Europe/Berlin)");
            None
        }
    }
}

impl PlanInput {
    /// Checks every field and parses dates, zone, items and rule; every fault in one 422.
    /// Items sent with an `id` keep it (so an edit does not change their identity).
    pub fn check(self, now: DateTime<Utc>) -> Result<PlanFields, Problem> {
        let mut v = Violations::new();
        let title = self.title.trim().to_owned();
        v.length("title", &title, 1, 200);
        v.length("description", &self.description, 0, 5000);
        let start_date = parse_date(&mut v, "startDate", self.start_date.trim());
        let end_date = self
            .end_date
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .and_then(|raw| parse_date(&mut v, "endDate", raw));
        if let (Some(s), Some(e)) = (start_date, end_date) {
            v.check(e >= s, "endDate", "must not be before startDate");
        }
        let tz = check_timezone(&mut v, "timezone", self.timezone.trim());
        check_tags(&mut v, &self.tags);
        let tags = normalise_tags(&self.tags);
        v.check(
            self.items.len() <= MAX_ITEMS,
            "items",
            format!("at most {MAX_ITEMS} items"),
        );
        let mut ids = HashSet::new();
        let mut items = Vec::new();
        for (i, it) in self.items.iter().enumerate().take(MAX_ITEMS) {
            let f = |name: &str| format!("items.{i}.{name}");
            let id = match &it.id {
                Some(id) if !plausible_id(id) => {
                    v.add(f("id"), "must be an id made by this service");
                    None
                }
                Some(id) if !ids.insert(id.clone()) => {
                    v.add(f("id"), "appears twice");
                    None
                }
                Some(id) => Some(id.clone()),
                None => None,
            };
            let title = it.title.trim().to_owned();
            v.length(f("title"), &title, 1, 200);
            v.optional_length(f("notes"), it.notes.as_deref(), 2000);
            let due_at = it
                .due_at
                .as_deref()
                .and_then(|raw| parse_datetime(&mut v, &f("dueAt"), raw));
            let done_at = it
                .done_at
                .as_deref()
                .and_then(|raw| parse_datetime(&mut v, &f("doneAt"), raw));
            if let Some(d) = done_at {
                v.check(
                    d <= now + chrono::Duration::minutes(5),
                    f("doneAt"),
                    "must not be in the future",
                );
            }
            if let Some(d) = it.duration_minutes {
                v.range(f("durationMinutes"), d, 1, MAX_DURATION_MINUTES);
            }
            items.push(Item {
                id: id.unwrap_or_else(|| uuid::Uuid::now_v7().to_string()),
                title,
                notes: it.notes.clone(),
                due_at,
                duration_minutes: it.duration_minutes,
                done_at,
                position: i as u32,
            });
        }
        let recurrence = match (&self.recurrence, tz, start_date) {
            (Some(r), Some(tz), Some(start)) => {
                let r = Recurrence {
                    rrule: r.rrule.trim().trim_start_matches("RRULE:").to_owned(),
                    exdates: r.exdates.clone(),
                };
                match schedule::Series::new(&r, tz, start, &items)
                    .and_then(|s| s.check_count_span())
                {
                    Ok(()) => {}
                    Err((field, message)) => v.add(field, message),
                }
                Some(r)
            }
            (r, _, _) => r.clone(),
        };
        v.into_result()?;
        Ok(PlanFields {
            title,
            description: self.description,
            status: self.status.unwrap_or(Status::Active),
            start_date: start_date.expect("checked"),
            end_date,
            timezone: self.timezone.trim().to_owned(),
            tags,
            priority: self.priority.unwrap_or(Priority::Medium),
            items,
            recurrence,
        })
    }
}

/// The body of `PATCH /:id/items/:itemId`.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ItemPatch {
    pub done: Option<bool>,
    pub title: Option<String>,
    /// The new index in the list (0-based); the others move to make room.
    pub position: Option<u32>,
}

/// The body of `POST /from-template`.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FromTemplate {
    pub template_id: String,
    /// `YYYY-MM-DD`: the day offsets count from.
    pub start_date: String,
    pub timezone: String,
    #[serde(default)]
    pub title: Option<String>,
}
