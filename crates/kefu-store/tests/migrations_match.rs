//! The SQLite and PostgreSQL migration folders must describe the same schema: the same file
//! names, and in each file the same tables with the same columns, and the same index names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn folder(backend: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend)
}

fn sql_files(backend: &str) -> BTreeMap<String, String> {
    let dir = folder(backend);
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) => panic!("cannot read {}: {e}", dir.display()),
    };
    let mut files = BTreeMap::new();
    for entry in entries {
        let path = match entry {
            Ok(entry) => entry.path(),
            Err(e) => panic!("cannot list {}: {e}", dir.display()),
        };
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => panic!("cannot read {}: {e}", path.display()),
        };
        files.insert(name, text);
    }
    files
}

fn strip_comments(sql: &str) -> String {
    sql.lines()
        .map(|line| line.split("--").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Table name → column names, from every `CREATE TABLE name ( … )` in the file.
fn tables(sql: &str) -> BTreeMap<String, BTreeSet<String>> {
    let sql = strip_comments(sql);
    let lower = sql.to_lowercase();
    let mut out = BTreeMap::new();
    let mut from = 0;
    while let Some(found) = lower[from..].find("create table") {
        let start = from + found + "create table".len();
        let open = match lower[start..].find('(') {
            Some(i) => start + i,
            None => panic!("CREATE TABLE without a column list"),
        };
        let name = lower[start..open]
            .trim()
            .trim_start_matches("if not exists")
            .trim()
            .to_owned();
        let mut depth = 0;
        let mut close = open;
        for (i, c) in lower[open..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        close = open + i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let body = &lower[open + 1..close];
        let mut items = Vec::new();
        let (mut depth, mut item_start) = (0, 0);
        for (i, c) in body.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                ',' if depth == 0 => {
                    items.push(&body[item_start..i]);
                    item_start = i + 1;
                }
                _ => {}
            }
        }
        items.push(&body[item_start..]);
        let columns = items
            .iter()
            .filter_map(|item| item.split_whitespace().next())
            .filter(|word| !["primary", "unique", "check", "foreign", "constraint"].contains(word))
            .map(str::to_owned)
            .collect();
        out.insert(name, columns);
        from = close;
    }
    out
}

fn index_names(sql: &str) -> BTreeSet<String> {
    let sql = strip_comments(sql).to_lowercase();
    sql.split("create ")
        .skip(1)
        .filter_map(|rest| {
            let rest = rest.trim_start().trim_start_matches("unique ").trim_start();
            rest.strip_prefix("index ")
                .and_then(|r| r.split_whitespace().next())
                .map(str::to_owned)
        })
        .collect()
}

#[test]
fn migration_folders_match() {
    let sqlite = sql_files("sqlite");
    let postgres = sql_files("postgres");
    assert!(!sqlite.is_empty(), "no SQLite migrations");
    assert_eq!(
        sqlite.keys().collect::<Vec<_>>(),
        postgres.keys().collect::<Vec<_>>(),
        "the two migration folders must hold the same file names"
    );
    for (name, sqlite_sql) in &sqlite {
        let postgres_sql = &postgres[name];
        let (s, p) = (tables(sqlite_sql), tables(postgres_sql));
        assert!(!s.is_empty(), "{name}: no CREATE TABLE found");
        assert_eq!(
            s.keys().collect::<Vec<_>>(),
            p.keys().collect::<Vec<_>>(),
            "{name}: the two backends create different tables"
        );
        for (table, columns) in &s {
            assert_eq!(
                columns, &p[table],
                "{name}: table {table} has different columns"
            );
        }
        assert_eq!(
            index_names(sqlite_sql),
            index_names(postgres_sql),
            "{name}: different indexes"
        );
    }
}

#[test]
fn the_schema_parser_sees_the_expected_tables() {
    let sqlite = sql_files("sqlite");
    let all: BTreeSet<String> = sqlite
        .values()
        .flat_map(|sql| tables(sql).into_keys())
        .collect();
    for table in [
        "contracts",
        "contract_versions",
        "customers",
        "agents",
        "presence",
        "import_batches",
        "contacts",
        "contact_events",
        "key_check",
        "audit_log",
    ] {
        assert!(all.contains(table), "missing table {table}: {all:?}");
    }
    let first = tables(&sqlite["0001_initial.sql"]);
    let contacts = &first["contacts"];
    assert!(contacts.contains("external_id") && contacts.contains("import_batch_id"));
    assert!(!contacts.contains("unique"));
}
