//! The training data set: weighted sources (real and synthetic) mixed into epochs of a fixed
//! number of samples, preprocessed and augmented on the fly.
//!
//! Determinism: sample `i` of an epoch is drawn from a seed made of the run seed, `i`, and how
//! many times `i` was drawn before (one per epoch), so runs repeat exactly whichever worker
//! thread serves which index, and every epoch sees fresh synthetic samples and augmentations.
//! Every index is already a random draw from the mixture, so the loader need not shuffle, and a
//! run resumed at epoch `e`, `k` samples in, sees what it would have seen ([`MixtureDataset::start_at`]).
//!
//! Width buckets ([`MixtureDataset::with_width_buckets`]): a batch is padded to its widest line,
//! so random widths side by side waste work. With a window of `n` indices, the first request
//! for an index of a window draws the whole window (each index seeded as above), sorts it by
//! width and serves index `i` the `i`-th narrowest; consecutive indices, so batches, then hold
//! lines of similar width. A window's draw is a function of the seed, the window and the epoch
//! (one counter per window), so a run resumed anywhere, even mid-window, sees what it would have.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use burn::data::dataset::{Dataset, DatasetError};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::augment::AugmentConfig;
use super::dataset::HtrItem;
use super::line_folder::Skipped;
use super::source::Loaded;
use crate::charset::{Charset, UnknownCharPolicy};
use crate::image::PreprocessConfig;

struct Component {
    source: Loaded,
    weight: f64,
    /// Fixed sources: indices of samples whose text encodes (others were reported).
    usable: Vec<usize>,
}

/// Weighted mixture of loaded sources.
pub struct MixtureDataset {
    components: Vec<Component>,
    total_weight: f64,
    preprocess: PreprocessConfig,
    charset: Arc<Charset>,
    augment: Option<AugmentConfig>,
    seed: u64,
    draws: Vec<AtomicU32>,
    buckets: Option<Buckets>,
}

/// Windows of indices drawn together and served narrowest first.
struct Buckets {
    window: usize,
    /// Per window: the drawn items not yet served (taken out as they are).
    drawn: Vec<Mutex<Option<Vec<Option<HtrItem>>>>>,
}

