//! What the API answers: the text, each line with its box, confidence and words.

use serde::{Deserialize, Serialize};
use text_recognizer::layout::LineBox;
use text_recognizer::{LineText, PageText, Recognition};

/// One word of a line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Word {
    /// The word.
    pub text: String,
    /// Its weakest character's probability.
    pub confidence: f32,
}

/// One line read.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Line {
    /// The text.
    pub text: String,
    /// Mean token probability.
    pub confidence: f32,
    /// `[x, y, width, height]` in the image's pixels (the whole image when not segmented).
    #[serde(rename = "box")]
    pub bbox: [u32; 4],
    /// The words, split at spaces.
    #[serde(default)]
    pub words: Vec<Word>,
    /// No ink was found: empty by decision.
    #[serde(default)]
    pub blank: bool,
    /// Decoding stopped early (length limit or a cut loop).
    #[serde(default)]
    pub truncated: bool,
}

/// What was read from one image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    /// Lines joined by newlines.
    pub text: String,
    /// Each line, top to bottom.
    #[serde(default)]
    pub lines: Vec<Line>,
    /// Character-weighted mean line confidence (absent from backends that do not say).
    pub confidence: Option<f32>,
    /// The model that read it.
    pub model: String,
    /// Image width.
    #[serde(default)]
    pub width: u32,
    /// Image height.
    #[serde(default)]
    pub height: u32,
}

/// `POST /api/v1/recognize`'s answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RecognizeResponse {
    /// What was read.
    #[serde(flatten)]
    pub reading: Reading,
    /// Quote it in feedback and bug reports.
    pub request_id: String,
    /// Time spent on the request in the server.
    pub latency_ms: f64,
}

/// Splits a line into words, each scored by its weakest character.
fn words(r: &Recognition) -> Vec<Word> {
    let mut out = Vec::new();
    let mut current = Word {
        text: String::new(),
        confidence: 1.0,
    };
    let scores = r
        .char_confidences
        .iter()
        .copied()
        .chain(std::iter::repeat(1.0));
    for (c, p) in r.text.chars().zip(scores) {
        if c.is_whitespace() {
            if !current.text.is_empty() {
                out.push(std::mem::replace(
                    &mut current,
                    Word {
                        text: String::new(),
                        confidence: 1.0,
                    },
                ));
            }
        } else {
            current.text.push(c);
            current.confidence = current.confidence.min(p);
        }
    }
    if !current.text.is_empty() {
        out.push(current);
    }
    out
}

impl Reading {
    /// A page read by the local model.
    pub fn from_page(page: &PageText, model: &str) -> Self {
        Reading {
            text: page.text(),
            confidence: Some(page.confidence()),
            model: model.to_string(),
            width: page.width,
            height: page.height,
            lines: page
                .lines
                .iter()
                .map(|l| {
                    let b = l.bbox.unwrap_or(LineBox {
                        x: 0,
                        y: 0,
                        width: page.width,
                        height: page.height,
                    });
                    Line {
                        text: l.recognition.text.clone(),
                        confidence: l.recognition.confidence,
                        bbox: [b.x, b.y, b.width, b.height],
                        words: words(&l.recognition),
                        blank: l.recognition.blank,
                        truncated: l.recognition.truncated,
                    }
                })
                .collect(),
        }
    }

    /// Back to the library's page, for the ALTO and PAGE writers.
    pub fn to_page(&self) -> PageText {
        PageText {
            width: self.width,
            height: self.height,
            lines: self
                .lines
                .iter()
                .map(|l| LineText {
                    bbox: Some(LineBox {
                        x: l.bbox[0],
                        y: l.bbox[1],
                        width: l.bbox[2],
                        height: l.bbox[3],
                    }),
                    recognition: Recognition {
                        text: l.text.clone(),
                        confidence: l.confidence,
                        min_confidence: l
                            .words
                            .iter()
                            .map(|w| w.confidence)
                            .fold(l.confidence, f32::min),
                        char_confidences: Vec::new(),
                        truncated: l.truncated,
                        blank: l.blank,
                    },
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_take_their_weakest_character() {
        let r = Recognition {
            text: "ab  cd".into(),
            confidence: 0.8,
            min_confidence: 0.2,
            char_confidences: vec![0.9, 0.6, 1.0, 1.0, 0.2, 0.95],
            truncated: false,
            blank: false,
        };
        let w = words(&r);
        assert_eq!(w.len(), 2);
        assert_eq!((w[0].text.as_str(), w[0].confidence), ("ab", 0.6));
        assert_eq!((w[1].text.as_str(), w[1].confidence), ("cd", 0.2));
    }
}
