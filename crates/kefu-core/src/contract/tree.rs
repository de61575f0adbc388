//! A TOML tree that remembers where every key and value came from (file and
//! byte range), so that an amendment merged over the base contract still
//! points at its own file when one of its values is wrong.

use toml::de::{DeTable, DeValue};

use super::source::{FileId, Loc, Report};

#[derive(Clone, Debug)]
pub(crate) enum Value {
    Str(String),
    Int(i64),
    /// Floats are kept as their source text: money and percentages must not be floats,
    /// and the reader says so.
    Float(String),
    Bool(bool),
    Date(jiff::civil::Date),
    /// A TOML time or date-time where kefu expects none; kept as text for messages.
    OtherDatetime(String),
    Array(Vec<Node>),
    Table(Table),
}

impl Value {
    pub(crate) fn kind_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "a string",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Bool(_) => "a boolean",
            Value::Date(_) => "a date",
            Value::OtherDatetime(_) => "a date-time",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub(crate) value: Value,
    pub(crate) loc: Loc,
}

#[derive(Clone, Debug)]
pub(crate) struct Key {
    pub(crate) name: String,
    pub(crate) loc: Loc,
}

/// Entries in source order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Table {
    pub(crate) entries: Vec<(Key, Node)>,
}

impl Table {
    pub(crate) fn get(&self, name: &str) -> Option<&(Key, Node)> {
        self.entries.iter().find(|(k, _)| k.name == name)
    }

    /// The node at a dotted path.
    pub(crate) fn lookup(&self, path: &str) -> Option<&Node> {
        let (head, rest) = path
            .split_once('.')
            .map_or((path, None), |(h, r)| (h, Some(r)));
        let (_, node) = self.get(head)?;
        match (rest, &node.value) {
            (None, _) => Some(node),
            (Some(rest), Value::Table(t)) => t.lookup(rest),
            _ => None,
        }
    }

    /// Removes the entry at a dotted path; `None` when there is none.
    pub(crate) fn remove_path(&mut self, path: &str) -> Option<Node> {
        let (head, rest) = path
            .split_once('.')
            .map_or((path, None), |(h, r)| (h, Some(r)));
        match rest {
            None => {
                let i = self.entries.iter().position(|(k, _)| k.name == head)?;
                Some(self.entries.remove(i).1)
            }
            Some(rest) => match self.get_mut(head) {
                Some((
                    _,
                    Node {
                        value: Value::Table(t),
                        ..
                    },
                )) => t.remove_path(rest),
                _ => None,
            },
        }
    }

    /// Dotted paths of the arrays of tables in this tree (e.g. `penalties`).
    pub(crate) fn array_tables(&self, prefix: &str) -> Vec<(String, Loc)> {
        let mut out = Vec::new();
        for (k, n) in &self.entries {
            let path = join(prefix, &k.name);
            match &n.value {
                Value::Table(t) => out.extend(t.array_tables(&path)),
                Value::Array(items) if items.iter().any(|i| matches!(i.value, Value::Table(_))) => {
                    out.push((path, n.loc));
                }
                _ => {}
            }
        }
        out
    }

    fn get_mut(&mut self, name: &str) -> Option<&mut (Key, Node)> {
        self.entries.iter_mut().find(|(k, _)| k.name == name)
    }

    /// Lay `overlay` over `self`: tables merge key by key, any other value
    /// replaces what was there. Returns the dotted paths of the leaves set.
    pub(crate) fn merge(
        &mut self,
        overlay: &Table,
        prefix: &str,
        changed: &mut Vec<(String, Loc)>,
    ) {
        for (key, node) in &overlay.entries {
            let path = join(prefix, &key.name);
            match (self.get_mut(&key.name), &node.value) {
                (
                    Some((
                        _,
                        Node {
                            value: Value::Table(base),
                            ..
                        },
                    )),
                    Value::Table(over),
                ) => {
                    base.merge(over, &path, changed);
                }
                (Some(slot), _) => {
                    collect_leaves(node, &path, changed);
                    slot.1 = node.clone();
                }
                (None, _) => {
                    collect_leaves(node, &path, changed);
                    self.entries.push((key.clone(), node.clone()));
                }
            }
        }
    }
}

fn collect_leaves(node: &Node, path: &str, out: &mut Vec<(String, Loc)>) {
    match &node.value {
        Value::Table(t) if !t.entries.is_empty() => {
            for (k, n) in &t.entries {
                collect_leaves(n, &join(path, &k.name), out);
            }
        }
        _ => out.push((path.to_string(), node.loc)),
    }
}

pub(crate) fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

/// Parse a TOML document into a located tree. Syntax errors are reported
/// (all the parser could find) and `None` is returned when there were any.
pub(crate) fn parse_document(file: FileId, text: &str, report: &mut Report<'_>) -> Option<Table> {
    let (doc, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        for e in errors {
            let span = e.span().unwrap_or(0..0);
            let message = e.message().trim().replace('\n', " ");
            report.error(
                Loc::new(file, span),
                "",
                format!("TOML syntax error: {message}"),
            );
        }
        return None;
    }
    Some(convert_table(file, doc.into_inner()))
}

fn convert_table(file: FileId, table: DeTable<'_>) -> Table {
    let mut entries = Vec::with_capacity(table.len());
    for (k, v) in table {
        let key = Key {
            loc: Loc::new(file, k.span()),
            name: k.into_inner().into_owned(),
        };
        entries.push((key, convert_value(file, v)));
    }
    Table { entries }
}

fn convert_value(file: FileId, v: toml::Spanned<DeValue<'_>>) -> Node {
    let span = v.span();
    let loc = Loc::new(file, span.clone());
    let value = match v.into_inner() {
        DeValue::String(s) => Value::Str(s.into_owned()),
        DeValue::Integer(i) => {
            let digits: String = i.as_str().chars().filter(|c| *c != '_').collect();
            let (sign, body) = match digits.strip_prefix('-') {
                Some(rest) => (-1i64, rest.to_string()),
                None => (1, digits.trim_start_matches('+').to_string()),
            };
            let body = body
                .trim_start_matches("0x")
                .trim_start_matches("0o")
                .trim_start_matches("0b")
                .to_string();
            match i64::from_str_radix(&body, i.radix()) {
                Ok(n) => Value::Int(sign * n),
                Err(_) => Value::Float(i.as_str().to_string()),
            }
        }
        DeValue::Float(f) => Value::Float(f.as_str().to_string()),
        DeValue::Boolean(b) => Value::Bool(b),
        DeValue::Datetime(dt) => match (dt.date, dt.time, dt.offset) {
            (Some(d), None, None) => {
                match jiff::civil::Date::new(
                    i16::try_from(d.year).unwrap_or(i16::MAX),
                    i8::try_from(d.month).unwrap_or(0),
                    i8::try_from(d.day).unwrap_or(0),
                ) {
                    Ok(date) => Value::Date(date),
                    Err(_) => Value::OtherDatetime(dt.to_string()),
                }
            }
            _ => Value::OtherDatetime(dt.to_string()),
        },
        DeValue::Array(a) => Value::Array(a.into_iter().map(|e| convert_value(file, e)).collect()),
        DeValue::Table(t) => Value::Table(convert_table(file, t)),
    };
    Node { value, loc }
}
