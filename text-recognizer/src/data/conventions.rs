//! Transcription conventions. Real data sets mark things the ink does not show as letters
//! (`^` before superscript text, `¥` for a signature, `¬` for a line-end hyphen); a model
//! trained on several sets must see one convention. A [`Conventions`] rewrites one source's
//! texts into the project's: plain letters, no markup.

use serde::{Deserialize, Serialize};

/// How to rewrite one source's transcriptions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Conventions {
    /// Characters removed (markup such as `^`).
    pub drop: String,
    /// Characters replaced: `(from, to)`; `to` may be empty.
    pub map: Vec<(char, String)>,
    /// Lines holding any of these characters are left out (`¥`: a signature, not text).
    pub skip_lines_with: String,
}

impl Conventions {
    /// The rewritten text, or why the line is left out.
    pub fn apply(&self, text: &str) -> Result<String, String> {
        if let Some(c) = text.chars().find(|c| self.skip_lines_with.contains(*c)) {
            return Err(format!(
                "holds {c:?}, which this source's conventions leave out"
            ));
        }
        let mut out = String::with_capacity(text.len());
        for c in text.chars() {
            if self.drop.contains(c) {
                continue;
            }
            match self.map.iter().find(|(from, _)| *from == c) {
                Some((_, to)) => out.push_str(to),
                None => out.push(c),
            }
        }
        // Dropped markup can leave doubled or edge spaces.
        let out = out
            .split(' ')
            .filter(|w| !w.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if out.is_empty() {
            Err("nothing left after this source's conventions".into())
        } else {
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_goes_and_signatures_are_left_out() {
        let c = Conventions {
            drop: "^".into(),
            map: vec![('¬', "-".into())],
            skip_lines_with: "¥".into(),
        };
        assert_eq!(c.apply("le 3 ^e jour").as_deref(), Ok("le 3 e jour"));
        assert_eq!(c.apply("M^r Bronod").as_deref(), Ok("Mr Bronod"));
        assert_eq!(c.apply("conti¬").as_deref(), Ok("conti-"));
        assert!(c.apply("¥").is_err());
        assert!(c.apply(" ^ ").is_err());
        assert_eq!(Conventions::default().apply("a  b").as_deref(), Ok("a b"));
    }
}
