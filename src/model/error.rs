//! Errors about the user's input: every one names the file, and where it
//! applies the layer and the field, so a message alone locates the problem.

use std::fmt;
use std::path::{Path, PathBuf};

/// A problem with an input file (network description, weights, input data).
///
/// The CLI maps this type to exit code 3 ([`crate::EXIT_INVALID_INPUT`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    pub file: PathBuf,
    pub layer: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

impl InputError {
    pub fn new(file: impl AsRef<Path>, message: impl Into<String>) -> Self {
        InputError {
            file: file.as_ref().to_path_buf(),
            layer: None,
            field: None,
            message: message.into(),
        }
    }

    pub fn layer(mut self, layer: impl Into<String>) -> Self {
        self.layer = Some(layer.into());
        self
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(layer) = &self.layer {
            write!(f, ": layer `{layer}`")?;
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for InputError {}

/// Shorthand for results whose error is an [`InputError`].
pub type InputResult<T> = Result<T, InputError>;
