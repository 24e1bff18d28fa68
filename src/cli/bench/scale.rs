//! Axis scales for the sweep plot: where a value lands in pixels, and which values get a tick.
//!
//! Three kinds: linear from zero (throughput), powers of two (client counts double per point) and
//! decades with 1-2-5 steps (latency, which spans orders of magnitude between 1 and 1024 clients).

/// How values map to positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Linear,
    Log2,
    Log10,
}

/// A map from the domain `lo..=hi` onto pixels `px_lo..=px_hi` (either may be the larger: a y
/// axis grows upwards). Invariant: `lo < hi`, and `lo > 0` for the logarithmic kinds.
#[derive(Clone, Debug)]
pub struct Scale {
    kind: Kind,
    lo: f64,
    hi: f64,
    px_lo: f64,
    px_hi: f64,
    ticks: Vec<f64>,
}

/// About how many ticks a linear axis gets.
const LINEAR_TICKS: f64 = 5.0;
/// More ticks than this on a log axis are thinned (every other power of two; decades only).
const LOG_TICKS_MAX: usize = 11;
/// Slack for comparisons of computed round numbers.
const EPSILON: f64 = 1e-9;

impl Scale {
    /// Linear from 0 to a round number at or above `max`, with ticks at round steps.
    pub fn linear_from_zero(max: f64, px_lo: f64, px_hi: f64) -> Scale {
        let max = if max.is_finite() && max > 0.0 {
            max
        } else {
            1.0
        };
        let step = nice_step(max / LINEAR_TICKS);
        let steps = (max / step - EPSILON).ceil().max(1.0) as u32;
        let ticks = (0..=steps).map(|i| f64::from(i) * step).collect();
        Scale::new(
            Kind::Linear,
            0.0,
            f64::from(steps) * step,
            px_lo,
            px_hi,
            ticks,
        )
    }

    /// From the power of two at or below `min` to the one at or above `max` (at least one
    /// doubling), with a tick on each power (every other one when there are too many).
    pub fn log2(min: f64, max: f64, px_lo: f64, px_hi: f64) -> Scale {
        let (min, max) = positive_span(min, max);
        let lo = (min.log2() + EPSILON).floor() as i32;
        let hi = ((max.log2() - EPSILON).ceil() as i32).max(lo + 1);
        let every = if (hi - lo) as usize >= LOG_TICKS_MAX {
            2
        } else {
            1
        };
        let ticks = (lo..=hi).step_by(every).map(|e| 2f64.powi(e)).collect();
        Scale::new(
            Kind::Log2,
            2f64.powi(lo),
            2f64.powi(hi),
            px_lo,
            px_hi,
            ticks,
        )
    }

    /// From the 1-2-5 value at or below `min` to the one at or above `max` (at least one step),
    /// with a tick on each 1-2-5 value (decades only when there are too many).
    pub fn log10(min: f64, max: f64, px_lo: f64, px_hi: f64) -> Scale {
        let (min, max) = positive_span(min, max);
        let mut lo = one_two_five_floor(min);
        let mut hi = one_two_five_ceil(max);
        if hi <= lo * (1.0 + EPSILON) {
            (lo, hi) = (one_two_five_step(lo, -1), one_two_five_step(hi, 1));
        }
        let mut ticks = vec![lo];
        while let Some(&last) = ticks.last().filter(|&&t| t < hi * (1.0 - EPSILON)) {
            ticks.push(one_two_five_step(last, 1));
        }
        if ticks.len() > LOG_TICKS_MAX {
            let is_decade = |t: f64| (t.log10() - t.log10().round()).abs() < 1e-6;
            let last = ticks.len() - 1;
            ticks = (0..ticks.len())
                .filter(|&i| i == 0 || i == last || is_decade(ticks[i]))
                .map(|i| ticks[i])
                .collect();
        }
        Scale::new(Kind::Log10, lo, hi, px_lo, px_hi, ticks)
    }

    fn new(kind: Kind, lo: f64, hi: f64, px_lo: f64, px_hi: f64, ticks: Vec<f64>) -> Scale {
        assert!(lo < hi, "a scale's domain is not empty: {lo}..{hi}");
        assert!(
            kind == Kind::Linear || lo > 0.0,
            "a log scale starts above 0"
        );
        Scale {
            kind,
            lo,
            hi,
            px_lo,
            px_hi,
            ticks,
        }
    }

