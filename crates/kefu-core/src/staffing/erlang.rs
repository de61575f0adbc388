//! The Erlang formulas and the searches for the least sufficient number of
//! agents. Everything is computed without factorials or powers that could
//! overflow: Erlang B by its recursion, Erlang C from B, Erlang A from the
//! birth–death chain's stationary distribution in log space.

use super::{MAX_AGENTS, StaffingError, Targets};

/// Erlang B: the probability that a call finds all `agents` busy and is lost,
/// with `erlangs` of offered traffic. By the recursion B(0) = 1,
/// B(k) = A·B(k−1) ÷ (k + A·B(k−1)), no factorials or powers: every term is
/// positive, so nothing cancels and nothing overflows, for thousands of
/// agents and thousands of erlangs alike.
///
/// Run in its reciprocal form, 1/B(k) = 1 + (k/A)·(1/B(k−1)) — the same
/// recursion, a multiply-add per agent instead of a division, which is most
/// of the cost of a required-agents search. Where B is below the smallest
/// normal `f64` the reciprocal overflows to ∞ and B comes out 0.
pub fn erlang_b(agents: u32, erlangs: f64) -> f64 {
    let per_erlang = 1.0 / erlangs; // ∞ for no traffic: B = 0 from one agent on
    let mut inv = 1.0f64;
    let mut k = 0.0f64;
    for _ in 0..agents {
        k += 1.0;
        inv = 1.0 + inv * (k * per_erlang);
    }
    1.0 / inv
}

/// Erlang C (M/M/N, callers wait as long as it takes) for `agents` and
/// `traffic_erlangs`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErlangCMetrics {
    pub agents: u32,
    pub traffic_erlangs: f64,
    /// Erlang B for the same agents and traffic.
    pub erlang_b: f64,
    /// Erlang C: the probability that a call waits,
    /// C = N·B ÷ (N − A·(1 − B)) when N > A; 1 otherwise (the queue is
    /// unstable and every call eventually waits).
    pub p_wait: f64,
}

impl ErlangCMetrics {
    pub fn new(agents: u32, traffic_erlangs: f64) -> ErlangCMetrics {
        Self::from_b(agents, traffic_erlangs, erlang_b(agents, traffic_erlangs))
    }

    fn from_b(agents: u32, a: f64, b: f64) -> ErlangCMetrics {
        let n = f64::from(agents);
        let p_wait = if n > a {
            (n * b / (n - a * (1.0 - b))).clamp(0.0, 1.0)
        } else {
            1.0
        };
        ErlangCMetrics {
            agents,
            traffic_erlangs: a,
            erlang_b: b,
            p_wait,
        }
    }

    fn stable(&self) -> bool {
        f64::from(self.agents) > self.traffic_erlangs
    }

    /// Share of calls answered within `t` seconds:
    /// 1 − C·e^(−(N − A)·t ÷ AHT); 0 when N ≤ A (as pyworkforce's
    /// `max(0, …)`).
    pub fn service_level(&self, t: f64, aht: f64) -> f64 {
        if !self.stable() {
            return 0.0;
        }
        let n = f64::from(self.agents);
        (1.0 - self.p_wait * (-(n - self.traffic_erlangs) * t / aht).exp()).clamp(0.0, 1.0)
    }

    /// Mean wait over all calls, C·AHT ÷ (N − A); infinite when N ≤ A.
    pub fn asa_seconds(&self, aht: f64) -> f64 {
        if !self.stable() {
            return f64::INFINITY;
        }
        self.p_wait * aht / (f64::from(self.agents) - self.traffic_erlangs)
    }

    /// A ÷ N, at most 1 (with N ≤ A every agent is always busy).
    pub fn occupancy(&self) -> f64 {
        (self.traffic_erlangs / f64::from(self.agents)).min(1.0)
    }
}

/// Whether an occupancy meets a maximum. Round inputs put A ÷ N exactly on
/// the target surprisingly often (1,292 calls × 180 s ÷ 1,800 s at 85% is
/// exactly 152 agents), and the last bit of a floating-point division must
/// not decide such a tie: within a relative 1e−12 counts as meeting.
pub(crate) fn occupancy_ok(occupancy: f64, max: f64) -> bool {
    occupancy <= max * (1.0 + 1e-12)
}

