//! What a design may spend: PE areas (a multiply-accumulate PE is 1, a
//! shift or adder PE 1/1.88, the reference's figures), or FPGA resources
//! priced by the resource model of [`fpga`] (Xilinx LUTs, or a part's
//! LUTs, DSPs and block RAMs).

use serde::Serialize;

use super::fpga::{self, Inventory, PartBudget, TargetModel};
use crate::hw::arch::CHEAP_PE_AREA;
use crate::hw::synth::target::Target;
use crate::model::quant::Kind;

/// Area of one PE of `kind`, in multiply-accumulate PEs.
pub fn pe_area(kind: Kind) -> f64 {
    match kind {
        Kind::Conv => 1.0,
        Kind::Shift | Kind::Adder => CHEAP_PE_AREA,
    }
}

/// What a design may spend.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Budget {
    /// Multiply-accumulate PE areas.
    PeArea(f64),
    /// Xilinx 7-series LUTs by the FPGA resource model ([`fpga`]).
    Luts(f64),
    /// A part's LUTs (a share of them), DSPs and block RAMs by the FPGA
    /// resource model of its target.
    Part(PartBudget),
}

impl Budget {
    /// Cost of one PE of each kind and the capacity for PEs: the linear
    /// bound the search enumerates within (PE areas leave controllers out;
    /// FPGA budgets count the PE cells alone, a relaxation that
    /// [`Budget::admits`] then tightens design by design).
    pub fn linear(&self) -> ([f64; 3], f64) {
        match *self {
            Budget::PeArea(a) => (Kind::ALL.map(pe_area), a),
            Budget::Luts(l) => (xilinx().pe_luts(), l),
            Budget::Part(p) => (p.part.model().pe_luts(), p.limits().0),
        }
    }

    /// Whether the budget is in FPGA resources (priced by [`fpga`], for
    /// layer-by-layer tile designs).
    pub fn is_fpga(&self) -> bool {
        !matches!(self, Budget::PeArea(_))
    }

    /// The model an FPGA budget is priced by (`None`: PE areas).
    pub fn model(&self) -> Option<&'static TargetModel> {
        match self {
            Budget::PeArea(_) => None,
            Budget::Luts(_) => Some(xilinx()),
            Budget::Part(p) => Some(p.part.model()),
        }
    }

    /// Whether a design of `inv` fits, or what it exceeds.
    pub fn admits(&self, inv: &Inventory) -> Result<(), String> {
        let Some(model) = self.model() else {
            return Ok(());
        };
        let u = model.estimate(inv);
        match *self {
            Budget::Luts(l) if u.luts as f64 > l => Err(format!("{} LUTs (of {l})", u.luts)),
            Budget::Part(p) => p.check(&u),
            _ => Ok(()),
        }
    }
}

fn xilinx() -> &'static TargetModel {
    TargetModel::of(Target::Xilinx, true).unwrap_or(&fpga::MODELS[0])
}

impl std::fmt::Display for Budget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Budget::PeArea(a) => write!(f, "{a} MAC-PE areas"),
            Budget::Luts(l) => write!(f, "{l} LUTs"),
            Budget::Part(p) => {
                let (l, d, b) = p.limits();
                let m = p.part.model();
                write!(
                    f,
                    "{} ({l:.0} LUTs, {d} {}, {b} {})",
                    p.part.name(),
                    m.target.dsp_cell(),
                    m.target.block_ram_cell()
                )
            }
        }
    }
}
