//! Injected failures, drawn per request from a seeded generator so a run's
//! fault pattern repeats for the same seed and request order.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use serde::Serialize;

use super::wire::{AwsError, Service};
use crate::synth::text::SynthRng;

/// Probabilities per request (each 0–1, all but `slow` together at most
/// 1), optionally only for one region.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// Answer `ThrottlingException` (HTTP 400).
    pub throttle: f64,
    /// Answer 500 `InternalFailure` or 503 `ServiceUnavailable`.
    pub server_error: f64,
    /// Answer only after `slow_by` (on top of any other outcome).
    pub slow: f64,
    pub slow_by: Duration,
    /// Close the connection without answering.
    pub drop: f64,
    /// Answer 200 with a body that is not the protocol's (a hostile or
    /// broken endpoint).
    pub garbage: f64,
    /// Answer 200 with a page that never ends (a hostile endpoint trying
    /// to exhaust the client's memory).
    pub huge: f64,
    /// Only requests signed for this region get faults (`None`: all).
    pub region: Option<String>,
    /// What `GetCallerIdentity` answers as the account id instead of the
    /// account's (a hostile endpoint's forged identity), any text.
    pub forged_account: Option<String>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            throttle: 0.0,
            server_error: 0.0,
            slow: 0.0,
            slow_by: Duration::from_secs(2),
            drop: 0.0,
            garbage: 0.0,
            huge: 0.0,
            region: None,
            forged_account: None,
        }
    }
}

impl Faults {
    /// Checks the probabilities; the message says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        for (name, p) in [
            ("throttle", self.throttle),
            ("server_error", self.server_error),
            ("slow", self.slow),
            ("drop", self.drop),
            ("garbage", self.garbage),
            ("huge", self.huge),
        ] {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("fault probability {name} = {p} is not within 0..1"));
            }
        }
        if self.throttle + self.server_error + self.drop + self.garbage + self.huge > 1.0 + 1e-9 {
            return Err("throttle + server_error + drop + garbage + huge exceed 1".into());
        }
        Ok(())
    }
}

/// What was done to a request instead of (or before) answering it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    Throttle,
    /// 500 `InternalFailure`.
    ServerError,
    /// 503 `ServiceUnavailable`.
    Unavailable,
    /// Answered normally, late.
    Slow,
    /// Connection closed without an answer.
    Drop,
    /// 200 with a body that is not the protocol's.
    Garbage,
    /// 200 with a body that never ends.
    Huge,
}

/// One request's draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Draw {
    pub delay: Option<Duration>,
    pub fault: Option<FaultKind>,
}

pub struct Injector {
    faults: Faults,
    /// The outage scenario's region: every request to it fails.
    outage: Option<String>,
    rng: Mutex<SynthRng>,
}

impl Injector {
    pub fn new(faults: Faults, outage: Option<String>, seed: u64) -> Self {
        Self {
            faults,
            outage,
            rng: Mutex::new(SynthRng::seed_from_u64(seed ^ 0x5157_fa17)),
        }
    }

    pub fn forged_account(&self) -> Option<&str> {
        self.faults.forged_account.as_deref()
    }

    pub fn draw(&self, region: &str) -> Draw {
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        if self.outage.as_deref() == Some(region) {
            let fault = if rng.random_bool(0.5) {
                FaultKind::Throttle
            } else {
                FaultKind::Unavailable
            };
            return Draw {
                delay: None,
                fault: Some(fault),
            };
        }
        let f = &self.faults;
        if f.region.as_deref().is_some_and(|r| r != region) {
            return Draw {
                delay: None,
                fault: None,
            };
        }
        // One draw decides the outcome, so the configured rates are exact
        // shares rather than interacting conditionals.
        let u: f64 = rng.random();
        let split: bool = rng.random();
        let slow = rng.random::<f64>() < f.slow;
        let outcomes = [
            (f.drop, FaultKind::Drop),
            (
                f.server_error,
                if split {
                    FaultKind::ServerError
                } else {
                    FaultKind::Unavailable
                },
            ),
            (f.throttle, FaultKind::Throttle),
            (f.garbage, FaultKind::Garbage),
            (f.huge, FaultKind::Huge),
        ];
        let mut edge = 0.0;
        let fault = outcomes
            .into_iter()
            .find(|&(p, _)| {
                edge += p;
                u < edge
            })
            .map(|(_, kind)| kind);
        Draw {
            delay: slow.then_some(f.slow_by),
            fault: fault.or(slow.then_some(FaultKind::Slow)),
        }
    }
}

/// The error a fault answers with, in the service's words.
pub(super) fn fault_error(fault: FaultKind, service: Option<Service>) -> Option<AwsError> {
    match fault {
        FaultKind::Throttle => Some(match service {
            Some(Service::Kms) => AwsError::client(
                "ThrottlingException",
                "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.",
            ),
            Some(Service::Sts) => AwsError::client("Throttling", "Rate exceeded"),
            _ => AwsError::client("ThrottlingException", "Rate exceeded"),
        }),
        FaultKind::ServerError => Some(AwsError::new(
            500,
            "InternalFailure",
            "We encountered an internal error. Please try again.",
        )),
        FaultKind::Unavailable => Some(AwsError::new(
            503,
            "ServiceUnavailable",
            "Service is unavailable. Please try again later.",
        )),
        FaultKind::Slow | FaultKind::Drop | FaultKind::Garbage | FaultKind::Huge => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_met_and_seeded() {
        let faults = Faults {
            throttle: 0.15,
            server_error: 0.05,
            drop: 0.02,
            ..Faults::default()
        };
        let a = Injector::new(faults.clone(), None, 7);
        let b = Injector::new(faults, None, 7);
        let draws: Vec<Draw> = (0..10_000).map(|_| a.draw("us-east-1")).collect();
        let again: Vec<Draw> = (0..10_000).map(|_| b.draw("us-east-1")).collect();
        assert_eq!(draws, again);
        let share = |k: &[FaultKind]| {
            draws
                .iter()
                .filter(|d| d.fault.is_some_and(|f| k.contains(&f)))
                .count()
        };
        let throttles = share(&[FaultKind::Throttle]);
        let errors = share(&[FaultKind::ServerError, FaultKind::Unavailable]);
        let drops = share(&[FaultKind::Drop]);
        assert!((1350..1650).contains(&throttles), "{throttles}");
        assert!((400..600).contains(&errors), "{errors}");
        assert!((120..280).contains(&drops), "{drops}");
    }

    #[test]
    fn region_restriction_and_outage() {
        let only_eu = Faults {
            throttle: 1.0,
            region: Some("eu-west-1".into()),
            ..Faults::default()
        };
        let inj = Injector::new(only_eu, Some("ap-south-1".into()), 1);
        assert_eq!(inj.draw("us-east-1").fault, None);
        assert_eq!(inj.draw("eu-west-1").fault, Some(FaultKind::Throttle));
        assert!((0..50).all(|_| inj.draw("ap-south-1").fault.is_some()));
        assert!(
            Faults {
                throttle: 0.7,
                drop: 0.4,
                ..Faults::default()
            }
            .validate()
            .is_err()
        );
        assert!(
            Faults {
                slow: 1.5,
                ..Faults::default()
            }
            .validate()
            .is_err()
        );
    }
}
