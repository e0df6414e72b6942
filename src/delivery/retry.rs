//! The retry policy as data plus pure functions: when to try again and when to give up.

use std::time::Duration;

use crate::config::DeliverySettings;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    schedule: Vec<Duration>,
    jitter: f64,
    max_attempts: u32,
    max_age: Duration,
}

impl RetryPolicy {
    pub fn from_settings(s: &DeliverySettings) -> Self {
        RetryPolicy {
            schedule: s.retry_schedule.clone(),
            jitter: s.jitter,
            max_attempts: s.max_attempts,
            max_age: s.max_age,
        }
    }

    /// The pause after failed attempt number `attempt` (1-based). `unit` is a random draw in
    /// [0, 1) (injected so tests can pin it); it spreads the delay by ±`jitter`.
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let index = (attempt.max(1) as usize - 1).min(self.schedule.len() - 1);
        let base = self.schedule[index].as_secs_f64();
        let spread = 1.0 + self.jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        Duration::from_secs_f64(base * spread)
    }

    /// Whether to stop after `attempt` failed attempts, `age` after the notification was accepted,
    /// when the next try would come after `next_delay`.
    pub fn gives_up(&self, attempt: u32, age: Duration, next_delay: Duration) -> bool {
        attempt >= self.max_attempts || age + next_delay > self.max_age
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            schedule: vec![Duration::from_secs(5), Duration::from_secs(30), Duration::from_secs(120)],
            jitter: 0.2,
            max_attempts: 5,
            max_age: Duration::from_secs(3600),
        }
    }

    #[test]
    fn delays_follow_the_schedule_then_repeat_its_last_step() {
        let p = policy();
        assert_eq!(p.delay(1, 0.5), Duration::from_secs(5));
        assert_eq!(p.delay(2, 0.5), Duration::from_secs(30));
        assert_eq!(p.delay(3, 0.5), Duration::from_secs(120));
        assert_eq!(p.delay(9, 0.5), Duration::from_secs(120));
    }

    #[test]
    fn jitter_spreads_by_the_configured_fraction() {
        let p = policy();
        assert_eq!(p.delay(1, 0.0), Duration::from_secs(4));
        assert_eq!(p.delay(1, 1.0), Duration::from_secs(6));
    }

    #[test]
    fn gives_up_on_attempts_or_age() {
        let p = policy();
        assert!(!p.gives_up(4, Duration::from_secs(10), Duration::from_secs(120)));
        assert!(p.gives_up(5, Duration::from_secs(10), Duration::from_secs(120)));
        assert!(p.gives_up(2, Duration::from_secs(3590), Duration::from_secs(30)));
    }
}