/// The least N with A ÷ N ≤ `max`, checked with the same comparison the
/// other targets use (⌈A ÷ max⌉ alone can be one off in floating point).
fn least_agents_for_occupancy(a: f64, max: f64) -> u32 {
    let guess = (a / max).ceil().clamp(1.0, f64::from(MAX_AGENTS));
    let mut n = guess as u32;
    while n > 1 && occupancy_ok(a / f64::from(n - 1), max) {
        n -= 1;
    }
    while n < MAX_AGENTS && !occupancy_ok(a / f64::from(n), max) {
        n += 1;
    }
    n
}

/// Erlang B: the least N meeting `max_blocking` and `max_occupancy`
/// (occupancy = carried load ÷ N). Steps up from 1, updating B by one
/// recursion step per agent.
pub(crate) fn least_agents_b(a: f64, targets: &Targets) -> Result<u32, StaffingError> {
    let mut n = 1u32;
    let mut b = a / (1.0 + a);
    loop {
        let blocking_ok = targets.max_blocking.is_none_or(|m| b <= m);
        let occ_ok = targets
            .max_occupancy
            .is_none_or(|m| occupancy_ok(a * (1.0 - b) / f64::from(n), m));
        if blocking_ok && occ_ok {
            return Ok(n);
        }
        if n >= MAX_AGENTS {
            return Err(StaffingError::Unreachable {
                traffic_erlangs: a,
                max: MAX_AGENTS,
            });
        }
        n += 1;
        b = a * b / (f64::from(n) + a * b);
    }
}

/// Erlang C: the least N meeting every target. Starts at the least N that is
/// stable (N > A) and meets the occupancy target, computes B there once, then
/// steps up one agent at a time with one recursion step each — the service
/// level, ASA and occupancy all improve with every agent, so the first N that
/// meets them all is the least. The same walk as pyworkforce's
/// `required_positions`, except that it starts at ⌊A⌋ + 1 rather than
/// `round(A + 1)` (which can skip the least N for low targets).
pub(crate) fn least_agents_c(
    a: f64,
    aht: f64,
    targets: &Targets,
) -> Result<ErlangCMetrics, StaffingError> {
    let stable_from = a.floor() + 1.0;
    if stable_from > f64::from(MAX_AGENTS) {
        return Err(StaffingError::Unreachable {
            traffic_erlangs: a,
            max: MAX_AGENTS,
        });
    }
    let mut n = (stable_from as u32).max(1);
    if let Some(max) = targets.max_occupancy {
        n = n.max(least_agents_for_occupancy(a, max));
        if !occupancy_ok(a / f64::from(n), max) {
            return Err(StaffingError::Unreachable {
                traffic_erlangs: a,
                max: MAX_AGENTS,
            });
        }
    }
    let mut b = erlang_b(n, a);
    loop {
        let m = ErlangCMetrics::from_b(n, a, b);
        let sl_ok = targets
            .service_level
            .is_none_or(|s| m.service_level(s.threshold_seconds, aht) >= s.min);
        let asa_ok = targets
            .max_asa_seconds
            .is_none_or(|x| m.asa_seconds(aht) <= x);
        if sl_ok && asa_ok {
            return Ok(m);
        }
        if n >= MAX_AGENTS {
            return Err(StaffingError::Unreachable {
                traffic_erlangs: a,
                max: MAX_AGENTS,
            });
        }
        n += 1;
        b = a * b / (f64::from(n) + a * b);
    }
}

/// The most queue states an Erlang A evaluation walks. The walk is
/// O(states) in time and O(1) in memory; states are many only when agents
/// are far fewer than the traffic *and* patience is far longer than the
/// handle time (the queue then builds to about (A − N)·patience ÷ AHT).
pub const MAX_QUEUE_STATES: usize = 20_000_000;

