//! The golden model on chosen images (`nasa golden`): integer outputs and
//! predictions, the float reference beside them, and optionally a dump of
//! every layer's tensors.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::model::data::DatasetKind;
use crate::model::dump::{self, DumpIndex};
use crate::model::eval;
use crate::model::golden::{self, argmax};
use crate::model::input::{read_input_file, Images};
use crate::model::net::Network;

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

/// The images `nasa golden` was asked for.
#[derive(Debug, Clone)]
pub struct GoldenRequest {
    /// An IDX or safetensors input file (else `dataset`).
    pub input: Option<PathBuf>,
    pub dataset: Option<DatasetKind>,
    /// The data set's directory (default: the Debian package's).
    pub data_dir: Option<PathBuf>,
    pub index: usize,
    pub count: usize,
    /// Write every layer's tensors here.
    pub dump: Option<PathBuf>,
}

/// Runs the golden model and the float reference on the requested images,
/// and writes the dump if asked.
pub fn golden(net: &Network, a: &GoldenRequest) -> Result<GoldenReport> {
    let (index, count) = (a.index, a.count);
    if count == 0 {
        bail!("--count must be at least 1");
    }
    let end = index.saturating_add(count);
    let Images {
        quantized: inputs,
        pixels,
        labels,
    } = match (&a.input, a.dataset) {
        (Some(p), _) => read_input_file(net, p, index, count)?,
        (None, Some(kind)) => {
            let set = eval::test_set(net, kind, a.data_dir.as_deref(), None)?;
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
        let err = eval::max_abs_error(&out, &float, scale);
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
        dump: a.dump.as_ref().map(|d| d.display().to_string()),
        dumped,
    })
}
