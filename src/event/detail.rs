//! What a few calls carry beyond the common fields: a grant's principals,
//! a re-encryption's destination key, the lockout-check bypass of a key
//! policy, imported key material's expiry, the VPC endpoint. Rare, so kept
//! together apart from the fields every event has.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::net::IpAddr;

/// The call-specific parts of a [`super::KmsEvent`]; all absent on most
/// events.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallDetail<'a> {
    /// `CreateGrant`'s `granteePrincipal`: an ARN, an account id or an AWS
    /// service principal (`ec2.amazonaws.com`).
    pub grantee: Option<Cow<'a, str>>,
    /// `CreateGrant`'s `retiringPrincipal`, in the same forms.
    pub retiring: Option<Cow<'a, str>>,
    /// `ReEncrypt`'s `destinationKeyId` as written: a key or alias ARN, a
    /// bare key id or an alias name (both of the caller's own account).
    pub destination_key: Option<Cow<'a, str>>,
    /// `bypassPolicyLockoutSafetyCheck` of `CreateKey` / `PutKeyPolicy`.
    pub bypass_lockout_check: Option<bool>,
    /// `ImportKeyMaterial`'s `expirationModel`.
    pub expiration_model: Option<Cow<'a, str>>,
    /// `ImportKeyMaterial`'s `validTo`, as written.
    pub valid_to: Option<Cow<'a, str>>,
    /// `vpcEndpointId`: the endpoint the call came through.
    pub vpc_endpoint: Option<Cow<'a, str>>,
}

impl CallDetail<'_> {
    #[must_use]
    pub fn into_owned(self) -> CallDetail<'static> {
        fn own(c: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
            c.map(|c| Cow::Owned(c.into_owned()))
        }
        CallDetail {
            grantee: own(self.grantee),
            retiring: own(self.retiring),
            destination_key: own(self.destination_key),
            bypass_lockout_check: self.bypass_lockout_check,
            expiration_model: own(self.expiration_model),
            valid_to: own(self.valid_to),
            vpc_endpoint: own(self.vpc_endpoint),
        }
    }
}

/// An AWS service principal (`ec2.amazonaws.com`,
/// `dynamodb.us-west-2.amazonaws.com`): it acts for the account that calls
/// it, so it is never "another account".
#[must_use]
pub fn is_service_principal(principal: &str) -> bool {
    !principal.starts_with("arn:")
        && (principal.ends_with(".amazonaws.com") || principal.ends_with(".amazonaws.com.cn"))
}

/// The account a principal names: an ARN's fifth field, or a bare
/// 12-digit account id. `None` for service principals and for what names
/// no account (placeholders, unique ids such as `AIDA…`).
#[must_use]
pub fn account_of_principal(principal: &str) -> Option<&str> {
    if principal.starts_with("arn:") {
        return principal.split(':').nth(4).filter(|a| is_account_id(a));
    }
    is_account_id(principal).then_some(principal)
}

fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

/// The account of `ReEncrypt`'s destination key: an ARN names it; a bare
/// key id or alias name can only name a key of the caller's own account,
/// `caller`.
#[must_use]
pub fn account_of_key_reference<'t>(
    reference: &'t str,
    caller: Option<&'t str>,
) -> Option<&'t str> {
    if reference.starts_with("arn:") {
        reference.split(':').nth(4).filter(|a| !a.is_empty())
    } else {
        caller
    }
}

/// A network as text without allocating: `203.0.113.0/24`,
/// `2001:db8:1::/48`, at most 44 bytes.
#[derive(Clone, Copy)]
pub struct NetText {
    buf: [u8; 48],
    len: u8,
}

impl NetText {
    #[must_use]
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.buf.get(..usize::from(self.len)).unwrap_or_default())
            .unwrap_or_default()
    }
}

