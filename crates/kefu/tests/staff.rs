//! `kefu staff` as a user runs it: importing the example CSV files (twice: nothing is added
//! the second time; a bad row exits 2 naming file:line and column), and the training-records
//! document (附件6) printed to PDF, whose text has the trainees' names in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kefu_core::access::Role;
use kefu_store::Store;
use kefu_store::accounts::NewAccount;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/staff")
}

fn kefu(dir: &Path, args: &[&str]) -> Output {
    let db = format!("sqlite://{}", dir.join("kefu.db").display());
    Command::new(env!("CARGO_BIN_EXE_kefu"))
        .arg("--db")
        .arg(db)
        .arg("--data-dir")
        .arg(dir)
        .args(args)
        .env_remove("KEFU_DATABASE_URL")
        .env_remove("KEFU_DATA_DIR")
        .env_remove("KEFU_HOLIDAYS_DIR")
        .output()
        .unwrap_or_else(|e| panic!("cannot run kefu: {e}"))
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

async fn accounts(dir: &Path) {
    let url = format!("sqlite://{}", dir.join("kefu.db").display());
    let store = Store::open(&url, dir).await.expect("store");
    for (username, display_name) in [("li.agent", "李小红"), ("wang.agent", "王大明")] {
        store
            .create_account(
                "tester",
                &NewAccount {
                    username,
                    display_name,
                    role: Role::Agent,
                    contract_id: None,
                    password: "a long enough password",
                    must_change_password: false,
                },
            )
            .await
            .expect("account");
    }
    store.close().await;
}

fn which(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn staff_csv_imports_and_the_training_report_prints() {
    let dir = tempfile::tempdir().expect("tmp");
    accounts(dir.path()).await;
    for kind in [
        "profiles",
        "certificates",
        "trainings",
        "assessments",
        "ndas",
    ] {
        let file = examples().join(format!("{kind}.csv"));
        let file = file.to_string_lossy();
        let first = kefu(dir.path(), &["staff", "import", "--kind", kind, &file]);
        assert!(first.status.success(), "{kind}: {}", text(&first));
        let again = kefu(dir.path(), &["staff", "import", "--kind", kind, &file]);
        assert!(
            text(&again).contains(" 0 added"),
            "{kind} again: {}",
            text(&again)
        );
    }
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "username,course,held_on,minutes\nli.agent,x,2026-02-30,60\n",
    )
    .expect("write");
    let o = kefu(
        dir.path(),
        &[
            "staff",
            "import",
            "--kind",
            "trainings",
            &bad.to_string_lossy(),
        ],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("bad.csv:2: column `held_on` = \"2026-02-30\""),
        "{}",
        text(&o)
    );

    let html = dir.path().join("t.html");
    let o = kefu(
        dir.path(),
        &[
            "staff",
            "training-report",
            "--period",
            "2026-03",
            "--out",
            &html.to_string_lossy(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(
        page.contains("李小红") && page.contains("宽带故障排查与话术") && page.contains("不合格")
    );

    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .any(|b| which(b))
        || std::env::var_os("KEFU_CHROMIUM").is_some();
    if !chromium || !which("pdftotext") {
        assert!(!ci, "CI=true: chromium and pdftotext must be installed");
        eprintln!("skipped: the PDF part needs chromium and pdftotext");
        return;
    }
    let pdf = dir.path().join("t.pdf");
    let o = kefu(
        dir.path(),
        &[
            "staff",
            "training-report",
            "--period",
            "2026-03",
            "--out",
            &pdf.to_string_lossy(),
            "--lang",
            "zh",
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
    let out = Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext");
    let words = String::from_utf8_lossy(&out.stdout);
    assert!(
        words.contains("李小红") && words.contains("王大明"),
        "{words}"
    );
}
