//! The quota table against the page's values, the parsing of overrides
//! and the exactness of the per-second counts.

use super::*;

#[test]
fn every_operation_names_the_first_family_that_lists_it() {
    for f in FAMILIES {
        for op in f.operations {
            let first = FAMILIES.iter().position(|g| g.operations.contains(op));
            assert_eq!(family_of(op).map(usize::from), first, "{op}");
        }
    }
    assert_eq!(
        family_of("Decrypt").map(|f| FAMILIES[usize::from(f)].name),
        Some("symmetric")
    );
    assert_eq!(family_of("decrypt"), None);
    assert_eq!(
        family_of("PutKeyPolicy").is_some(),
        FAMILIES
            .iter()
            .any(|f| f.operations.contains(&"PutKeyPolicy"))
    );
}

fn family(name: &str) -> u8 {
    family_named(name).expect("a family")
}

#[test]
fn operations_find_their_shared_quota() {
    let sym = family("symmetric");
    for op in [
        "Decrypt",
        "Encrypt",
        "GenerateDataKey",
        "ReEncrypt",
        "VerifyMac",
    ] {
        assert_eq!(family_of(op), Some(sym), "{op}");
    }
    assert_eq!(family_of("Sign"), Some(family("asymmetric")));
    assert_eq!(family_of("CreateGrant"), Some(family("creategrant")));
    assert_eq!(family_of("TagResource"), Some(family("TagResource")));
    assert_eq!(default_quota(sym, "us-east-1"), Some(100_000_000));
    assert_eq!(default_quota(sym, "eu-west-2"), Some(20_000_000));
    assert_eq!(default_quota(sym, "sa-east-1"), Some(10_000_000));
    assert_eq!(
        family_of("GetParametersForImport"),
        Some(family("GetParametersForImport"))
    );
    assert_eq!(default_quota(family("GenerateDataKeyPair"), "x"), None);
}

#[test]
fn overrides_parse_and_win() {
    let o = QuotaOverride::parse("symmetric=50000").expect("valid");
    assert_eq!(o.per_second, 50_000_000);
    assert_eq!(o.describe(), "symmetric=50000");
    assert_eq!(
        quota_for(&[o], o.family, "us-east-1"),
        (Some(50_000_000), true)
    );
    assert_eq!(
        quota_for(&[], o.family, "us-east-1"),
        (Some(100_000_000), false)
    );
    assert_eq!(
        QuotaOverride::parse("DescribeKey=0.5").map(|o| o.describe()),
        Ok("DescribeKey=0.5".to_owned())
    );
    for bad in [
        "symmetric",
        "nope=5",
        "symmetric=",
        "symmetric=-1",
        "symmetric=0",
        "symmetric=1.2345",
        "symmetric=1e9",
    ] {
        assert!(QuotaOverride::parse(bad).is_err(), "{bad}");
    }
    assert!(
        QuotaOverride::parse("nope=5")
            .expect_err("not a family")
            .contains("symmetric, asymmetric")
    );
}

#[test]
fn peaks_are_exact_and_the_cap_is_counted() {
    let mut c = SecondCounts::new(4);
    let at = |second| SecondKey {
        family: 0,
        series: 1,
        second,
    };
    c.add(at(120), 3);
    c.add(at(121), 5);
    c.add(at(185), 4);
    c.add(at(121), 1);
    c.add(at(200), 2);
    c.add(at(300), 7); // past the cap of 4 keys
    assert_eq!(c.dropped, 7);
    assert_eq!(c.len(), 4);
    let p = peaks(c.sorted());
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].requests, 15);
    assert_eq!((p[0].peak_second, p[0].peak_per_second), (121, 6));
    assert_eq!((p[0].peak_minute, p[0].peak_minute_requests), (120, 9));
    let mut negative = SecondCounts::new(4);
    negative.add(at(-5), 1);
    assert_eq!(negative.dropped, 1);
}

#[test]
fn numbers_parse_exactly() {
    assert_eq!(parse_scaled("0.25", 3, true), Ok(250));
    assert_eq!(parse_scaled("12", 5, false), Ok(1_200_000));
    assert_eq!(parse_scaled(".5", 3, true), Ok(500));
    assert!(parse_scaled(".", 3, true).is_err());
    assert_eq!(milli_text(250), "0.25");
    assert_eq!(milli_text(100_000_000), "100000");
}

#[test]
fn the_operations_the_audit_found_missing_have_the_page_s_quotas() {
    // Quota per second as the page's table gives it.
    for (op, per_second) in [
        ("ScheduleKeyDeletion", 15),
        ("RetireGrant", 50),
        ("RevokeGrant", 50),
        ("TagResource", 10),
        ("UntagResource", 5),
        ("UpdateAlias", 5),
        ("UpdateKeyDescription", 5),
        ("UpdatePrimaryRegion", 5),
        ("CreateCustomKeyStore", 5),
        ("ConnectCustomKeyStore", 5),
        ("UpdateCustomKeyStore", 5),
        ("DisconnectCustomKeyStore", 5),
        ("DeleteCustomKeyStore", 5),
        ("DescribeCustomKeyStores", 5),
        ("GetKeyLastUsage", 5),
        ("RotateKeyOnDemand", 5),
        ("ListKeyRotations", 100),
        ("ImportKeyMaterial", 15),
        ("GetParametersForImport", 1),
    ] {
        let f = family_of(op).unwrap_or_else(|| panic!("{op} has no family"));
        assert_eq!(FAMILIES[usize::from(f)].name, op);
        assert_eq!(
            default_quota(f, "eu-west-1"),
            Some(per_second * 1000),
            "{op}"
        );
    }
}

#[test]
fn every_event_is_rated_or_says_why_not() {
    assert_eq!(rating_of("Decrypt"), Ok(family("symmetric")));
    assert_eq!(rating_of("RotateKey"), Err(NotRated::NoDocumentedQuota));
    assert_eq!(rating_of("DeleteKey"), Err(NotRated::NoDocumentedQuota));
    assert_eq!(rating_of("decrypt"), Err(NotRated::UnknownOperation));
    assert_eq!(rating_of("Nonsense"), Err(NotRated::UnknownOperation));
    for op in NO_DOCUMENTED_QUOTA {
        assert_eq!(family_of(op), None, "{op} is listed as unrated and rated");
    }
    // Every KMS event name kmstop knows (its generated traffic, the
    // names Sigma conditions are indexed by) is rated or known unrated.
    let generated = crate::synth::ops::OPS.iter().map(|o| o.name);
    let known = crate::alert::sigma::names::KMS_EVENT_NAMES.iter().copied();
    for op in generated.chain(known) {
        assert_ne!(rating_of(op), Err(NotRated::UnknownOperation), "{op}");
    }
}
