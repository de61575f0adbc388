//! `kefu demo`: a new user's first minute. Writes the example contract, generates a
//! realistic month of calls for it, imports them and renders the month's quality report —
//! all through the same commands a user would run, so what it shows is what they get.

use std::path::PathBuf;
use std::process::ExitCode;

use kefu_core::phone::metrics::BillingPeriod;

use super::phone_cmds::{
    Format, GenFormat, GenerateCallsArgs, ImportArgs, Lang, ReportArgs, ReportFormat,
};
use super::{CmdResult, Global, UserError, phone_cmds, store_cmds};

const CONTRACT: &str = include_str!("../../../../examples/contract.toml");
const AMENDMENT: &str = include_str!("../../../../examples/amendment-2027-01.toml");
const NUMBER: &str = "GDT-KF-2026-0017";

#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Where to write the demo's files (contract, generated calls, report).
    #[arg(long, default_value = "kefu-demo")]
    pub dir: PathBuf,
    /// Calls in the generated month.
    #[arg(long, default_value_t = 30_000)]
    pub calls: u64,
    /// Then start the web server on this machine (http://127.0.0.1:8080; see `kefu serve`).
    #[arg(long)]
    pub serve: bool,
}

/// The last full month before today (China time) that lies inside the example contract's
/// term (2026-01 to 2027-12).
fn demo_month() -> BillingPeriod {
    let today = jiff::tz::TimeZone::get("Asia/Shanghai")
        .map(|tz| jiff::ZonedDateTime::now().with_time_zone(tz).date())
        .unwrap_or_else(|_| jiff::ZonedDateTime::now().date());
    let last_month = BillingPeriod::of(
        today
            .first_of_month()
            .checked_sub(jiff::Span::new().days(1))
            .unwrap_or(today),
    );
    let first = BillingPeriod::new(2026, 1);
    let last = BillingPeriod::new(2027, 12);
    match (first, last) {
        (Some(f), _) if last_month < f => f,
        (_, Some(l)) if last_month > l => l,
        _ => last_month,
    }
}

pub(crate) fn demo(g: &Global, a: &DemoArgs) -> CmdResult {
    let write = |name: &str, text: &str| {
        let p = a.dir.join(name);
        std::fs::create_dir_all(&a.dir)
            .and_then(|()| std::fs::write(&p, text))
            .map_err(|e| UserError::Message(format!("{}: cannot write: {e}", p.display())))
            .map(|()| p)
    };
    let contract = write("contract.toml", CONTRACT)?;
    write("amendment-2027-01.toml", AMENDMENT)?;
    let month = demo_month();
    let calls = a.dir.join(format!("queue_log.{month}"));
    let html = a.dir.join(format!("report-{month}.html"));
    let json = a.dir.join(format!("report-{month}.json"));

    println!("1. the contract (examples/contract.toml, the seed contract and its amendment)");
    store_cmds::contract_load(g, &contract)?;
    println!("\n2. a month of phone traffic for it, as Asterisk writes it ({month})");
    phone_cmds::generate_calls(
        g,
        &GenerateCallsArgs {
            contract: contract.clone(),
            month,
            calls: a.calls,
            format: GenFormat::QueueLog,
            seed: 1,
            out: Some(calls.clone()),
        },
    )?;
    println!("\n3. imported");
    let code = phone_cmds::import(
        g,
        &ImportArgs {
            format: Format::QueueLog,
            mapping: None,
            contract: Some(NUMBER.to_owned()),
            tz: None,
            errors: None,
            strict: false,
            files: vec![calls.clone()],
        },
    )?;
    if code != ExitCode::SUCCESS {
        return Ok(code);
    }
    println!("\n4. the month's quality evaluation report (客服服务质量评估报告)");
    for (format, out) in [(ReportFormat::Html, &html), (ReportFormat::Json, &json)] {
        phone_cmds::report(
            g,
            &ReportArgs {
                period: month,
                contract: Some(NUMBER.to_owned()),
                format,
                lang: Lang::Zh,
                out: Some(out.clone()),
            },
        )?;
    }
    println!("   {}\n   {}", html.display(), json.display());
    println!(
        "\nNext: open the HTML report; `kefu calls --on {}` lists a day's calls; \
         `kefu report --period {month} --format pdf --out report.pdf` prints it (needs chromium).",
        month.first_day()
    );
    if a.serve {
        println!(
            "\n5. the web server: sign in at the address below (the console, /wallboard, \
             /console/chat, and the chat widget's demo page /demo/widget?contract={})\n",
            NUMBER
        );
        store_cmds::runtime()?.block_on(first_admin_ready_for_chat(g))?;
        return super::serve::serve(
            g,
            &super::serve::ServeArgs {
                listen: None,
                config: None,
                log_format: None,
            },
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The demo's administrator, created here rather than by `kefu serve` so that they can take
/// chats at once: the contract holds anyone taking chats to its staff terms (certificate,
/// NDA, training, assessment — clauses 3.x, 5.2), and a bare account would be kept out of
/// routing. The demo gives the administrator records in order, dated from today; a real
/// deployment enters them (`kefu staff import`, `/api/v1/staff/…`).
async fn first_admin_ready_for_chat(g: &Global) -> Result<(), super::CmdError> {
    use kefu_core::staff_policy::{Assessment, Certificate, Nda, Training};
    let store = store_cmds::open_existing(g).await?;
    let unexpected =
        |e: kefu_store::StoreError| super::CmdError::Unexpected(anyhow::anyhow!("storage: {e}"));
    let Some(first) = store.ensure_first_admin().await.map_err(unexpected)? else {
        store.close().await;
        return Ok(());
    };
    println!("first start: created the administrator account");
    println!("  user:     {}", first.username);
    println!(
        "  password: {}   (shown once; it must be changed at first sign-in)",
        first.one_time_password
    );
    let Some(admin) = store
        .account_named(&first.username)
        .await
        .map_err(unexpected)?
    else {
        store.close().await;
        return Ok(());
    };
    // The example contract's time zone.
    let tz = jiff::tz::TimeZone::get("Asia/Shanghai").unwrap_or(jiff::tz::TimeZone::UTC);
    let today = tz.to_datetime(jiff::Timestamp::now()).date();
    let day = |n: i64| {
        today
            .checked_add(jiff::Span::new().days(n))
            .unwrap_or(today)
    };
    for (i, name) in [
        "呼叫中心服务员(四级)",
        "呼叫中心服务员(三级)",
        "通信业务营业员",
    ]
    .into_iter()
    .enumerate()
    {
        let c = Certificate {
            name: name.to_owned(),
            number: format!("DEMO-{i}"),
            issued_on: Some(day(-30)),
            expires_on: Some(day(700)),
        };
        store
            .add_certificate(admin.id, &c, None)
            .await
            .map_err(unexpected)?;
    }
    let nda = Nda {
        signed_on: day(-30),
        document_sha256: None,
    };
    store.add_nda(admin.id, &nda).await.map_err(unexpected)?;
    let training = Training {
        course: "入职培训(演示)".to_owned(),
        held_on: day(-7),
        minutes: 120,
        trainer: None,
        result: None,
    };
    store
        .add_training(admin.id, &training)
        .await
        .map_err(unexpected)?;
    let assessment = Assessment {
        held_on: day(-7),
        title: "入职考核(演示)".to_owned(),
        score: 90,
        pass_score: 80,
    };
    store
        .add_assessment(admin.id, &assessment)
        .await
        .map_err(unexpected)?;
    println!("  (demo: the administrator has staff records in order, so they can take chats)");
    store.close().await;
    Ok(())
}