impl fmt::Debug for NetText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Write for NetText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let at = usize::from(self.len);
        let end = at + s.len();
        let slot = self.buf.get_mut(at..end).ok_or(fmt::Error)?;
        slot.copy_from_slice(s.as_bytes());
        self.len = u8::try_from(end).map_err(|_| fmt::Error)?;
        Ok(())
    }
}

impl NetText {
    /// Appends one ASCII byte; the buffer holds any network's text, so
    /// a full one only drops the byte.
    fn push_byte(&mut self, byte: u8) {
        if let Some(slot) = self.buf.get_mut(usize::from(self.len)) {
            *slot = byte;
            self.len += 1;
        }
    }
}

fn push_decimal(out: &mut NetText, n: u8) {
    if n >= 100 {
        out.push_byte(b'0' + n / 100);
    }
    if n >= 10 {
        out.push_byte(b'0' + n / 10 % 10);
    }
    out.push_byte(b'0' + n % 10);
}

/// The network an address belongs to, as the new-network rule compares
/// them: the /24 of an IPv4 address, the /48 of an IPv6 one (a site's
/// allocation). `None` for what is not an address: service names such as
/// `s3.amazonaws.com` or `AWS Internal`.
#[must_use]
pub fn network_of(source_ip: &str) -> Option<NetText> {
    let addr: IpAddr = source_ip.parse().ok()?;
    let mut out = NetText {
        buf: [0; 48],
        len: 0,
    };
    let written = match addr {
        IpAddr::V4(v4) => {
            // By hand: per event on the network rule, and `write!` of
            // three numbers costs several times the parse.
            let [a, b, c, _] = v4.octets();
            for octet in [a, b, c] {
                push_decimal(&mut out, octet);
                out.push_byte(b'.');
            }
            out.write_str("0/24")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            let net = std::net::Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0);
            write!(out, "{net}/48")
        }
    };
    written.ok().map(|()| out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_of_addresses_and_not_of_names() {
        let net = |ip: &str| network_of(ip).map(|n| n.as_str().to_owned());
        assert_eq!(net("203.0.113.77").as_deref(), Some("203.0.113.0/24"));
        assert_eq!(net("0.10.255.1").as_deref(), Some("0.10.255.0/24"));
        assert_eq!(net("100.9.99.1").as_deref(), Some("100.9.99.0/24"));
        assert_eq!(
            net("2001:db8:1:2:3:4:5:6").as_deref(),
            Some("2001:db8:1::/48")
        );
        assert_eq!(
            net("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").as_deref(),
            Some("ffff:ffff:ffff::/48")
        );
        for name in [
            "s3.amazonaws.com",
            "AWS Internal",
            "172.01.01.001",
            "",
            "10.0.0.0/8",
        ] {
            assert_eq!(net(name), None, "{name}");
        }
    }

    #[test]
    fn accounts_principals_name() {
        assert_eq!(
            account_of_principal("arn:aws:iam::444455556666:role/x"),
            Some("444455556666")
        );
        assert_eq!(account_of_principal("444455556666"), Some("444455556666"));
        for none in [
            "ec2.amazonaws.com",
            "EX_PRINCIPAL_ID",
            "AIDAEXAMPLE",
            "arn:aws:iam:::role/x",
            "acct:aws:ec2-infrastructure:i-0abc",
        ] {
            assert_eq!(account_of_principal(none), None, "{none}");
        }
        assert!(is_service_principal("dynamodb.us-west-2.amazonaws.com"));
        assert!(!is_service_principal("arn:aws:iam::1:role/x.amazonaws.com"));
    }

    #[test]
    fn destination_keys_name_their_account_or_the_callers() {
        let arn = "arn:aws:kms:us-east-1:444455556666:key/k";
        assert_eq!(
            account_of_key_reference(arn, Some("111122223333")),
            Some("444455556666")
        );
        assert_eq!(
            account_of_key_reference("alias/x", Some("111122223333")),
            Some("111122223333")
        );
        assert_eq!(account_of_key_reference("k", None), None);
    }
}
