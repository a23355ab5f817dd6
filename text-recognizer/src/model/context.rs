//! Context over the columns of a line before its CTC head: stacked bidirectional LSTMs, as
//! kraken and PyLaia put on top of their convolutions. A convolution sees a few characters; the
//! LSTM carries what came before and after along the whole line.
//!
//! burn-nn's `Lstm` runs eight small matmuls and a copy of the whole output per time step; here
//! the input projections of both directions and every step are one matmul, and each step is one
//! batched `[2, B, H] × [2, H, 4H]` matmul for both directions together.

use burn::module::Param;
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::TensorData;
use burn::tensor::activation::{sigmoid, tanh};
use serde::{Deserialize, Serialize};

use super::cpu::dropout::dropout;

/// Bidirectional LSTM layers over the columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContextConfig {
    /// Hidden units per direction (a layer outputs twice this).
    pub hidden: usize,
    /// Stacked layers.
    pub layers: usize,
    /// Dropout on each layer's input (training only).
    #[serde(default)]
    pub dropout: f64,
}

impl ContextConfig {
    /// Checks the sizes, naming the bad field.
    pub fn validate(&self) -> Result<(), String> {
        if self.hidden == 0 || self.hidden > 4096 {
            return Err(format!(
                "context.hidden ({}) is outside 1..=4096",
                self.hidden
            ));
        }
        if self.layers == 0 || self.layers > 16 {
            return Err(format!(
                "context.layers ({}) is outside 1..=16",
                self.layers
            ));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!(
                "context.dropout ({}) must be within 0..1",
                self.dropout
            ));
        }
        Ok(())
    }

    /// Width of the output (both directions).
    pub fn out_width(&self) -> usize {
        2 * self.hidden
    }

    /// Builds the layers for `d_input`-wide columns.
    pub fn init(&self, d_input: usize, device: &Device) -> ColumnContext {
        ColumnContext {
            layers: (0..self.layers)
                .map(|i| {
                    let d_in = if i == 0 { d_input } else { self.out_width() };
                    BiLstmLayer::new(d_in, self.hidden, device)
                })
                .collect(),
            dropout: DropoutConfig::new(self.dropout).init(),
        }
    }
}

/// The LSTM stack.
#[derive(Module, Debug)]
pub struct ColumnContext {
    layers: Vec<BiLstmLayer>,
    dropout: Dropout,
}

impl ColumnContext {
    /// `[B, T, D]` columns, image `b` having `lengths[b]` real ones (the rest is batch padding)
    /// → `[B, T, 2H]`. The backward direction starts at each image's own last column, so a
    /// line reads the same alone or in a padded batch.
    pub fn forward(&self, columns: Tensor<3>, lengths: &[usize]) -> Tensor<3> {
        let [b, t, _] = columns.dims();
        let device = columns.device();
        // Per row, the column order of the backward pass: the real columns reversed, padding
        // after them. Applying it twice gives back the original order.
        let mut order = Vec::with_capacity(b * t);
        for &len in lengths.iter().chain(std::iter::repeat(&t)).take(b) {
            let len = len.min(t);
            order.extend((0..len).rev().map(|i| i as i64));
            order.extend((len..t).map(|i| i as i64));
        }
        let order = Tensor::<2, Int>::from_data(TensorData::new(order, [b, t]), &device);
        let mut x = columns;
        for layer in &self.layers {
            x = layer.forward(dropout(&self.dropout, x), order.clone());
        }
        x
    }
}

/// One bidirectional layer: input projections for both directions in one `Linear`, recurrent
/// weights of both stacked as `[2, H, 4H]` (gates in the order input, forget, output, cell).
#[derive(Module, Debug)]
pub struct BiLstmLayer {
    input: Linear,
    recurrent: Param<Tensor<3>>,
    hidden: usize,
}

impl BiLstmLayer {
    fn new(d_input: usize, hidden: usize, device: &Device) -> Self {
        // PyTorch's LSTM initialisation, U(−1/√H, 1/√H), with the forget gate's bias at 1 so
        // the cells remember from the first step (Jozefowicz et al. 2015).
        let k = 1.0 / (hidden as f64).sqrt();
        let uniform = Initializer::Uniform { min: -k, max: k };
        let mut input = LinearConfig::new(d_input, 8 * hidden)
            .with_initializer(uniform.clone())
            .init(device);
        let mut bias = vec![0f32; 8 * hidden];
        for direction in 0..2 {
            let forget = direction * 4 * hidden + hidden;
            bias[forget..forget + hidden].fill(1.0);
        }
        input.bias = Some(Param::from_data(
            TensorData::new(bias, [8 * hidden]),
            device,
        ));
        let recurrent = uniform.init([2, hidden, 4 * hidden], device);
        BiLstmLayer {
            input,
            recurrent,
            hidden,
        }
    }

