//! Quantities with units, parsed strictly: a duration always carries its unit
//! (`"5s"`, `"3min"`, `"24h"`, `"90d"`) so a typo cannot change a target by
//! 60×; percentages carry `%`; money is a decimal string, never a float.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;

/// A non-negative span of time, exact to the millisecond.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration {
    millis: u64,
}

const UNITS: [(&str, u64); 5] = [
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("min", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

impl Duration {
    pub const ZERO: Duration = Duration { millis: 0 };

    pub const fn from_millis(millis: u64) -> Duration {
        Duration { millis }
    }
    pub const fn from_secs(secs: u64) -> Duration {
        Duration {
            millis: secs * 1000,
        }
    }
    pub const fn as_millis(self) -> u64 {
        self.millis
    }
    pub fn is_zero(self) -> bool {
        self.millis == 0
    }
    pub fn to_signed(self) -> jiff::SignedDuration {
        jiff::SignedDuration::from_millis(i64::try_from(self.millis).unwrap_or(i64::MAX))
    }
}

/// Why a duration text was refused; the message says what is accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("a duration needs a unit: write \"{0}s\", \"{0}min\", \"{0}h\" or \"{0}d\"")]
    MissingUnit(String),
    #[error("\"m\" is ambiguous (minutes or months?): write \"{0}min\" for minutes")]
    AmbiguousMinutes(String),
    #[error("unknown unit \"{0}\"; use ms, s, min, h or d")]
    UnknownUnit(String),
    #[error("expected a whole number before the unit, like \"5s\" or \"24h\"")]
    BadNumber,
    #[error("duration is too long")]
    TooLong,
}

impl FromStr for Duration {
    type Err = DurationError;
    fn from_str(s: &str) -> Result<Duration, DurationError> {
        let s = s.trim();
        let split = s
            .find(|c: char| !(c.is_ascii_digit() || c == '_'))
            .unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let unit = unit.trim();
        if num.is_empty() {
            return Err(DurationError::BadNumber);
        }
        let n: u64 = num
            .replace('_', "")
            .parse()
            .map_err(|_| DurationError::TooLong)?;
        if unit.is_empty() {
            return Err(DurationError::MissingUnit(num.to_string()));
        }
        let factor = match unit {
            "ms" => 1,
            "s" | "sec" => 1_000,
            "min" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "m" => return Err(DurationError::AmbiguousMinutes(num.to_string())),
            u if u.starts_with('.') => return Err(DurationError::BadNumber),
            u => return Err(DurationError::UnknownUnit(u.to_string())),
        };
        n.checked_mul(factor)
            .map(Duration::from_millis)
            .ok_or(DurationError::TooLong)
    }
}

impl fmt::Display for Duration {
    /// The largest unit that expresses the value exactly: 90 s → "90s", 3 600 000 ms → "1h".
    /// Days only from a week on, because contracts say "24 小时", not "1 天".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.millis == 0 {
            return f.write_str("0s");
        }
        for (unit, factor) in UNITS {
            if unit == "d" && self.millis < 7 * factor {
                continue;
            }
            if self.millis.is_multiple_of(factor) {
                return write!(f, "{}{unit}", self.millis / factor);
            }
        }
        write!(f, "{}ms", self.millis)
    }
}

impl serde::Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A percentage, exact: `"95%"` is 95, `"99.5%"` is 99.5.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Percent(Decimal);

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PercentError {
    #[error("a percentage needs the % sign, like \"95%\"")]
    MissingSign,
    #[error("expected a decimal number before %, like \"95%\" or \"99.5%\"")]
    BadNumber,
}

impl Percent {
    pub fn from_points(points: Decimal) -> Percent {
        Percent(points)
    }
    /// The value in percentage points (95 for 95%).
    pub fn points(self) -> Decimal {
        self.0
    }
    /// The value as a fraction (0.95 for 95%).
    pub fn fraction(self) -> Decimal {
        self.0 / Decimal::ONE_HUNDRED
    }
}

