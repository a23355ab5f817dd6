//! Image loading and the preprocessing that training and inference share, so a model sees the
//! same pixels in both.

pub mod frame;
pub mod ink;
mod load;
mod polarity;
mod preprocess;
pub mod profile;
pub mod variants;

pub use ::image::{GrayImage, Luma};
pub use load::{DecodeLimits, decode_image, decode_image_within, open_image, open_image_pages};
pub(crate) use polarity::median_level;
pub use polarity::{InkPolarity, ink_is_dark};
pub use preprocess::{Layout, Prepared, PreprocessConfig};
