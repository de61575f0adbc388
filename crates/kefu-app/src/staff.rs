//! Staff records in bulk: importing certificates, trainings, assessments, NDAs and profiles
//! from CSV (a bad row is reported with file:line, column and value and the good rows are
//! kept; importing the same file again adds nothing), and gathering a month's trainings and
//! assessments for the training-records document (附件6).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use jiff::civil::Date;
use kefu_core::staff_policy::{Assessment, Certificate, Nda, Training};
use kefu_store::staff::{PeriodRecord, StaffProfile, StoredAssessment, StoredTraining};
use kefu_store::{Store, StoreError, UserId};

use crate::AppError;

/// What a CSV file holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsvKind {
    Certificates,
    Trainings,
    Assessments,
    Ndas,
    Profiles,
}

impl CsvKind {
    /// Columns that must be present in the header, then the optional ones.
    fn columns(self) -> (&'static [&'static str], &'static [&'static str]) {
        match self {
            CsvKind::Certificates => (
                &["username", "name", "number"],
                &["issued_on", "expires_on"],
            ),
            CsvKind::Trainings => (
                &["username", "course", "held_on"],
                &["hours", "minutes", "trainer", "result"],
            ),
            CsvKind::Assessments => (&["username", "held_on", "score"], &["title", "pass_score"]),
            CsvKind::Ndas => (&["username", "signed_on"], &["document_sha256"]),
            CsvKind::Profiles => (
                &["username"],
                &[
                    "employee_no",
                    "hired_on",
                    "education",
                    "notes",
                    "id_number",
                    "skills_phone",
                    "skills_chat",
                    "skills_email",
                    "skills_onsite",
                ],
            ),
        }
    }
}

/// One rejected row (or the header): where, which column, what value, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowError {
    pub file: String,
    pub line: usize,
    pub column: String,
    pub value: String,
    pub message: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: column `{}` = {:?}: {}",
            self.file, self.line, self.column, self.value, self.message
        )
    }
}

/// What an import did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Data rows read (blank lines not counted).
    pub rows: usize,
    /// Records added (profiles: saved).
    pub added: usize,
    /// Rows whose record was there already (same natural key): left as they were.
    pub unchanged: usize,
    pub errors: Vec<RowError>,
}

/// A CSV record: the line it starts on and its fields.
pub type CsvRecord = (usize, Vec<String>);

/// Splits CSV text (RFC 4180: quoted fields, `""` inside quotes, CRLF or LF) into records,
/// each with the line it starts on. A UTF-8 BOM is ignored. Blank lines are skipped.
pub fn parse_csv(text: &str) -> Result<Vec<CsvRecord>, (usize, String)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut line = 1usize;
    let mut start = 1usize;
    let mut in_quotes = false;
    let mut quoted_field = false;
    let mut chars = text.chars().peekable();
    let end_record = |fields: &mut Vec<String>, records: &mut Vec<_>, start: usize| {
        let rec = std::mem::take(fields);
        if !(rec.len() == 1 && rec[0].is_empty()) {
            records.push((start, rec));
        }
    };
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !quoted_field => {
                in_quotes = true;
                quoted_field = true;
            }
            '"' => {
                return Err((
                    line,
                    "a quote inside an unquoted field (quote the whole field and double the quote)"
                        .to_owned(),
                ));
            }
            ',' => {
                fields.push(std::mem::take(&mut field));
                quoted_field = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                quoted_field = false;
                end_record(&mut fields, &mut records, start);
                line += 1;
                start = line;
            }
            _ => field.push(c),
        }
    }
    if in_quotes {
        return Err((start, "a quoted field is not closed".to_owned()));
    }
    if !field.is_empty() || !fields.is_empty() || quoted_field {
        fields.push(field);
        end_record(&mut fields, &mut records, start);
    }
    Ok(records)
}

/// A day `YYYY-MM-DD`.
fn parse_day(v: &str) -> Result<Date, String> {
    v.parse::<Date>()
        .map_err(|_| "expected a day as YYYY-MM-DD".to_owned())
}

