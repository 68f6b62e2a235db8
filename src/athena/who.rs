//! `--who` as SQL over the CloudTrail table: each selector's test
//! ([`crate::who::Selector::matches_caller`]) spelled out in functions
//! Athena (Trino) and the tests' stand-in (DuckDB, through sqlglot)
//! evaluate alike, so a pushed-down report selects exactly the calls a
//! local one does. Addresses are read as text, not with Trino's
//! `IPADDRESS` type: DuckDB has no such type, and a cast that fails would
//! fail the query where a hostname or garbage in `sourceIPAddress` must
//! only select nothing.

use std::fmt::Write as _;

use ipnet::IpNet;

use crate::event::sql::{WHITESPACE, literal, session_name_sql};
use crate::who::{Selector, Who};

/// The condition `who` selects by, over a scan's columns (its
/// `principal` among them): never null. `None` when it selects every call.
#[must_use]
pub fn who_sql(who: &Who) -> Option<String> {
    if who.is_everyone() {
        return None;
    }
    let any: Vec<String> = who.selectors().iter().map(selector_sql).collect();
    Some(format!("({})", any.join(" OR ")))
}

/// Why Athena cannot be asked for `who`, when it cannot: a `resource:`
/// selector would need each call's resource derived from its encryption
/// context ([`crate::event::resource`]: the most specific of a dozen keys,
/// S3 paths) before the selection; the query derives it only after, for
/// the `resources` section ([`super::resources`]). Every Athena entry (the
/// report, its `--dry-run`, the dashboard) refuses such a `--who` with
/// this message rather than select nothing.
///
/// # Errors
/// The first selector Athena cannot select by, named.
pub fn refuse_unsupported(who: &Who) -> Result<(), String> {
    match who.selectors().iter().find(|s| s.reads_resource()) {
        Some(s) => Err(format!(
            "--who {s}: a resource: selector cannot be pushed down to Athena (the resource a call names \
             is derived from its encryption context, which the query does not do before it selects); \
             run the report over the trail's files (--source DIR or s3://…) instead"
        )),
        None => Ok(()),
    }
}

/// One selector's test, never null. A `resource:` selector, which the
/// entries refuse first ([`refuse_unsupported`]), selects nothing here.
#[must_use]
pub fn selector_sql(selector: &Selector) -> String {
    let test = match selector {
        Selector::Resource(_) => "false".to_owned(),
        // `eq_ignore_ascii_case`: `lower` would fold more than ASCII (the
        // Kelvin sign to `k`).
        Selector::AccessKey(id) => format!(
            "translate(useridentity.accesskeyid, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', \
             'abcdefghijklmnopqrstuvwxyz') = {}",
            literal(&id.to_ascii_lowercase())
        ),
        Selector::Session(name) => format!("{} = {}", session_name_sql(), literal(name)),
        Selector::Principal(wanted) => principal_sql(wanted),
        Selector::Network(IpNet::V4(net)) => {
            let (low, high) = (u32::from(net.network()), u32::from(net.broadcast()));
            let octet = |i: u8| format!("TRY_CAST(split_part(w_ip, '.', {i}) AS bigint)");
            bind(
                "w_ip",
                &trimmed("sourceipaddress"),
                // A CASE, not AND: Trino may evaluate both sides of an AND,
                // and a long run of digits would overflow the arithmetic.
                &format!(
                    "CASE WHEN regexp_like(w_ip, '^{}$') THEN {} * 16777216 + {} * 65536 \
                     + {} * 256 + {} BETWEEN {low} AND {high} ELSE false END",
                    ipv4_pattern(),
                    octet(1),
                    octet(2),
                    octet(3),
                    octet(4)
                ),
            )
        }
        Selector::Network(IpNet::V6(net)) => {
            let hex = |a: std::net::Ipv6Addr| format!("'{:032x}'", u128::from(a));
            bind(
                "w_ip",
                &trimmed("sourceipaddress"),
                &format!(
                    "CASE WHEN regexp_like(w_ip, '^({})$') THEN {} BETWEEN {} AND {} ELSE false END",
                    ipv6_pattern(),
                    ipv6_hex("lower(w_ip)"),
                    hex(net.network()),
                    hex(net.broadcast())
                ),
            )
        }
    };
    format!("COALESCE({test}, false)")
}

/// `value` named `name` inside `body`: a lambda over a one-element array,
/// so a long expression is written (and evaluated) once.
fn bind(name: &str, value: &str, body: &str) -> String {
    format!("element_at(transform(ARRAY[{value}], {name} -> {body}), 1)")
}

/// `str::trim`: whitespace off both ends. Two replacements, each
/// anchored once (DuckDB replaces the first match only, unless told).
fn trimmed(column: &str) -> String {
    format!(
        "regexp_replace(regexp_replace({column}, '^[{WHITESPACE}]+', ''), '[{WHITESPACE}]+$', '')"
    )
}

