//! A template as stored and as the API shows it, and the body that creates or replaces one.

use chrono::{DateTime, Utc};
use plangen_core::tags::{check_tags, normalise_tags};
use plangen_core::validate::{Validate, Violations};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::{null_as_default, ts_format};

pub const MAX_STEPS: usize = 500;
pub use plangen_core::tags::MAX_TAGS;
pub const MAX_OFFSET_DAYS: i32 = 3650;
pub const MAX_DURATION_MINUTES: u32 = 10_080;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Private,
    Public,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Private => "private",
            Self::Public => "public",
        }
    }
}

/// One step: due `offsetDays` after the plan's start (negative: before), at `timeOfDay`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    pub title: String,
    #[serde(default)]
    pub notes: Option<String>,
    pub offset_days: i32,
    /// `HH:MM`, 24-hour, in the plan's time zone.
    #[serde(default)]
    pub time_of_day: Option<String>,
    #[serde(default)]
    pub duration_minutes: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    pub id: String,
    pub owner_id: String,
    pub name: String,
    pub description: String,
    pub category: String,
    pub tags: Vec<String>,
    pub visibility: Visibility,
    pub steps: Vec<Step>,
    pub version: i64,
    #[serde(with = "ts_format")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(with = "ts_format")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

impl Template {
    /// Whether `user` may read it: its owner, anyone when public, an admin always.
    pub fn visible_to(&self, user_id: &str, admin: bool) -> bool {
        admin || self.owner_id == user_id || self.visibility == Visibility::Public
    }
}

/// The body of `POST /` and `PUT /:id`. Fields the server owns (`id`, `ownerId`, `version`,
/// timestamps) are ignored if sent, so a client may send back what it read.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TemplateInput {
    pub name: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub description: String,
    pub category: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub tags: Vec<String>,
    #[serde(default = "private")]
    pub visibility: Visibility,
    #[serde(default, deserialize_with = "null_as_default")]
    pub steps: Vec<Step>,
}

fn private() -> Visibility {
    Visibility::Private
}

/// `HH:MM` with a valid hour and minute.
pub fn is_time_of_day(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 5
        && b[2] == b':'
        && s[..2].bytes().all(|c| c.is_ascii_digit())
        && s[3..].bytes().all(|c| c.is_ascii_digit())
        && s[..2].parse::<u8>().is_ok_and(|h| h < 24)
        && s[3..].parse::<u8>().is_ok_and(|m| m < 60)
}

impl TemplateInput {
    /// Trims what people type around names; tags lose duplicates, keeping their order.
    pub fn normalised(mut self) -> Self {
        self.name = self.name.trim().to_owned();
        self.category = self.category.trim().to_owned();
        self.tags = normalise_tags(&self.tags);
        for s in &mut self.steps {
            s.title = s.title.trim().to_owned();
        }
        self
    }
}

impl Validate for TemplateInput {
    fn validate(&self, v: &mut Violations) {
        v.length("name", self.name.trim(), 1, 200);
        v.length("description", &self.description, 0, 5000);
        v.length("category", self.category.trim(), 1, 64);
        check_tags(v, &self.tags);
        v.check(
            self.steps.len() <= MAX_STEPS,
            "steps",
            format!("at most {MAX_STEPS} steps"),
        );
        // Past the limit the list is refused as a whole; no need to list each step's faults.
        for (i, s) in self.steps.iter().enumerate().take(MAX_STEPS) {
            v.length(format!("steps.{i}.title"), s.title.trim(), 1, 200);
            v.optional_length(format!("steps.{i}.notes"), s.notes.as_deref(), 2000);
            v.range(
                format!("steps.{i}.offsetDays"),
                s.offset_days,
                -MAX_OFFSET_DAYS,
                MAX_OFFSET_DAYS,
            );
            if let Some(t) = &s.time_of_day {
                v.check(
                    is_time_of_day(t),
                    format!("steps.{i}.timeOfDay"),
                    "must be HH:MM (00:00 to 23:59)",
                );
            }
            if let Some(d) = s.duration_minutes {
                v.range(
                    format!("steps.{i}.durationMinutes"),
                    d,
                    1,
                    MAX_DURATION_MINUTES,
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_of_day() {
        assert!(is_time_of_day("00:00") && is_time_of_day("23:59"));
        for bad in ["24:00", "9:00", "09:60", "0a:00", "09-00", "09:000"] {
            assert!(!is_time_of_day(bad), "{bad}");
        }
    }

    #[test]
    fn every_broken_rule_is_named() {
        let input: TemplateInput = serde_json::from_value(serde_json::json!({
            "name": " ", "category": "x".repeat(65), "tags": ["", "ok"],
            "steps": [{"title": "a", "offsetDays": 4000, "timeOfDay": "25:00", "durationMinutes": 0}]
        }))
        .unwrap();
        let p = input.validated().unwrap_err();
        let fields: Vec<_> = p.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "name",
                "category",
                "tags.0",
                "steps.0.offsetDays",
                "steps.0.timeOfDay",
                "steps.0.durationMinutes"
            ]
        );
    }
}