/// Hours as decimal text ("1.5", "2", "0.25") to whole minutes, exactly (no floating point).
pub fn hours_to_minutes(v: &str) -> Result<u32, String> {
    let bad = || "expected hours such as 2 or 1.5 (whole minutes)".to_owned();
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 6
    {
        return Err(bad());
    }
    let whole: u64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let scale = 10u64.pow(u32::try_from(frac.len()).map_err(|_| bad())?);
    let frac_n: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| bad())?
    };
    // minutes = (whole + frac_n/scale) * 60, which must be whole.
    let num = frac_n * 60;
    if !num.is_multiple_of(scale) {
        return Err(format!("{v} hours is not a whole number of minutes"));
    }
    let minutes = whole
        .checked_mul(60)
        .and_then(|m| m.checked_add(num / scale))
        .ok_or_else(bad)?;
    u32::try_from(minutes).map_err(|_| bad())
}

fn parse_score(v: &str) -> Result<u8, String> {
    v.parse::<u8>()
        .ok()
        .filter(|s| *s <= 100)
        .ok_or_else(|| "expected a whole score from 0 to 100".to_owned())
}

struct Row<'a> {
    file: &'a str,
    line: usize,
    header: &'a HashMap<String, usize>,
    fields: &'a [String],
}

impl Row<'_> {
    fn get(&self, column: &str) -> Option<&str> {
        self.header
            .get(column)
            .and_then(|i| self.fields.get(*i))
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
    }
    fn error(&self, column: &str, message: impl Into<String>) -> RowError {
        RowError {
            file: self.file.to_owned(),
            line: self.line,
            column: column.to_owned(),
            value: self.get(column).unwrap_or("").to_owned(),
            message: message.into(),
        }
    }
    fn required(&self, column: &str) -> Result<&str, RowError> {
        self.get(column)
            .ok_or_else(|| self.error(column, "required, found empty"))
    }
    fn parsed<T>(
        &self,
        column: &str,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, RowError> {
        self.get(column)
            .map(|v| parse(v).map_err(|m| self.error(column, m)))
            .transpose()
    }
    fn owned(&self, column: &str) -> Option<String> {
        self.get(column).map(str::to_owned)
    }
}

/// Imports `text` (the contents of `file`, named in errors) as records of `kind`.
/// `default_pass_score` is used for assessments without a `pass_score` column value (the
/// contract's pass mark). Rows are independent: each good row is stored, each bad one reported.
pub async fn import_csv(
    store: &Store,
    kind: CsvKind,
    file: &str,
    text: &str,
    default_pass_score: Option<u8>,
) -> Result<ImportSummary, AppError> {
    let records =
        parse_csv(text).map_err(|(line, m)| AppError::User(format!("{file}:{line}: {m}")))?;
    let mut it = records.into_iter();
    let Some((hline, names)) = it.next() else {
        return Err(AppError::User(format!(
            "{file}: empty file, expected a header row"
        )));
    };
    let (required, optional) = kind.columns();
    let mut header = HashMap::new();
    for (i, n) in names.iter().enumerate() {
        let n = n.trim().to_ascii_lowercase();
        if !required.contains(&n.as_str()) && !optional.contains(&n.as_str()) {
            return Err(AppError::User(format!(
                "{file}:{hline}: unknown column `{n}`; expected {} (optional: {})",
                required.join(", "),
                optional.join(", ")
            )));
        }
        header.insert(n, i);
    }
    if let Some(missing) = required.iter().find(|c| !header.contains_key(**c)) {
        return Err(AppError::User(format!(
            "{file}:{hline}: missing column `{missing}`; required: {}",
            required.join(", ")
        )));
    }
    let mut summary = ImportSummary::default();
    let mut users: HashMap<String, Option<UserId>> = HashMap::new();
    for (line, fields) in it {
        summary.rows += 1;
        let row = Row {
            file,
            line,
            header: &header,
            fields: &fields,
        };
        match import_row(store, kind, &row, &mut users, default_pass_score).await {
            Ok(true) => summary.added += 1,
            Ok(false) => summary.unchanged += 1,
            Err(RowFailure::Row(e)) => summary.errors.push(e),
            Err(RowFailure::Store(e)) if e.is_user_error() => {
                summary.errors.push(row.error("-", e.to_string()));
            }
            Err(RowFailure::Store(e)) => return Err(e.into()),
        }
    }
    Ok(summary)
}