/// Erlang A (M/M/N+M, Palm's model): Poisson arrivals at rate λ, N agents
/// with exponential handling (mean AHT = 1/μ), and each waiting caller gives
/// up after an exponential patience (mean 1/θ).
///
/// Computed exactly from the birth–death chain: states n ≤ N have weights
/// Aⁿ/n! (normalised through Erlang B, so no factorial is formed), and the
/// waiting states N + j have weights π_N·∏ᵢ₌₁ʲ A ÷ (N + i·θ/μ), walked in log
/// space and summed until the terms vanish (θ > 0 makes the tail decay at
/// least geometrically once N + j·θ/μ > A). By PASTA, a caller arriving to
/// find j others waiting:
/// - is answered with probability α ÷ (α + j + 1), α = Nμ/θ (each of the j+1
///   queue moves ahead of it is a race between Nμ + kθ and its own θ, and
///   the product telescopes);
/// - waits on average (j + 1) ÷ (Nμ + (j + 1)θ);
/// - would be answered after a virtual wait V, a sum of exponentials with
///   rates Nμ + kθ (k = 0..j), for which e^(−θV) ~ Beta(α, j + 1), so
///   P(V > t) = Σᵢ₌₀ʲ NegBin(i; α, e^(−θt)) and
///   P(answered, V ≤ t) = α ÷ (α + j + 1) · (1 − Σᵢ₌₀ʲ NegBin(i; α + 1, e^(−θt)))
///   — sums of positive terms, with no alternating cancellation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ErlangAMetrics {
    pub agents: u32,
    pub traffic_erlangs: f64,
    /// The threshold the service levels are for.
    pub threshold_seconds: f64,
    /// Probability a caller finds every agent busy (and waits at all).
    pub p_wait: f64,
    /// Probability a caller gives up before being answered.
    pub p_abandon: f64,
    /// Mean wait of all callers: answered ones until answer, abandoning
    /// ones until they hang up, those answered at once counting 0.
    pub asa_seconds: f64,
    /// Mean wait of the answered callers only.
    pub asa_answered_seconds: f64,
    /// Answered with a wait ≤ t, divided by all callers.
    pub sl_answered_within_t: f64,
    /// Waited ≤ t (until answer or until giving up), divided by all callers.
    pub sl_wait_le_t: f64,
    /// Answered with a wait ≤ t, divided by the answered callers.
    pub sl_excl_abandon: f64,
    /// Carried load ÷ N (= A·(1 − P(abandon)) ÷ N).
    pub occupancy: f64,
}

/// ln(1 + eᶻ) without overflow.
fn ln_1p_exp(z: f64) -> f64 {
    if z > 0.0 {
        z + (-z).exp().ln_1p()
    } else {
        z.exp().ln_1p()
    }
}

/// Terms this far (in natural log) below the largest are dropped: e^−46 ≈ 1e−20.
const NEGLIGIBLE: f64 = 46.0;

