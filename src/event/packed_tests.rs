//! [`super::PackedEvent`]: its layout, its views against the parsed
//! event, its record stripped and compressed.

use super::*;
use crate::event::{Parsed, parse_record};

/// The dashboard holds hundreds of thousands: the struct stays small
/// (it was 160 bytes with a fixed slot per field, 48 with the count of
/// the context's pairs beside the block).
#[test]
fn a_packed_event_is_small() {
    assert!(std::mem::size_of::<PackedEvent>() <= 40);
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

/// An event whose time and id texts are `time` and `id`, packed; `None`
/// when the time does not parse.
fn with_time_and_id(time: &str, id: &str) -> Option<(KmsEvent<'static>, PackedEvent)> {
    let json = serde_json::json!({
        "eventSource": "kms.amazonaws.com", "eventName": "Decrypt",
        "eventTime": time, "eventID": id,
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/u", "accessKeyId": "AKIAEXAMPLE"},
        "requestParameters": {"encryptionContext": {"aws:s3:arn": "arn:aws:s3:::b/k"}},
    })
    .to_string();
    let Ok(Parsed::Kms(event)) = parse_record(&json) else {
        return None;
    };
    let event = event.into_owned();
    let packed = PackedEvent::pack(&event);
    Some((event, packed))
}

/// Every way the id and the time can be read back gives the text as it
/// came, with or without the record, deflated or stripped.
fn assert_exact(event: &KmsEvent<'_>, packed: &mut PackedEvent) {
    let view = packed.view();
    assert_eq!(view.time_text, event.time_text);
    assert_eq!(view.event_id, event.event_id);
    assert_eq!(format!("{view:?}"), format!("{event:?}"));
    assert_eq!(packed.event_id(), event.event_id);
    assert_eq!(packed.event_id_with(str::to_owned), event.event_id);
    assert_eq!(packed.principal(), event.principal);
    assert_eq!(packed.access_key_id(), event.access_key_id.as_deref());
    let fields = packed.call_fields();
    assert_eq!(fields.event_name, event.event_name);
    assert_eq!(fields.principal, event.principal);
    let mut deflater =
        libdeflater::Compressor::new(libdeflater::CompressionLvl::new(1).unwrap_or_default());
    packed.deflate_raw(&mut deflater);
    assert_eq!(packed.record().as_deref(), event.raw_json());
    packed.strip_raw();
    let mut stripped = event.clone();
    stripped.raw = None;
    assert_eq!(format!("{:?}", packed.view()), format!("{stripped:?}"));
    assert_eq!(packed.event_id(), event.event_id);
}

#[test]
fn a_canonical_time_and_a_lowercase_uuid_are_not_held_as_text() {
    let (time, id) = (
        "2025-05-23T15:49:29Z",
        "d1543ab8-c74e-4bc4-88c7-9a34df535704",
    );
    let (event, mut packed) = with_time_and_id(time, id).expect("parses");
    let mut stripped = packed.clone();
    stripped.strip_raw();
    let holds = |text: &str| {
        stripped
            .block
            .windows(text.len())
            .any(|w| w == text.as_bytes())
    };
    assert!(!holds(time) && !holds(id) && !holds("d1543ab8"));
    // 20 bytes of time and 20 of the id's 36 saved.
    let (_, mut odd) =
        with_time_and_id("2025-05-23T15:49:29.000Z", &id.to_uppercase()).expect("parses");
    odd.strip_raw();
    assert!(odd.block.len() >= stripped.block.len() + 24 + 20);
    assert_exact(&event, &mut packed);
}

#[test]
fn odd_times_and_ids_read_back_as_they_came() {
    let uuid = "d1543ab8-c74e-4bc4-88c7-9a34df535704";
    for time in [
        "2025-05-23T15:49:29Z",
        "2025-05-23T15:49:29.5Z",
        "2025-05-23T15:49:29.000Z",
        "2025-05-23T17:49:29+02:00",
        "2025-05-23T15:49:29+00:00",
        "2025-05-23 15:49:29",
        "2025-05-23T15:49:29z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "2016-12-31T23:59:60Z",
    ] {
        for id in [
            uuid.to_owned(),
            uuid.to_uppercase(),
            uuid.replace('d', "D"),
            uuid.replace('-', ""),
            format!("{{{uuid}}}"),
            uuid.replacen('-', "_", 1),
            format!("{}g", &uuid[..35]),
            format!(" {}", &uuid[1..]),
            "00000000-0000-0000-0000-000000000000".to_owned(),
            "ffffffff-ffff-ffff-ffff-ffffffffffff".to_owned(),
            "d1543ab8-c74e-4bc4-88c7-9a34df53570é".to_owned(),
            String::new(),
            "e1".to_owned(),
        ] {
            let Some((event, mut packed)) = with_time_and_id(time, &id) else {
                assert!(time.ends_with(":60Z"), "{time} parses");
                continue;
            };
            assert_exact(&event, &mut packed);
        }
    }
}

proptest::proptest! {
    #[test]
    fn any_time_and_id_text_reads_back_exactly(
        (y, mo, d, h, mi, s) in (1900i32..2200, 1u32..=12, 1u32..=28, 0u32..24, 0u32..60, 0u32..60),
        frac in proptest::option::of("[0-9]{1,9}"),
        zone in proptest::sample::select(vec!["Z", "z", "+00:00", "-05:30", ""]),
        sep in proptest::sample::select(vec!["T", " "]),
        hex in "[0-9a-fA-F]{32}",
        id_form in 0u8..4,
        other in "\\PC{0,40}",
    ) {
        let dot = frac.map(|f| format!(".{f}")).unwrap_or_default();
        let time = format!("{y:04}-{mo:02}-{d:02}{sep}{h:02}:{mi:02}:{s:02}{dot}{zone}");
        let dashed = format!(
            "{}-{}-{}-{}-{}",
            &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..]
        );
        let id = match id_form {
            0 => dashed.to_lowercase(),
            1 => dashed,
            2 => hex,
            _ => other,
        };
        if let Some((event, mut packed)) = with_time_and_id(&time, &id) {
            assert_exact(&event, &mut packed);
        }
    }
}
