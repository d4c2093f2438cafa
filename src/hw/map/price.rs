//! The mapper as a [`CostModel`]: what `nasa search --cost mapper` charges
//! a network. Each price sizes the accelerator for the network alone under
//! the given budget (the exhaustive search of [`super::map`], a few
//! milliseconds for the compact space's networks) and reads its predicted
//! cycles and system energy: the hardware the search's network would get,
//! not a fixed design that may lack a chunk for a candidate's kind.

use super::{map, MapOptions, Objective};
use crate::hw::arch::Engine;
use crate::model::cost::{CostModel, Price};
use crate::model::net::Network;
use crate::model::quant::Kind;

/// Prices networks on an accelerator the mapper sizes for each of them.
#[derive(Debug, Clone)]
pub struct MapperCost {
    pub options: MapOptions,
}

impl CostModel for MapperCost {
    fn compute_energy(&self, kind: Kind, bits: u32, ops: u64) -> f64 {
        self.options.energy.compute.term(kind, bits) * ops as f64
    }

    fn describe(&self) -> String {
        let o = &self.options;
        format!(
            "mapper: {} at {} ({} engine{}, {} KiB buffer, {}-bit memory port)",
            match o.objective {
                Objective::Latency => "cycles",
                Objective::Energy => "system energy",
                Objective::Edp => "energy-delay product",
            },
            o.budget,
            match o.engine {
                Engine::Auto => "auto",
                Engine::Tiles => "tile",
                Engine::Cache => "cache",
            },
            if o.pipeline {
                ", pipelined where the buffer holds it"
            } else {
                ""
            },
            o.buffer.words / 1024,
            o.memory.data_bits,
        )
    }

    /// Cycles are one inference's, or the steady-state period of a
    /// pipelined design (images per cycle is what a pipeline is for). A
    /// network whose pipeline does not fit the buffer is priced layer by
    /// layer, the design the mapper would fall back to.
    fn price(&self, net: &Network) -> Result<Price, String> {
        let nets = std::slice::from_ref(net);
        let mapping = match map(nets, &self.options) {
            Err(_) if self.options.pipeline => map(
                nets,
                &MapOptions {
                    pipeline: false,
                    ..self.options.clone()
                },
            )?,
            other => other?,
        };
        let m = mapping
            .networks
            .first()
            .ok_or_else(|| "the mapper priced no network".to_string())?;
        let cycles = m.pipeline.as_ref().map_or(m.cycles, |p| p.period);
        let energy_pj = m.energy_nj * 1000.0;
        Ok(Price {
            cost: self.options.objective.of(cycles as f64, energy_pj),
            energy_pj,
            cycles: Some(cycles),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hw::map::Budget;

    fn options(objective: Objective) -> MapOptions {
        MapOptions {
            budget: Budget::PeArea(24.0),
            objective,
            buffer: Default::default(),
            memory: Default::default(),
            clock_mhz: 250.0,
            energy: Default::default(),
            name: "priced".into(),
            pipeline: false,
            engine: Default::default(),
            share: false,
            fuse: None,
        }
    }

    /// The price is the mapper's own prediction for the network, in the
    /// objective's unit; the unit table's price of the same network is its
    /// compute energy alone, a small part of the system's.
    #[test]
    fn the_price_is_the_mapped_designs_prediction() {
        let net = crate::model::models::default_network().unwrap();
        let mapping = map(std::slice::from_ref(&net), &options(Objective::Edp)).unwrap();
        let m = &mapping.networks[0];
        for objective in [Objective::Latency, Objective::Energy, Objective::Edp] {
            let cost = MapperCost {
                options: options(objective),
            };
            let p = cost.price(&net).unwrap();
            let expect = match objective {
                Objective::Latency => p.cycles.unwrap() as f64,
                Objective::Energy => p.energy_pj,
                Objective::Edp => p.cycles.unwrap() as f64 * p.energy_pj,
            };
            assert_eq!(p.cost, expect);
            if objective == Objective::Edp {
                assert_eq!(p.cycles, Some(m.cycles));
                assert_eq!(p.energy_pj, m.energy_nj * 1000.0);
            }
        }
        let unit = crate::model::cost::UnitEnergy::default()
            .price(&net)
            .unwrap();
        let mapped = MapperCost {
            options: options(Objective::Energy),
        }
        .price(&net)
        .unwrap();
        assert!(unit.cycles.is_none());
        assert!(unit.energy_pj > 0.0 && unit.energy_pj < 0.05 * mapped.energy_pj);
    }
}