enum RowFailure {
    Row(RowError),
    Store(StoreError),
}

impl From<RowError> for RowFailure {
    fn from(e: RowError) -> Self {
        RowFailure::Row(e)
    }
}
impl From<StoreError> for RowFailure {
    fn from(e: StoreError) -> Self {
        RowFailure::Store(e)
    }
}

/// Stores one row; true when something was added (or a profile saved).
async fn import_row(
    store: &Store,
    kind: CsvKind,
    row: &Row<'_>,
    users: &mut HashMap<String, Option<UserId>>,
    default_pass_score: Option<u8>,
) -> Result<bool, RowFailure> {
    let username = row.required("username")?;
    let user = match users.get(username) {
        Some(u) => *u,
        None => {
            let u = store.account_named(username).await?.map(|a| a.id);
            users.insert(username.to_owned(), u);
            u
        }
    };
    let user = user.ok_or_else(|| row.error("username", "no account with this user name"))?;
    Ok(match kind {
        CsvKind::Certificates => {
            let c = Certificate {
                name: row.required("name")?.to_owned(),
                number: row.required("number")?.to_owned(),
                issued_on: row.parsed("issued_on", parse_day)?,
                expires_on: row.parsed("expires_on", parse_day)?,
            };
            if let (Some(i), Some(e)) = (c.issued_on, c.expires_on)
                && e < i
            {
                return Err(row
                    .error("expires_on", format!("before the day it was issued ({i})"))
                    .into());
            }
            store.add_certificate(user, &c, None).await?.inserted
        }
        CsvKind::Trainings => {
            let minutes = match (row.get("minutes"), row.get("hours")) {
                (Some(_), Some(_)) => {
                    return Err(row.error("hours", "give hours or minutes, not both").into());
                }
                (Some(_), None) => row.parsed("minutes", |v| {
                    v.parse::<u32>()
                        .map_err(|_| "expected whole minutes".to_owned())
                })?,
                (None, Some(_)) => row.parsed("hours", hours_to_minutes)?,
                (None, None) => {
                    return Err(row
                        .error("hours", "required (or minutes), found empty")
                        .into());
                }
            }
            .unwrap_or(0);
            let t = Training {
                course: row.required("course")?.to_owned(),
                held_on: row
                    .parsed("held_on", parse_day)?
                    .ok_or_else(|| row.error("held_on", "required, found empty"))?,
                minutes,
                trainer: row.owned("trainer"),
                result: row.owned("result"),
            };
            store.add_training(user, &t).await?.inserted
        }
        CsvKind::Assessments => {
            let pass_score = row
                .parsed("pass_score", parse_score)?
                .or(default_pass_score)
                .ok_or_else(|| {
                    row.error(
                        "pass_score",
                        "required when no contract gives the pass mark",
                    )
                })?;
            let a = Assessment {
                held_on: row
                    .parsed("held_on", parse_day)?
                    .ok_or_else(|| row.error("held_on", "required, found empty"))?,
                title: row.owned("title").unwrap_or_default(),
                score: row
                    .parsed("score", parse_score)?
                    .ok_or_else(|| row.error("score", "required, found empty"))?,
                pass_score,
            };
            store.add_assessment(user, &a).await?.inserted
        }
        CsvKind::Ndas => {
            let sha = row.parsed("document_sha256", |v| {
                if v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
                    Ok(v.to_ascii_lowercase())
                } else {
                    Err("expected a SHA-256 as 64 hex digits".to_owned())
                }
            })?;
            let n = Nda {
                signed_on: row
                    .parsed("signed_on", parse_day)?
                    .ok_or_else(|| row.error("signed_on", "required, found empty"))?,
                document_sha256: sha,
            };
            store.add_nda(user, &n).await?.inserted
        }
        CsvKind::Profiles => {
            let mut skills = BTreeMap::new();
            for ch in ["phone", "chat", "email", "onsite"] {
                if let Some(s) = row.get(&format!("skills_{ch}")) {
                    skills.insert(ch.to_owned(), s.to_owned());
                }
            }
            let p = StaffProfile {
                employee_no: row.owned("employee_no"),
                hired_on: row.parsed("hired_on", parse_day)?,
                education: row.owned("education"),
                notes: row.owned("notes"),
                id_number: row.owned("id_number"),
                skills,
            };
            if store.staff_profile(user).await?.as_ref() == Some(&p) {
                false
            } else {
                store.save_staff_profile(user, &p).await?;
                true
            }
        }
    })
}

