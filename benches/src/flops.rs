//! FLOP counts of the model from its configuration (multiply-add = 2 FLOPs; convolutions,
//! linear layers and attention matmuls only — norms, activations and softmax are left out, as in
//! `perf-baseline.md`, whose totals these reproduce). Dividing by a measured time gives achieved
//! GFLOP/s: the distance to what the hardware can do.

use text_recognizer::model::ModelConfig;

/// Output size of a convolution or pooling along one axis.
fn out_len(len: usize, kernel: usize, stride: usize, pad: usize) -> usize {
    (len + 2 * pad - kernel) / stride + 1
}

/// Encoder forward (ResNet trunk + projection) of one `height × width` image, and the size
/// `[h, w]` of its feature map.
pub fn encoder(cfg: &ModelConfig, height: usize, width: usize) -> (f64, [usize; 2]) {
    let e = &cfg.encoder;
    let conv = |c_in: usize, c_out: usize, k: usize, h: usize, w: usize| {
        2.0 * (c_in * c_out * k * k * h * w) as f64
    };
    // The grey image is fed to the stem as is (in_channels 1) or repeated (FSDL's 3).
    let (mut h, mut w) = (out_len(height, 7, 2, 3), out_len(width, 7, 2, 3));
    let mut flops = conv(e.in_channels, e.stem_width, 7, h, w);
    (h, w) = (out_len(h, 3, 2, 1), out_len(w, 3, 2, 1));
    let mut channels = e.stem_width;
    for ((&width_out, &depth), &stride) in e.widths.iter().zip(&e.depths).zip(&e.strides) {
        for i in 0..depth {
            let [sv, sh] = if i == 0 { stride } else { [1, 1] };
            let (ho, wo) = (out_len(h, 3, sv, 1), out_len(w, 3, sh, 1));
            flops += conv(channels, width_out, 3, ho, wo) + conv(width_out, width_out, 3, ho, wo);
            if [sv, sh] != [1, 1] || channels != width_out {
                flops += conv(channels, width_out, 1, ho, wo);
            }
            (h, w, channels) = (ho, wo, width_out);
        }
    }
    flops += 2.0 * (channels * cfg.d_model * h * w) as f64;
    (flops, [h, w])
}

/// Teacher-forced decoder forward over `tokens` positions against `memory` tokens (the
/// memory's K/V projections included), output head included.
pub fn decoder(cfg: &ModelConfig, vocab: usize, tokens: usize, memory: usize) -> f64 {
    let (d, t, s, ff) = (
        cfg.d_model as f64,
        tokens as f64,
        memory as f64,
        cfg.d_ff as f64,
    );
    let per_layer =
        6.0 * d * d * t + 2.0 * d * d * s + 2.0 * t * t * d + 2.0 * t * s * d + 2.0 * d * ff * t;
    2.0 * (cfg.n_layers as f64 * per_layer + d * vocab as f64 * t)
}

/// Cross-attention K/V projections of the memory, done once when a KV cache starts.
pub fn cache_start(cfg: &ModelConfig, memory: usize) -> f64 {
    2.0 * cfg.n_layers as f64 * 2.0 * (cfg.d_model * cfg.d_model * memory) as f64
}

/// One cached decoding step whose self-attention sees `prefix` positions (itself included).
pub fn cached_step(cfg: &ModelConfig, vocab: usize, prefix: usize, memory: usize) -> f64 {
    let (d, ff) = (cfg.d_model as f64, cfg.d_ff as f64);
    let per_layer = 6.0 * d * d + 2.0 * prefix as f64 * d + 2.0 * memory as f64 * d + 2.0 * d * ff;
    2.0 * (cfg.n_layers as f64 * per_layer + d * vocab as f64)
}

/// Greedy decoding of `steps` tokens with the KV cache.
pub fn cached_decode(cfg: &ModelConfig, vocab: usize, steps: usize, memory: usize) -> f64 {
    cache_start(cfg, memory)
        + (1..=steps)
            .map(|t| cached_step(cfg, vocab, t, memory))
            .sum::<f64>()
}

/// FSDL's uncached greedy decoding of `steps` tokens: step `t` re-decodes the prefix of `t`.
pub fn uncached_decode(cfg: &ModelConfig, vocab: usize, steps: usize, memory: usize) -> f64 {
    (1..=steps).map(|t| decoder(cfg, vocab, t, memory)).sum()
}

/// A training step: forward plus backward, counted as 3× the forward (the backward computes
/// gradients for both inputs and weights); the optimizer update is not counted.
pub fn train_step(cfg: &ModelConfig, vocab: usize, image: [usize; 2], tokens: usize) -> f64 {
    let (enc, [h, w]) = encoder(cfg, image[0], image[1]);
    3.0 * (enc + decoder(cfg, vocab, tokens, h * w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use text_recognizer::model::{Preset, PresetName};

    #[test]
    fn paragraph_counts_match_the_baseline_measurements() {
        let mut cfg = Preset::named(PresetName::Paragraph).model;
        // perf-baseline.md counts FSDL's 3-channel stem: 26.74 GFLOP at 576×640, 360 tokens.
        cfg.encoder.in_channels = 3;
        let (flops, [h, w]) = encoder(&cfg, 576, 640);
        assert_eq!([h, w], [18, 20]);
        assert!((flops / 1e9 - 26.74).abs() < 0.01, "{flops}");
        // ... and 1.73 GFLOP for the 7×7 stem alone; 4.75 GFLOP for a 64×1024 line.
        let (line, _) = encoder(&cfg, 64, 1024);
        assert!((line / 1e9 - 4.75).abs() < 0.01, "{line}");
        // FSDL-style decoding of 100 tokens: 68.0 GFLOP; with a KV cache: 0.97 GFLOP.
        assert!((uncached_decode(&cfg, 84, 100, 360) / 1e9 - 68.0).abs() < 0.5);
        assert!((cached_decode(&cfg, 84, 100, 360) / 1e9 - 0.97).abs() < 0.02);
    }
}
