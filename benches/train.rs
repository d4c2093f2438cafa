//! Training throughput: images per second of one training step (forward,
//! backward, no optimiser) of the default search space's supernet with two
//! sampled paths per block, and of the network that search derived (the
//! embedded default, `models/default`), batch 128, on every core rayon finds.
//!
//! Run: `cargo bench --bench train` (release build). Results go to
//! docs/benchmarks.md by hand, with the machine they came from.

use std::path::Path;
use std::time::Instant;

use nasa::learn::search::space::Space;
use nasa::learn::search::supernet::Supernet;
use nasa::learn::search::SearchOptions;
use nasa::learn::train::model::{cross_entropy, Mode, Model};
use nasa::model::data::DatasetKind;
use nasa::model::net::Network;
use nasa::model::rng::SplitMix64;

const BATCH: usize = 128;
const STEPS: usize = 5;

fn inputs(len: usize, rng: &mut SplitMix64) -> (Vec<f32>, Vec<u8>) {
    let x = (0..BATCH * len).map(|_| rng.unit_f64() as f32).collect();
    let y = (0..BATCH).map(|_| rng.range_i64(0, 9) as u8).collect();
    (x, y)
}

fn main() {
    let mut rng = SplitMix64::new(1);
    let mode = Mode {
        train: true,
        quant: false,
    };
    let o = SearchOptions::default();
    let space = Space::for_dataset(DatasetKind::FashionMnist, o.space, o.depth, o.width);
    let mut net = Supernet::new(&space, 1, o.sharing);
    // Two paths per block: the first multiplier candidate and the last MBConv one.
    let paths: Vec<Vec<(usize, f32)>> = net
        .blocks
        .iter()
        .map(|b| vec![(0, 0.5), (b.candidates.len() - 2, 0.5)])
        .collect();
    let time = |f: &mut dyn FnMut()| {
        f();
        let t = Instant::now();
        for _ in 0..STEPS {
            f();
        }
        (STEPS * BATCH) as f64 / t.elapsed().as_secs_f64()
    };
    let (x, y) = inputs(28 * 28, &mut rng);
    let supernet = time(&mut || {
        let logits = net.forward(x.clone(), &paths, mode);
        let (_, g, _) = cross_entropy(&logits, &y, 10);
        net.backward(g, mode);
    });
    println!(
        "supernet step ({} blocks, 2 paths each, batch {BATCH}): {supernet:.0} images/s",
        space.blocks().len()
    );

    let desc = Network::parse(
        nasa::model::models::DEFAULT_DESCRIPTION,
        Path::new(nasa::model::models::DEFAULT_PATH),
    )
    .expect("valid description");
    for quant in [false, true] {
        let mut model = Model::new(&desc, 1).expect("trainable");
        let mode = Mode { train: true, quant };
        let derived = time(&mut || {
            let out = model.forward(x.clone(), mode).to_vec();
            let (_, g, _) = cross_entropy(&out, &y, 10);
            model.backward(g, mode);
        });
        println!(
            "derived network `{}` step ({}, batch {BATCH}): {derived:.0} images/s",
            desc.name,
            if quant { "quantisation-aware" } else { "float" }
        );
    }
}
