//! Limits of the state machine, checked once at construction.

/// Settings every replica must share: they shape the replicated state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StateConfig {
    /// How many exactly-once client sessions are kept before the oldest is evicted.
    pub max_sessions: usize,
}

impl Default for StateConfig {
    fn default() -> Self {
        StateConfig {
            max_sessions: 10_000,
        }
    }
}

/// A [`StateConfig`] that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StateConfigError {
    /// With no room for a single session, no request could be deduplicated.
    #[error("max_sessions must be at least 1")]
    NoSessions,
}

impl StateConfig {
    /// Checks the limits.
    pub fn validate(&self) -> Result<(), StateConfigError> {
        if self.max_sessions == 0 {
            return Err(StateConfigError::NoSessions);
        }
        Ok(())
    }
}
