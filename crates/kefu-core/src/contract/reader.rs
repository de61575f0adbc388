//! Reading a located TOML table into typed values. Each getter records the
//! key it asked for; `finish` then reports every key nobody asked for as
//! unknown, with a "did you mean" drawn from the keys that were asked for.
//! Errors are collected, never returned early, so one run reports them all.

use std::cell::RefCell;
use std::str::FromStr;

use super::source::{Loc, Report};
use super::tree::{Node, Table, Value, join};
use super::units::{Amount, Duration, Percent};

/// A table being read. `loc` is where the table starts (for "missing key" errors).
pub(crate) struct Obj<'t> {
    table: &'t Table,
    pub(crate) path: String,
    pub(crate) loc: Loc,
    asked: RefCell<Vec<&'static str>>,
}

impl<'t> Obj<'t> {
    pub(crate) fn new(table: &'t Table, path: impl Into<String>, loc: Loc) -> Obj<'t> {
        Obj {
            table,
            path: path.into(),
            loc,
            asked: RefCell::new(Vec::new()),
        }
    }

    pub(crate) fn key_path(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// The raw node of a key, recording that the key is known.
    pub(crate) fn node(&self, key: &'static str) -> Option<&'t Node> {
        self.asked.borrow_mut().push(key);
        self.table.get(key).map(|(_, n)| n)
    }

    /// Every key in the table that no getter asked for is an error.
    pub(crate) fn finish(self, r: &mut Report<'_>) {
        let asked = self.asked.into_inner();
        for (key, _) in &self.table.entries {
            if asked.contains(&key.name.as_str()) {
                continue;
            }
            let mut message = format!("unknown key `{}`", key.name);
            if let Some(best) = did_you_mean(&key.name, &asked) {
                message.push_str(&format!(" (did you mean `{best}`?)"));
            } else if !asked.is_empty() {
                let mut known: Vec<&str> = asked.clone();
                known.sort_unstable();
                known.dedup();
                message.push_str(&format!("; known keys here: {}", known.join(", ")));
            }
            r.error(key.loc, &join(&self.path, &key.name), message);
        }
    }

    fn missing(&self, r: &mut Report<'_>, key: &str, what: &str) {
        r.error(
            self.loc,
            &self.key_path(key),
            format!("missing key `{key}` ({what})"),
        );
    }

    /// A required value read by `read`; `what` describes the expected value for messages.
    pub(crate) fn req<T>(
        &self,
        r: &mut Report<'_>,
        key: &'static str,
        what: &str,
        read: impl FnOnce(&mut Report<'_>, &Node, &str) -> Option<T>,
    ) -> Option<T> {
        match self.node(key) {
            Some(n) => read(r, n, &self.key_path(key)),
            None => {
                self.missing(r, key, what);
                None
            }
        }
    }

    pub(crate) fn opt<T>(
        &self,
        r: &mut Report<'_>,
        key: &'static str,
        read: impl FnOnce(&mut Report<'_>, &Node, &str) -> Option<T>,
    ) -> Option<T> {
        self.node(key).and_then(|n| read(r, n, &self.key_path(key)))
    }

    pub(crate) fn req_str(
        &self,
        r: &mut Report<'_>,
        key: &'static str,
        what: &str,
    ) -> Option<String> {
        self.req(r, key, what, |r, n, p| string(r, n, p, what))
    }

    pub(crate) fn opt_str(
        &self,
        r: &mut Report<'_>,
        key: &'static str,
        what: &str,
    ) -> Option<String> {
        self.opt(r, key, |r, n, p| string(r, n, p, what))
    }

    pub(crate) fn req_table(
        &self,
        r: &mut Report<'_>,
        key: &'static str,
        what: &str,
    ) -> Option<Obj<'t>> {
        let path = self.key_path(key);
        match self.node(key) {
            Some(n) => table(r, n, &path, what).map(|(t, loc)| Obj::new(t, path, loc)),
            None => {
                self.missing(r, key, what);
                None
            }
        }
    }

    pub(crate) fn opt_table(
        &self,
        r: &mut Report<'_>,
        key: &'static str,
        what: &str,
    ) -> Option<Obj<'t>> {
        let path = self.key_path(key);
        let n = self.node(key)?;
        table(r, n, &path, what).map(|(t, loc)| Obj::new(t, path, loc))
    }

    /// The entries of this table whose keys are free-form (e.g. channel names), as sub-tables.
    pub(crate) fn entries(&self) -> impl Iterator<Item = (&'t super::tree::Key, &'t Node)> {
        self.table.entries.iter().map(|(k, n)| (k, n))
    }
}

/// The best close match among `candidates`, if any is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (strsim::jaro_winkler(word, c), *c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

pub(crate) fn string(r: &mut Report<'_>, n: &Node, path: &str, what: &str) -> Option<String> {
    match &n.value {
        Value::Str(s) if s.trim().is_empty() => {
            r.error(
                n.loc,
                path,
                format!("expected {what}, found an empty string"),
            );
            None
        }
        Value::Str(s) => match s
            .chars()
            .find(|c| c.is_control() && *c != '\n' && *c != '\t')
        {
            // NUL and friends cannot be stored in PostgreSQL text and are never meant.
            Some(c) => {
                r.error(
                    n.loc,
                    path,
                    format!(
                        "expected {what}, found a control character U+{:04X} in the text",
                        u32::from(c)
                    ),
                );
                None
            }
            None => Some(s.clone()),
        },
        _ => {
            r.expected(n.loc, path, what);
            None
        }
    }
}

pub(crate) fn table<'n>(
    r: &mut Report<'_>,
    n: &'n Node,
    path: &str,
    what: &str,
) -> Option<(&'n Table, Loc)> {
    match &n.value {
        Value::Table(t) => Some((t, n.loc)),
        _ => {
            r.expected(n.loc, path, what);
            None
        }
    }
}

pub(crate) fn boolean(r: &mut Report<'_>, n: &Node, path: &str) -> Option<bool> {
    match n.value {
        Value::Bool(b) => Some(b),
        _ => {
            r.expected(n.loc, path, "true or false");
            None
        }
    }
}

pub(crate) fn integer(
    r: &mut Report<'_>,
    n: &Node,
    path: &str,
    min: i64,
    max: i64,
    what: &str,
) -> Option<i64> {
    match n.value {
        Value::Int(i) if (min..=max).contains(&i) => Some(i),
        Value::Int(_) => {
            r.expected(n.loc, path, &format!("{what} from {min} to {max}"));
            None
        }
        _ => {
            r.expected(
                n.loc,
                path,
                &format!("{what}, a whole number from {min} to {max}"),
            );
            None
        }
    }
}

pub(crate) fn date(r: &mut Report<'_>, n: &Node, path: &str) -> Option<jiff::civil::Date> {
    match &n.value {
        Value::Date(d) => Some(*d),
        Value::Str(s) => match jiff::civil::Date::from_str(s) {
            Ok(d) => Some(d),
            Err(_) => {
                r.expected(n.loc, path, "a date like 2026-01-01");
                None
            }
        },
        _ => {
            r.expected(n.loc, path, "a date like 2026-01-01");
            None
        }
    }
}

pub(crate) fn duration(r: &mut Report<'_>, n: &Node, path: &str) -> Option<Duration> {
    match &n.value {
        Value::Str(s) => match s.parse::<Duration>() {
            Ok(d) => Some(d),
            Err(e) => {
                r.error(n.loc, path, format!("expected a duration with a unit like \"5s\", \"3min\", \"24h\", found \"{s}\": {e}"));
                None
            }
        },
        Value::Int(i) => {
            r.error(
                n.loc,
                path,
                format!("expected a duration with a unit like \"{i}s\" or \"{i}min\", found the bare number {i}: without a unit a target could silently change by 60×"),
            );
            None
        }
        _ => {
            r.expected(
                n.loc,
                path,
                "a duration with a unit like \"5s\", \"3min\", \"24h\"",
            );
            None
        }
    }
}

/// A percentage from 0% to 100%.
pub(crate) fn percent(r: &mut Report<'_>, n: &Node, path: &str) -> Option<Percent> {
    let found = match &n.value {
        Value::Str(s) => match s.parse::<Percent>() {
            Ok(p)
                if p.points() >= rust_decimal::Decimal::ZERO
                    && p.points() <= rust_decimal::Decimal::ONE_HUNDRED =>
            {
                return Some(p);
            }
            Ok(p) => format!("{p}, which is outside 0%–100%"),
            Err(e) => format!("\"{s}\" ({e})"),
        },
        Value::Float(f) | Value::OtherDatetime(f) => {
            format!("the number {f}; write percentages as strings with a % sign so they stay exact")
        }
        Value::Int(i) => {
            format!("the number {i}; write percentages as strings with a % sign, like \"{i}%\"")
        }
        other => other.kind_name().to_string(),
    };
    r.error(
        n.loc,
        path,
        format!("expected a percentage from 0% to 100% like \"95%\", found {found}"),
    );
    None
}

/// A non-negative exact decimal written as a string, e.g. a rate "0.60".
pub(crate) fn amount(r: &mut Report<'_>, n: &Node, path: &str) -> Option<Amount> {
    let found = match &n.value {
        Value::Str(s) => match s.parse::<Amount>() {
            Ok(a) if a.value() >= rust_decimal::Decimal::ZERO => return Some(a),
            Ok(a) => format!("{a}, which is negative"),
            Err(()) => format!("\"{s}\""),
        },
        Value::Float(f) => {
            format!("the float {f}; write money as a string, like \"{f}\", so it stays exact")
        }
        Value::Int(i) => {
            format!("the number {i}; write money as a string, like \"{i}.00\", so it stays exact")
        }
        other => other.kind_name().to_string(),
    };
    r.error(
        n.loc,
        path,
        format!("expected an amount as a decimal string like \"0.60\", found {found}"),
    );
    None
}

/// One of a fixed set of names; an unknown one gets a "did you mean".
pub(crate) fn one_of<T: Copy>(
    r: &mut Report<'_>,
    n: &Node,
    path: &str,
    choices: &[(&'static str, T)],
) -> Option<T> {
    let names: Vec<&'static str> = choices.iter().map(|(s, _)| *s).collect();
    match &n.value {
        Value::Str(s) => {
            if let Some((_, v)) = choices.iter().find(|(name, _)| name == s) {
                return Some(*v);
            }
            let hint = did_you_mean(s, &names)
                .map(|b| format!(" (did you mean \"{b}\"?)"))
                .unwrap_or_default();
            r.error(
                n.loc,
                path,
                format!(
                    "expected one of {}, found \"{s}\"{hint}",
                    quote_list(&names)
                ),
            );
            None
        }
        _ => {
            r.expected(n.loc, path, &format!("one of {}", quote_list(&names)));
            None
        }
    }
}

pub(crate) fn quote_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An array whose items are each read by `item`.
pub(crate) fn array<T>(
    r: &mut Report<'_>,
    n: &Node,
    path: &str,
    what: &str,
    mut item: impl FnMut(&mut Report<'_>, &Node, &str) -> Option<T>,
) -> Option<Vec<T>> {
    match &n.value {
        Value::Array(items) => {
            let before = r.error_count();
            let out: Vec<T> = items
                .iter()
                .enumerate()
                .filter_map(|(i, it)| item(r, it, &format!("{path}[{i}]")))
                .collect();
            (r.error_count() == before).then_some(out)
        }
        _ => {
            r.expected(n.loc, path, what);
            None
        }
    }
}
