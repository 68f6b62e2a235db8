//! What KMS requests cost: the price classes an operation falls in, their
//! per-request prices, and the user's overrides.
//!
//! Source: AWS KMS pricing (<https://aws.amazon.com/kms/pricing/>), prices
//! for US East (N. Virginia) as read from a stored copy in 2026-12. Prices
//! change and vary by region: they live in this one table, and
//! `--price CLASS=USD` replaces any of them.
//! - Requests: $0.03 per 10,000.
//! - Asymmetric requests (`Sign`, `Verify`, `GetPublicKey`,
//!   `DeriveSharedSecret`): $0.15 per 10,000, except with RSA 2048 keys
//!   ($0.03). The event does not say the key type, so this is an upper
//!   bound where RSA 2048 keys are used.
//! - `GenerateDataKeyPair` (and `…WithoutPlaintext`): $0.10 per 10,000 for
//!   ECC pairs, $12.00 per 10,000 for RSA pairs. The event's key pair spec
//!   is not read, so these requests stay unpriced unless overridden.
//! - The free tier (20,000 requests a month per account, across regions) is
//!   **not** subtracted: kmstop does not see a whole month of an account.
//! - "When you use a KMS key in a different AWS account, the AWS account
//!   that makes the API request is charged": costs go to the caller's
//!   account.
//!
//! Pure: no I/O, no clock.

/// Prices in billionths of a US dollar per request ($0.03 per 10,000
/// requests is 3,000).
pub type NanoUsd = u64;

/// The price classes of [`PRICES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PriceClass {
    Requests,
    Asymmetric,
    DataKeyPair,
}

impl PriceClass {
    pub const ALL: [PriceClass; 3] = [Self::Requests, Self::Asymmetric, Self::DataKeyPair];

    /// The name `--price` accepts.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Requests => "requests",
            Self::Asymmetric => "asymmetric",
            Self::DataKeyPair => "GenerateDataKeyPair",
        }
    }

    #[must_use]
    pub fn index(self) -> usize {
        match self {
            Self::Requests => 0,
            Self::Asymmetric => 1,
            Self::DataKeyPair => 2,
        }
    }

    /// The class of an operation.
    #[must_use]
    pub fn of(event_name: &str) -> Self {
        match event_name {
            "Sign" | "Verify" | "GetPublicKey" | "DeriveSharedSecret" => Self::Asymmetric,
            "GenerateDataKeyPair" | "GenerateDataKeyPairWithoutPlaintext" => Self::DataKeyPair,
            _ => Self::Requests,
        }
    }

    /// The documented price per request, `None` where it depends on what
    /// the event does not say.
    #[must_use]
    pub fn default_price(self) -> Option<NanoUsd> {
        match self {
            Self::Requests => Some(3_000),
            Self::Asymmetric => Some(15_000),
            Self::DataKeyPair => None,
        }
    }
}

/// When the prices of [`PriceClass::default_price`] were read.
pub const PRICES_AS_OF: &str = "aws.amazon.com/kms/pricing, us-east-1, read 2026-12";

/// One `--price CLASS=USD` (US dollars per 10,000 requests).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PriceOverride {
    pub class: PriceClass,
    pub per_request: NanoUsd,
}

impl PriceOverride {
    /// Parses `CLASS=USD`, USD per 10,000 requests with up to 5 decimals.
    ///
    /// # Errors
    /// A message naming what is wrong and the classes there are.
    pub fn parse(text: &str) -> Result<Self, String> {
        let names = PriceClass::ALL.map(PriceClass::name).join(", ");
        let Some((name, value)) = text.split_once('=') else {
            return Err(format!(
                "{text:?} is not CLASS=USD (US dollars per 10,000 requests, e.g. requests=0.03); classes: {names}"
            ));
        };
        let class = PriceClass::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name.trim()))
            .ok_or_else(|| format!("{:?} is not a price class; classes: {names}", name.trim()))?;
        // USD per 10,000 requests with 5 decimals is nano-USD per request.
        let per_request = super::quota::parse_scaled(value.trim(), 5, false)?;
        Ok(Self { class, per_request })
    }

    #[must_use]
    pub fn describe(&self) -> String {
        format!("{}={}", self.class.name(), usd_per_10k(self.per_request))
    }
}

/// A per-request price as US dollars per 10,000 requests ("0.03").
#[must_use]
pub fn usd_per_10k(per_request: NanoUsd) -> String {
    let (whole, frac) = (per_request / 100_000, per_request % 100_000);
    if frac == 0 {
        whole.to_string()
    } else {
        format!("{whole}.{frac:05}")
            .trim_end_matches('0')
            .to_owned()
    }
}

/// The price in force for `class` (the last override wins).
#[must_use]
pub fn price_for(overrides: &[PriceOverride], class: PriceClass) -> Option<NanoUsd> {
    overrides
        .iter()
        .rev()
        .find(|o| o.class == class)
        .map(|o| o.per_request)
        .or_else(|| class.default_price())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_prices() {
        assert_eq!(PriceClass::of("Decrypt"), PriceClass::Requests);
        assert_eq!(PriceClass::of("Sign"), PriceClass::Asymmetric);
        assert_eq!(
            PriceClass::of("GenerateDataKeyPairWithoutPlaintext"),
            PriceClass::DataKeyPair
        );
        assert_eq!(price_for(&[], PriceClass::Requests), Some(3_000));
        assert_eq!(price_for(&[], PriceClass::DataKeyPair), None);
        let o = PriceOverride::parse("GenerateDataKeyPair=12").expect("valid");
        assert_eq!(o.per_request, 1_200_000);
        assert_eq!(o.describe(), "GenerateDataKeyPair=12");
        assert_eq!(price_for(&[o], PriceClass::DataKeyPair), Some(1_200_000));
        assert_eq!(
            PriceOverride::parse("requests=0.035").map(|o| o.per_request),
            Ok(3_500)
        );
        assert!(PriceOverride::parse("free=1").is_err());
        assert!(PriceOverride::parse("requests").is_err());
        assert!(PriceOverride::parse("requests=abc").is_err());
        assert_eq!(usd_per_10k(3_000), "0.03");
    }
}