/// A month's trainings and assessments, for the training-records document (附件6).
#[derive(Clone, Debug)]
pub struct TrainingPeriod {
    pub first_day: Date,
    pub last_day: Date,
    pub trainings: Vec<PeriodRecord<StoredTraining>>,
    pub assessments: Vec<PeriodRecord<StoredAssessment>>,
}

/// Parses `YYYY-MM` to the month's first and last day.
pub fn month_bounds(period: &str) -> Result<(Date, Date), AppError> {
    let bad = || AppError::User(format!("--period: expected YYYY-MM, found {period:?}"));
    let (y, m) = period.split_once('-').ok_or_else(bad)?;
    let y: i16 = y.parse().map_err(|_| bad())?;
    let m: i8 = m.parse().map_err(|_| bad())?;
    let first = Date::new(y, m, 1).map_err(|_| bad())?;
    Ok((first, first.last_of_month()))
}

pub async fn training_period(store: &Store, period: &str) -> Result<TrainingPeriod, AppError> {
    let (first_day, last_day) = month_bounds(period)?;
    Ok(TrainingPeriod {
        first_day,
        last_day,
        trainings: store.trainings_between(first_day, last_day).await?,
        assessments: store.assessments_between(first_day, last_day).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_newlines_and_line_numbers() {
        let text = "\u{feff}a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\n\n\"two\nlines\",z\nlast,";
        let got = parse_csv(text).expect("parses");
        assert_eq!(
            got,
            vec![
                (1, vec!["a".to_owned(), "b".to_owned()]),
                (2, vec!["x, y".to_owned(), "say \"hi\"".to_owned()]),
                (4, vec!["two\nlines".to_owned(), "z".to_owned()]),
                (6, vec!["last".to_owned(), String::new()]),
            ]
        );
        assert_eq!(parse_csv("a,\"b\n").map_err(|e| e.0), Err(1));
        assert_eq!(parse_csv("a,b\"c\n").map_err(|e| e.0), Err(1));
    }

    #[test]
    fn hours_are_exact_minutes() {
        assert_eq!(hours_to_minutes("2"), Ok(120));
        assert_eq!(hours_to_minutes("1.5"), Ok(90));
        assert_eq!(hours_to_minutes("0.25"), Ok(15));
        assert_eq!(hours_to_minutes(".5"), Ok(30));
        assert!(
            hours_to_minutes("0.01").is_err(),
            "36 s is not whole minutes"
        );
        assert!(hours_to_minutes("1,5").is_err());
        assert!(hours_to_minutes("-1").is_err());
        assert!(hours_to_minutes("").is_err());
    }

    #[test]
    fn a_period_is_a_month() {
        let (a, b) = month_bounds("2026-02").expect("month");
        assert_eq!(
            (a.to_string(), b.to_string()),
            ("2026-02-01".into(), "2026-02-28".into())
        );
        assert!(month_bounds("2026-13").is_err());
        assert!(month_bounds("2026").is_err());
    }
}