/// SplitMix64 finaliser: decorrelates nearby seeds.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl MixtureDataset {
    /// Mixes `sources` (with weights) into epochs of `epoch_len` samples. Fixed samples whose
    /// text the alphabet rejects, or that are longer than `max_tokens`, are left out and listed.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        sources: Vec<(Loaded, f64)>,
        preprocess: PreprocessConfig,
        charset: Arc<Charset>,
        policy: UnknownCharPolicy,
        max_tokens: usize,
        augment: Option<AugmentConfig>,
        epoch_len: usize,
        seed: u64,
    ) -> (Self, Vec<Skipped>, usize) {
        let mut skipped = Vec::new();
        let mut unknown = 0;
        let components: Vec<Component> = sources
            .into_iter()
            .filter(|(s, w)| *w > 0.0 && !s.is_empty())
            .map(|(source, weight)| {
                let usable = match &source {
                    Loaded::Fixed(samples, _) => (0..samples.len())
                        .filter(|&i| {
                            let origin = source.origin(i);
                            match charset.encode(&samples[i].1, policy, &origin) {
                                Ok(e) if e.ids.len() <= max_tokens => {
                                    unknown += e.unknown;
                                    true
                                }
                                Ok(e) => {
                                    skipped.push(Skipped {
                                        path: origin.into(),
                                        reason: format!(
                                            "{} tokens exceed max_output_len {max_tokens}",
                                            e.ids.len()
                                        ),
                                    });
                                    false
                                }
                                Err(e) => {
                                    skipped.push(Skipped {
                                        path: origin.into(),
                                        reason: e.to_string(),
                                    });
                                    false
                                }
                            }
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                Component {
                    source,
                    weight,
                    usable,
                }
            })
            .filter(|c| !matches!(c.source, Loaded::Fixed(..)) || !c.usable.is_empty())
            .collect();
        let total_weight = components.iter().map(|c| c.weight).sum();
        let draws = (0..epoch_len).map(|_| AtomicU32::new(0)).collect();
        let ds = MixtureDataset {
            components,
            total_weight,
            preprocess,
            charset,
            augment,
            seed,
            draws,
            buckets: None,
        };
        (ds, skipped, unknown)
    }

    /// Serves each window of `window` consecutive indices sorted by width (see the module
    /// docs); 0 or 1 turns bucketing off.
    pub fn with_width_buckets(mut self, window: usize) -> Self {
        self.buckets = (window > 1).then(|| Buckets {
            window,
            drawn: (0..self.draws.len().div_ceil(window))
                .map(|_| Mutex::new(None))
                .collect(),
        });
        self
    }

    /// Positions the draw counters for a run that resumes `items_done` samples into `epoch`
    /// (1-based): the samples it trains on next are the ones an uninterrupted run would have
    /// (with width buckets too: the window it resumes in is drawn again as it was).
    pub fn start_at(&self, epoch: usize, items_done: usize) {
        let before = u32::try_from(epoch.saturating_sub(1)).unwrap_or(u32::MAX);
        let window = self.buckets.as_ref().map_or(1, |b| b.window);
        for (i, d) in self.draws.iter().enumerate() {
            // With buckets, counter `w` counts the draws of window `w`.
            let done = (i + 1) * window <= items_done;
            d.store(if done { before + 1 } else { before }, Ordering::Relaxed);
        }
        if let Some(b) = &self.buckets {
            for slot in &b.drawn {
                *slot.lock().unwrap_or_else(PoisonError::into_inner) = None;
            }
        }
    }

    /// Item `index` of a bucketed epoch: drawn with its window, the window sorted by width.
    fn bucketed(&self, buckets: &Buckets, index: usize) -> HtrItem {
        let w = index / buckets.window;
        let start = w * buckets.window;
        let end = (start + buckets.window).min(self.draws.len());
        let mut slot = buckets.drawn[w]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let served = slot
            .as_ref()
            .is_none_or(|items| items[index - start].is_none());
        if served {
            let draw = self.draws[w].fetch_add(1, Ordering::Relaxed);
            let mut items: Vec<HtrItem> = (start..end).map(|i| self.draw(i, draw)).collect();
            // Stable, so equal widths keep their draw order: the order is a function of the seed.
            items.sort_by_key(|item| item.image.width());
            *slot = Some(items.into_iter().map(Some).collect());
        }
        let items = slot
            .as_mut()
            .unwrap_or_else(|| unreachable!("the window was just drawn"));
        let item = items[index - start]
            .take()
            .unwrap_or_else(|| unreachable!("a freshly drawn window has every item"));
        if items.iter().all(Option::is_none) {
            *slot = None;
        }
        item
    }

    /// Number of usable sources.
    pub fn sources(&self) -> usize {
        self.components.len()
    }

    fn draw(&self, index: usize, draw: u32) -> HtrItem {
        let mut rng =
            StdRng::seed_from_u64(mix(self.seed ^ mix(index as u64 ^ (u64::from(draw) << 40))));
        let mut pick = rng.random_range(0.0..self.total_weight.max(f64::MIN_POSITIVE));
        let component = self
            .components
            .iter()
            .find(|c| {
                pick -= c.weight;
                pick < 0.0
            })
            .or(self.components.last())
            .unwrap_or_else(|| unreachable!("a mixture is built with at least one source"));
        let k = if component.usable.is_empty() {
            0
        } else {
            component.usable[rng.random_range(0..component.usable.len())]
        };
        let (image, text) = component.source.sample(k, rng.random());
        let mut image = self.preprocess.prepare(&image);
        if let Some(a) = &self.augment {
            image = a.apply(&image, rng.random());
        }
        // Texts were checked (fixed) or generated within the alphabet (synthetic); skipping is
        // only a guard so that nothing can fail mid-epoch.
        let tokens = self
            .charset
            .encode(&text, UnknownCharPolicy::Skip, "")
            .map(|e| e.ids)
            .unwrap_or_default();
        HtrItem {
            image,
            tokens,
            text,
        }
    }
}

impl Dataset<HtrItem> for MixtureDataset {
    fn get(&self, index: usize) -> Result<HtrItem, DatasetError> {
        if let Some(buckets) = &self.buckets {
            return Ok(self.bucketed(buckets, index));
        }
        let draw = self.draws[index].fetch_add(1, Ordering::Relaxed);
        Ok(self.draw(index, draw))
    }

    fn len(&self) -> usize {
        self.draws.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{GrayImage, Luma};

    fn fixed(n: usize, text: &str) -> Loaded {
        let samples = (0..n)
            .map(|i| {
                (
                    GrayImage::from_pixel(40 + i as u32, 32, Luma([220])),
                    text.to_string(),
                )
            })
            .collect();
        Loaded::Fixed(
            Arc::new(samples),
            Arc::new((0..n).map(|i| format!("s{i}")).collect()),
        )
    }

    #[test]
    fn mixes_by_weight_skips_bad_text_and_repeats_under_a_seed() {
        let charset = Arc::new(Charset::from_texts(["ab"]));
        let make = || {
            MixtureDataset::new(
                vec![
                    (fixed(3, "ab"), 3.0),
                    (fixed(2, "ba"), 1.0),
                    (fixed(2, "xyz"), 1.0),
                ],
                crate::image::PreprocessConfig::line(),
                charset.clone(),
                UnknownCharPolicy::Fail,
                10,
                Some(AugmentConfig::fsdl_line()),
                400,
                9,
            )
        };
        let (ds, skipped, _) = make();
        assert_eq!(skipped.len(), 2, "the two 'xyz' samples are reported");
        assert_eq!(ds.sources(), 2);
        let items: Vec<HtrItem> = (0..400).map(|i| ds.get(i).expect("item")).collect();
        let ab = items.iter().filter(|i| i.text == "ab").count();
        assert!(
            (240..=360).contains(&ab),
            "weight 3:1 gives about 300 of 400, got {ab}"
        );
        let (again, _, _) = make();
        assert_eq!(
            again.get(17).expect("item").image,
            items[17].image,
            "same seed, same sample"
        );
        let next = ds.get(17).expect("item").image;
        assert_ne!(next, items[17].image, "next epoch, fresh augmentation");
        let (resumed, _, _) = make();
        resumed.start_at(2, 10);
        assert_eq!(
            resumed.get(17).expect("item").image,
            next,
            "a run resumed in epoch 2 draws epoch 2's sample"
        );
    }

    #[test]
    fn width_buckets_sort_each_window_and_resume_exactly() {
        let charset = Arc::new(Charset::from_texts(["ab"]));
        let plain = || {
            MixtureDataset::new(
                vec![(fixed(50, "ab"), 1.0)],
                crate::image::PreprocessConfig::line(),
                charset.clone(),
                UnknownCharPolicy::Fail,
                10,
                None,
                40,
                3,
            )
            .0
        };
        let make = || plain().with_width_buckets(16);
        let ds = make();
        let widths = |ds: &MixtureDataset, range: std::ops::Range<usize>| -> Vec<u32> {
            range
                .map(|i| ds.get(i).expect("item").image.width())
                .collect()
        };
        let epoch1 = widths(&ds, 0..40);
        for window in epoch1.chunks(16) {
            assert!(window.is_sorted(), "{window:?}");
        }
        assert!(!epoch1.is_sorted(), "windows are sorted, not the epoch");
        let mut unsorted = widths(&plain(), 0..16);
        unsorted.sort_unstable();
        assert_eq!(
            unsorted,
            epoch1[..16],
            "a window holds the samples it would unsorted"
        );
        let epoch2 = widths(&ds, 0..40);
        assert_ne!(epoch1, epoch2, "every epoch draws afresh");
        let resumed = make();
        resumed.start_at(2, 20);
        assert_eq!(widths(&resumed, 20..40), epoch2[20..], "resumed mid-window");
    }
}
