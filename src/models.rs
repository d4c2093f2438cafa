//! The embedded default network (`models/default/`), built into the binary
//! so that every command works with no arguments, and the one place that
//! turns a command-line network argument into a [`Network`].

use std::path::Path;

use crate::error::InputResult;
use crate::net::Network;

pub const DEFAULT_DESCRIPTION: &str = include_str!("../models/default/network.toml");
pub const DEFAULT_WEIGHTS: &[u8] = include_bytes!("../models/default/weights.safetensors");
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
