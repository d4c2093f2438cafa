//! Accuracy of the golden model (and, when asked, agreement of the float
//! reference) on a labelled data set, batch-parallel.

use rayon::prelude::*;
use serde::Serialize;

use crate::model::data::Dataset;
use crate::model::error::InputError;
use crate::model::golden::{self, argmax};
use crate::model::net::Network;

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    /// Integer (golden-model) top-1 accuracy in [0, 1].
    pub accuracy: f64,
    pub images: usize,
    pub correct: usize,
    /// The float reference's figures, when asked for.
    #[serde(flatten)]
    pub float: Option<FloatReport>,
}

/// How the float reference (docs/arithmetic.md, section 8) compares.
#[derive(Debug, Clone, Serialize)]
pub struct FloatReport {
    /// Top-1 accuracy of the float reference.
    pub float_accuracy: f64,
    /// Fraction of images where integer and float predictions agree.
    pub agreement: f64,
    /// Mean over images of the largest |integer - float| output, in real units.
    pub mean_max_abs_error: f64,
}

/// The test split of a data set (the first `limit` images, if given),
/// checked against the network's input and outputs.
pub fn test_set(
    net: &Network,
    kind: crate::model::data::DatasetKind,
    dir: Option<&std::path::Path>,
    limit: Option<usize>,
) -> anyhow::Result<Dataset> {
    let mut set = crate::model::data::load_test(kind, dir)?;
    if let Some(n) = limit {
        set.truncate(n);
    }
    check_compatible(net, &set)?;
    Ok(set)
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

/// Images handed to the engine at a time, between progress reports.
const CHUNK: usize = 1024;

/// The float reference's prediction of one image, and its largest
/// |integer - float| output in real units.
fn float_one(engine: &golden::Engine, net: &Network, pixels: &[u8], q: &[i64]) -> (usize, f64) {
    let f = engine.infer_float(&golden::real_image(net, pixels));
    let err = max_abs_error(q, &f, net.output_info().scale);
    (argmax(&f), err)
}

/// The largest |integer - float| output, in real units (times `scale`).
pub fn max_abs_error(q: &[i64], f: &[f64], scale: f64) -> f64 {
    q.iter()
        .zip(f)
        .map(|(&a, &b)| (a as f64 - b).abs() * scale)
        .fold(0.0, f64::max)
}

/// Evaluates every image of `data` with the integer model, and with the
/// float reference too when `float` is set; `progress` is called once per image.
pub fn evaluate(
    net: &Network,
    data: &Dataset,
    float: bool,
    progress: &(dyn Fn() + Sync),
) -> EvalReport {
    let engine = golden::Engine::new(net);
    let mut predictions = Vec::with_capacity(data.len());
    let mut floats = Vec::new();
    for start in (0..data.len()).step_by(CHUNK) {
        let range = start..(start + CHUNK).min(data.len());
        let inputs: Vec<Vec<i64>> = range
            .clone()
            .map(|i| golden::quantize_image(net, data.image(i)))
            .collect();
        let outputs = engine.infer_batch(&inputs);
        predictions.extend(outputs.iter().map(|o| argmax(o)));
        if float {
            floats.par_extend(
                range
                    .clone()
                    .into_par_iter()
                    .zip(&outputs)
                    .map(|(i, q)| float_one(&engine, net, data.image(i), q)),
            );
        }
        range.for_each(|_| progress());
    }
    let n = data.len().max(1) as f64;
    let label = |i: usize| data.labels[i] as usize;
    let correct = (0..data.len())
        .filter(|&i| predictions[i] == label(i))
        .count();
    let float = float.then(|| {
        let (mut float_correct, mut agree, mut err) = (0, 0, 0.0);
        for (i, &(f, e)) in floats.iter().enumerate() {
            float_correct += (f == label(i)) as usize;
            agree += (f == predictions[i]) as usize;
            err += e;
        }
        FloatReport {
            float_accuracy: float_correct as f64 / n,
            agreement: agree as f64 / n,
            mean_max_abs_error: err / n,
        }
    });
    EvalReport {
        accuracy: correct as f64 / n,
        images: data.len(),
        correct,
        float,
    }
}
