//! Stopping repetition loops. An under-trained decoder that loses its place on a hard line
//! repeats a short pattern (`es es es …`) until the length limit; most insertions on real
//! handwriting come from there. A loop is cut where its third copy would start.

/// Shortest tail that counts as a loop, per pattern length: a pattern of `p` tokens must repeat
/// `max(4, ⌈8/p⌉)` times in a row… except single characters, which need 12 (`mmm` happens).
fn repeats_needed(period: usize) -> usize {
    if period == 1 {
        12
    } else {
        4.max(8usize.div_ceil(period))
    }
}

/// Longest repeated pattern looked for, in tokens.
const MAX_PERIOD: usize = 12;

/// When the tail of `tokens` is a loop, how many tokens to keep: the text before the loop plus
/// two copies of its pattern. `exempt` tokens (dot or dash leaders, spaces, underscores) may
/// repeat as single characters for as long as the ink goes.
pub fn loop_cut(tokens: &[usize], exempt: impl Fn(usize) -> bool) -> Option<usize> {
    let n = tokens.len();
    for period in 1..=MAX_PERIOD {
        let span = period * repeats_needed(period);
        if span > n {
            continue;
        }
        let tail = &tokens[n - span..];
        // A run of one token is period 1's business, whatever the period tried.
        let one_token = tail[..period].iter().all(|&t| t == tail[0]);
        if (period == 1 && exempt(tail[0])) || (period > 1 && one_token) {
            continue;
        }
        if tail[period..]
            .iter()
            .zip(tail)
            .all(|(later, earlier)| later == earlier)
        {
            // The loop starts at most at n - span; walk back while the pattern still holds.
            let mut start = n - span;
            while start > 0 && tokens[start - 1] == tokens[start - 1 + period] {
                start -= 1;
            }
            return Some(start + 2 * period);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(s: &str) -> Vec<usize> {
        s.chars().map(|c| c as usize).collect()
    }

    fn cut(s: &str) -> Option<String> {
        let t = ids(s);
        loop_cut(&t, |c| c == '.' as usize || c == ' ' as usize).map(|k| {
            t[..k]
                .iter()
                .map(|&c| char::from_u32(c as u32).unwrap_or('?'))
                .collect()
        })
    }

    #[test]
    fn loops_are_cut_after_two_copies() {
        assert_eq!(cut("il a es es es es ").as_deref(), Some("il a es es"));
        assert_eq!(cut("abab abab abab abab ").as_deref(), Some("abab abab "));
        assert_eq!(cut("oui eeeeeeeeeeee").as_deref(), Some("oui ee"));
    }

    #[test]
    fn ordinary_text_and_leaders_are_kept() {
        assert_eq!(cut("le dit jour et an que dessus"), None);
        assert_eq!(cut("Paris ......................."), None);
        assert_eq!(cut("es es es"), None);
        assert_eq!(cut("mmm"), None);
    }
}