impl FromStr for Percent {
    type Err = PercentError;
    fn from_str(s: &str) -> Result<Percent, PercentError> {
        let body = s
            .trim()
            .strip_suffix('%')
            .ok_or(PercentError::MissingSign)?;
        let d = Decimal::from_str_exact(body.trim()).map_err(|_| PercentError::BadNumber)?;
        Ok(Percent(d.normalize()))
    }
}

impl fmt::Display for Percent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}%", self.0.normalize())
    }
}

impl serde::Serialize for Percent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An exact decimal amount of money or a rate per unit, written as a string ("0.60").
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Amount(Decimal);

impl Amount {
    pub fn new(d: Decimal) -> Amount {
        Amount(d)
    }
    pub fn value(self) -> Decimal {
        self.0
    }
}

impl FromStr for Amount {
    type Err = ();
    fn from_str(s: &str) -> Result<Amount, ()> {
        let s = s.trim();
        if s.is_empty() || s.contains(['e', 'E']) {
            return Err(());
        }
        Decimal::from_str_exact(s).map(Amount).map_err(|_| ())
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl serde::Serialize for Amount {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_their_unit_and_print_back() {
        let table = [
            ("5s", 5_000, "5s"),
            ("3min", 180_000, "3min"),
            ("24h", 86_400_000, "24h"),
            ("7d", 604_800_000, "7d"),
            ("48h", 172_800_000, "48h"),
            ("90d", 7_776_000_000, "90d"),
            ("90s", 90_000, "90s"),
            ("1500ms", 1_500, "1500ms"),
            ("0s", 0, "0s"),
            (" 30min ", 1_800_000, "30min"),
        ];
        for (text, millis, shown) in table {
            let d: Duration = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(d.as_millis(), millis, "{text}");
            assert_eq!(d.to_string(), shown, "{text}");
        }
    }

    #[test]
    fn durations_without_a_clear_unit_are_refused() {
        let table = [
            ("5", DurationError::MissingUnit("5".into())),
            ("5m", DurationError::AmbiguousMinutes("5".into())),
            ("5 weeks", DurationError::UnknownUnit("weeks".into())),
            ("s", DurationError::BadNumber),
            ("1.5h", DurationError::BadNumber),
            ("-5s", DurationError::BadNumber),
        ];
        for (text, err) in table {
            assert_eq!(text.parse::<Duration>(), Err(err), "{text}");
        }
    }

    #[test]
    fn percentages_are_exact_decimals() {
        let p: Percent = "99.5%".parse().expect("parses");
        assert_eq!(p.points(), Decimal::new(995, 1));
        assert_eq!(p.fraction(), Decimal::new(995, 3));
        assert_eq!(p.to_string(), "99.5%");
        assert_eq!("95".parse::<Percent>(), Err(PercentError::MissingSign));
        assert_eq!("abc%".parse::<Percent>(), Err(PercentError::BadNumber));
    }

    proptest::proptest! {
        #[test]
        fn a_duration_prints_as_text_that_parses_back_to_it(millis in 0u64..=400 * 86_400_000) {
            let d = Duration::from_millis(millis);
            proptest::prop_assert_eq!(d.to_string().parse::<Duration>(), Ok(d));
        }

        #[test]
        fn a_percentage_prints_as_text_that_parses_back_to_it(units in 0i64..=1_000_000, scale in 0u32..=4) {
            let p = Percent::from_points(Decimal::new(units, scale));
            let back: Percent = p.to_string().parse().map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e}")))?;
            proptest::prop_assert_eq!(back.points(), p.points());
        }
    }

    #[test]
    fn amounts_are_exact_and_refuse_exponents() {
        let a: Amount = "0.60".parse().expect("parses");
        assert_eq!(a.value(), Decimal::new(60, 2));
        assert!("1e3".parse::<Amount>().is_err());
        assert!("".parse::<Amount>().is_err());
    }
}
