//! Shared set-up for the benchmarks: randomly initialised models of the shipped presets and
//! inputs of their shapes. Weights do not change the cost of a forward pass.

use burn::tensor::{Device, Distribution, Tensor};
use text_recognizer::model::{Preset, PresetName, ResnetTransformer};

/// A model of `preset` in eval mode with FSDL's 84-token vocabulary.
pub fn model(preset: PresetName, device: &Device) -> (Preset, ResnetTransformer) {
    let p = Preset::named(preset);
    let m = p.model.init(84, device);
    (p, burn::module::Module::valid(&m))
}

/// Random images `[batch, 1, height, width]` in `[0, 1)`.
pub fn images(batch: usize, height: usize, width: usize, device: &Device) -> Tensor<4> {
    Tensor::random([batch, 1, height, width], Distribution::Default, device)
}
