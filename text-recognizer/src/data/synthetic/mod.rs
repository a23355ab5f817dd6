//! Synthetic training data: text from public-domain books, transcriptions and word lists rendered
//! with handwriting and printed fonts from Debian packages, and FSDL-style paragraphs stacked from line crops.

mod fonts;
mod paragraphs;
mod render;
mod text;
mod words;

pub use fonts::{FontSet, Fonts};
pub use paragraphs::{ParagraphStacker, StackConfig};
pub(crate) use render::draw_glyph;
pub use render::{RenderConfig, SyntheticLines};
pub use text::TextCorpus;
pub use words::WordMix;
