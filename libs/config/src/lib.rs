//! One typed configuration for every Ironsmith binary.
//!
//! Layers, each overriding the one before:
//! 1. `config/default.toml` — every key, commented: the operator's manual;
//! 2. `config/regions/<region>.toml` — one regional stack (`us`, `eu`, `apac`, `aws`);
//! 3. `config/profiles/<profile>.toml` — optional, e.g. `local` for `scripts/stack up`;
//! 4. an optional extra file named by `IRONSMITH_CONFIG_FILE`;
//! 5. environment variables `IRONSMITH_<SECTION>__<KEY>` (double underscore between levels).
//!
//! The region and profile are chosen by `IRONSMITH_REGION` / `IRONSMITH_PROFILE` (or the
//! `stack.region` key of the defaults). Loading fails with an error naming the offending key.
//! This is the only crate that reads the process environment.

// Tests may expect and index: a panic there is a failing test.
#![cfg_attr(test, allow(clippy::expect_used, clippy::indexing_slicing))]

mod model;
mod secret;
mod validate;

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};

pub use model::*;
pub use secret::{EncryptionKey, Secret, SecretsConfig};

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration directory {0} has no default.toml")]
    MissingDefaults(PathBuf),
    #[error("unknown region {0:?}: expected one of us, eu, apac, aws")]
    UnknownRegion(String),
    #[error("unknown profile {name:?}: no file {path}")]
    UnknownProfile { name: String, path: PathBuf },
    #[error("invalid configuration: {0}")]
    Parse(#[from] Box<figment::Error>),
    #[error("invalid configuration: key `{key}`: {reason}")]
    Invalid { key: &'static str, reason: String },
}

/// Where and how to load the configuration from.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Directory holding `default.toml`, `regions/` and `profiles/`.
    /// Default: `IRONSMITH_CONFIG_DIR`, else `./config`.
    pub config_dir: Option<PathBuf>,
    /// Region file to apply. Default: `IRONSMITH_REGION`, else the defaults' `stack.region`.
    pub region: Option<String>,
    /// Profile file to apply on top of the region. Default: `IRONSMITH_PROFILE`, else none.
    pub profile: Option<String>,
    /// Whether `IRONSMITH_*` environment variables (and the variables above) are read.
    pub read_env: bool,
    /// Final overrides, as a nested JSON object (used by tests for per-test isolation).
    pub overrides: Option<serde_json::Value>,
}

impl LoadOptions {
    /// What every binary uses: files chosen by the environment, then environment overrides.
    pub fn from_env() -> Self {
        Self {
            read_env: true,
            ..Self::default()
        }
    }
}

/// The environment variable prefix of key overrides.
pub const ENV_PREFIX: &str = "IRONSMITH_";

/// Loads, merges and validates the configuration.
pub fn load(options: &LoadOptions) -> Result<Config, ConfigError> {
    let env = |name: &str| {
        if options.read_env {
            std::env::var(name).ok().filter(|v| !v.is_empty())
        } else {
            None
        }
    };
    let dir = options
        .config_dir
        .clone()
        .or_else(|| env("IRONSMITH_CONFIG_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("config"));
    let defaults = dir.join("default.toml");
    if !defaults.is_file() {
        return Err(ConfigError::MissingDefaults(dir));
    }
    let mut figment = Figment::from(Toml::file_exact(&defaults));

    let region_name = match options.region.clone().or_else(|| env("IRONSMITH_REGION")) {
        Some(name) => name,
        None => figment
            .extract_inner::<Region>("stack.region")
            .map_err(Box::new)?
            .as_str()
            .to_owned(),
    };
    let region = Region::parse(&region_name).ok_or(ConfigError::UnknownRegion(region_name))?;
    figment = figment.merge(Toml::file_exact(region_file(&dir, region)));

    if let Some(profile) = options.profile.clone().or_else(|| env("IRONSMITH_PROFILE")) {
        let path = dir.join("profiles").join(format!("{profile}.toml"));
        if !is_plain_name(&profile) || !path.is_file() {
            return Err(ConfigError::UnknownProfile {
                name: profile,
                path,
            });
        }
        figment = figment.merge(Toml::file_exact(path));
    }
    if let Some(extra) = env("IRONSMITH_CONFIG_FILE") {
        figment = figment.merge(Toml::file_exact(extra));
    }
    if options.read_env {
        figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__").ignore(&[
            "config_dir",
            "region",
            "profile",
            "config_file",
        ]));
    }
    if let Some(overrides) = &options.overrides {
        figment = figment.merge(Serialized::defaults(overrides));
    }

    let mut config: Config = figment.extract().map_err(Box::new)?;
    // The region actually applied wins over whatever a file claims.
    config.stack.region = region;
    validate::validate(&config)?;
    Ok(config)
}

/// The region file of `region` under a configuration directory.
pub fn region_file(dir: &Path, region: Region) -> PathBuf {
    dir.join("regions")
        .join(format!("{}.toml", region.as_str()))
}

fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}
