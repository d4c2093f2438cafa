//! Input images given as a file (`nasa golden --input`): an IDX image file
//! (gzip or not) of 8-bit pixels, or a safetensors file holding an I8 tensor
//! `input` of already quantised values, shape `[N,C,H,W]` or `[C,H,W]`.

use std::path::Path;

use anyhow::Result;

use crate::model::data;
use crate::model::error::InputError;
use crate::model::golden;
use crate::model::net::Network;
use crate::model::quant;

/// Images to run: quantised inputs, and the 8-bit pixels and labels when known.
pub struct Images {
    pub quantized: Vec<Vec<i64>>,
    pub pixels: Option<Vec<Vec<u8>>>,
    pub labels: Option<Vec<u8>>,
}

/// Reads `count` images starting at `index` from an IDX or safetensors file.
/// Errors are `InputError`s, or `DataError`s from the IDX reader.
pub fn read_input_file(net: &Network, path: &Path, index: usize, count: usize) -> Result<Images> {
    // Saturating: an absurd --index is just past the end, not an overflow.
    let end = index.saturating_add(count);
    let shape = net.input.tensor.shape;
    let head = std::fs::read(path)
        .map_err(|e| InputError::new(path, format!("cannot read input: {e}")))?;
    if data::looks_like_idx(&head) {
        let (n, h, w, pixels) = data::read_idx_images(path)?;
        if (1, h, w) != (shape.c, shape.h, shape.w) {
            return Err(InputError::new(
                path,
                format!("images are 1x{h}x{w} but the network's input is {shape}"),
            )
            .into());
        }
        if end > n {
            return Err(InputError::new(
                path,
                format!("asked for images {index}..{} but the file holds {n}", end),
            )
            .into());
        }
        let px: Vec<Vec<u8>> = (index..end)
            .map(|i| pixels[i * h * w..(i + 1) * h * w].to_vec())
            .collect();
        let quantized = px.iter().map(|p| golden::quantize_image(net, p)).collect();
        return Ok(Images {
            quantized,
            pixels: Some(px),
            labels: None,
        });
    }
    let st = safetensors::SafeTensors::deserialize(&head).map_err(|e| {
        InputError::new(
            path,
            format!("neither an IDX image file nor a valid safetensors file: {e}"),
        )
    })?;
    let t = st
        .tensor("input")
        .map_err(|_| InputError::new(path, "no tensor named `input`").field("input"))?;
    if t.dtype() != safetensors::Dtype::I8 {
        return Err(InputError::new(
            path,
            format!("tensor `input` has dtype {:?}, expected I8", t.dtype()),
        )
        .field("input")
        .into());
    }
    let dims = t.shape();
    let (n, chw) = match dims {
        [c, h, w] => (1, [*c, *h, *w]),
        [n, c, h, w] => (*n, [*c, *h, *w]),
        _ => {
            return Err(InputError::new(
                path,
                format!("tensor `input` has shape {dims:?}, expected [N,C,H,W] or [C,H,W]"),
            )
            .field("input")
            .into())
        }
    };
    if chw != [shape.c, shape.h, shape.w] {
        return Err(InputError::new(
            path,
            format!(
                "tensor `input` holds {}x{}x{} images but the network's input is {shape}",
                chw[0], chw[1], chw[2]
            ),
        )
        .field("input")
        .into());
    }
    if end > n {
        return Err(InputError::new(
            path,
            format!("asked for images {index}..{} but `input` holds {n}", end),
        )
        .field("input")
        .into());
    }
    let (lo, hi) = quant::signed_range(net.input.tensor.bits);
    let vals: Vec<i64> = t.data().iter().map(|&b| b as i8 as i64).collect();
    if let Some(v) = vals.iter().find(|&&v| v < lo || v > hi) {
        return Err(InputError::new(
            path,
            format!(
                "value {v} is outside the input's {}-bit range",
                net.input.tensor.bits
            ),
        )
        .field("input")
        .into());
    }
    let len = shape.len();
    let quantized = (index..end)
        .map(|i| vals[i * len..(i + 1) * len].to_vec())
        .collect();
    Ok(Images {
        quantized,
        pixels: None,
        labels: None,
    })
}
