//! List filters (`ListIncidentRecords`, `ListTimelineEvents`): each key takes one condition
//! form; filters are ANDed, the values inside one filter are ORed. The time filter becomes
//! sort-key bounds so the store skips what it excludes.

use super::errors::invalid;
use super::time_key;
use crate::shapes::incidents::{Error, Filter};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Form {
    /// `before` / `after`
    Time,
    /// `equals.integerValues`
    Integers,
    /// `equals.stringValues`
    Strings,
}

#[derive(Debug, Default)]
pub struct Parsed {
    /// Only items strictly after / before these instants (ms).
    pub after_ms: Option<i64>,
    pub before_ms: Option<i64>,
    pub integers: Vec<(String, Vec<i32>)>,
    pub strings: Vec<(String, Vec<String>)>,
}

pub fn parse(filters: &[Filter], keys: &[(&str, Form)]) -> Result<Parsed, Error> {
    let mut p = Parsed::default();
    let names: Vec<&str> = keys.iter().map(|(k, _)| *k).collect();
    for (i, f) in filters.iter().enumerate() {
        let key = f.key.clone().unwrap_or_default();
        let Some((_, form)) = keys.iter().find(|(k, _)| *k == key) else {
            return Err(invalid(format!(
                "filters[{i}].key: {key:?} is not one of [{}]",
                names.join(", ")
            )));
        };
        let c = f.condition.clone().unwrap_or_default();
        let wrong = |want: &str| {
            invalid(format!(
                "filters[{i}].condition: the {key} filter takes {want}"
            ))
        };
        match form {
            Form::Time => {
                if c.equals.is_some() {
                    return Err(wrong("before or after"));
                }
                if let Some(t) = c.after {
                    p.after_ms = Some(p.after_ms.map_or(t.millis(), |a| a.max(t.millis())));
                }
                if let Some(t) = c.before {
                    p.before_ms = Some(p.before_ms.map_or(t.millis(), |b| b.min(t.millis())));
                }
            }
            Form::Integers => match c.equals.and_then(|e| e.integer_values) {
                Some(v) => p.integers.push((key, v)),
                None => return Err(wrong("equals with integerValues")),
            },
            Form::Strings => match c.equals.and_then(|e| e.string_values) {
                Some(v) => p.strings.push((key, v)),
                None => return Err(wrong("equals with stringValues")),
            },
        }
    }
    Ok(p)
}

impl Parsed {
    /// Sort-key bounds (inclusive min, exclusive max) for items keyed by `time_key`.
    pub fn bounds(&self) -> (Option<String>, Option<String>) {
        (
            self.after_ms.map(|t| time_key(t + 1)),
            self.before_ms.map(time_key),
        )
    }

    pub fn integer_matches(&self, key: &str, value: i32) -> bool {
        self.integers
            .iter()
            .filter(|(k, _)| k == key)
            .all(|(_, vs)| vs.contains(&value))
    }

    /// True when every filter on `key` contains at least one of `values`.
    pub fn string_matches(&self, key: &str, values: &[&str]) -> bool {
        self.strings
            .iter()
            .filter(|(k, _)| k == key)
            .all(|(_, vs)| vs.iter().any(|v| values.contains(&v.as_str())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shapes::Timestamp;
    use crate::shapes::incidents::{AttributeValueList, Condition};

    const KEYS: &[(&str, Form)] = &[
        ("creationTime", Form::Time),
        ("impact", Form::Integers),
        ("status", Form::Strings),
    ];

    fn filter(key: &str, condition: Condition) -> Filter {
        Filter {
            key: Some(key.into()),
            condition: Some(condition),
        }
    }

    fn ints(v: &[i32]) -> Condition {
        Condition {
            equals: Some(AttributeValueList {
                integer_values: Some(v.to_vec()),
                string_values: None,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn ands_filters_and_ors_values() {
        let p = parse(
            &[
                filter("impact", ints(&[1, 2])),
                filter("impact", ints(&[2, 3])),
            ],
            KEYS,
        )
        .unwrap();
        assert!(p.integer_matches("impact", 2));
        assert!(!p.integer_matches("impact", 1));
        assert!(
            p.string_matches("status", &["OPEN"]),
            "no filter on the key"
        );
    }

    #[test]
    fn time_filters_become_tightest_bounds() {
        let at = |ms| Condition {
            after: Some(Timestamp::from_millis(ms)),
            ..Default::default()
        };
        let before = |ms| Condition {
            before: Some(Timestamp::from_millis(ms)),
            ..Default::default()
        };
        let p = parse(
            &[
                filter("creationTime", at(10)),
                filter("creationTime", at(20)),
                filter("creationTime", before(50)),
            ],
            KEYS,
        )
        .unwrap();
        assert_eq!(p.bounds(), (Some(time_key(21)), Some(time_key(50))));
    }

    #[test]
    fn rejects_unknown_keys_and_wrong_forms() {
        assert!(parse(&[filter("owner", ints(&[1]))], KEYS).is_err());
        assert!(parse(&[filter("creationTime", ints(&[1]))], KEYS).is_err());
        assert!(parse(&[filter("status", ints(&[1]))], KEYS).is_err());
    }
}
