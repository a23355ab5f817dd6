//! Character and word error rates on decoded strings (not token ids), aggregated over a corpus
//! as Σ edits / Σ reference length, the way CER is reported for HTR.

/// Levenshtein distance between two sequences.
pub fn edit_distance<T: PartialEq>(a: &[T], b: &[T]) -> usize {
    if a.is_empty() {
        return b.len();
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, x) in a.iter().enumerate() {
        cur[0] = i + 1;
        for (j, y) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(x != y);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

/// Edits and reference length, summable over a corpus.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ErrorCount {
    /// Insertions + deletions + substitutions.
    pub edits: usize,
    /// Length of the reference.
    pub reference_len: usize,
}

impl ErrorCount {
    /// Error rate in `[0, ∞)`: edits / reference length. An empty reference gives 0 when the
    /// hypothesis is empty too, else 1 (every inserted unit is wrong).
    pub fn rate(&self) -> f64 {
        match (self.edits, self.reference_len) {
            (0, _) => 0.0,
            (_, 0) => 1.0,
            (e, n) => e as f64 / n as f64,
        }
    }
}

impl std::ops::Add for ErrorCount {
    type Output = ErrorCount;
    fn add(self, o: ErrorCount) -> ErrorCount {
        ErrorCount {
            edits: self.edits + o.edits,
            reference_len: self.reference_len + o.reference_len,
        }
    }
}

impl std::iter::Sum for ErrorCount {
    fn sum<I: Iterator<Item = ErrorCount>>(iter: I) -> Self {
        iter.fold(ErrorCount::default(), |a, b| a + b)
    }
}

/// Character errors of `hypothesis` against `reference` (Unicode scalar values).
pub fn char_errors(hypothesis: &str, reference: &str) -> ErrorCount {
    let h: Vec<char> = hypothesis.chars().collect();
    let r: Vec<char> = reference.chars().collect();
    ErrorCount {
        edits: edit_distance(&r, &h),
        reference_len: r.len(),
    }
}

/// Word errors: words are runs of non-whitespace.
pub fn word_errors(hypothesis: &str, reference: &str) -> ErrorCount {
    let h: Vec<&str> = hypothesis.split_whitespace().collect();
    let r: Vec<&str> = reference.split_whitespace().collect();
    ErrorCount {
        edits: edit_distance(&r, &h),
        reference_len: r.len(),
    }
}

/// Character error rate of one pair.
pub fn cer(hypothesis: &str, reference: &str) -> f64 {
    char_errors(hypothesis, reference).rate()
}

/// Word error rate of one pair.
pub fn wer(hypothesis: &str, reference: &str) -> f64 {
    word_errors(hypothesis, reference).rate()
}

/// Character confusions of one pair from a minimal alignment: `(reference, hypothesis)`, where
/// `None` on the reference side is an insertion and `None` on the hypothesis side a deletion.
pub fn char_confusions(hypothesis: &str, reference: &str) -> Vec<(Option<char>, Option<char>)> {
    let h: Vec<char> = hypothesis.chars().collect();
    let r: Vec<char> = reference.chars().collect();
    // Full table so the alignment can be walked back.
    let mut d = vec![vec![0usize; h.len() + 1]; r.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=r.len() {
        for j in 1..=h.len() {
            let sub = d[i - 1][j - 1] + usize::from(r[i - 1] != h[j - 1]);
            d[i][j] = sub.min(d[i - 1][j] + 1).min(d[i][j - 1] + 1);
        }
    }
    let (mut i, mut j) = (r.len(), h.len());
    let mut out = Vec::new();
    while i > 0 || j > 0 {
        if i > 0 && j > 0 && d[i][j] == d[i - 1][j - 1] + usize::from(r[i - 1] != h[j - 1]) {
            if r[i - 1] != h[j - 1] {
                out.push((Some(r[i - 1]), Some(h[j - 1])));
            }
            i -= 1;
            j -= 1;
        } else if i > 0 && d[i][j] == d[i - 1][j] + 1 {
            out.push((Some(r[i - 1]), None));
            i -= 1;
        } else {
            out.push((None, Some(h[j - 1])));
            j -= 1;
        }
    }
    out.reverse();
    out
}

/// Words of `hypothesis` that are no misreading of any word of `reference`: words of three or
/// more letters (punctuation and digits aside) further than half their length, in character
/// edits, from every reference word. A model that reads the ink misspells; one that writes from
/// its language model invents (`LORD` on a line that has no such word).
pub fn invented_words(hypothesis: &str, reference: &str) -> Vec<String> {
    let letters = |w: &str| -> Vec<char> {
        w.chars()
            .filter(|c| c.is_alphabetic())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let reference: Vec<Vec<char>> = reference.split_whitespace().map(letters).collect();
    hypothesis
        .split_whitespace()
        .filter(|w| {
            let h = letters(w);
            h.len() >= 3 && reference.iter().all(|r| 2 * edit_distance(&h, r) > h.len())
        })
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misreadings_are_not_inventions() {
        let reference = "la maison du notaire, 12 mars";
        assert!(invented_words("la rnaison du notaive, 12 mars", reference).is_empty());
        assert!(invented_words("", reference).is_empty());
        assert_eq!(
            invented_words("la maison LORD du notaire GOD", reference),
            vec!["LORD".to_string(), "GOD".to_string()]
        );
        // Short words and numbers are never counted: too little to tell.
        assert!(invented_words("of 1788 a", reference).is_empty());
    }

    #[test]
    fn hand_computed_cer() {
        assert_eq!(cer("kitten", "kitten"), 0.0);
        // kitten → sitting: 3 edits over 7 reference characters
        assert!((cer("kitten", "sitting") - 3.0 / 7.0).abs() < 1e-12);
        assert_eq!(cer("", "abcd"), 1.0);
        assert_eq!(cer("", ""), 0.0);
        assert_eq!(cer("ab", ""), 1.0);
    }

    #[test]
    fn accents_count_as_one_character() {
        // "é" as one scalar value: one substitution in 5 characters
        assert!((cer("eleve", "élève") - 2.0 / 5.0).abs() < 1e-12);
        assert!((cer("élèv", "élève") - 1.0 / 5.0).abs() < 1e-12);
    }

    #[test]
    fn confusions_follow_the_alignment() {
        let c = char_confusions("lèvre", "livre");
        assert_eq!(c, vec![(Some('i'), Some('è'))]);
        let c = char_confusions("ab", "abc");
        assert_eq!(c, vec![(Some('c'), None)]);
        assert_eq!(char_confusions("xab", "ab"), vec![(None, Some('x'))]);
        assert_eq!(
            char_confusions("same", "same").len(),
            char_errors("same", "same").edits
        );
    }

    #[test]
    fn hand_computed_wer() {
        assert_eq!(wer("le chat dort", "le chat dort"), 0.0);
        assert!((wer("le chien dort", "le chat dort") - 1.0 / 3.0).abs() < 1e-12);
        assert!((wer("le chat", "le chat dort  ici") - 2.0 / 4.0).abs() < 1e-12);
        assert_eq!(wer("", ""), 0.0);
    }

    #[test]
    fn corpus_rate_weights_by_reference_length() {
        let total: ErrorCount = [char_errors("a", "ab"), char_errors("abcdefgh", "abcdefgh")]
            .into_iter()
            .sum();
        assert_eq!(
            total,
            ErrorCount {
                edits: 1,
                reference_len: 10
            }
        );
        assert!((total.rate() - 0.1).abs() < 1e-12);
    }
}
