//! The contract as a machine-readable document: a TOML file a person reads
//! next to the paper contract, its supplementary agreements (补充协议) as dated
//! amendments, and `terms_on(date)` — the terms in force that day, with each
//! amended setting traced to the amendment article that changed it.
//!
//! This module is pure: the caller reads the files (see [`load`]'s `read`).

mod model;
mod parse;
mod reader;
mod source;
mod tree;
mod units;

use jiff::civil::Date;
use serde::Serialize;

pub use model::*;
pub use parse::FORMAT_VERSION;
pub use source::{Diagnostic, Diagnostics, FileId, Position, SourceFile, Sources};
pub use units::{Amount, Duration, DurationError, Percent, PercentError};

use crate::calendar::HolidayCalendar;
use reader::{Obj, array, date, integer, string};
use source::{Loc, Report};
use tree::Table;

/// The name a setting's value has in the contract document (its serde name), e.g.
/// `billing_period` for `Assessment::BillingPeriod`.
pub fn setting_name<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|j| j.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// A supplementary agreement (补充协议), as written in its own file.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Amendment {
    pub number: String,
    pub title: String,
    /// The contract number this amendment belongs to.
    pub amends: String,
    /// The clause of the base contract that allows amendments (9.3).
    pub clause: String,
    pub signed_on: Date,
    pub effective_from: Date,
    /// The file it was read from, as given in the contract's `amendments` list.
    pub file: String,
    pub articles: Vec<Article>,
    /// Which of the document's sources holds this amendment's text.
    #[serde(skip)]
    source: FileId,
}

/// One numbered article of an amendment and the settings it changes.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Article {
    /// The amendment's own numbering, e.g. "第一条".
    pub no: String,
    /// The clause of the base contract this article changes, e.g. "6.1.1".
    pub amends_clause: String,
    pub text: String,
    /// Dotted keys this article sets.
    pub settings: Vec<String>,
}

/// A setting whose value in force differs from the base contract because of an amendment.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AmendedSetting {
    pub key: String,
    /// The value as written in the amendment.
    pub value: String,
    pub amendment: String,
    pub article: String,
    pub amends_clause: String,
    pub effective_from: Date,
}

/// The contract terms of one span of days, from one effective date to the next.
#[derive(Clone, Debug)]
struct Epoch {
    from: Date,
    contract: Contract,
    /// Indexes into `ContractDocument::amendments`.
    in_force: Vec<usize>,
    amended: Vec<AmendedSetting>,
}

/// A validated contract with all its amendments.
#[derive(Clone, Debug)]
pub struct ContractDocument {
    sources: Sources,
    amendments: Vec<Amendment>,
    epochs: Vec<Epoch>,
}

/// The terms in force on one day.
#[derive(Clone, Debug, Serialize)]
pub struct Terms<'a> {
    pub on: Date,
    pub contract: &'a Contract,
    pub amendments_in_force: Vec<&'a Amendment>,
    pub amended_settings: &'a [AmendedSetting],
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TermsError {
    #[error("contract {number} is not in force on {on}: it runs from {from} to {to}")]
    NotInForce {
        number: String,
        on: Date,
        from: Date,
        to: Date,
    },
}

impl ContractDocument {
    /// The base contract, without amendments.
    pub fn base(&self) -> &Contract {
        &self.epochs[0].contract
    }

    pub fn amendments(&self) -> &[Amendment] {
        &self.amendments
    }

    pub fn sources(&self) -> &Sources {
        &self.sources
    }

    /// The base contract's text, exactly as read.
    pub fn base_text(&self) -> &str {
        self.sources.files()[0].text()
    }

    /// An amendment's text, exactly as read.
    pub fn amendment_text(&self, a: &Amendment) -> &str {
        self.sources.file(a.source).text()
    }

    /// The terms in force on `on`: the base contract with every amendment
    /// effective on or before that day laid over it, in date order.
    pub fn terms_on(&self, on: Date) -> Result<Terms<'_>, TermsError> {
        let idx = self.epochs.partition_point(|e| e.from <= on);
        let epoch = idx.checked_sub(1).map(|i| &self.epochs[i]);
        match epoch {
            Some(e) if e.contract.is_in_force_on(on) => Ok(Terms {
                on,
                contract: &e.contract,
                amendments_in_force: e.in_force.iter().map(|i| &self.amendments[*i]).collect(),
                amended_settings: &e.amended,
            }),
            _ => {
                let base = self.base();
                let last = self.epochs.last().map_or(base, |e| &e.contract);
                Err(TermsError::NotInForce {
                    number: base.number.clone(),
                    on,
                    from: base.effective_from,
                    to: last.ends_on,
                })
            }
        }
    }

    /// The dates on which the terms change (the effective date of the contract and of each amendment).
    pub fn effective_dates(&self) -> Vec<Date> {
        self.epochs.iter().map(|e| e.from).collect()
    }
}

