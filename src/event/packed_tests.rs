//! [`super::PackedEvent`]: its layout, its views against the parsed
//! event, its record stripped and compressed.

use super::*;
use crate::event::{Parsed, parse_record};

/// The dashboard holds hundreds of thousands: the struct stays small
/// (it was 160 bytes with a fixed slot per field).
#[test]
fn a_packed_event_is_small() {
    assert!(std::mem::size_of::<PackedEvent>() <= 48);
}

#[test]
fn empty_and_wide_texts_and_many_pairs_survive_the_pack() {
    let pairs: Vec<String> = (0..200)
        .map(|i| format!(r#""k{i}é":"{}""#, "v".repeat(i % 3)))
        .collect();
    let json = format!(
        r#"{{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2025-01-01T00:00:00Z",
        "eventID":"","errorMessage":"ünïcødé ✓","userIdentity":{{"type":"IAMUser","accessKeyId":""}},
        "requestParameters":{{"encryptionContext":{{"":"",{}}}}}}}"#,
        pairs.join(",")
    );
    let Ok(Parsed::Kms(event)) = parse_record(&json) else {
        panic!("test record parses");
    };
    assert!(event.encryption_context.len() > 100);
    let mut packed = PackedEvent::pack(&event);
    assert_eq!(format!("{:?}", packed.view()), format!("{event:?}"));
    assert_eq!(packed.view().raw_json(), Some(json.as_str()));
    let pairs: Vec<(&str, &str)> = event
        .encryption_context
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    assert_eq!(packed.context_pairs().collect::<Vec<_>>(), pairs);
    packed.strip_raw();
    assert_eq!(packed.context_pairs().collect::<Vec<_>>(), pairs);
    let mut stripped = event.clone();
    stripped.raw = None;
    assert_eq!(format!("{:?}", packed.view()), format!("{stripped:?}"));
}

#[test]
fn a_view_of_the_pack_is_the_event() {
    let json = r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2025-01-01T00:00:00Z",
        "eventID":"e1","awsRegion":"us-east-1","recipientAccountId":"111122223333","errorCode":"AccessDenied",
        "userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/R/s",
          "sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/R"}}},
        "requestParameters":{"keyId":"1234abcd-12ab-34cd-56ef-1234567890ab","encryptionContext":{"a":"b\u001b","c":"d"}},
        "readOnly":true,"userAgent":"ua","sourceIPAddress":"10.0.0.1"}"#;
    let Ok(Parsed::Kms(event)) = parse_record(json) else {
        panic!("test record parses");
    };
    let packed = PackedEvent::pack(&event);
    assert_eq!(format!("{:?}", packed.view()), format!("{event:?}"));
    assert_eq!(packed.time(), event.time);
    // The one-field reads agree with the view.
    let view = packed.view();
    assert_eq!(packed.event_id(), view.event_id);
    assert_eq!(packed.principal(), view.principal);
    assert_eq!(packed.session_name(), view.session_name.as_deref());
    assert_eq!(packed.source_ip(), view.source_ip.as_deref());
    assert_eq!(packed.key_arn(), view.key.as_ref().map(|k| k.arn.as_ref()));
    assert_eq!(packed.event_name(), view.event_name);
    let pairs: Vec<(&str, &str)> = view
        .encryption_context
        .iter()
        .map(|(k, v)| (k.as_ref(), v.as_ref()))
        .collect();
    assert_eq!(packed.context_pairs().collect::<Vec<_>>(), pairs);
    assert_eq!(pairs, [("a", "b\u{1b}"), ("c", "d")]);
}

/// An access key id is the event's own text: a process-wide table
/// of texts seen once (one temporary key per session) would only grow.
#[test]
fn an_access_key_id_is_held_by_its_event() {
    let json = r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2025-01-01T00:00:00Z",
        "userIdentity":{"type":"AssumedRole","accessKeyId":"ASIAUNSHAREDEXAMPLE1"}}"#;
    let Ok(Parsed::Kms(event)) = parse_record(json) else {
        panic!("test record parses");
    };
    let packed = PackedEvent::pack(&event);
    let own = packed.codes().find(|&(i, _)| i == 25).map(|(_, c)| c);
    assert!(
        matches!(own, Some(Code::Own(_))),
        "not a shared text: {own:?}"
    );
    assert!(
        packed
            .block
            .windows(20)
            .any(|w| w == b"ASIAUNSHAREDEXAMPLE1")
    );
    assert_eq!(packed.access_key_id(), Some("ASIAUNSHAREDEXAMPLE1"));
    assert_eq!(
        packed.view().access_key_id.as_deref(),
        Some("ASIAUNSHAREDEXAMPLE1")
    );
}