impl ErlangAMetrics {
    /// Metrics for `agents` (≥ 1), `traffic_erlangs`, mean handling
    /// `aht_seconds` and mean patience `patience_seconds` (both > 0), with the
    /// service levels at `threshold_seconds` (≥ 0).
    pub fn new(
        agents: u32,
        traffic_erlangs: f64,
        aht_seconds: f64,
        patience_seconds: f64,
        threshold_seconds: f64,
    ) -> Result<ErlangAMetrics, StaffingError> {
        let n = f64::from(agents.max(1));
        let a = traffic_erlangs;
        let t = threshold_seconds;
        // ρ = θ/μ: abandonment rate per waiting caller in units of the service rate.
        let rho = aht_seconds / patience_seconds;
        let alpha = n / rho;
        let b = erlang_b(agents, a);
        let mut m = ErlangAMetrics {
            agents,
            traffic_erlangs: a,
            threshold_seconds: t,
            p_wait: 0.0,
            p_abandon: 0.0,
            asa_seconds: 0.0,
            asa_answered_seconds: 0.0,
            sl_answered_within_t: 1.0,
            sl_wait_le_t: 1.0,
            sl_excl_abandon: 1.0,
            occupancy: a / n,
        };
        if b <= 0.0 || a == 0.0 {
            // No caller ever finds all agents busy (to f64 precision).
            return Ok(m);
        }
        let too_many = || StaffingError::TooManyStates {
            agents,
            traffic_erlangs: a,
            patience_ratio: patience_seconds / aht_seconds,
            max_states: MAX_QUEUE_STATES,
        };
        // The weights rise until N + j·ρ reaches A: that far is walked at least.
        if (a - n) / rho > MAX_QUEUE_STATES as f64 {
            return Err(too_many());
        }
        let ln_ratio = |j: usize| (a / (n + j as f64 * rho)).ln();

        // Pass 1: the largest log-weight, the sum of the waiting states'
        // weights relative to it (j ≥ 1), and where the tail becomes negligible.
        let mut lr = 0.0f64;
        let mut max = 0.0f64;
        let mut rel_sum = 0.0f64;
        let mut last = 0usize;
        for j in 1.. {
            if j > MAX_QUEUE_STATES {
                return Err(too_many());
            }
            lr += ln_ratio(j);
            if lr > max {
                rel_sum = rel_sum * (max - lr).exp() + 1.0;
                max = lr;
            } else {
                rel_sum += (lr - max).exp();
            }
            let q = a / (n + (j + 1) as f64 * rho);
            // Past the peak the terms fall at least geometrically with ratio
            // q, so the rest is at most term · q ÷ (1 − q).
            if q < 1.0 && lr + (q / (1.0 - q)).ln() < max - NEGLIGIBLE {
                last = j;
                break;
            }
        }
        let ln_b = b.ln();
        // P(state N + j) = B·r_j ÷ (1 + B·R), R = Σ_{j≥1} r_j.
        let ln_norm = ln_1p_exp(ln_b + max + rel_sum.ln());

        // Pass 2: the per-state quantities, weighted.
        let x_ln = -t / patience_seconds; // ln e^(−θt)
        let one_minus_x_ln = (-(x_ln.exp_m1())).ln(); // ln(1 − e^(−θt)); −∞ at t = 0
        let mut lr = 0.0f64;
        let mut ld1 = -n * t / aht_seconds; // ln NegBin(0; α, x) = α·ln x
        let mut ld2 = ld1 + x_ln; // ln NegBin(0; α + 1, x)
        let mut cum1 = 0.0f64; // Σ_{i≤j} NegBin(i; α, x) = P(V > t | j)
        let mut cum2 = 0.0f64; // Σ_{i≤j} NegBin(i; α + 1, x)
        let mut harmonic = 0.0f64; // Σ_{k=1}^{j+1} 1 ÷ (α + k)
        let (mut p_wait, mut p_ab, mut wait_all, mut wait_answered) = (0.0, 0.0, 0.0, 0.0);
        let mut beyond_first = 0.0; // P(N + j), j ≥ 1: all agents busy with someone waiting
        let (mut answered_within, mut waited_le) = (0.0, 0.0);
        let x = x_ln.exp();
        for j in 0..=last {
            if j > 0 {
                lr += ln_ratio(j);
                let i = (j - 1) as f64;
                ld1 += ((alpha + i) / (i + 1.0)).ln() + one_minus_x_ln;
                ld2 += ((alpha + 1.0 + i) / (i + 1.0)).ln() + one_minus_x_ln;
            }
            cum1 = (cum1 + ld1.exp()).min(1.0);
            cum2 = (cum2 + ld2.exp()).min(1.0);
            let k = (j + 1) as f64;
            harmonic += 1.0 / (alpha + k);
            let w = (ln_b + lr - ln_norm).exp();
            let answered = alpha / (alpha + k);
            p_wait += w;
            if j > 0 {
                beyond_first += w;
            }
            p_ab += w * (k / (alpha + k));
            wait_all += w * patience_seconds * k / (alpha + k);
            wait_answered += w * answered * patience_seconds * harmonic;
            answered_within += w * answered * (1.0 - cum2);
            waited_le += w * (1.0 - x * cum1);
        }
        let p_wait = p_wait.clamp(0.0, 1.0);
        // P(n < N) = (1 − B) ÷ (1 + B·R) directly, not 1 − P(wait): under
        // heavy overload it is tiny and the subtraction would lose it.
        let p_no_wait = ((1.0 - b) * (-ln_norm).exp()).clamp(0.0, 1.0);
        let p_ab = p_ab.clamp(0.0, 1.0);
        let answered = 1.0 - p_ab;
        m.p_wait = p_wait;
        m.p_abandon = p_ab;
        m.asa_seconds = wait_all;
        m.asa_answered_seconds = if answered > 0.0 {
            wait_answered / answered
        } else {
            0.0
        };
        m.sl_answered_within_t = (p_no_wait + answered_within).clamp(0.0, 1.0);
        m.sl_wait_le_t = (p_no_wait + waited_le).clamp(0.0, 1.0);
        m.sl_excl_abandon = if answered > 0.0 {
            (m.sl_answered_within_t / answered).clamp(0.0, 1.0)
        } else {
            0.0
        };
        // Carried load = E[min(n, N)] = N·P(n ≥ N) + Σ_{n<N} n·π_n, where
        // Σ_{n<N} n·π_n = A·P(n < N) − N·π_N (from n·π_n = A·π_{n−1}); so it
        // is N·P(n > N) + A·P(n < N). The same as A·(1 − P(abandon)), without
        // its cancellation when nearly every caller gives up.
        m.occupancy = (beyond_first + (a / n) * p_no_wait).clamp(0.0, 1.0);
        Ok(m)
    }

