//! `kefu serve`'s configuration, in layers: built-in defaults, then `kefu.toml`, then `KEFU_…`
//! environment variables, then command-line flags. A key the server does not know is an error
//! (a typo must not be silently ignored); secrets are never printed.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

/// The file read when `--config` is not given (missing is fine).
pub const DEFAULT_CONFIG_FILE: &str = "kefu.toml";

/// Environment variables read, each for the key of the same name in lower case.
const ENV_KEYS: [&str; 4] = [
    "KEFU_LISTEN",
    "KEFU_DATABASE_URL",
    "KEFU_DATA_DIR",
    "KEFU_LOG_FORMAT",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeConfig {
    /// Address and port to listen on; port 0 picks a free one.
    pub listen: String,
    /// sqlite://PATH or postgres://…; default: `kefu.db` in `data_dir`.
    pub database_url: Option<String>,
    /// Folder of kefu's own files (the data key, the SQLite database by default).
    pub data_dir: PathBuf,
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per event (for log collectors).
    Json,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: "127.0.0.1:8080".to_owned(),
            database_url: None,
            data_dir: PathBuf::from("./data"),
            log_format: LogFormat::Text,
        }
    }
}

impl ServeConfig {
    /// The database URL, with the default (`kefu.db` in the data folder) applied.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("kefu.db").display()),
        }
    }
}

/// Values given on the command line (highest layer); `None` = not given.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Flags {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,
}

/// Builds the configuration. `file`: the `--config` path (must exist) or `None` for
/// `kefu.toml` in the working folder (may be absent). `env`: the process environment (only
/// the `KEFU_…` keys above are read; passed in so that tests need not change the process's).
pub fn load(
    file: Option<&Path>,
    env: impl IntoIterator<Item = (String, String)>,
    flags: &Flags,
) -> Result<ServeConfig, String> {
    let path = match file {
        Some(p) if !p.exists() => {
            return Err(format!("--config {}: no such file", p.display()));
        }
        Some(p) => p.to_path_buf(),
        None => PathBuf::from(DEFAULT_CONFIG_FILE),
    };
    let env: Vec<(String, String)> = env
        .into_iter()
        .filter(|(k, _)| ENV_KEYS.contains(&k.as_str()))
        .map(|(k, v)| (k.trim_start_matches("KEFU_").to_ascii_lowercase(), v))
        .collect();
    let env_map: serde_json::Map<String, serde_json::Value> = env
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    let mut figment = Figment::from(Serialized::defaults(ServeConfig::default()));
    if path.exists() {
        figment = figment.merge(Toml::file_exact(&path));
    }
    figment
        .merge(Serialized::defaults(env_map))
        .merge(Serialized::defaults(flags))
        .extract::<ServeConfig>()
        .map_err(|e| {
            // figment names the key and where its value came from (file or layer).
            let mut msg = String::from("configuration: ");
            for (i, err) in e.into_iter().enumerate() {
                if i > 0 {
                    msg.push_str("; ");
                }
                msg.push_str(&err.to_string());
            }
            msg
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn toml_file(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(text.as_bytes()).expect("write");
        f
    }

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn each_layer_overrides_the_one_below() {
        let file = toml_file("listen = \"0.0.0.0:9000\"\nlog_format = \"json\"\n");
        // (env, flags, expected listen, expected log format)
        type Case = (Vec<(String, String)>, Flags, &'static str, LogFormat);
        let cases: Vec<Case> = vec![
            (vec![], Flags::default(), "0.0.0.0:9000", LogFormat::Json),
            (
                env(&[("KEFU_LISTEN", "127.0.0.1:7000")]),
                Flags::default(),
                "127.0.0.1:7000",
                LogFormat::Json,
            ),
            (
                env(&[
                    ("KEFU_LISTEN", "127.0.0.1:7000"),
                    ("KEFU_LOG_FORMAT", "text"),
                ]),
                Flags {
                    listen: Some("127.0.0.1:0".to_owned()),
                    ..Flags::default()
                },
                "127.0.0.1:0",
                LogFormat::Text,
            ),
        ];
        for (e, flags, listen, log) in cases {
            let c = load(Some(file.path()), e, &flags).expect("config");
            assert_eq!((c.listen.as_str(), c.log_format), (listen, log));
        }
    }

    #[test]
    fn without_a_file_the_defaults_hold_and_the_database_lives_in_the_data_folder() {
        let dir = tempfile::tempdir().expect("dir");
        let missing = dir.path().join("kefu.toml");
        // An explicit --config that does not exist is an error; the default file may be absent.
        assert!(load(Some(&missing), vec![], &Flags::default()).is_err());
        let c = load(
            None,
            env(&[("KEFU_DATA_DIR", "/srv/kefu")]),
            &Flags::default(),
        )
        .expect("config");
        assert_eq!(c.database_url(), "sqlite:///srv/kefu/kefu.db");
        assert_eq!(c.listen, "127.0.0.1:8080");
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors_that_name_the_key() {
        let cases = [
            ("lisen = \"x\"\n", "lisen"),
            ("log_format = \"yaml\"\n", "yaml"),
            ("listen = 8080\n", "listen"),
        ];
        for (text, named) in cases {
            let file = toml_file(text);
            let err = load(Some(file.path()), vec![], &Flags::default()).expect_err(text);
            assert!(err.contains(named), "{text:?}: {err}");
        }
        // Unrelated KEFU_ variables (e.g. the test suite's) are not configuration.
        assert!(load(None, env(&[("KEFU_TEST_PG_URL", "x")]), &Flags::default()).is_ok());
    }
}
