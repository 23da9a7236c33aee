//! `bantime.increment`: longer bans for repeat offenders.

use crate::arith;
use crate::bans::PERMANENT;
use crate::error::{Error, ErrorKind};

/// What the store knows of an id's earlier bans (in this jail, or summed over all jails under
/// `bantime.overalljails`). The daemon fills it from `jailor_store::BanStats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriorBans {
    /// How many times the id was banned before.
    pub ban_count: u64,
    /// The start (last failure time) of the latest of those bans.
    pub last_ban: i64,
}

/// A source of uniform random numbers in `[0, 1)` for `bantime.rndtime`, injected so tests
/// are repeatable.
pub trait RandomSource {
    /// The next number in `[0, 1)`.
    fn next_f64(&mut self) -> f64;
}

impl<F: FnMut() -> f64> RandomSource for F {
    fn next_f64(&mut self) -> f64 {
        self()
    }
}

/// A small non-cryptographic generator (SplitMix64) seeded from the process's random hash
/// keys; good enough to make ban ends unpredictable to the second.
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator with a seed from the standard library's per-process random keys.
    pub fn from_entropy() -> SplitMix64 {
        use std::hash::BuildHasher;
        SplitMix64(std::hash::RandomState::new().hash_one(0x6a61_696c_6f72_u64))
    }

    /// A generator with a fixed seed.
    pub fn with_seed(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }
}

impl RandomSource for SplitMix64 {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A `bantime.formula` jailor recognises. fail2ban evaluates the option as Python; jailor
/// matches it against the forms fail2ban documents and computes them in Rust.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Formula {
    /// `ban.Time * (1<<(ban.Count if ban.Count<N else N)) * banFactor` (fail2ban's default
    /// with `N = 20`): doubling per earlier ban, up to `2^N`.
    Doubling {
        /// The exponent cap `N`.
        cap: u32,
    },
    /// `ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)`.
    Exponential,
}

impl Formula {
    /// fail2ban's default formula.
    pub const DEFAULT: Formula = Formula::Doubling { cap: 20 };

    /// Recognises a formula, ignoring white space. Anything else is an
    /// [`ErrorKind::UnsupportedFormula`] naming it.
    pub fn parse(text: &str) -> Result<Formula, Error> {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let unsupported = || {
            Error::new(
                "bantime.formula",
                ErrorKind::UnsupportedFormula(text.trim().into()),
            )
        };
        if compact == "ban.Time*math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)" {
            return Ok(Formula::Exponential);
        }
        // The white space removed, "if"/"else" run into their operands.
        let rest = compact
            .strip_prefix("ban.Time*(1<<(ban.Countifban.Count<")
            .and_then(|r| r.strip_suffix("))*banFactor"))
            .ok_or_else(unsupported)?;
        let (below, cap) = rest.split_once("else").ok_or_else(unsupported)?;
        let cap: u32 = cap.parse().map_err(|_| unsupported())?;
        // The shift must stay meaningful in 64 bits, and the two numbers must agree for the
        // expression to be a cap at all.
        if below.parse::<u32>().ok() != Some(cap) || cap > 62 {
            return Err(unsupported());
        }
        Ok(Formula::Doubling { cap })
    }

    fn eval(self, base: f64, count: u64, factor: f64) -> f64 {
        match self {
            Formula::Doubling { cap } => {
                let shift = count.min(u64::from(cap)) as i32;
                base * 2f64.powi(shift) * factor
            }
            Formula::Exponential => {
                base * ((count as f64 + 1.0) * factor).exp() / (1.0 * factor).exp()
            }
        }
    }
}

/// How a longer bantime is computed: a formula, or `bantime.multipliers`.
#[derive(Clone, Debug, PartialEq)]
pub enum Growth {
    /// `max(bantime, formula)`.
    Formula(Formula),
    /// `bantime * factor * multipliers[min(count, len - 1)]`.
    Multipliers(Vec<u64>),
}

/// The `bantime.*` options of a jail with `bantime.increment = true`.
#[derive(Clone, Debug, PartialEq)]
pub struct Increment {
    /// `bantime.factor`, evaluated.
    pub factor: f64,
    /// The formula or the multipliers.
    pub growth: Growth,
    /// `bantime.maxtime` in seconds; `None` (or 0) for no cap.
    pub maxtime: Option<i64>,
    /// `bantime.rndtime` in seconds; `None` (or 0) for no random part.
    pub rndtime: Option<i64>,
    /// `bantime.overalljails`: earlier bans are counted over all jails.
    pub overalljails: bool,
}

/// The raw `bantime.*` option texts, as the configuration gives them (times already in
/// seconds).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IncrementOptions<'a> {
    /// `bantime.factor` (default `1`).
    pub factor: Option<&'a str>,
    /// `bantime.formula` (default fail2ban's doubling formula).
    pub formula: Option<&'a str>,
    /// `bantime.multipliers`; when given and not empty it wins over the formula.
    pub multipliers: Option<&'a str>,
    /// `bantime.maxtime` in seconds.
    pub maxtime: Option<i64>,
    /// `bantime.rndtime` in seconds.
    pub rndtime: Option<i64>,
    /// `bantime.overalljails`.
    pub overalljails: bool,
}