    fn meets(&self, targets: &Targets) -> bool {
        targets
            .service_level
            .is_none_or(|s| self.sl_answered_within_t >= s.min)
            && targets
                .max_asa_seconds
                .is_none_or(|x| self.asa_answered_seconds <= x)
            && targets
                .max_occupancy
                .is_none_or(|x| occupancy_ok(self.occupancy, x))
            && targets.max_abandon.is_none_or(|x| self.p_abandon <= x)
    }
}

/// Erlang A: the least N meeting every target (service level as
/// `sl_answered_within_t`, ASA as `asa_answered_seconds`, occupancy,
/// abandonment).
///
/// Unlike Erlang C the answer can lie well *below* the offered load:
/// callers who give up shed load, and with a short patience an ASA target
/// alone is met by a handful of agents (no answered caller waits much longer
/// than the patience). So the search does not start at ⌈A⌉ and step up, nor
/// stop at a fixed A + 10√A + 100 (an occupancy target alone can need A ÷ X
/// agents): it tries ⌈A⌉, then bisects down to a lower bound implied by the
/// targets (carried load ≤ N caps the answered share at N ÷ A), or gallops up
/// by doubling steps to bracket the answer and bisects, up to
/// [`MAX_AGENTS`]. Every metric is monotone in N (more agents shorten every
/// caller's wait on each sample path), which is what makes bisection find the
/// least N; the last bisection step has checked that N − 1 falls short.
pub(crate) fn least_agents_a(
    a: f64,
    aht: f64,
    patience: f64,
    targets: &Targets,
) -> Result<ErlangAMetrics, StaffingError> {
    let t = targets.threshold_seconds().unwrap_or(0.0);
    let eval = |n: u32| ErlangAMetrics::new(n, a, aht, patience, t);
    let max = f64::from(MAX_AGENTS);
    let guess = a.ceil().clamp(1.0, max) as u32;
    // Necessary conditions: the answered share ≤ N ÷ A.
    let need_share = targets
        .service_level
        .map_or(0.0, |s| s.min)
        .max(targets.max_abandon.map_or(0.0, |x| 1.0 - x));
    let floor = ((a * need_share).floor() - 1.0).clamp(0.0, max) as u32;
    let at_guess = eval(guess)?;
    let (mut lo, mut hi, mut best) = if at_guess.meets(targets) {
        (floor.min(guess - 1), guess, at_guess)
    } else {
        let mut lo = guess;
        let mut step = 1u32;
        loop {
            if lo >= MAX_AGENTS {
                return Err(StaffingError::Unreachable {
                    traffic_erlangs: a,
                    max: MAX_AGENTS,
                });
            }
            let cand = lo.saturating_add(step).min(MAX_AGENTS);
            let m = eval(cand)?;
            if m.meets(targets) {
                break (lo, cand, m);
            }
            lo = cand;
            step = step.saturating_mul(2);
        }
    };
    // Invariant: lo fails (or is 0, which serves nobody), hi meets.
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let m = eval(mid)?;
        if m.meets(targets) {
            hi = mid;
            best = m;
        } else {
            lo = mid;
        }
    }
    Ok(best)
}
