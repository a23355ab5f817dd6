//! Lines of random words: words drawn from word lists (Debian `wfrench`, `wamerican`, …) in no
//! order, with numbers, dates, amounts and punctuation among them. Text like this carries no
//! book's language, so a model trained on it must read the ink rather than guess the next word.

use rand::RngExt;
use rand::rngs::StdRng;
use serde::{Deserialize, Serialize};

/// How random-word lines are dressed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WordMix {
    /// Share of tokens that are numbers, dates, amounts or references instead of words.
    pub numbers: f64,
    /// Share of tokens followed by a punctuation mark (or wrapped in brackets or quotes).
    pub punctuation: f64,
    /// Share of words with a capital first letter.
    pub capitalised: f64,
    /// Share of words in capitals.
    pub upper: f64,
}

impl Default for WordMix {
    fn default() -> Self {
        WordMix {
            numbers: 0.12,
            punctuation: 0.15,
            capitalised: 0.2,
            upper: 0.04,
        }
    }
}

/// Every character [`number_token`] and [`punctuate`] can write (with the month names' letters),
/// for alphabets.
pub const GENERATED_CHARS: &str = "0123456789 .,;:!?…-–'’\"“”()[]/%°€$£#&+=*_ \
    abcdefghijklmnopqrstuvwxyzéèûôABCDEFGHIJKLMNOPQRSTUVWXYZ";

const MONTHS: &[&str] = &[
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A number-like token: integers, decimals, dates, years, ordinals, Roman numerals, amounts,
/// percentages, times and references, in French and English styles.
pub fn number_token(rng: &mut StdRng) -> String {
    // Small numbers are more common than large ones on a page.
    let int = |rng: &mut StdRng| -> u32 {
        let digits = rng.random_range(1..=4u32);
        rng.random_range(0..10u32.pow(digits))
    };
    let day = |rng: &mut StdRng| rng.random_range(1..=31u32);
    let month = |rng: &mut StdRng| rng.random_range(1..=12u32);
    let year = |rng: &mut StdRng| rng.random_range(1600..=2026u32);
    match rng.random_range(0..14u32) {
        0 | 1 => int(rng).to_string(),
        2 => {
            let n = rng.random_range(1000..1_000_000u32);
            let sep = [" ", ".", ","][rng.random_range(0..3)];
            format!("{}{sep}{:03}", n / 1000, n % 1000)
        }
        3 => {
            let sep = [",", "."][rng.random_range(0..2)];
            format!("{}{sep}{:02}", int(rng), rng.random_range(0..100u32))
        }
        4 => {
            let sep = ["/", ".", "-"][rng.random_range(0..3)];
            format!("{}{sep}{:02}{sep}{}", day(rng), month(rng), year(rng))
        }
        5 => format!(
            "{} {} {}",
            day(rng),
            MONTHS[rng.random_range(0..MONTHS.len())],
            year(rng)
        ),
        6 => year(rng).to_string(),
        7 => {
            let n = rng.random_range(1..=40u32);
            let suffix = ["e", "er", "ème", "th", "st", "nd", "°"][rng.random_range(0..7)];
            format!("{n}{suffix}")
        }
        8 => roman(rng.random_range(1..=40)),
        9 => {
            let n = int(rng);
            match rng.random_range(0..5u32) {
                0 => format!("{n} fr."),
                1 => format!("{n} €"),
                2 => format!("${n}"),
                3 => format!("£{n}"),
                _ => format!("{n},{:02} F", rng.random_range(0..100u32)),
            }
        }
        10 => format!("{} %", rng.random_range(0..=100u32)),
        11 => {
            let (h, m) = (rng.random_range(0..24u32), rng.random_range(0..60u32));
            if rng.random_bool(0.5) {
                format!("{h}h{m:02}")
            } else {
                format!("{h}:{m:02}")
            }
        }
        12 => {
            let label = ["n°", "No.", "art.", "p.", "f°", "#"][rng.random_range(0..6)];
            format!("{label} {}", int(rng))
        }
        _ => format!("{}-{}", int(rng), int(rng)),
    }
}

fn roman(mut n: u32) -> String {
    const NUMERALS: &[(u32, &str)] = &[
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut out = String::new();
    for &(value, numeral) in NUMERALS {
        while n >= value {
            out.push_str(numeral);
            n -= value;
        }
    }
    out
}

/// `token` with a punctuation mark after it, or brackets or quotes around it.
pub fn punctuate(token: &str, rng: &mut StdRng) -> String {
    match rng.random_range(0..16u32) {
        0..=4 => format!("{token},"),
        5..=7 => format!("{token}."),
        8 => format!("{token};"),
        9 => format!("{token}:"),
        10 => format!(
            "{token}{}",
            ["!", "?", "…", " -", " –"][rng.random_range(0..5)]
        ),
        11 => format!("({token})"),
        12 => format!("[{token}]"),
        13 => format!("\"{token}\""),
        14 => format!("“{token}”"),
        _ => format!(
            "{}{token}",
            ["l’", "d’", "l'", "d'", "qu'"][rng.random_range(0..5)]
        ),
    }
}

/// A line of random `words` (and generated tokens) of about `target` characters.
pub fn word_line(words: &[String], mix: &WordMix, rng: &mut StdRng, target: usize) -> String {
    let mut out = String::new();
    while out.chars().count() < target {
        let mut token = if words.is_empty() || rng.random_bool(mix.numbers.clamp(0.0, 1.0)) {
            number_token(rng)
        } else {
            let word = &words[rng.random_range(0..words.len())];
            let r: f64 = rng.random();
            if r < mix.upper {
                word.to_uppercase()
            } else if r < mix.upper + mix.capitalised {
                capitalise(word)
            } else {
                word.clone()
            }
        };
        if rng.random_bool(mix.punctuation.clamp(0.0, 1.0)) {
            token = punctuate(&token, rng);
        }
        let len = out.chars().count() + usize::from(!out.is_empty()) + token.chars().count();
        if !out.is_empty() && len > target {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&token);
    }
    out
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn generated_tokens_use_only_the_listed_characters() {
        let mut rng = StdRng::seed_from_u64(3);
        for _ in 0..2000 {
            let t = punctuate(&number_token(&mut rng), &mut rng);
            for c in t.chars() {
                assert!(GENERATED_CHARS.contains(c), "{c:?} in {t:?}");
            }
        }
        assert_eq!(roman(39), "XXXIX");
        assert_eq!(roman(14), "XIV");
    }

    #[test]
    fn word_lines_hold_list_words_and_fit_the_target() {
        let words: Vec<String> = ["maison", "clef", "notaire"].map(String::from).into();
        let mix = WordMix {
            numbers: 0.0,
            punctuation: 0.0,
            capitalised: 0.0,
            upper: 0.0,
        };
        let mut rng = StdRng::seed_from_u64(5);
        for target in [1, 10, 40] {
            let line = word_line(&words, &mix, &mut rng, target);
            assert!(!line.is_empty());
            assert!(
                line.split(' ').all(|w| words.iter().any(|x| x == w)),
                "{line}"
            );
            // One word over the target at most, for a target shorter than any word.
            assert!(
                line.chars().count() <= target.max(7),
                "{line:?} for {target}"
            );
        }
    }
}
