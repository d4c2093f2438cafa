//! The embedded default network (`models/default/`), built into the binary
//! so that every command works with no arguments, and the one place that
//! turns a command-line network argument into a [`Network`].

use std::path::Path;

use crate::model::error::InputResult;
use crate::model::net::Network;

pub const DEFAULT_DESCRIPTION: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/models/default/network.toml"
));
pub const DEFAULT_WEIGHTS: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/models/default/weights.safetensors"
));
/// How the embedded files are named in messages and manifests.
pub const DEFAULT_PATH: &str = "<embedded>/models/default/network.toml";
pub const DEFAULT_WEIGHTS_PATH: &str = "<embedded>/models/default/weights.safetensors";

/// The embedded default network.
pub fn default_network() -> InputResult<Network> {
    Network::from_sources(
        DEFAULT_DESCRIPTION,
        Path::new(DEFAULT_PATH),
        DEFAULT_WEIGHTS,
        Path::new(DEFAULT_WEIGHTS_PATH),
    )
}

/// `None` or `default` means the embedded network; anything else is a
/// description file or a directory holding `network.toml`.
pub fn load(arg: Option<&Path>) -> InputResult<Network> {
    match arg {
        None => default_network(),
        Some(p) if p == Path::new("default") && !p.exists() => default_network(),
        Some(p) => Network::load(p),
    }
}

/// Only the description of a network argument (as [`load`] resolves it),
/// parsed without reading any weights: what `nasa train` starts from.
pub fn load_description(arg: &Path) -> InputResult<Network> {
    if arg == Path::new("default") && !arg.exists() {
        return Network::parse(DEFAULT_DESCRIPTION, Path::new(DEFAULT_PATH));
    }
    let path = if arg.is_dir() {
        arg.join("network.toml")
    } else {
        arg.to_path_buf()
    };
    let text = std::fs::read_to_string(&path).map_err(|e| {
        crate::model::error::InputError::new(&path, format!("cannot read network description: {e}"))
    })?;
    Network::parse(&text, &path)
}
