//! The jsonl/csv record: one per page of an input image.

use serde::{Deserialize, Serialize};

use super::FileResult;

/// One page's results.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Record {
    /// Image path as found.
    pub path: String,
    /// Page number (1-based; TIFFs can hold several).
    pub page: usize,
    /// Pages in the file: a resumed run counts a file as done when all are there.
    pub pages: usize,
    /// Lines joined by newlines.
    pub text: String,
    /// Character-weighted mean line confidence.
    pub confidence: f32,
    /// Each line read.
    pub lines: Vec<LineRecord>,
    /// Model name.
    pub model: String,
    /// See [`FileResult::elapsed_ms`].
    pub elapsed_ms: f64,
}

/// One line read.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LineRecord {
    /// Text.
    pub text: String,
    /// Mean token probability.
    pub confidence: f32,
    /// Smallest token probability.
    pub min_confidence: f32,
    /// `[x, y, width, height]` in image pixels; absent when the whole image was one line.
    pub bbox: Option<[u32; 4]>,
    /// No ink was found: the text is empty by decision, not by the model (confidence 1).
    #[serde(default)]
    pub blank: bool,
    /// Decoding stopped early (the line's length limit, or a repetition loop that was cut).
    #[serde(default)]
    pub truncated: bool,
}

impl Record {
    /// The records of one file.
    pub fn of(result: &FileResult, model: &str) -> Vec<Record> {
        let pages = result.pages.len();
        result
            .pages
            .iter()
            .enumerate()
            .map(|(i, page)| Record {
                path: result.input.path.to_string_lossy().into_owned(),
                page: i + 1,
                pages,
                text: page.text(),
                confidence: page.confidence(),
                lines: page
                    .lines
                    .iter()
                    .map(|l| LineRecord {
                        text: l.recognition.text.clone(),
                        confidence: l.recognition.confidence,
                        min_confidence: l.recognition.min_confidence,
                        bbox: l.bbox.map(|b| [b.x, b.y, b.width, b.height]),
                        blank: l.recognition.blank,
                        truncated: l.recognition.truncated,
                    })
                    .collect(),
                model: model.to_string(),
                // Pages share the file's time.
                elapsed_ms: result.elapsed_ms / pages.max(1) as f64,
            })
            .collect()
    }
}
