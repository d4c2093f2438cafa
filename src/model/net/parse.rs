//! From description text to [`RawFile`], with errors that point at the
//! file, layer, field and line. Layers are read one `[[layer]]` table at a
//! time (dispatching on `op` by hand) so that serde's errors keep their
//! positions and can be attributed to the layer they occur in.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::schema::*;
use crate::model::error::{InputError, InputResult};

/// The file minus its layers, which stay untyped tables until dispatched.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Head {
    network: RawNetwork,
    input: RawInput,
    #[serde(default, rename = "layer")]
    layers: Vec<toml::Table>,
}

pub const OPS: [&str; 9] = [
    "conv2d",
    "linear",
    "add",
    "maxpool",
    "avgpool",
    "global_avgpool",
    "relu",
    "relu6",
    "mbconv",
];

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, col)
}

/// The name inside the first pair of backticks of a serde message about a
/// field ("unknown field `x`", "missing field `x`").
pub(crate) fn field_in_message(msg: &str) -> Option<String> {
    if !(msg.starts_with("unknown field") || msg.starts_with("missing field")) {
        return None;
    }
    let start = msg.find('`')? + 1;
    let end = start + msg[start..].find('`')?;
    Some(msg[start..end].to_string())
}

/// The key assigned on the line holding `offset` (`key = value`), if any.
fn key_on_line(text: &str, offset: usize) -> Option<String> {
    let start = text[..offset.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line = text[start..].lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim().trim_matches('"');
    (!key.is_empty() && !key.starts_with('[')).then(|| key.to_string())
}

/// Byte ranges of the bodies of the `[[layer]]` tables, in order.
fn layer_bodies(text: &str) -> Vec<(usize, usize)> {
    let mut bodies = Vec::new();
    let mut open: Option<usize> = None;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with('[') {
            if let Some(s) = open.take() {
                bodies.push((s, pos));
            }
            if t.starts_with("[[layer]]") {
                open = Some(pos + line.len());
            }
        }
        pos += line.len();
    }
    if let Some(s) = open {
        bodies.push((s, text.len()));
    }
    bodies
}

/// Parses a description into its raw, syntactically checked form.
pub fn parse_raw(text: &str, path: &Path) -> InputResult<RawFile> {
    toml::from_str::<toml::Table>(text).map_err(|e| {
        InputError::new(
            path,
            format!("malformed TOML: {}", e.to_string().trim_end()),
        )
    })?;
    let head: Head = toml::from_str(text).map_err(|e| {
        let mut err = InputError::new(path, e.message().trim_end());
        if let Some(span) = e.span() {
            let (line, col) = line_col(text, span.start);
            err.message = format!("{} (line {line}, column {col})", err.message);
            // Name the field as `section.key` when inside [network] or [input].
            let section = text[..span.start.min(text.len())]
                .lines()
                .rev()
                .find(|l| l.trim_start().starts_with('['))
                .map(|l| l.trim().trim_matches(['[', ']']).to_string());
            let key = field_in_message(e.message()).or_else(|| key_on_line(text, span.start));
            err.field = match (section, key) {
                (Some(s), Some(k)) if s == "network" || s == "input" => Some(format!("{s}.{k}")),
                (_, k) => k,
            };
        } else {
            err.field = field_in_message(e.message());
        }
        err
    })?;
    let bodies = layer_bodies(text);
    let located = bodies.len() == head.layers.len();
    let mut layers = Vec::with_capacity(head.layers.len());
    for (i, table) in head.layers.iter().enumerate() {
        let name = table
            .get("name")
            .and_then(|n| n.as_str())
            .map_or_else(|| format!("#{}", i + 1), str::to_string);
        let body = located.then(|| bodies[i]);
        layers.push(parse_layer(text, path, table, &name, body)?);
    }
    Ok(RawFile {
        network: head.network,
        input: head.input,
        layers,
    })
}

fn parse_layer(
    text: &str,
    path: &Path,
    table: &toml::Table,
    name: &str,
    body: Option<(usize, usize)>,
) -> InputResult<RawLayer> {
    let err = |field: &str, msg: String| InputError::new(path, msg).layer(name).field(field);
    let op = match table.get("op") {
        None => {
            return Err(err(
                "op",
                format!("missing field `op` (one of {})", OPS.join(", ")),
            ))
        }
        Some(toml::Value::String(s)) => s.as_str(),
        Some(v) => {
            return Err(err(
                "op",
                format!("expected a string, got {}", v.type_str()),
            ))
        }
    };
    let typed =
        |this: &dyn Fn(&str) -> Result<RawLayer, toml::de::Error>| -> InputResult<RawLayer> {
            // Deserialise the table's own text (with the `op` line blanked) so
            // that positions survive; fall back to the parsed table.
            let (start, end) = body.unwrap_or((0, 0));
            let own: String = if body.is_some() {
                text[start..end]
                    .split_inclusive('\n')
                    .map(|l| {
                        let key = l.split_once('=').map(|(k, _)| k.trim());
                        if key == Some("op") {
                            // Same length, so byte offsets still match the file.
                            l.chars().map(|c| if c == '\n' { c } else { ' ' }).collect()
                        } else {
                            l.to_string()
                        }
                    })
                    .collect()
            } else {
                let mut t = table.clone();
                t.remove("op");
                toml::to_string(&t).unwrap_or_default()
            };
            this(&own).map_err(|e| {
                let mut out = InputError::new(path, e.message().trim_end()).layer(name);
                out.field = field_in_message(e.message());
                if let (Some(span), Some(_)) = (e.span(), body) {
                    if out.field.is_none() {
                        out.field = key_on_line(&own, span.start);
                    }
                    let (line, col) = line_col(text, start + span.start);
                    out.message = format!("{} (line {line}, column {col})", out.message);
                }
                out
            })
        };
    fn de<T: DeserializeOwned>(s: &str) -> Result<T, toml::de::Error> {
        toml::from_str(s)
    }
    match op {
        "conv2d" => typed(&|s| de(s).map(RawLayer::Conv2d)),
        "linear" => typed(&|s| de(s).map(RawLayer::Linear)),
        "add" => typed(&|s| de(s).map(RawLayer::Add)),
        "maxpool" => typed(&|s| de(s).map(RawLayer::Maxpool)),
        "avgpool" => typed(&|s| de(s).map(RawLayer::Avgpool)),
        "global_avgpool" => typed(&|s| de(s).map(RawLayer::GlobalAvgpool)),
        "relu" => typed(&|s| de(s).map(RawLayer::Relu)),
        "relu6" => typed(&|s| de(s).map(RawLayer::Relu6)),
        "mbconv" => typed(&|s| de(s).map(RawLayer::Mbconv)),
        other => Err(err(
            "op",
            format!("unknown op `{other}`, expected one of {}", OPS.join(", ")),
        )),
    }
}
