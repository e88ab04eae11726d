//! Choosing one deployment of a group, by the configured routing strategy.

use std::sync::Arc;
use std::time::Instant;

use super::config::Strategy;
use super::deployment::Deployment;

/// Index into `candidates` of the deployment to try; `candidates` is never empty.
pub fn pick(strategy: Strategy, candidates: &[&Arc<Deployment>], now: Instant) -> usize {
    match strategy {
        Strategy::SimpleShuffle => weighted(candidates),
        Strategy::LeastBusy => min_by(candidates, |d| d.in_flight() as f64),
        // Untried deployments (no sample yet) go first, so every one gets measured.
        Strategy::LatencyBased => min_by(candidates, |d| d.ttft_ms().unwrap_or(0.0)),
        Strategy::UsageBased => min_by(candidates, |d| -d.headroom(now)),
        Strategy::CostBased => min_by(candidates, |d| d.unit_cost()),
    }
}

/// Random by `weight`, else by `rpm`, else by `tpm`, else uniform (LiteLLM's simple-shuffle).
fn weighted(c: &[&Arc<Deployment>]) -> usize {
    let by = |f: &dyn Fn(&Deployment) -> Option<f64>| -> Option<Vec<f64>> {
        c.iter().all(|d| f(d).is_some()).then(|| c.iter().map(|d| f(d).unwrap_or(0.0)).collect())
    };
    let weights = by(&|d| d.cfg.weight).or_else(|| by(&|d| d.cfg.rpm.map(f64::from))).or_else(|| by(&|d| d.cfg.tpm.map(f64::from)));
    match weights {
        Some(w) if w.iter().sum::<f64>() > 0.0 => {
            let total: f64 = w.iter().sum();
            let mut x = fastrand::f64() * total;
            for (i, wi) in w.iter().enumerate() {
                if x < *wi {
                    return i;
                }
                x -= wi;
            }
            w.len() - 1
        }
        _ => fastrand::usize(..c.len()),
    }
}

/// The lowest score; ties are broken at random so equal deployments share the load.
fn min_by(c: &[&Arc<Deployment>], score: impl Fn(&Deployment) -> f64) -> usize {
    let scores: Vec<f64> = c.iter().map(|d| score(d)).collect();
    let best = scores.iter().cloned().fold(f64::INFINITY, f64::min);
    let ties: Vec<usize> = (0..c.len()).filter(|i| scores[*i] <= best).collect();
    ties[fastrand::usize(..ties.len().max(1))]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::config::RouterConfig;
    use serde_json::json;

    fn deployments(weights: &[f64]) -> Vec<Arc<Deployment>> {
        let list: Vec<_> =
            weights.iter().map(|w| json!({"model_name": "g", "litellm_params": {"model": "openai/x", "weight": w}})).collect();
        let (c, _) = RouterConfig::parse(&json!({"model_list": list})).unwrap();
        c.deployments.into_iter().map(|d| Arc::new(Deployment::new(d))).collect()
    }

    #[test]
    fn simple_shuffle_follows_weights() {
        let ds = deployments(&[1.0, 3.0]);
        let refs: Vec<&Arc<Deployment>> = ds.iter().collect();
        let n = 20_000;
        let second = (0..n).filter(|_| pick(Strategy::SimpleShuffle, &refs, Instant::now()) == 1).count();
        let share = second as f64 / n as f64;
        assert!((share - 0.75).abs() < 0.02, "{share}");
    }

    #[test]
    fn least_busy_picks_the_idle_one() {
        let ds = deployments(&[1.0, 1.0]);
        let refs: Vec<&Arc<Deployment>> = ds.iter().collect();
        let _busy = ds[0].start(0, Instant::now());
        for _ in 0..50 {
            assert_eq!(pick(Strategy::LeastBusy, &refs, Instant::now()), 1);
        }
    }

    #[test]
    fn latency_based_prefers_the_faster_measured_one() {
        let ds = deployments(&[1.0, 1.0]);
        ds[0].record_success(std::time::Duration::from_millis(300));
        ds[1].record_success(std::time::Duration::from_millis(50));
        let refs: Vec<&Arc<Deployment>> = ds.iter().collect();
        assert_eq!(pick(Strategy::LatencyBased, &refs, Instant::now()), 1);
    }
}