/// The principal as shown, or the ARN's resource part (after its fifth
/// colon), or for a name without `/` the resource's last `/` segment
/// ([`crate::who`]'s `principal_is`). Counted in characters, as both
/// engines' `length` and `substr` count.
fn principal_sql(wanted: &str) -> String {
    let w = literal(wanted);
    let n = wanted.chars().count();
    let p = "principal";
    // What comes before `wanted` at the principal's end, and its last
    // character: the fifth colon itself for the whole resource, a `/` for
    // the last segment (the fifth colon then lies before it).
    let before = format!("substr({p}, 1, length({p}) - {n})");
    let colons = format!("length({before}) - length(replace({before}, ':', ''))");
    let mark = format!("substr({p}, length({p}) - {n}, 1)");
    let mut resource = format!("({mark} = ':' AND {colons} = 5)");
    if !wanted.contains('/') {
        resource = format!("({resource} OR ({mark} = '/' AND {colons} >= 5))");
    }
    format!(
        "({p} = {w} OR (substr({p}, 1, 4) = 'arn:' AND length({p}) > {n} \
         AND substr({p}, length({p}) - {n} + 1) = {w} AND {resource}))"
    )
}

/// An IPv4 address as Rust reads one: four decimal octets, no leading
/// zeros.
fn ipv4_pattern() -> String {
    let octet = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
    format!(r"{octet}(\.{octet}){{3}}")
}

/// An IPv6 address as Rust reads one (`Ipv6Addr::from_str`): eight groups
/// of one to four hex digits, or fewer around one `::` standing for at
/// least one zero group; the last two groups may be an IPv4 address.
fn ipv6_pattern() -> String {
    let h = "[0-9A-Fa-f]{1,4}";
    let v4 = ipv4_pattern();
    let mut forms = vec![format!("({h}:){{7}}{h}"), format!("({h}:){{6}}{v4}")];
    for head in 0..=7_usize {
        let head_text = match head {
            0 => String::new(),
            n => format!("({h}:){{{}}}{h}", n - 1),
        };
        // What may follow `::`: at most 7 - head groups, an IPv4 address
        // counting two.
        let room = 7 - head;
        let mut tails = Vec::new();
        if room >= 1 {
            tails.push(format!("({h}:){{0,{}}}{h}", room - 1));
        }
        if room >= 2 {
            tails.push(format!("({h}:){{0,{}}}{v4}", room - 2));
        }
        let tail = if tails.is_empty() {
            String::new()
        } else {
            format!("({})?", tails.join("|"))
        };
        forms.push(format!("{head_text}::{tail}"));
    }
    forms.join("|")
}

/// Two hex digits for each octet value: an IPv4 part becomes hex with
/// nothing but `substr` (no engine-specific base conversion).
fn octet_hex() -> String {
    (0..=255_u8).fold(String::with_capacity(512), |mut all, b| {
        let _ = write!(all, "{b:02x}");
        all
    })
}

