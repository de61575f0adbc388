//! `kefu serve`: the web server, configured in layers (defaults → kefu.toml → KEFU_… → flags).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use kefu_store::Store;
use kefu_web::config::{self, Flags, LogFormat};

use super::{CmdError, CmdResult, Global, UserError};

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on, e.g. 0.0.0.0:8080 (port 0 picks a free port) [default: 127.0.0.1:8080]
    #[arg(long)]
    pub listen: Option<String>,
    /// Configuration file [default: kefu.toml in this folder, if there is one]
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Log lines as text or as JSON objects (on stderr) [default: text]
    #[arg(long, value_parser = ["text", "json"])]
    pub log_format: Option<String>,
}

pub fn serve(g: &Global, a: &ServeArgs) -> CmdResult {
    let flags = Flags {
        listen: a.listen.clone(),
        // The global --db/--data-dir (or their KEFU_ variables, read by the flag parser) count
        // only when given: otherwise kefu.toml may set them.
        database_url: g.explicit.database_url.then(|| g.database_url.clone()),
        data_dir: g.explicit.data_dir.then(|| g.data_dir.clone()),
        log_format: a.log_format.as_deref().map(|f| match f {
            "json" => LogFormat::Json,
            _ => LogFormat::Text,
        }),
    };
    let config =
        config::load(a.config.as_deref(), std::env::vars(), &flags).map_err(UserError::Message)?;
    kefu_web::init_logging(config.log_format);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CmdError::Unexpected(e.into()))?;
    runtime.block_on(async {
        let url = config.database_url();
        let store = Store::open(&url, &config.data_dir)
            .await
            .map_err(|e| UserError::Message(format!("storage: {e}")))?;
        if let Some(first) = store
            .ensure_first_admin()
            .await
            .map_err(|e| CmdError::Unexpected(anyhow::anyhow!("storage: {e}")))?
        {
            // Printed once, on stdout (never logged): the only time anyone sees it.
            println!("first start: created the administrator account");
            println!("  user:     {}", first.username);
            println!(
                "  password: {}   (shown once; it must be changed at first sign-in)",
                first.one_time_password
            );
        }
        let server = kefu_web::Server::bind(&config, store.clone())
            .await
            .map_err(UserError::Message)?;
        let addr = server.local_addr().map_err(UserError::Message)?;
        let stop = kefu_web::shutdown_signal();
        println!(
            "kefu {} listening on http://{addr} (database {}, data folder {})",
            env!("CARGO_PKG_VERSION"),
            kefu_store::db::redact(&url),
            config.data_dir.display()
        );
        tracing::info!(%addr, "listening");
        server
            .serve_until(stop)
            .await
            .map_err(|e| CmdError::Unexpected(anyhow::anyhow!(e)))?;
        tracing::info!("stopped");
        store.close().await;
        println!("kefu stopped");
        Ok(ExitCode::SUCCESS)
    })
}