#[test]
fn the_call_details_survive_the_pack_and_a_strip() {
    let json = r#"{"eventSource":"kms.amazonaws.com","eventName":"CreateGrant","eventTime":"2025-01-01T00:00:00Z",
        "vpcEndpointId":"vpce-1234abcdf5678c90a",
        "requestParameters":{"granteePrincipal":"arn:aws:iam::444455556666:role/x","retiringPrincipal":"ec2.amazonaws.com",
          "destinationKeyId":"alias/other","bypassPolicyLockoutSafetyCheck":true,
          "expirationModel":"KEY_MATERIAL_EXPIRES","validTo":"Jan 1, 2021 8:00:00 PM"}}"#;
    let Ok(Parsed::Kms(event)) = parse_record(json) else {
        panic!("test record parses");
    };
    let call = &event.call;
    assert_eq!(
        call.grantee.as_deref(),
        Some("arn:aws:iam::444455556666:role/x")
    );
    assert_eq!(call.retiring.as_deref(), Some("ec2.amazonaws.com"));
    assert_eq!(call.destination_key.as_deref(), Some("alias/other"));
    assert_eq!(call.bypass_lockout_check, Some(true));
    assert_eq!(
        call.expiration_model.as_deref(),
        Some("KEY_MATERIAL_EXPIRES")
    );
    assert_eq!(call.valid_to.as_deref(), Some("Jan 1, 2021 8:00:00 PM"));
    assert_eq!(call.vpc_endpoint.as_deref(), Some("vpce-1234abcdf5678c90a"));
    let mut packed = PackedEvent::pack(&event);
    assert_eq!(packed.view().call, event.call);
    assert_eq!(format!("{:?}", packed.view()), format!("{event:?}"));
    packed.strip_raw();
    assert_eq!(packed.view().call, event.call);
}

#[test]
fn one_field_reads_as_the_view_reads_it() {
    for json in [
        r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2025-01-01T00:00:00Z",
        "eventID":"e1","awsRegion":"us-east-1","recipientAccountId":"111122223333","errorMessage":"m",
        "userIdentity":{"type":"AssumedRole","arn":"arn:aws:sts::111122223333:assumed-role/R/s",
          "sessionContext":{"sessionIssuer":{"arn":"arn:aws:iam::111122223333:role/R"}}},
        "requestParameters":{"keyId":"1234abcd-12ab-34cd-56ef-1234567890ab"}}"#,
        r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2025-01-01T00:00:00Z"}"#,
    ] {
        let Ok(Parsed::Kms(event)) = parse_record(json) else {
            panic!("parses")
        };
        let packed = PackedEvent::pack(&event);
        let v = packed.view();
        assert_eq!(packed.key_arn(), v.key.as_ref().map(|k| k.arn.as_ref()));
        assert_eq!(packed.principal(), v.principal);
    }
}

#[test]
fn stripping_the_raw_record_keeps_every_parsed_field() {
    let json = r#"{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2025-01-01T00:00:00Z",
        "eventID":"e1","awsRegion":"us-east-1","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::1:user/u"},
        "requestParameters":{"encryptionContext":{"a":"b","c":"d"}},"userAgent":"ua"}"#;
    let Ok(Parsed::Kms(mut event)) = parse_record(json) else {
        panic!("test record parses");
    };
    let mut packed = PackedEvent::pack(&event);
    let raw_len = event.raw_json().map_or(0, str::len);
    assert!(raw_len > 0);
    let before = packed.block.len();
    packed.strip_raw();
    assert_eq!(packed.block.len(), before - raw_len);
    assert_eq!(packed.view().raw_json(), None);
    event.raw = None;
    assert_eq!(format!("{:?}", packed.view()), format!("{event:?}"));
    // Twice is once.
    packed.strip_raw();
    assert_eq!(format!("{:?}", packed.view()), format!("{event:?}"));
}

#[test]
fn a_deflated_record_reads_back_whole_and_the_view_is_unchanged() {
    let pad = "x".repeat(2_000);
    let json = format!(
        r#"{{"eventSource":"kms.amazonaws.com","eventName":"Decrypt","eventTime":"2025-01-01T00:00:00Z",
        "eventID":"e1","awsRegion":"us-east-1","userIdentity":{{"type":"IAMUser","arn":"arn:aws:iam::1:user/u"}},
        "requestParameters":{{"encryptionContext":{{"a":"b","c":"d"}}}},"userAgent":"ua é","pad":"{pad}"}}"#
    );
    let Ok(Parsed::Kms(mut event)) = parse_record(&json) else {
        panic!("test record parses");
    };
    let mut packed = PackedEvent::pack(&event);
    let before = packed.block.len();
    let mut deflater =
        libdeflater::Compressor::new(libdeflater::CompressionLvl::new(1).unwrap_or_default());
    packed.deflate_raw(&mut deflater);
    assert!(
        packed.block.len() < before / 4,
        "{} of {before}",
        packed.block.len()
    );
    assert!(packed.has_raw());
    assert_eq!(packed.record().as_deref(), Some(json.as_str()));
    // Every parsed field as before; the view does not inflate the record.
    event.raw = None;
    assert_eq!(format!("{:?}", packed.view()), format!("{event:?}"));
    // Twice is once; stripped is gone.
    packed.deflate_raw(&mut deflater);
    assert_eq!(packed.record().as_deref(), Some(json.as_str()));
    packed.strip_raw();
    assert!(!packed.has_raw());
    assert_eq!(packed.record(), None);
    assert_eq!(format!("{:?}", packed.view()), format!("{event:?}"));
}