    /// The pixel position of `value` (outside the domain it lands outside the pixel range).
    pub fn map(&self, value: f64) -> f64 {
        let t = match self.kind {
            Kind::Linear => (value - self.lo) / (self.hi - self.lo),
            Kind::Log2 | Kind::Log10 => (value.ln() - self.lo.ln()) / (self.hi.ln() - self.lo.ln()),
        };
        self.px_lo + t * (self.px_hi - self.px_lo)
    }

    /// Whether `value` can be drawn at all (a log scale has no place for 0).
    pub fn can_show(&self, value: f64) -> bool {
        value.is_finite() && (self.kind == Kind::Linear || value > 0.0)
    }

    /// The values that get a tick and a grid line, in increasing order.
    pub fn ticks(&self) -> &[f64] {
        &self.ticks
    }

    /// A tick's label: client counts in full (1024), other values short (1.5k, 0.25).
    pub fn label(&self, value: f64) -> String {
        match self.kind {
            Kind::Log2 if value >= 1.0 => format!("{value:.0}"),
            _ => short_number(value),
        }
    }
}

/// `min..max` made usable by a log scale: both positive, `min <= max`.
fn positive_span(min: f64, max: f64) -> (f64, f64) {
    let usable = |v: f64| v.is_finite() && v > 0.0;
    match (usable(min), usable(max)) {
        (true, true) => (min.min(max), min.max(max)),
        (true, false) => (min, min),
        (false, true) => (max, max),
        (false, false) => (1.0, 1.0),
    }
}

/// A round step near `rough`: 1, 2, 2.5 or 5 times a power of ten, at or above `rough`.
pub fn nice_step(rough: f64) -> f64 {
    let power = 10f64.powf(rough.log10().floor());
    let mantissa = rough / power;
    let round = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .find(|&m| mantissa <= m * (1.0 + EPSILON))
        .unwrap_or(10.0);
    round * power
}

/// Splits `v > 0` into a mantissa in `[1, 10)` and a power of ten.
fn decompose(v: f64) -> (f64, i32) {
    let exp = (v.log10() + EPSILON).floor() as i32;
    (v / 10f64.powi(exp), exp)
}

/// The largest of 1, 2, 5 times a power of ten that is at most `v`.
fn one_two_five_floor(v: f64) -> f64 {
    let (m, exp) = decompose(v);
    let m = [5.0, 2.0, 1.0]
        .into_iter()
        .find(|&r| m * (1.0 + EPSILON) >= r)
        .unwrap_or(1.0);
    m * 10f64.powi(exp)
}

/// The smallest of 1, 2, 5 times a power of ten that is at least `v`.
fn one_two_five_ceil(v: f64) -> f64 {
    let (m, exp) = decompose(v);
    let m = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .find(|&r| m <= r * (1.0 + EPSILON))
        .unwrap_or(10.0);
    m * 10f64.powi(exp)
}

/// The 1-2-5 value `steps` (+1 or -1) away from the 1-2-5 value `v`.
fn one_two_five_step(v: f64, step: i32) -> f64 {
    let (m, exp) = decompose(v);
    let m = (m + 0.5) as i32; // 1, 2 or 5, recovered from rounding noise
    let (m, exp) = match (m, step > 0) {
        (1, true) => (2, exp),
        (2, true) => (5, exp),
        (_, true) => (1, exp + 1),
        (1, false) => (5, exp - 1),
        (2, false) => (1, exp),
        (_, false) => (2, exp),
    };
    f64::from(m) * 10f64.powi(exp)
}

