//! The web console's settings (`[console]`).

use super::ConfigError;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ConsoleConfig {
    /// Serve `/console/`; off leaves the API alone on the listener.
    pub enabled: bool,
    /// Mark the session cookie `Secure`: set it when the console is reached over HTTPS (a
    /// browser then never sends the cookie over plain HTTP).
    pub secure_cookies: bool,
    /// A session ends this long after sign-in, whatever is done with it.
    pub session_hours: u32,
    /// Sign-in attempts one client address may make per minute, right or wrong.
    pub sign_in_attempts_per_minute: u32,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        ConsoleConfig {
            enabled: true,
            secure_cookies: false,
            session_hours: 12,
            sign_in_attempts_per_minute: 10,
        }
    }
}

impl ConsoleConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=720).contains(&self.session_hours) {
            return Err(ConfigError::Invalid(format!(
                "[console] session_hours = {} must be from 1 to 720",
                self.session_hours
            )));
        }
        if self.sign_in_attempts_per_minute == 0 {
            return Err(ConfigError::Invalid(
                "[console] sign_in_attempts_per_minute must be at least 1".into(),
            ));
        }
        Ok(())
    }
}
