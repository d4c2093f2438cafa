//! The synthesis targets and devices `nasa synth` knows: which Yosys script
//! each runs, which cells count as LUTs, flip-flops, DSPs and block RAMs,
//! and which devices an open place-and-route tool can fill.

use std::fmt;

use serde::Serialize;

/// A synthesis target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Xilinx 7-series (`synth_xilinx`); no open place-and-route.
    Xilinx,
    /// Technology-independent gates (`synth`), a size measure only.
    Generic,
    /// Lattice ECP5 (`synth_ecp5` of YoWASP's Yosys, then `nextpnr-ecp5`).
    Ecp5,
    /// Lattice iCE40 (`synth_ice40`, then Debian's `nextpnr-ice40`).
    Ice40,
}

impl Target {
    pub fn name(self) -> &'static str {
        match self {
            Target::Xilinx => "xilinx",
            Target::Generic => "generic",
            Target::Ecp5 => "ecp5",
            Target::Ice40 => "ice40",
        }
    }

    /// The Yosys commands after the design is read. Generic and Xilinx
    /// synthesis keep the hierarchy, so that every chunk's PE cells are
    /// counted in place; generic synthesis keeps memories as memory cells
    /// (mapping them to flip-flops would take minutes and count a block RAM
    /// as logic). ECP5 and iCE40 flatten, for place-and-route
    /// ([`Target::flattens`]).
    pub(crate) fn script(self, device: Option<Device>) -> String {
        match self {
            Target::Generic => "synth -top nasa_top -run begin:fine; memory -nomap; techmap; opt -fast; abc -fast; opt_clean".into(),
            Target::Xilinx => "synth_xilinx -top nasa_top".into(),
            Target::Ecp5 | Target::Ice40 => format!(
                "{} -json netlist_{self}.json",
                self.cell_script("nasa_top", device)
            ),
        }
    }

    /// Whether the netlist is flattened (for place-and-route, where a
    /// hierarchy kept costs the cross-module optimisations: a third more
    /// LUTs on the default design), so that chunks are counted from their
    /// PE cell synthesised alone.
    pub(crate) fn flattens(self) -> bool {
        matches!(self, Target::Ecp5 | Target::Ice40)
    }

    /// The synthesis command of module `top` alone (ECP5, iCE40).
    pub(crate) fn cell_script(self, top: &str, device: Option<Device>) -> String {
        match self {
            Target::Ecp5 => format!("synth_ecp5 -top {top}"),
            // Only the UP5K has DSP blocks (SB_MAC16).
            Target::Ice40 => format!(
                "synth_ice40 -top {top}{}",
                if device == Some(Device::Up5k) {
                    " -dsp"
                } else {
                    ""
                }
            ),
            Target::Generic | Target::Xilinx => format!("synth -top {top}"),
        }
    }

    /// The device place-and-route fills when none is named, or `None` where
    /// no open tool exists.
    pub fn default_device(self) -> Option<Device> {
        match self {
            Target::Ecp5 => Some(Device::Ecp5_85k),
            Target::Ice40 => Some(Device::Up5k),
            Target::Xilinx | Target::Generic => None,
        }
    }

    /// What a cell type of this target's netlist counts as.
    pub(crate) fn class(self, cell: &str) -> Option<Class> {
        use Class::*;
        let c = match self {
            Target::Generic => return None,
            Target::Xilinx => match cell {
                t if t.starts_with("LUT") => Lut(1),
                t if t.starts_with("FD") => FlipFlop,
                t if t.starts_with("DSP48") => Dsp,
                "RAMB18E1" => BlockRam(1),
                "RAMB36E1" => BlockRam(2),
                _ => return None,
            },
            Target::Ecp5 => match cell {
                "LUT4" => Lut(1),
                // A carry cell is two LUT4s of a slice.
                "CCU2C" => Lut(2),
                "TRELLIS_FF" => FlipFlop,
                "MULT18X18D" | "ALU54B" => Dsp,
                "DP16KD" => BlockRam(1),
                _ => return None,
            },
            Target::Ice40 => match cell {
                "SB_LUT4" => Lut(1),
                t if t.starts_with("SB_DFF") => FlipFlop,
                "SB_MAC16" => Dsp,
                "SB_RAM40_4K" => BlockRam(1),
                _ => return None,
            },
        };
        Some(c)
    }

    /// The names of this target's DSP and block-RAM cells, for reports.
    pub fn dsp_cell(self) -> &'static str {
        match self {
            Target::Xilinx => "DSP48E1",
            Target::Ecp5 => "MULT18X18D",
            Target::Ice40 => "SB_MAC16",
            Target::Generic => "",
        }
    }

    pub fn block_ram_cell(self) -> &'static str {
        match self {
            Target::Xilinx => "RAMB18",
            Target::Ecp5 => "DP16KD",
            Target::Ice40 => "SB_RAM40_4K",
            Target::Generic => "",
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a netlist cell counts as; a LUT count is in the target's LUTs
/// (LUT6 or LUT4 equivalents), a block-RAM count in its smallest block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Lut(u64),
    FlipFlop,
    Dsp,
    BlockRam(u64),
}

/// A device an open place-and-route tool fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
pub enum Device {
    /// ECP5 LFE5U-25F.
    #[value(name = "25k")]
    #[serde(rename = "LFE5U-25F")]
    Ecp5_25k,
    /// ECP5 LFE5U-45F.
    #[value(name = "45k")]
    #[serde(rename = "LFE5U-45F")]
    Ecp5_45k,
    /// ECP5 LFE5U-85F.
    #[value(name = "85k")]
    #[serde(rename = "LFE5U-85F")]
    Ecp5_85k,
    /// iCE40 UP5K (5,280 logic cells, 8 DSPs).
    #[value(name = "up5k")]
    #[serde(rename = "iCE40UP5K")]
    Up5k,
    /// iCE40 HX8K (7,680 logic cells, no DSP).
    #[value(name = "hx8k")]
    #[serde(rename = "iCE40HX8K")]
    Hx8k,
}

impl Device {
    pub fn target(self) -> Target {
        match self {
            Device::Ecp5_25k | Device::Ecp5_45k | Device::Ecp5_85k => Target::Ecp5,
            Device::Up5k | Device::Hx8k => Target::Ice40,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Device::Ecp5_25k => "LFE5U-25F",
            Device::Ecp5_45k => "LFE5U-45F",
            Device::Ecp5_85k => "LFE5U-85F",
            Device::Up5k => "iCE40UP5K",
            Device::Hx8k => "iCE40HX8K",
        }
    }

    /// The nextpnr option that selects the device.
    pub(crate) fn nextpnr_flag(self) -> &'static str {
        match self {
            Device::Ecp5_25k => "--25k",
            Device::Ecp5_45k => "--45k",
            Device::Ecp5_85k => "--85k",
            Device::Up5k => "--up5k",
            Device::Hx8k => "--hx8k",
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