/// How the caller reads an amendment file named in the contract: the path as
/// written (relative to the contract file) → (display name, text), or an
/// error message.
pub type ReadFile<'a> = dyn FnMut(&str) -> Result<(String, String), String> + 'a;

/// Read and validate a contract document and the amendments it lists.
/// All problems in all files are reported together.
pub fn load(
    base: SourceFile,
    holidays: &HolidayCalendar,
    read: &mut ReadFile<'_>,
) -> Result<ContractDocument, Diagnostics> {
    let mut sources = Sources::default();
    let base_id = sources.add(base);

    // Pass 1: read every file's text so that the report can point into any of them.
    let base_text = sources.file(base_id).text().to_string();
    let mut probe = Report::new(&sources);
    let Some(base_tree) = tree::parse_document(base_id, &base_text, &mut probe) else {
        return Err(probe.into_diagnostics());
    };
    let base_loc = Loc::new(base_id, 0..0);
    let (_, extras) =
        parse::read_contract(&base_tree, base_loc, &mut Report::new(&sources), holidays);
    let mut pending = Vec::new();
    let mut read_errors = Vec::new();
    for (path, loc) in &extras.amendment_paths {
        match read(path) {
            Ok((name, text)) => pending.push((path.clone(), *loc, name, text)),
            Err(e) => read_errors.push((*loc, path.clone(), e)),
        }
    }
    let mut amendment_files = Vec::new();
    for (path, loc, name, text) in pending {
        let id = sources.add(SourceFile::new(name, text));
        amendment_files.push((path, loc, id));
    }

    // Pass 2: validate everything against the complete set of sources.
    let mut r = Report::new(&sources);
    for (loc, path, e) in read_errors {
        r.error(
            loc,
            "contract.amendments",
            format!("cannot read amendment file \"{path}\": {e}"),
        );
    }
    let (base_contract, _) = parse::read_contract(&base_tree, base_loc, &mut r, holidays);

    let mut amendments: Vec<(Amendment, ArticleSets, AmendmentLocs)> = Vec::new();
    let mut seen_paths: Vec<&str> = Vec::new();
    for (path, loc, id) in &amendment_files {
        if seen_paths.contains(&path.as_str()) {
            r.error(
                *loc,
                "contract.amendments",
                format!("amendment file \"{path}\" is listed twice"),
            );
            continue;
        }
        seen_paths.push(path);
        let text = sources.file(*id).text();
        let Some(t) = tree::parse_document(*id, text, &mut r) else {
            continue;
        };
        if let Some(a) = read_amendment(&t, *id, path, &mut r) {
            amendments.push(a);
        }
    }

    let Some(base_contract) = base_contract else {
        return Err(r.into_diagnostics());
    };

    // Identity checks: each amendment belongs to this contract, numbers are unique, dates fall in the term.
    let mut ok_amendments = Vec::new();
    for (a, sets, loc) in amendments {
        let mut ok = true;
        if a.amends != base_contract.number {
            r.error(
                loc.amends,
                "amendment.amends",
                format!(
                    "this amendment amends contract \"{}\", but it is listed by contract \"{}\"",
                    a.amends, base_contract.number
                ),
            );
            ok = false;
        }
        if ok_amendments
            .iter()
            .any(|(b, _, _): &(Amendment, _, AmendmentLocs)| b.number == a.number)
        {
            r.error(
                loc.number,
                "amendment.number",
                format!("amendment number \"{}\" is used twice", a.number),
            );
            ok = false;
        }
        if a.effective_from < base_contract.effective_from {
            r.error(
                loc.effective_from,
                "amendment.effective_from",
                format!(
                    "the amendment takes effect on {}, before the contract does ({})",
                    a.effective_from, base_contract.effective_from
                ),
            );
            ok = false;
        }
        if ok {
            ok_amendments.push((a, sets, loc));
        }
    }
    ok_amendments.sort_by_key(|(a, _, _)| a.effective_from);

    // Build the epochs: base, then the base with each group of same-day amendments laid over it.
    let mut epochs = vec![Epoch {
        from: base_contract.effective_from,
        contract: base_contract,
        in_force: Vec::new(),
        amended: Vec::new(),
    }];
    let mut merged = base_tree.clone();
    let mut amended: Vec<AmendedSetting> = Vec::new();
    let mut in_force = Vec::new();
    let mut i = 0;
    while i < ok_amendments.len() {
        let day = ok_amendments[i].0.effective_from;
        let mut group_keys: Vec<(String, String)> = Vec::new(); // (key, amendment number)
        while i < ok_amendments.len() && ok_amendments[i].0.effective_from == day {
            let (a, sets, _) = &mut ok_amendments[i];
            let mut own_keys: Vec<(String, String)> = Vec::new(); // (key, article no)
            for (article_idx, change) in sets.iter().enumerate() {
                let article_no = a.articles[article_idx].no.clone();
                let mut changed = Vec::new();
                for (path, loc) in &change.replace {
                    if merged.remove_path(path).is_none() {
                        r.error(
                            *loc,
                            &format!("articles[{article_idx}].replace"),
                            format!(
                                "`{path}` is not in the contract, so there is nothing to replace"
                            ),
                        );
                    }
                    changed.push((path.clone(), *loc));
                }
                // Lists of tables (penalties, attachments) are replaced whole by `set`;
                // that must be said with `replace`, or entries would vanish unnoticed.
                for (path, loc) in change.set.array_tables("") {
                    let listed = change.replace.iter().any(|(p, _)| *p == path);
                    if !listed && merged.lookup(&path).is_some() {
                        r.error(
                            loc,
                            &path,
                            format!("setting `{path}` replaces the whole list; add `replace = [\"{path}\"]` to the article and restate every entry"),
                        );
                    }
                }
                merged.merge(&change.set, "", &mut changed);
                let article = &mut a.articles[article_idx];
                for (key, loc) in changed {
                    if let Some((_, other)) =
                        group_keys.iter().find(|(k, n)| *k == key && *n != a.number)
                    {
                        r.error(
                            loc,
                            &key,
                            format!("overlapping amendments: \"{other}\" and \"{}\" both change `{key}` from {day}; merge them or give them different dates", a.number),
                        );
                    }
                    if let Some((_, other)) =
                        own_keys.iter().find(|(k, n)| *k == key && *n != article_no)
                    {
                        r.error(
                            loc,
                            &key,
                            format!(
                                "articles {other} and {article_no} of \"{}\" both change `{key}`",
                                a.number
                            ),
                        );
                    }
                    own_keys.push((key.clone(), article_no.clone()));
                    group_keys.push((key.clone(), a.number.clone()));
                    if [
                        "kefu",
                        "contract.number",
                        "contract.signed_on",
                        "contract.effective_from",
                        "contract.amendments",
                    ]
                    .iter()
                    .any(|f| key == *f || key.starts_with(&format!("{f}.")))
                    {
                        r.error(loc, &key, format!("an amendment cannot change `{key}`; it identifies the base contract"));
                    }
                    amended.retain(|s| s.key != key && !s.key.starts_with(&format!("{key}.")));
                    amended.push(AmendedSetting {
                        value: sources.snippet(loc),
                        key: key.clone(),
                        amendment: a.number.clone(),
                        article: article.no.clone(),
                        amends_clause: article.amends_clause.clone(),
                        effective_from: day,
                    });
                    article.settings.push(key);
                }
            }
            in_force.push(i);
            i += 1;
        }
        let prev_end = epochs.last().map(|e| e.contract.ends_on);
        if let Some(end) = prev_end
            && day > end
        {
            let (_, _, loc) = &ok_amendments[i - 1];
            r.error(
                loc.effective_from,
                "amendment.effective_from",
                format!(
                    "the amendment takes effect on {day}, after the contract has ended ({end})"
                ),
            );
            continue;
        }
        let (contract, _) = parse::read_contract(&merged, base_loc, &mut r, holidays);
        if let Some(contract) = contract {
            if day > contract.ends_on {
                let (_, _, loc) = &ok_amendments[i - 1];
                r.error(
                    loc.effective_from,
                    "amendment.effective_from",
                    format!(
                        "with this amendment the contract ends on {}, before the amendment takes effect ({day})",
                        contract.ends_on
                    ),
                );
                continue;
            }
            epochs.push(Epoch {
                from: day,
                contract,
                in_force: in_force.clone(),
                amended: amended.clone(),
            });
        }
    }
    if r.has_errors() {
        return Err(r.into_diagnostics());
    }
    let amendments = ok_amendments.into_iter().map(|(a, _, _)| a).collect();
    // `in_force` indexes follow the sorted order, which is the order kept here.
    Ok(ContractDocument {
        sources,
        amendments,
        epochs,
    })
}

