//! What a delivery address must look like for its channel type.

/// SMS and voice: E.164, a `+`, the country code and number, at most 15 digits.
pub fn is_phone_number(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (8..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0')
}

/// A plain `local@domain.tld` address; display names and comments are not accepted.
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    let ok_chars = |x: &str| {
        !x.is_empty()
            && x.chars()
                .all(|c| !c.is_whitespace() && !c.is_control() && !"<>(),;:\"[]\\@".contains(c))
    };
    ok_chars(local)
        && ok_chars(domain)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain.split('.').all(|l| !l.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_and_emails() {
        assert!(is_phone_number("+12065550100"));
        assert!(!is_phone_number("12065550100"));
        assert!(!is_phone_number("+1206555010x"));
        assert!(!is_phone_number("+1234"));
        assert!(is_email("oncall@example.com"));
        assert!(is_email("a.b+c@mail.example.co.uk"));
        assert!(!is_email("oncall@example"));
        assert!(!is_email("Oncall <o@example.com>"));
        assert!(!is_email("@example.com"));
        assert!(!is_email("a@b..com"));
    }
}
