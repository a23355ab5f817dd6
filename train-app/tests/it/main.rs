//! End-to-end tests of `train-app` (one integration binary, as ripgrep does).

mod memorize;
mod resume;
mod util;
