//! A per-request work budget: a deadline that every scan stage checks between steps and inside
//! its long loops, so a request that ran out of time stops using the CPU instead of finishing
//! work whose answer nobody waits for.
//!
//! Detectors cannot return errors (they push findings), so a detector that sees the budget spent
//! simply stops; the engine checks the budget after every stage and turns a spent budget into
//! [`crate::ScanError::DeadlineExceeded`]. Partial findings are never reported: a scan that ran
//! out of time is an error, never an `allow` (fail closed).

use std::time::{Duration, Instant};

/// When a scan must stop. `Copy`; the default is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budget {
    deadline: Option<Instant>,
}

/// The budget ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the scan ran past its deadline")]
pub struct BudgetSpent;

impl Budget {
    /// No deadline.
    pub const UNLIMITED: Budget = Budget { deadline: None };

    /// Stop at `deadline`.
    pub fn until(deadline: Instant) -> Budget {
        Budget { deadline: Some(deadline) }
    }

    /// Stop `limit` from now.
    pub fn within(limit: Duration) -> Budget {
        Budget { deadline: Instant::now().checked_add(limit) }
    }

    /// The deadline, if any.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// True once the deadline has passed (and from then on).
    pub fn spent(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// `Err` once the deadline has passed.
    pub fn check(&self) -> Result<(), BudgetSpent> {
        if self.spent() {
            Err(BudgetSpent)
        } else {
            Ok(())
        }
    }

    /// A meter for a hot loop: reads the clock once every `every` ticks.
    pub fn meter(&self, every: u32) -> Meter {
        Meter { budget: *self, every: every.max(1), count: 0 }
    }
}

/// Amortized budget checks for loops that run per match or per byte.
#[derive(Debug, Clone, Copy)]
pub struct Meter {
    budget: Budget,
    every: u32,
    count: u32,
}

impl Meter {
    /// Count one step; true when the budget is spent (checked every `every` steps).
    pub fn tick(&mut self) -> bool {
        if self.budget.deadline.is_none() {
            return false;
        }
        self.count += 1;
        if self.count < self.every {
            return false;
        }
        self.count = 0;
        self.budget.spent()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spent_budgets_stay_spent() {
        assert!(!Budget::UNLIMITED.spent());
        assert!(Budget::UNLIMITED.check().is_ok());
        let past = Budget::until(Instant::now());
        assert!(past.spent());
        assert_eq!(past.check(), Err(BudgetSpent));
        let mut meter = past.meter(3);
        assert!(!meter.tick() && !meter.tick() && meter.tick());
        assert!(!Budget::within(Duration::from_secs(3600)).spent());
        let mut unlimited = Budget::UNLIMITED.meter(1);
        assert!(!unlimited.tick());
    }
}
