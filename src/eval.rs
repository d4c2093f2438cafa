//! Accuracy of the golden model (and agreement of the float reference) on a
//! labelled data set, batch-parallel.

use rayon::prelude::*;
use serde::Serialize;

use crate::data::Dataset;
use crate::error::InputError;
use crate::golden::{self, argmax};
use crate::net::Network;

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Integer (golden-model) top-1 accuracy in [0, 1].
    pub accuracy: f64,
    pub images: usize,
    pub correct: usize,
    /// Top-1 accuracy of the float reference.
    pub float_accuracy: f64,
    /// Fraction of images where integer and float predictions agree.
    pub agreement: f64,
    /// Mean over images of the largest |integer - float| output, in real units.
    pub mean_max_abs_error: f64,
}

/// Checks that the data set's images fit the network's input.
pub fn check_compatible(net: &Network, data: &Dataset) -> Result<(), InputError> {
    let s = net.input.tensor.shape;
    if (data.channels, data.height, data.width) != (s.c, s.h, s.w) {
        return Err(InputError::new(
            &net.provenance.description,
            format!(
                "the network's input is {s} (CxHxW) but data set {} has {}x{}x{} images",
                data.kind, data.channels, data.height, data.width
            ),
        )
        .field("input"));
    }
    let classes = net.output_info().shape.len();
    if classes < data.classes {
        return Err(InputError::new(
            &net.provenance.description,
            format!(
                "the network has {classes} outputs but data set {} has {} classes",
                data.kind, data.classes
            ),
        )
        .field("network.output"));
    }
    Ok(())
}

/// Per-image results: (integer prediction, float prediction, max abs error).
fn one(engine: &golden::Engine, net: &Network, pixels: &[u8]) -> (usize, usize, f64) {
    let q = engine.infer(&golden::quantize_image(net, pixels));
    let f = engine.infer_float(&golden::real_image(net, pixels));
    let scale = net.output_info().scale;
    let err = q
        .iter()
        .zip(&f)
        .map(|(&a, &b)| (a as f64 - b).abs() * scale)
        .fold(0.0, f64::max);
    (argmax(&q), argmax(&f), err)
}

/// Evaluates every image of `data`; `progress` is called once per image.
pub fn evaluate(net: &Network, data: &Dataset, progress: &(dyn Fn() + Sync)) -> EvalReport {
    let engine = golden::Engine::new(net);
    let results: Vec<(usize, usize, f64)> = (0..data.len())
        .into_par_iter()
        .map(|i| {
            let r = one(&engine, net, data.image(i));
            progress();
            r
        })
        .collect();
    let n = results.len().max(1) as f64;
    let mut correct = 0;
    let mut float_correct = 0;
    let mut agree = 0;
    let mut err = 0.0;
    for (i, &(q, f, e)) in results.iter().enumerate() {
        let label = data.labels[i] as usize;
        correct += (q == label) as usize;
        float_correct += (f == label) as usize;
        agree += (q == f) as usize;
        err += e;
    }
    EvalReport {
        accuracy: correct as f64 / n,
        images: results.len(),
        correct,
        float_accuracy: float_correct as f64 / n,
        agreement: agree as f64 / n,
        mean_max_abs_error: err / n,
    }
}
