//! One configuration for every command: flags, then `AORTA_*` environment variables, then a
//! config file, then built-in defaults — parsed once, before the command runs.
//!
//! The file is flat TOML (`key = "value"`, numbers and booleans as they are, `#` comments). Its
//! keys are the environment variables' names without `AORTA_`, in lower case: `data_dir`,
//! `mu_url`, `cu_url`, `gateway_url`, `wallet`, `mu_listen`, … Any option that has an
//! environment variable can be set there. It is read from `--config FILE`, else `AORTA_CONFIG`,
//! else `$XDG_CONFIG_HOME/aorta/config.toml` (or `~/.config/aorta/config.toml`) when it exists.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use clap::Command;

/// Values from the config file, by environment variable name (`AORTA_MU_URL`).
#[derive(Debug, Default)]
pub struct Config {
    path: Option<PathBuf>,
    values: BTreeMap<String, String>,
}

fn default_path() -> Option<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(base) => PathBuf::from(base),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".config"),
    };
    Some(base.join("aorta/config.toml")).filter(|p| p.exists())
}

/// Finds and reads the config file named by the arguments, the environment or the default
/// place (none is fine).
///
/// # Errors
/// A named file that cannot be read, or a line that is not `key = value`.
pub fn load(args: &[OsString]) -> anyhow::Result<Config> {
    let mut named = None;
    let mut rest = args.iter().skip(1);
    while let Some(arg) = rest.next() {
        let arg = arg.to_string_lossy();
        if arg == "--config" {
            named = rest.next().map(PathBuf::from);
        } else if let Some(path) = arg.strip_prefix("--config=") {
            named = Some(PathBuf::from(path));
        }
    }
    let named = named.or_else(|| std::env::var_os("AORTA_CONFIG").map(PathBuf::from));
    let path = match named {
        Some(path) => path,
        None => match default_path() {
            Some(path) => path,
            None => return Ok(Config::default()),
        },
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the config file {}", path.display()))?;
    Ok(Config {
        values: parse(&text).with_context(|| format!("in {}", path.display()))?,
        path: Some(path),
    })
}

/// Flat TOML: `key = value` lines; values are strings ("…" or '…'), numbers or booleans.
fn parse(text: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let mut values = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with('[') {
            bail!(
                "line {}: tables are not used; write key = value at the top level",
                n + 1
            );
        }
        let (key, value) = line
            .split_once('=')
            .with_context(|| format!("line {}: expected key = value", n + 1))?;
        let key = key.trim();
        if key.is_empty()
            || !key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            bail!("line {}: {key:?} is not a key", n + 1);
        }
        let value = value.trim();
        let value = if let Some(quoted) = value.strip_prefix('"') {
            // Up to the first quote that is not escaped; `\"` and `\\` are the escapes used.
            let mut out = String::new();
            let mut chars = quoted.chars();
            loop {
                match chars.next() {
                    None => bail!("line {}: unterminated string", n + 1),
                    Some('"') => break,
                    Some('\\') => match chars.next() {
                        Some(c @ ('"' | '\\')) => out.push(c),
                        Some('n') => out.push('\n'),
                        Some('t') => out.push('\t'),
                        _ => bail!("line {}: unsupported escape", n + 1),
                    },
                    Some(c) => out.push(c),
                }
            }
            out
        } else if let Some(quoted) = value.strip_prefix('\'') {
            let end = quoted
                .find('\'')
                .with_context(|| format!("line {}: unterminated string", n + 1))?;
            quoted[..end].to_owned()
        } else {
            // A number or a boolean, up to a comment.
            value
                .split('#')
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned()
        };
        values.insert(
            format!("AORTA_{}", key.replace('-', "_").to_ascii_uppercase()),
            value,
        );
    }
    Ok(values)
}

fn env_names(command: &Command, names: &mut BTreeSet<String>) {
    for arg in command.get_arguments() {
        if let Some(env) = arg.get_env() {
            names.insert(env.to_string_lossy().into_owned());
        }
    }
    for sub in command.get_subcommands() {
        env_names(sub, names);
    }
}

fn with_defaults(command: Command, values: &BTreeMap<String, String>) -> Command {
    command
        .mut_args(|arg| {
            match arg
                .get_env()
                .and_then(|env| values.get(env.to_string_lossy().as_ref()))
            {
                Some(value) => arg.default_value(value.clone()),
                None => arg,
            }
        })
        .mut_subcommands(|sub| with_defaults(sub, values))
}

impl Config {
    /// The command with the file's values as defaults (below flags and the environment).
    ///
    /// # Errors
    /// A key that no option has.
    pub fn apply(&self, command: Command) -> anyhow::Result<Command> {
        let mut known = BTreeSet::new();
        env_names(&command, &mut known);
        if let Some(unknown) = self.values.keys().find(|k| !known.contains(*k)) {
            let key = unknown.trim_start_matches("AORTA_").to_ascii_lowercase();
            let keys: Vec<String> = known
                .iter()
                .filter(|k| *k != "AORTA_CONFIG")
                .map(|k| k.trim_start_matches("AORTA_").to_ascii_lowercase())
                .collect();
            bail!(
                "{}: unknown key {key:?} (known: {})",
                self.path
                    .as_deref()
                    .map_or_else(|| "config".into(), |p: &Path| p.display().to_string()),
                keys.join(", ")
            );
        }
        Ok(with_defaults(command, &self.values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    /// Flat TOML: strings in either quotes, numbers, comments; keys map to variable names.
    fn parses_flat_toml() {
        let values = parse(
            "# node\nmu_url = \"http://127.0.0.1:3005\"\ndata-dir = '/var/lib/aorta'\npush_workers = 4 # more\n",
        )
        .expect("parses");
        assert_eq!(values["AORTA_MU_URL"], "http://127.0.0.1:3005");
        assert_eq!(values["AORTA_DATA_DIR"], "/var/lib/aorta");
        assert_eq!(values["AORTA_PUSH_WORKERS"], "4");
        assert!(parse("[table]\n").is_err());
        assert!(parse("no equals\n").is_err());
        assert!(parse("k = \"open\n").is_err());
    }
}