    /// `[B, T, D]` → `[B, T, 2H]`; `order` is the backward direction's column order per row.
    fn forward(&self, x: Tensor<3>, order: Tensor<2, Int>) -> Tensor<3> {
        let [b, t, _] = x.dims();
        let h = self.hidden;
        let projected = self.input.forward(x); // [B, T, 8H]
        let ahead = projected.clone().slice([0..b, 0..t, 0..4 * h]);
        let behind = reorder(projected.slice([0..b, 0..t, 4 * h..8 * h]), order.clone());
        // Both directions as one batch of two: [2, B, T, 4H].
        let gates_in = Tensor::stack::<4>(vec![ahead, behind], 0);
        let recurrent = self.recurrent.val();
        let device = gates_in.device();
        let mut state = Tensor::<3>::zeros([2, b, h], &device);
        let mut cell = Tensor::<3>::zeros([2, b, h], &device);
        let mut outputs = Vec::with_capacity(t);
        for step in 0..t {
            let gates = gates_in
                .clone()
                .slice([0..2, 0..b, step..step + 1, 0..4 * h])
                .reshape([2, b, 4 * h])
                + state.matmul(recurrent.clone());
            let sig = sigmoid(gates.clone().slice([0..2, 0..b, 0..3 * h]));
            let input_gate = sig.clone().slice([0..2, 0..b, 0..h]);
            let forget_gate = sig.clone().slice([0..2, 0..b, h..2 * h]);
            let output_gate = sig.slice([0..2, 0..b, 2 * h..3 * h]);
            let candidate = tanh(gates.slice([0..2, 0..b, 3 * h..4 * h]));
            cell = forget_gate * cell + input_gate * candidate;
            state = output_gate * tanh(cell.clone());
            outputs.push(state.clone());
        }
        let all = Tensor::stack::<4>(outputs, 2); // [2, B, T, H]
        let ahead = all
            .clone()
            .slice([0..1, 0..b, 0..t, 0..h])
            .reshape([b, t, h]);
        let behind = reorder(
            all.slice([1..2, 0..b, 0..t, 0..h]).reshape([b, t, h]),
            order,
        );
        Tensor::cat(vec![ahead, behind], 2)
    }
}

/// Row `r` of the result is row `r` of `x` with its columns taken in `order[r]`'s order.
fn reorder(x: Tensor<3>, order: Tensor<2, Int>) -> Tensor<3> {
    let [b, t, d] = x.dims();
    let index = order.reshape([b, t, 1]).expand([b, t, d]);
    x.gather(1, index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    fn context(device: &Device) -> ColumnContext {
        ContextConfig {
            hidden: 6,
            layers: 2,
            dropout: 0.0,
        }
        .init(5, device)
    }

    #[test]
    fn a_padded_line_reads_as_it_would_alone() {
        let device = Device::flex();
        device.seed(11);
        let ctx = context(&device);
        let short = Tensor::<3>::random([1, 4, 5], Distribution::Default, &device);
        let long = Tensor::<3>::random([1, 7, 5], Distribution::Default, &device);
        let padded = Tensor::cat(vec![short.clone(), Tensor::ones([1, 3, 5], &device)], 1);
        let batch = Tensor::cat(vec![padded, long], 0);
        let together = ctx.forward(batch, &[4, 7]).slice([0..1, 0..4, 0..12]);
        let alone = ctx.forward(short, &[4]);
        let diff = (together - alone).abs().max().into_scalar::<f32>();
        assert!(diff < 1e-5, "max difference {diff}");
    }

    #[test]
    fn each_direction_sees_its_side_of_the_line() {
        let device = Device::flex();
        device.seed(12);
        let ctx = ContextConfig {
            hidden: 4,
            layers: 1,
            dropout: 0.0,
        }
        .init(3, &device);
        let x = Tensor::<3>::random([1, 6, 3], Distribution::Default, &device);
        let out = ctx.forward(x.clone(), &[6]);
        // Change the last column: the forward half of column 0 cannot know, the backward can.
        let changed = Tensor::cat(
            vec![
                x.slice([0..1, 0..5, 0..3]),
                Tensor::ones([1, 1, 3], &device) * 5.0,
            ],
            1,
        );
        let out2 = ctx.forward(changed, &[6]);
        let d = (out - out2).abs().slice([0..1, 0..1, 0..8]);
        let ahead = d
            .clone()
            .slice([0..1, 0..1, 0..4])
            .max()
            .into_scalar::<f32>();
        let behind = d.slice([0..1, 0..1, 4..8]).max().into_scalar::<f32>();
        assert!(ahead < 1e-6, "forward direction saw the future: {ahead}");
        assert!(
            behind > 1e-4,
            "backward direction missed the last column: {behind}"
        );
    }

    #[test]
    fn gradients_reach_every_weight() {
        let device = Device::flex().autodiff();
        device.seed(13);
        let ctx = context(&device);
        let x = Tensor::<3>::random([2, 5, 5], Distribution::Default, &device);
        let grads = ctx.forward(x, &[5, 3]).powi_scalar(2).sum().backward();
        for layer in &ctx.layers {
            assert!(layer.recurrent.grad(&grads).is_some());
            assert!(layer.input.weight.grad(&grads).is_some());
        }
    }
}
