//! Importing staff records from CSV, on SQLite and PostgreSQL: bad rows are reported with
//! file:line, column and value while the good rows are kept, and importing the same file
//! again adds nothing.

#[path = "../../kefu-store/tests/common/mod.rs"]
mod common;

use common::on_each_backend;
use kefu_app::staff::{CsvKind, import_csv};
use kefu_core::access::Role;
use kefu_store::Store;
use kefu_store::accounts::NewAccount;

async fn agent(store: &Store, username: &str) -> kefu_store::UserId {
    store
        .create_account(
            "tester",
            &NewAccount {
                username,
                display_name: username,
                role: Role::Agent,
                contract_id: None,
                password: "a long enough password",
                must_change_password: false,
            },
        )
        .await
        .expect("agent")
        .id
}

const CERTS: &str = "username,name,number,issued_on,expires_on
li.agent,呼叫中心服务员(四级),HZ-1,2024-05-10,2027-05-09
nobody,呼叫中心服务员(四级),HZ-2,2024-05-10,2027-05-09
li.agent,通信业务营业员,YY-1,2024-13-01,
li.agent,通信业务营业员,YY-2,,

li.agent,通信业务营业员,YY-3,2025-01-01,2024-01-01
";

#[tokio::test]
async fn a_csv_import_keeps_good_rows_reports_bad_ones_and_adds_nothing_twice() {
    on_each_backend(async |store: &Store| {
        let li = agent(store, "li.agent").await;

        let first = import_csv(store, CsvKind::Certificates, "certs.csv", CERTS, None)
            .await
            .expect("imports");
        assert_eq!((first.rows, first.added, first.unchanged), (5, 2, 0));
        let errors: Vec<String> = first.errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            vec![
                "certs.csv:3: column `username` = \"nobody\": no account with this user name",
                "certs.csv:4: column `issued_on` = \"2024-13-01\": expected a day as YYYY-MM-DD",
                "certs.csv:7: column `expires_on` = \"2024-01-01\": before the day it was issued (2025-01-01)",
            ]
        );

        let again = import_csv(store, CsvKind::Certificates, "certs.csv", CERTS, None)
            .await
            .expect("imports again");
        assert_eq!((again.added, again.unchanged, again.errors.len()), (0, 2, 3));
        let held: Vec<String> = store
            .certificates(li)
            .await
            .expect("certificates")
            .into_iter()
            .map(|c| c.certificate.number)
            .collect();
        assert_eq!(held, vec!["HZ-1", "YY-2"]);

        // Hours are exact minutes; a value that is not is named with its column.
        let trainings = "username,course,held_on,hours,trainer\n\
                         li.agent,宽带故障,2026-03-05,1.5,陈讲师\n\
                         li.agent,保密,2026-03-06,\"1,5\",\n\
                         li.agent,话术,2026-03-07,,\n";
        let t = import_csv(store, CsvKind::Trainings, "t.csv", trainings, None)
            .await
            .expect("imports");
        assert_eq!(t.added, 1);
        assert_eq!(t.errors[0].to_string(), "t.csv:3: column `hours` = \"1,5\": expected hours such as 2 or 1.5 (whole minutes)");
        assert_eq!((t.errors[1].line, t.errors[1].column.as_str()), (4, "hours"));
        let stored = store.trainings(li).await.expect("trainings");
        assert_eq!(stored[0].training.minutes, 90);
        let t2 = import_csv(store, CsvKind::Trainings, "t.csv", trainings, None)
            .await
            .expect("imports");
        assert_eq!((t2.added, t2.unchanged), (0, 1));

        // Assessments take the contract's pass mark when the row has none.
        let a = "username,held_on,score\nli.agent,2026-03-26,79\nli.agent,2026-03-27,101\n";
        let r = import_csv(store, CsvKind::Assessments, "a.csv", a, Some(80))
            .await
            .expect("imports");
        assert_eq!((r.added, r.errors.len()), (1, 1));
        assert_eq!(r.errors[0].column, "score");
        let got = store.assessments(li).await.expect("assessments");
        assert_eq!((got[0].assessment.pass_score, got[0].assessment.passed()), (80, false));

        // Profiles: saved once, unchanged the second time; the ID number reads back.
        let p = "username,employee_no,id_number,skills_chat\nli.agent,GZ-1,440106199001011234,宽带\n";
        let r1 = import_csv(store, CsvKind::Profiles, "p.csv", p, None).await.expect("p");
        let r2 = import_csv(store, CsvKind::Profiles, "p.csv", p, None).await.expect("p");
        assert_eq!((r1.added, r2.added, r2.unchanged), (1, 0, 1));
        let profile = store.staff_profile(li).await.expect("profile").expect("saved");
        assert_eq!(profile.id_number.as_deref(), Some("440106199001011234"));
        assert_eq!(profile.skills.get("chat").map(String::as_str), Some("宽带"));

        // A header the kind does not know is refused as a whole, naming the line.
        let bad = import_csv(store, CsvKind::Ndas, "n.csv", "username,signed,x\n", None).await;
        let msg = bad.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(msg.starts_with("n.csv:1: unknown column `signed`"), "{msg}");
    })
    .await;
}