/// A valid, lower-cased IPv6 address as its 32 hex digits: a trailing
/// IPv4 part made two hex groups, each group padded to four digits, `::`
/// filled with the zero groups it stands for. Fixed width, so the text
/// orders as the number does.
fn ipv6_hex(address: &str) -> String {
    let octet = |i: u8| {
        format!(
            "substr('{}', TRY_CAST(split_part(w_v4, '.', {i}) AS bigint) * 2 + 1, 2)",
            octet_hex()
        )
    };
    let last_colon = "length(w_a) - strpos(reverse(w_a), ':') + 1";
    let groups = bind(
        "w_v4",
        &format!("substr(w_a, {last_colon} + 1)"),
        &format!(
            "substr(w_a, 1, {last_colon}) || {} || {} || ':' || {} || {}",
            octet(1),
            octet(2),
            octet(3),
            octet(4)
        ),
    );
    let hex_groups = format!("CASE WHEN strpos(w_a, '.') > 0 THEN {groups} ELSE w_a END");
    let padded = |side: &str| {
        format!(
            "CASE WHEN {side} = '' THEN '' \
             ELSE array_join(transform(split({side}, ':'), w_g -> lpad(w_g, 4, '0')), '') END"
        )
    };
    // `substr` of zeros, not `lpad`: DuckDB's takes only a 32-bit width.
    let filled = format!(
        "w_left || substr('{}', 1, greatest(0, 32 - length(w_left) - length(w_right))) || w_right",
        "0".repeat(32)
    );
    let sides = bind(
        "w_left",
        &padded(
            "CASE WHEN strpos(w_g6, '::') > 0 THEN substr(w_g6, 1, strpos(w_g6, '::') - 1) ELSE w_g6 END",
        ),
        &bind(
            "w_right",
            &padded(
                "CASE WHEN strpos(w_g6, '::') > 0 THEN substr(w_g6, strpos(w_g6, '::') + 2) ELSE '' END",
            ),
            &filled,
        ),
    );
    bind("w_a", address, &bind("w_g6", &hex_groups, &sides))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::net::IpAddr;

    /// Whether `text` is an IPv4 and an IPv6 address by the patterns.
    fn pattern_reads(text: &str) -> (bool, bool) {
        let whole = |p: String| regex::Regex::new(&format!("^({p})$")).expect("pattern compiles");
        (
            whole(ipv4_pattern()).is_match(text),
            whole(ipv6_pattern()).is_match(text),
        )
    }

    fn agree(text: &str) {
        let (v4, v6) = pattern_reads(text);
        let rust = text.parse::<IpAddr>().ok();
        assert_eq!(v4, matches!(rust, Some(IpAddr::V4(_))), "v4 {text:?}");
        assert_eq!(v6, matches!(rust, Some(IpAddr::V6(_))), "v6 {text:?}");
    }

    #[test]
    fn the_patterns_read_the_addresses_rust_reads() {
        for text in [
            "10.0.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "01.2.3.4",
            "1.2.3",
            "1.2.3.4.5",
            "::",
            "::1",
            "1::",
            "2001:db8::8a2e:370:7334",
            "2001:DB8:0:0:0:0:0:1",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8::",
            "1:2:3:4:5:6:7:8:9",
            "::ffff:10.0.0.1",
            "1:2:3:4:5:6:1.2.3.4",
            "1:2:3:4:5:6:7:1.2.3.4",
            "1::5:6:7:1.2.3.4",
            "1.2.3.4::",
            "12345::",
            ":::",
            "1:::2",
            "fe80::1%eth0",
            "kms.amazonaws.com",
            "",
        ] {
            agree(text);
        }
    }

    proptest! {
        #[test]
        fn the_patterns_agree_with_rust_on_address_like_text(
            text in "[0-9a-fA-F:.]{0,40}",
            spaced in "(([0-9a-f]{1,5}|[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3})?:{0,3}){1,9}",
        ) {
            agree(&text);
            agree(&spaced);
        }
    }

    #[test]
    fn hostile_selector_values_stay_inside_their_literals() {
        let hostile = "it's \\ \"x\"\n\u{1b}[2j'; drop table t; --";
        for selector in [
            Selector::AccessKey(hostile.into()),
            Selector::Session(hostile.into()),
            Selector::Principal(hostile.into()),
        ] {
            let sql = selector_sql(&selector);
            // Every quote the value brings is doubled: the literal ends
            // where the value does.
            assert!(sql.contains("'; drop table t; --'"), "{sql}");
            assert!(sql.contains("it''s \\ \"x\"\n\u{1b}[2j''"), "{sql}");
            assert_eq!(sql.matches('\'').count() % 2, 0, "{sql}");
        }
        let sql = selector_sql(&Selector::AccessKey("AKIA'X".into()));
        assert!(sql.ends_with("= 'akia''x', false)"), "{sql}");
    }

    #[test]
    fn a_resource_selector_is_refused_by_name() {
        let resource = Selector::parse("resource:s3://reports/2025/").expect("a selector");
        let who = Who::new(vec![Selector::Session("a".into()), resource]);
        let e = refuse_unsupported(&who).expect_err("refused");
        assert!(
            e.starts_with("--who resource:s3://reports/2025/: ") && e.contains("Athena"),
            "{e}"
        );
        assert_eq!(
            refuse_unsupported(&Who::new(vec![Selector::Session("a".into())])),
            Ok(())
        );
        assert_eq!(refuse_unsupported(&Who::default()), Ok(()));
    }

    #[test]
    fn networks_are_ranges_of_numbers_or_fixed_width_hex() {
        let v4 = selector_sql(&Selector::Network("10.1.0.0/16".parse().expect("net")));
        assert!(v4.contains("BETWEEN 167837696 AND 167903231"), "{v4}");
        // The arithmetic only where the text is an address: it cannot
        // overflow on a long run of digits.
        assert!(v4.contains("CASE WHEN regexp_like(w_ip, '^"), "{v4}");
        let v6 = selector_sql(&Selector::Network("2001:db8::/32".parse().expect("net")));
        assert!(
            v6.contains(
                "BETWEEN '20010db8000000000000000000000000' AND '20010db8ffffffffffffffffffffffff'"
            ),
            "{v6}"
        );
        let who = Who::new(vec![
            Selector::Session("a".into()),
            Selector::Principal("role/b".into()),
        ]);
        let sql = who_sql(&who).expect("a selection");
        assert!(sql.starts_with("(COALESCE(") && sql.contains(" OR COALESCE("));
        assert_eq!(who_sql(&Who::default()), None);
    }
}
