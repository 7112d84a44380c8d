//! The tags of plans and templates, under one rule: a plan made from a template takes the
//! template's tags, so what one service accepts the other must accept too.

use crate::validate::Violations;

/// At most this many tags.
pub const MAX_TAGS: usize = 20;

/// Records what breaks the rule: more than [`MAX_TAGS`] tags (the rest are then not looked
/// at one by one), or a tag, trimmed, empty or longer than 32 characters (`tags.<i>`).
pub fn check_tags(v: &mut Violations, tags: &[String]) {
    v.check(
        tags.len() <= MAX_TAGS,
        "tags",
        format!("at most {MAX_TAGS} tags"),
    );
    for (i, t) in tags.iter().enumerate().take(MAX_TAGS + 1) {
        v.length(format!("tags.{i}"), t.trim(), 1, 32);
    }
}

/// The tags trimmed, each once, in the order first given.
pub fn normalise_tags(tags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags.iter().map(|t| t.trim()) {
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_trimmed_kept_once_and_checked_one_by_one() {
        let tags: Vec<String> = [" a", "b", "a ", "", &"x".repeat(33)]
            .map(String::from)
            .into();
        assert_eq!(normalise_tags(&tags), ["a", "b", "", &"x".repeat(33)]);
        let mut v = Violations::new();
        check_tags(&mut v, &tags);
        let p = v.into_result().unwrap_err();
        let fields: Vec<_> = p.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["tags.3", "tags.4"]);
        let mut v = Violations::new();
        check_tags(&mut v, &vec!["t".to_owned(); MAX_TAGS + 1]);
        assert!(v.into_result().is_err());
    }
}