impl Increment {
    /// Checks and evaluates the options. The factor is plain arithmetic (fail2ban's example
    /// `2.0 / 2.885385` works); the formula must be one of [`Formula`]'s forms.
    pub fn from_options(options: &IncrementOptions<'_>) -> Result<Increment, Error> {
        let factor = match options.factor.map(str::trim).filter(|f| !f.is_empty()) {
            None => 1.0,
            Some(text) => arith::eval(text).ok_or_else(|| {
                Error::new("bantime.factor", ErrorKind::InvalidNumber(text.into()))
            })?,
        };
        let multipliers = options.multipliers.map(str::trim).filter(|m| !m.is_empty());
        let growth = match multipliers {
            Some(text) => {
                let bad = || {
                    Error::new(
                        "bantime.multipliers",
                        ErrorKind::InvalidMultipliers(text.into()),
                    )
                };
                let list = text
                    .split_whitespace()
                    .map(|w| w.parse::<u64>().map_err(|_| bad()))
                    .collect::<Result<Vec<u64>, Error>>()?;
                Growth::Multipliers(list)
            }
            None => match options.formula.map(str::trim).filter(|f| !f.is_empty()) {
                None => Growth::Formula(Formula::DEFAULT),
                Some(text) => Growth::Formula(Formula::parse(text)?),
            },
        };
        Ok(Increment {
            factor,
            growth,
            maxtime: options.maxtime.filter(|t| *t != 0),
            rndtime: options.rndtime.filter(|t| *t != 0),
            overalljails: options.overalljails,
        })
    }

    /// The bantime of a new ban of an id banned `prior_count` times before, starting from the
    /// jail's `bantime` (fail2ban's `evformula`):
    ///
    /// 1. no earlier ban, or a permanent `bantime`: `bantime` unchanged;
    /// 2. multipliers: `bantime * factor * multipliers[min(count, len - 1)]`; else
    ///    `max(bantime, formula)`;
    /// 3. at most `maxtime`;
    /// 4. plus `random() * rndtime`.
    ///
    /// The result is whole seconds (fractions dropped), saturating at `i64::MAX`.
    ///
    /// ```
    /// use jailor_policy::{Increment, IncrementOptions};
    /// let inc = Increment::from_options(&IncrementOptions::default()).unwrap();
    /// let mut no_random = || 0.0;
    /// let times: Vec<i64> = (0..4).map(|n| inc.ban_time(600, n, &mut no_random)).collect();
    /// assert_eq!(times, [600, 1200, 2400, 4800]);
    /// ```
    pub fn ban_time(&self, bantime: i64, prior_count: u64, random: &mut dyn RandomSource) -> i64 {
        if prior_count == 0 || bantime == PERMANENT {
            return bantime;
        }
        let base = bantime as f64;
        let mut t = match &self.growth {
            Growth::Multipliers(list) => {
                let at = usize::try_from(prior_count)
                    .unwrap_or(usize::MAX)
                    .min(list.len().saturating_sub(1));
                let m = list.get(at).copied().unwrap_or(1);
                base * self.factor * m as f64
            }
            Growth::Formula(formula) => base.max(formula.eval(base, prior_count, self.factor)),
        };
        if let Some(max) = self.maxtime {
            t = t.min(max as f64);
        }
        if let Some(rnd) = self.rndtime {
            t += random.next_f64().clamp(0.0, 1.0) * rnd as f64;
        }
        // `as` saturates and maps NaN to 0.
        t as i64
    }
}

/// How many failures one failure of a repeat offender counts for under
/// `bantime.increment`: `min((1 << min(N, 20)) / 2 + 1, maxretry)` for an id banned `N > 0`
/// times before (2, 3, 5, 9, 17, ...), else 1. Never less than 1.
pub fn repeat_offender_weight(prior_count: u64, maxretry: u32) -> u32 {
    if prior_count == 0 {
        return 1;
    }
    let n = prior_count.min(20) as u32;
    let weight = (1u32 << n) / 2 + 1;
    weight.min(maxretry).max(1)
}

