//! Choosing the next token: greedy, or temperature and nucleus (top-p) sampling driven by a
//! uniform number the caller draws deterministically (in processes: from the message's seed).

use crate::model::softmax;

/// Sampling settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sampling {
    /// 0 for greedy.
    pub temperature: f32,
    /// Nucleus mass in (0, 1]; 1 samples from the whole distribution.
    pub top_p: f32,
}

impl Default for Sampling {
    /// Greedy.
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_p: 1.0,
        }
    }
}

impl Sampling {
    /// Whether the choice ignores the uniform number.
    pub fn is_greedy(&self) -> bool {
        self.temperature <= 0.0
    }
}

/// The next token from `logits`, with `u` uniform in [0, 1) (ignored when greedy). Ties go to
/// the lower id.
pub fn sample(logits: &[f32], sampling: Sampling, u: f32) -> u32 {
    if sampling.is_greedy() {
        let mut best = 0;
        for (i, &v) in logits.iter().enumerate() {
            if v > logits[best] {
                best = i;
            }
        }
        return best as u32;
    }
    let mut probs: Vec<f32> = logits.iter().map(|l| l / sampling.temperature).collect();
    softmax(&mut probs);
    let mut order: Vec<u32> = (0..probs.len() as u32).collect();
    let mut mass = 1f32;
    if sampling.top_p < 1.0 {
        order.sort_by(|&a, &b| {
            probs[b as usize]
                .total_cmp(&probs[a as usize])
                .then(a.cmp(&b))
        });
        let mut cum = 0f32;
        let mut keep = order.len();
        for (n, &i) in order.iter().enumerate() {
            cum += probs[i as usize];
            if cum >= sampling.top_p {
                keep = n + 1;
                break;
            }
        }
        order.truncate(keep);
        mass = cum.min(1.0);
    }
    let target = u.clamp(0.0, 1.0) * mass;
    let mut cum = 0f32;
    for &i in &order {
        cum += probs[i as usize];
        if target < cum {
            return i;
        }
    }
    order.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    /// Greedy takes the first maximum; sampling follows the uniform through the distribution;
    /// top-p drops the tail.
    fn choices() {
        let logits = [1.0, 3.0, 3.0, 0.0];
        assert_eq!(sample(&logits, Sampling::default(), 0.9), 1);
        let warm = Sampling {
            temperature: 1.0,
            top_p: 1.0,
        };
        assert_eq!(sample(&logits, warm, 0.0), 0);
        assert_eq!(sample(&logits, warm, 0.999), 3);
        let nucleus = Sampling {
            temperature: 1.0,
            top_p: 0.5,
        };
        // The two most likely hold over half the mass: the tail is never drawn.
        assert_eq!(sample(&logits, nucleus, 0.999), 2);
        assert_eq!(sample(&logits, nucleus, 0.0), 1);
    }
}
