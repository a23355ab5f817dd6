//! End-to-end tests of `infer-app` (one integration binary).

mod ocr;
mod serve;