/// fail2ban's `failureFound` rule: the weight to add a failure at `time` with (see
/// [`repeat_offender_weight`]), or `None` when the failure is not later than the id's latest
/// ban and must be ignored (a line read again after a restart).
pub fn weigh_failure(time: i64, prior: Option<PriorBans>, maxretry: u32) -> Option<u32> {
    match prior {
        None => Some(1),
        Some(p) if time <= p.last_ban => None,
        Some(p) => Some(repeat_offender_weight(p.ban_count, maxretry)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inc(options: IncrementOptions<'_>) -> Increment {
        Increment::from_options(&options).unwrap()
    }

    fn series(inc: &Increment, bantime: i64, counts: std::ops::Range<u64>) -> Vec<i64> {
        let mut zero = || 0.0;
        counts
            .map(|n| inc.ban_time(bantime, n, &mut zero))
            .collect()
    }

    #[test]
    fn default_formula_doubles() {
        let i = inc(IncrementOptions::default());
        assert_eq!(series(&i, 600, 0..5), [600, 1200, 2400, 4800, 9600]);
        // The exponent stops at 20: 600 * 2^20.
        assert_eq!(series(&i, 600, 20..22), [629_145_600, 629_145_600]);
    }

    #[test]
    fn factor_scales_the_formula() {
        let i = inc(IncrementOptions {
            factor: Some("3"),
            ..Default::default()
        });
        // count 1: 100 * 2 * 3; count 2: 100 * 4 * 3.
        assert_eq!(series(&i, 100, 0..3), [100, 600, 1200]);
        // A factor below 1 cannot make a ban shorter than bantime: max(bantime, formula).
        let i = inc(IncrementOptions {
            factor: Some("1/4"),
            ..Default::default()
        });
        assert_eq!(series(&i, 100, 1..4), [100, 100, 200]);
    }

    #[test]
    fn exponential_formula() {
        let i = inc(IncrementOptions {
            factor: Some("2.0 / 2.885385"),
            formula: Some(
                "ban.Time * math.exp(float(ban.Count+1)*banFactor)/math.exp(1*banFactor)",
            ),
            ..Default::default()
        });
        // factor = 0.693147... = ln 2, so exp((n+1)f)/exp(f) = 2^n: the doubling series.
        // (Python gives 1200.0015, 2400.0059, 4800.0176.)
        assert_eq!(series(&i, 600, 1..4), [1200, 2400, 4800]);
    }

    #[test]
    fn multipliers_pick_by_count_and_stick_at_the_last() {
        let i = inc(IncrementOptions {
            multipliers: Some("1 5 30 60"),
            ..Default::default()
        });
        assert_eq!(series(&i, 60, 0..6), [60, 300, 1800, 3600, 3600, 3600]);
        let i = inc(IncrementOptions {
            multipliers: Some("1 2 4"),
            factor: Some("2"),
            ..Default::default()
        });
        assert_eq!(series(&i, 600, 1..3), [2400, 4800]);
    }

    #[test]
    fn maxtime_caps_then_rndtime_adds() {
        let i = inc(IncrementOptions {
            maxtime: Some(3000),
            rndtime: Some(100),
            ..Default::default()
        });
        let mut half = || 0.5;
        assert_eq!(i.ban_time(600, 1, &mut half), 1250);
        assert_eq!(i.ban_time(600, 3, &mut half), 3050); // 4800 capped to 3000
                                                         // No earlier ban: untouched, no random part.
        assert_eq!(i.ban_time(600, 0, &mut half), 600);
        // Permanent stays permanent.
        assert_eq!(i.ban_time(PERMANENT, 5, &mut half), PERMANENT);
        let mut rng = SplitMix64::with_seed(7);
        for _ in 0..100 {
            let t = i.ban_time(600, 1, &mut rng);
            assert!((1200..1300).contains(&t), "{t}");
        }
    }

    #[test]
    fn formula_variants_and_refusals() {
        assert_eq!(
            Formula::parse("ban.Time*(1<<(ban.Count if ban.Count<10 else 10))*banFactor").unwrap(),
            Formula::Doubling { cap: 10 }
        );
        for bad in [
            "ban.Time * 2 ** ban.Count",
            "__import__('os').system('id')",
            "ban.Time * (1<<(ban.Count if ban.Count<20 else 30)) * banFactor",
            "ban.Time * (1<<(ban.Count if ban.Count<99 else 99)) * banFactor",
        ] {
            let err = Formula::parse(bad).unwrap_err();
            assert!(matches!(err.kind(), ErrorKind::UnsupportedFormula(t) if t == bad));
            assert!(err
                .to_string()
                .starts_with("bantime.formula: unsupported formula"));
        }
        let err = Increment::from_options(&IncrementOptions {
            factor: Some("math.pi"),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.option(), "bantime.factor");
        let err = Increment::from_options(&IncrementOptions {
            multipliers: Some("1 2 x"),
            ..Default::default()
        })
        .unwrap_err();
        assert_eq!(err.option(), "bantime.multipliers");
    }

    #[test]
    fn repeat_offenders_count_more() {
        let w: Vec<u32> = (0..6).map(|n| repeat_offender_weight(n, 100)).collect();
        assert_eq!(w, [1, 2, 3, 5, 9, 17]);
        assert_eq!(repeat_offender_weight(3, 4), 4);
        assert_eq!(repeat_offender_weight(50, 1_000_000_000), (1 << 19) + 1);
        assert_eq!(repeat_offender_weight(2, 0), 1);
        let prior = Some(PriorBans {
            ban_count: 2,
            last_ban: 1000,
        });
        assert_eq!(weigh_failure(999, prior, 5), None);
        assert_eq!(weigh_failure(1000, prior, 5), None);
        assert_eq!(weigh_failure(1001, prior, 5), Some(3));
        assert_eq!(weigh_failure(10, None, 5), Some(1));
    }
}
