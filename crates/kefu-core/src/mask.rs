//! Masking customer data for display (clause 5.x): a phone number keeps the
//! first three and last four digits of the subscriber number, like 138****5678.

/// Masks a phone number: the digits of the subscriber part are shown as
/// `138****5678`; a country prefix (`+86`, `0086`) is kept as written; short
/// numbers keep only their last two digits. Characters other than digits and
/// a leading `+` are dropped.
pub fn mask_phone(number: &str) -> String {
    let trimmed = number.trim();
    let plus = trimmed.starts_with('+');
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    let (prefix, subscriber) = if plus && digits.starts_with("86") && digits.len() > 11 {
        ("+86 ", &digits[2..])
    } else if digits.starts_with("0086") && digits.len() > 12 {
        ("0086 ", &digits[4..])
    } else if plus {
        ("+", digits.as_str())
    } else {
        ("", digits.as_str())
    };
    let n = subscriber.len();
    let masked = if n >= 11 {
        format!(
            "{}{}{}",
            &subscriber[..3],
            "*".repeat(n - 7),
            &subscriber[n - 4..]
        )
    } else if n >= 7 {
        format!("{}{}", "*".repeat(n - 4), &subscriber[n - 4..])
    } else if n > 2 {
        format!("{}{}", "*".repeat(n - 2), &subscriber[n - 2..])
    } else {
        "*".repeat(n.max(1))
    };
    format!("{prefix}{masked}")
}

/// Masks an email address: the first character of the local part stays, the rest is
/// starred, the domain stays (`w***@example.com`). Without an `@` the whole text is starred.
pub fn mask_email(address: &str) -> String {
    let a = address.trim();
    match a.rsplit_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}***@{domain}")
        }
        None => "*".repeat(a.chars().count().min(8)),
    }
}

/// Masks a person's name: the first character stays (in Chinese names, the family name),
/// the rest become one star each, at most three (`王**`, `J***`).
pub fn mask_name(name: &str) -> String {
    let n = name.trim();
    let mut chars = n.chars();
    match chars.next() {
        Some(first) => {
            let rest = chars.count().clamp(1, 3);
            format!("{first}{}", "*".repeat(rest))
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::{mask_email, mask_name, mask_phone};

    #[test]
    fn emails_and_names_keep_only_their_first_character() {
        let cases = [
            (mask_email("wang.li@example.com"), "w***@example.com"),
            (mask_email("a@b.cn"), "a***@b.cn"),
            (mask_email("no-at-sign"), "********"),
            (mask_name("王小明"), "王**"),
            (mask_name("王"), "王*"),
            (mask_name("Jonathan Smith"), "J***"),
            (mask_name("  "), ""),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }

    #[test]
    fn phone_numbers_are_masked_as_users_expect() {
        let table = [
            ("13812345678", "138****5678"),
            ("138 1234 5678", "138****5678"),
            ("+8613812345678", "+86 138****5678"),
            ("008613812345678", "0086 138****5678"),
            ("020-38886600", "020****6600"),
            ("3888660", "***8660"),
            ("12345", "***45"),
            ("", "*"),
        ];
        for (number, shown) in table {
            assert_eq!(mask_phone(number), shown, "{number}");
        }
    }

    proptest::proptest! {
        #[test]
        fn a_masked_number_never_shows_more_than_seven_digits(n in "\\\\+?[0-9]{0,20}") {
            let shown = mask_phone(&n);
            let visible = shown.chars().filter(char::is_ascii_digit).count();
            proptest::prop_assert!(visible <= 7 + 4, "{shown}");
            let digits: String = n.chars().filter(char::is_ascii_digit).collect();
            if digits.len() >= 11 {
                proptest::prop_assert!(shown.contains("****"), "{shown}");
            }
        }
    }
}