/// A compact number: 0, 0.25, 12, 1.5k, 20k, 1.2M (at most three decimals, no trailing zeros).
pub fn short_number(v: f64) -> String {
    let (scaled, suffix) = match v.abs() {
        a if a >= 1e6 => (v / 1e6, "M"),
        a if a >= 1e3 => (v / 1e3, "k"),
        _ => (v, ""),
    };
    let text = format!("{scaled:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{}{suffix}", if text == "-0" { "0" } else { text })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    }

    fn assert_ticks(scale: &Scale, expected: &[f64]) {
        let got = scale.ticks();
        assert!(
            got.len() == expected.len() && got.iter().zip(expected).all(|(a, b)| close(*a, *b)),
            "ticks {got:?}, expected {expected:?}"
        );
    }

    #[test]
    fn round_steps_are_one_two_two_and_a_half_or_five_times_a_power_of_ten() {
        let cases = [(0.7, 1.0), (1.0, 1.0), (1.3, 2.0), (2.2, 2.5), (3.0, 5.0)];
        for (rough, step) in cases {
            assert!(
                close(nice_step(rough), step),
                "{rough} -> {}",
                nice_step(rough)
            );
        }
        assert!(close(nice_step(2468.0), 2500.0));
        assert!(close(nice_step(0.031), 0.05));
        assert!(close(nice_step(7000.0), 10000.0));
    }

    #[test]
    fn a_linear_axis_starts_at_zero_and_ends_on_a_round_tick_above_the_maximum() {
        let s = Scale::linear_from_zero(12345.0, 0.0, 100.0);
        assert_ticks(&s, &[0.0, 2500.0, 5000.0, 7500.0, 10000.0, 12500.0]);
        assert!(close(s.map(0.0), 0.0));
        assert!(close(s.map(12500.0), 100.0));
        assert!(close(s.map(6250.0), 50.0));
        // A maximum that is already round is the last tick, not one step below it.
        assert_ticks(
            &Scale::linear_from_zero(10.0, 0.0, 1.0),
            &[0.0, 2.0, 4.0, 6.0, 8.0, 10.0],
        );
    }

    #[test]
    fn a_linear_axis_of_nothing_still_has_a_range() {
        for max in [0.0, -5.0, f64::NAN] {
            let s = Scale::linear_from_zero(max, 0.0, 10.0);
            assert_eq!(s.ticks().first(), Some(&0.0));
            assert!(s.ticks().len() >= 2);
        }
    }

    #[test]
    fn a_y_axis_maps_larger_values_upwards() {
        let s = Scale::linear_from_zero(100.0, 300.0, 20.0);
        assert!(close(s.map(0.0), 300.0));
        assert!(close(s.map(100.0), 20.0));
    }

    #[test]
    fn client_counts_are_evenly_spaced_per_doubling() {
        let s = Scale::log2(1.0, 1024.0, 0.0, 100.0);
        let expected: Vec<f64> = (0..=10).map(|e| 2f64.powi(e)).collect();
        assert_ticks(&s, &expected);
        for (i, clients) in [1.0, 4.0, 16.0, 64.0, 256.0, 1024.0].iter().enumerate() {
            assert!(close(s.map(*clients), 20.0 * i as f64), "{clients}");
        }
        assert!(close(s.map(32.0), 50.0));
        assert_eq!(s.label(1024.0), "1024");
        assert_eq!(s.label(4.0), "4");
    }

    #[test]
    fn a_log2_axis_rounds_out_to_powers_of_two_and_thins_long_ranges() {
        let s = Scale::log2(3.0, 100.0, 0.0, 1.0);
        assert_ticks(&s, &[2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]);
        // One client count still gets a doubling of room.
        assert_ticks(&Scale::log2(16.0, 16.0, 0.0, 1.0), &[16.0, 32.0]);
        let long = Scale::log2(1.0, 4096.0, 0.0, 1.0);
        assert_ticks(&long, &[1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0]);
    }

    #[test]
    fn a_latency_axis_rounds_out_to_one_two_five_values() {
        let s = Scale::log10(0.7, 38.0, 0.0, 1.0);
        assert_ticks(&s, &[0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0]);
        assert!(close(s.map(0.5), 0.0) && close(s.map(50.0), 1.0));
        assert!(close(s.map(5.0), 0.5));
        // Exact 1-2-5 values are their own bounds.
        assert_ticks(&Scale::log10(1.0, 10.0, 0.0, 1.0), &[1.0, 2.0, 5.0, 10.0]);
        // One value gets a step of room on each side.
        assert_ticks(&Scale::log10(2.0, 2.0, 0.0, 1.0), &[1.0, 2.0, 5.0]);
    }

    #[test]
    fn a_wide_latency_axis_keeps_only_decades() {
        let s = Scale::log10(0.05, 3000.0, 0.0, 1.0);
        assert_ticks(&s, &[0.05, 0.1, 1.0, 10.0, 100.0, 1000.0, 5000.0]);
    }

    #[test]
    fn a_log_axis_cannot_show_zero() {
        let s = Scale::log10(0.0, 5.0, 0.0, 1.0);
        assert!(!s.can_show(0.0));
        assert!(s.can_show(0.001));
        assert!(Scale::linear_from_zero(5.0, 0.0, 1.0).can_show(0.0));
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(short_number(0.0), "0");
        assert_eq!(short_number(0.25), "0.25");
        assert_eq!(short_number(2.0), "2");
        assert_eq!(short_number(2500.0), "2.5k");
        assert_eq!(short_number(20000.0), "20k");
        assert_eq!(short_number(1_250_000.0), "1.25M");
        assert_eq!(short_number(999.0), "999");
    }
}
