//! An instance's linear-memory cap, and how much of it the instance uses: an instance that
//! keeps growing (a plugin that leaks) is recycled before it reaches the cap, so its calls
//! keep succeeding instead of trapping on the allocation that would cross it.

use wasmtime::{ResourceLimiter, StoreLimits, StoreLimitsBuilder};

/// The cap, enforced by wasmtime's [`StoreLimits`], plus a count of the bytes granted.
pub struct MemoryLimiter {
    limits: StoreLimits,
    cap: usize,
    used: usize,
    /// `used` when the instance last went back to the pool.
    used_after_last_call: usize,
    /// Calls the instance has returned from.
    calls: u64,
    /// Whether a growth was refused: the cap was reached.
    refused: bool,
}

impl MemoryLimiter {
    /// A limiter allowing `cap` bytes of linear memory in all.
    pub fn new(cap: usize) -> Self {
        Self {
            limits: StoreLimitsBuilder::new()
                .memory_size(cap)
                .trap_on_grow_failure(true)
                .build(),
            cap,
            used: 0,
            used_after_last_call: 0,
            calls: 0,
            refused: false,
        }
    }

    /// The cap, in bytes.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Whether the instance tried to grow its memory past the cap.
    pub fn refused_growth(&self) -> bool {
        self.refused
    }

    /// Bytes of linear memory the instance holds.
    pub fn used(&self) -> usize {
        self.used
    }

    /// Marks the memory the instance has now (instantiated and initialised) as its
    /// starting point: what it grows by from here is what its calls add.
    pub fn set_baseline(&mut self) {
        self.used_after_last_call = self.used;
    }

    /// Called as the instance goes back to the pool: whether it should be dropped instead,
    /// because its memory is so close to the cap that calls growing it as much as the last
    /// one did (or by a sixteenth of the cap) would soon cross it.
    pub fn should_recycle(&mut self) -> bool {
        // A first call may set up what later calls reuse (lazy initialisation): its growth
        // is not taken as the pace of a leak.
        self.calls += 1;
        let grown = if self.calls == 1 {
            0
        } else {
            self.used.saturating_sub(self.used_after_last_call)
        };
        self.used_after_last_call = self.used;
        let headroom = grown.saturating_mul(2).max(self.cap / 16);
        self.used.saturating_add(headroom) > self.cap
    }
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = self.limits.memory_growing(current, desired, maximum);
        match allowed {
            Ok(true) => self.used = self.used.saturating_add(desired.saturating_sub(current)),
            Ok(false) | Err(_) => self.refused = true,
        }
        allowed
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn memory_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.memory_grow_failed(error)
    }

    fn table_grow_failed(&mut self, error: wasmtime::Error) -> wasmtime::Result<()> {
        self.limits.table_grow_failed(error)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_growing_instance_is_recycled_before_the_cap_and_a_steady_one_is_kept() {
        const MIB: usize = 1 << 20;
        let mut steady = MemoryLimiter::new(16 * MIB);
        assert!(steady.memory_growing(0, 12 * MIB, None).expect("grow"));
        steady.set_baseline();
        assert!(
            !steady.should_recycle(),
            "12 of 16 MiB, no growth since: kept"
        );
        assert!(!steady.should_recycle());
        // A first call that sets up 4 MiB more for later calls is not a leak.
        let mut lazy = MemoryLimiter::new(16 * MIB);
        assert!(lazy.memory_growing(0, 8 * MIB, None).expect("grow"));
        lazy.set_baseline();
        assert!(lazy.memory_growing(8 * MIB, 12 * MIB, None).expect("grow"));
        assert!(
            !lazy.should_recycle(),
            "lazy set-up on the first call: kept"
        );
        assert!(!lazy.should_recycle(), "and kept after");

        let mut leaky = MemoryLimiter::new(16 * MIB);
        assert!(leaky.memory_growing(0, 2 * MIB, None).expect("grow"));
        leaky.set_baseline();
        let mut calls = 0;
        loop {
            let now = 2 * MIB + (calls + 1) * 512 * 1024;
            assert!(
                leaky
                    .memory_growing(now - 512 * 1024, now, None)
                    .expect("grow"),
                "recycled too late: the cap was reached"
            );
            calls += 1;
            if leaky.should_recycle() {
                break;
            }
        }
        assert!(
            leaky.used() <= 16 * MIB && leaky.used() >= 14 * MIB,
            "{}",
            leaky.used()
        );
        // Past the cap, growth is refused (and traps, as `trap_on_grow_failure` says).
        let mut full = MemoryLimiter::new(MIB);
        assert!(full.memory_growing(0, 2 * MIB, None).is_err());
    }
}