/// What one article does to the contract tree: drop the tables and lists named in
/// `replace`, then lay `set` over what is left.
struct ArticleChange {
    replace: Vec<(String, Loc)>,
    set: Table,
}

type ArticleSets = Vec<ArticleChange>;

/// Where the amendment's identifying keys are written, for messages.
#[derive(Clone, Copy)]
struct AmendmentLocs {
    number: Loc,
    amends: Loc,
    effective_from: Loc,
}

fn read_amendment(
    root: &Table,
    file: FileId,
    path: &str,
    r: &mut Report<'_>,
) -> Option<(Amendment, ArticleSets, AmendmentLocs)> {
    let file_loc = Loc::new(file, 0..0);
    let top = Obj::new(root, "", file_loc);
    top.req(
        r,
        "kefu",
        "the document format version, `kefu = 1`",
        |r, n, p| {
            integer(
                r,
                n,
                p,
                FORMAT_VERSION,
                FORMAT_VERSION,
                "the format version",
            )
        },
    );
    let head = top.req_table(
        r,
        "amendment",
        "the amendment's number, parties' contract and dates",
    );
    let mut fields = None;
    let mut head_loc = file_loc;
    let mut locs = AmendmentLocs {
        number: file_loc,
        amends: file_loc,
        effective_from: file_loc,
    };
    if let Some(h) = head {
        head_loc = h.loc;
        let at = |k: &'static str| h.node(k).map_or(h.loc, |n| n.loc);
        locs = AmendmentLocs {
            number: at("number"),
            amends: at("amends"),
            effective_from: at("effective_from"),
        };
        let number = h.req_str(r, "number", "the amendment's number");
        let title = h.req_str(r, "title", "the amendment's title");
        let amends = h.req_str(r, "amends", "the number of the contract it amends");
        let clause = h
            .opt_str(r, "clause", "the clause allowing amendments")
            .unwrap_or_else(|| "9.3".into());
        let signed_on = h.req(r, "signed_on", "the signing date", date);
        let effective_from = h.req(
            r,
            "effective_from",
            "the date the amendment takes effect",
            date,
        );
        h.finish(r);
        fields = (|| {
            Some((
                number?,
                title?,
                amends?,
                clause,
                signed_on?,
                effective_from?,
            ))
        })();
    }
    let articles = top.req(
        r,
        "articles",
        "the amendment's articles, as [[articles]] with a `set` table",
        |r, n, p| {
            array(r, n, p, "an array of [[articles]] tables", |r, n, p| {
                let (t, loc) = reader::table(r, n, p, "an [[articles]] table")?;
                let o = Obj::new(t, p, loc);
                let no = o.req_str(r, "no", "the article's number, e.g. \"第一条\"");
                let amends_clause = o.req_str(
                    r,
                    "amends_clause",
                    "the clause of the contract it changes, e.g. \"6.1.1\"",
                );
                let text = o.req_str(r, "text", "the article's wording");
                let replace = o
                    .opt(r, "replace", |r, n, p| {
                        array(r, n, p, "a list of dotted keys like [\"channels.chat.hours\"]", |r, n, p| {
                            string(r, n, p, "a dotted key like \"channels.chat.hours\"")
                                .map(|s| (s, n.loc))
                        })
                    })
                    .unwrap_or_default();
                let set_node = o.node("set");
                let set = match set_node {
                    Some(n) => reader::table(r, n, &o.key_path("set"), "a table of settings")
                        .map(|(t, _)| t.clone()),
                    None if replace.is_empty() => {
                        r.error(
                            o.loc,
                            &o.key_path("set"),
                            "missing key `set` (the settings it changes, as a table laid over the contract)",
                        );
                        None
                    }
                    None => Some(Table::default()),
                };
                if let (Some(t), Some(n)) = (&set, set_node)
                    && t.entries.is_empty()
                    && replace.is_empty()
                {
                    r.error(n.loc, &o.key_path("set"), "the article changes nothing; `set` is empty");
                }
                o.finish(r);
                Some((no?, amends_clause?, text?, replace, set?))
            })
        },
    );
    top.finish(r);
    let (number, title, amends, clause, signed_on, effective_from) = fields?;
    let articles = articles?;
    let mut list = Vec::new();
    let mut sets = Vec::new();
    for (no, amends_clause, text, replace, set) in articles {
        list.push(Article {
            no,
            amends_clause,
            text,
            settings: Vec::new(),
        });
        sets.push(ArticleChange { replace, set });
    }
    if list.is_empty() {
        r.error(head_loc, "articles", "the amendment has no articles");
        return None;
    }
    Some((
        Amendment {
            number,
            title,
            amends,
            clause,
            signed_on,
            effective_from,
            file: path.to_string(),
            articles: list,
            source: file,
        },
        sets,
        locs,
    ))
}
