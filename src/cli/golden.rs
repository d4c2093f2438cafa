//! `nasa golden`: the golden model on chosen images, with the float
//! reference beside it.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use nasa::model::dump::DumpIndex;
use nasa::model::golden::{self, argmax};
use nasa::model::input::{read_input_file, Images};
use nasa::model::net::Network;
use nasa::model::{data, dump, eval};

use super::args::GoldenArgs;
use super::report::Report;

/// One image through the golden model and the float reference.
#[derive(Serialize)]
pub struct GoldenImage {
    pub index: usize,
    pub prediction: usize,
    pub label: Option<u8>,
    pub output: Vec<i64>,
    pub float_output: Vec<f64>,
    pub float_prediction: usize,
    pub max_abs_error: f64,
}

/// What `nasa golden` reports.
#[derive(Serialize)]
pub struct GoldenReport {
    pub network: String,
    pub images: Vec<GoldenImage>,
    pub dump: Option<String>,
    #[serde(skip)]
    pub dumped: Option<DumpIndex>,
}

impl Report for GoldenReport {
    fn text(&self) -> String {
        let mut t = String::new();
        for img in &self.images {
            let label = img
                .label
                .map(|l| format!(" (label {l})"))
                .unwrap_or_default();
            let _ = writeln!(
                t,
                "image {}: class {}{label}; output {}",
                img.index,
                img.prediction,
                serde_json::to_string(&img.output).unwrap_or_default()
            );
            let _ = writeln!(
                t,
                "  float reference: class {}, largest |integer - float| = {:.4}",
                img.float_prediction,
                if img.max_abs_error.is_finite() {
                    img.max_abs_error
                } else {
                    0.0
                }
            );
        }
        if let (Some(d), Some(idx)) = (&self.dump, &self.dumped) {
            let _ = writeln!(
                t,
                "dumped {} tensors of {} image(s) to {d}",
                idx.tensors.len(),
                idx.images,
            );
        }
        t
    }
}

pub fn golden_cmd(net: &Network, a: &GoldenArgs) -> Result<GoldenReport> {
    let (index, count) = (a.index, a.count);
    if count == 0 {
        bail!("--count must be at least 1");
    }
    let end = index.saturating_add(count);
    let Images {
        quantized: inputs,
        pixels,
        labels,
    } = match (&a.input, a.data.dataset) {
        (Some(p), _) => read_input_file(net, p, index, count)?,
        (None, Some(kind)) => {
            let set = data::load_test(kind, a.data.data.as_deref())?;
            eval::check_compatible(net, &set)?;
            if end > set.len() {
                bail!(
                    "asked for images {index}..{} but the {kind} test set holds {}",
                    end,
                    set.len()
                );
            }
            let px: Vec<Vec<u8>> = (index..end).map(|i| set.image(i).to_vec()).collect();
            let quantized = px.iter().map(|p| golden::quantize_image(net, p)).collect();
            let labels = Some(set.labels[index..end].to_vec());
            Images {
                quantized,
                pixels: Some(px),
                labels,
            }
        }
        (None, None) => bail!("golden needs --input FILE or --dataset NAME"),
    };
    let outputs = golden::infer_batch(net, &inputs);
    let scale = net.output_info().scale;
    let mut images = Vec::new();
    for (i, out) in outputs.into_iter().enumerate() {
        let float = match &pixels {
            Some(px) => golden::infer_float(net, &golden::real_image(net, &px[i])),
            None => golden::infer_float(
                net,
                &inputs[i].iter().map(|&v| v as f64).collect::<Vec<_>>(),
            ),
        };
        let err = out
            .iter()
            .zip(&float)
            .map(|(&a, &b)| (a as f64 - b).abs() * scale)
            .fold(0.0, f64::max);
        images.push(GoldenImage {
            index: index + i,
            prediction: argmax(&out),
            label: labels.as_ref().map(|l| l[i]),
            float_prediction: argmax(&float),
            output: out,
            float_output: float,
            max_abs_error: err,
        });
    }
    let dumped = match &a.dump {
        Some(dir) => Some(
            dump::write_dump(net, &inputs, dir)
                .with_context(|| format!("writing dump {}", dir.display()))?,
        ),
        None => None,
    };
    Ok(GoldenReport {
        network: net.name.clone(),
        images,
        dump: a.dump.as_ref().map(|d: &PathBuf| d.display().to_string()),
        dumped,
    })
}
