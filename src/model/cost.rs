//! Compute energy of networks and search candidates from a unit-energy
//! table (45 nm defaults of NASA-F, section 7 of the reference): each
//! kind is charged its own operation, not a multiply for every kind.
//!
//! One accumulation term costs, at the layer's input width:
//! conv `mult + add`, shift `shift + add`, adder `add + add` (the
//! subtraction and the accumulation). Memory traffic belongs to the
//! mapper's model, which implements [`CostModel`] too (`hw::map::price`).

use serde::{Deserialize, Serialize};

use crate::model::net::Network;
use crate::model::quant::Kind;

/// Energy in picojoules of one operation at 8 and at 32 bits; narrower
/// widths interpolate linearly between the 6- and 8-bit figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UnitEnergy {
    pub mult_8: f64,
    pub add_8: f64,
    pub shift_8: f64,
    pub mult_6: f64,
    pub add_6: f64,
    pub shift_6: f64,
}

impl Default for UnitEnergy {
    /// 45 nm figures (pJ) of the reference's section 7.
    fn default() -> Self {
        UnitEnergy {
            mult_8: 0.2,
            add_8: 0.03,
            shift_8: 0.024,
            mult_6: 0.2,
            add_6: 0.022,
            shift_6: 0.018,
        }
    }
}

impl UnitEnergy {
    fn at(&self, bits: u32, e6: f64, e8: f64) -> f64 {
        let b = bits.clamp(6, 8) as f64;
        e6 + (e8 - e6) * (b - 6.0) / 2.0
    }

    /// Energy (pJ) of one accumulation term of `kind` on `bits`-bit inputs.
    pub fn term(&self, kind: Kind, bits: u32) -> f64 {
        let add = self.at(bits, self.add_6, self.add_8);
        match kind {
            Kind::Conv => self.at(bits, self.mult_6, self.mult_8) + add,
            Kind::Shift => self.at(bits, self.shift_6, self.shift_8) + add,
            Kind::Adder => 2.0 * add,
        }
    }
}

/// What one inference of a whole network costs by a [`CostModel`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Price {
    /// The quantity a search minimises: pJ for energy, cycles for latency,
    /// cycles x pJ for the energy-delay product.
    pub cost: f64,
    /// Energy of one inference (pJ): compute alone by the unit table, the
    /// whole system (memory levels included) by the mapper.
    pub energy_pj: f64,
    /// Cycles of one inference, where the model predicts them.
    pub cycles: Option<u64>,
}

/// Anything that can price a network: the unit table (compute energy of
/// each term) and the mapper's model of a sized accelerator
/// (`hw::map::price::MapperCost`), which `nasa search --cost mapper` charges.
pub trait CostModel: Sync {
    /// Energy (pJ) of `ops` accumulation terms of `kind` on `bits`-bit inputs.
    fn compute_energy(&self, kind: Kind, bits: u32, ops: u64) -> f64;

    /// One line saying what [`CostModel::price`] charges (logs, checkpoints).
    fn describe(&self) -> String {
        "unit table: compute energy".into()
    }

    /// One inference of `net`; by default its compute energy alone. An
    /// error says why the network cannot be priced (for the mapper: no
    /// design fits the budget).
    fn price(&self, net: &Network) -> Result<Price, String> {
        let (_, e) = network_energy(net, self);
        Ok(Price {
            cost: e,
            energy_pj: e,
            cycles: None,
        })
    }
}

impl CostModel for UnitEnergy {
    fn compute_energy(&self, kind: Kind, bits: u32, ops: u64) -> f64 {
        self.term(kind, bits) * ops as f64
    }
}

/// Compute energy of one inference of `net` (pJ), per kind and in total.
pub fn network_energy<M: CostModel + ?Sized>(net: &Network, model: &M) -> ([f64; 3], f64) {
    let mut per = [0f64; 3];
    for (layer, op) in net.conv_layers() {
        let bits = net.tensor(layer.inputs[0]).bits;
        let ops = layer.out.shape.len() as u64 * op.fan_in() as u64;
        let k = Kind::ALL.iter().position(|&k| k == op.kind).unwrap_or(0);
        per[k] += model.compute_energy(op.kind, bits, ops);
    }
    (per, per.iter().sum())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_charged_its_own_operation() {
        let u = UnitEnergy::default();
        assert!((u.term(Kind::Conv, 8) - 0.23).abs() < 1e-12);
        assert!((u.term(Kind::Shift, 8) - 0.054).abs() < 1e-12);
        assert!((u.term(Kind::Adder, 8) - 0.06).abs() < 1e-12);
        assert!((u.term(Kind::Adder, 6) - 0.044).abs() < 1e-12);
        assert!((u.compute_energy(Kind::Conv, 8, 1000) - 230.0).abs() < 1e-9);
    }
}
