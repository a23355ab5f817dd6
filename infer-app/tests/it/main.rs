//! End-to-end tests of `infer-app` (one integration binary).

mod lm;
mod ocr;
mod serve;
