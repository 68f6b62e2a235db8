//! The CloudTrail record as it is on the wire, borrowed from the input.
//!
//! Every field is optional and every value is taken leniently: a field of an
//! unexpected type reads as absent instead of failing the record, because
//! vendor fixtures, SIEM re-exports and hand-edited samples all bend the
//! schema (see `event-shapes.md` §9). Nested objects are read in the same
//! single pass ([`Obj`], [`List`]), so a record's bytes are scanned once.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// Answers `$default` for every JSON scalar a visitor does not care about.
macro_rules! scalars_are {
    ($default:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($default)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($default)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($default)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($default)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
            Ok($default)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($default)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($default)
        }
    };
}

/// A JSON value reduced to what a leaf field can use.
enum Scalar<'a> {
    Str(Cow<'a, str>),
    Bool(bool),
    /// A number, null, array or object: skipped.
    Other,
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ScalarVisitor;
        impl<'de> Visitor<'de> for ScalarVisitor {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Scalar::Other)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Scalar::Other)
            }
        }
        d.deserialize_any(ScalarVisitor)
    }
}

/// A string field that reads as `None` when the value is not a string.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Text<'a>(pub Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Scalar::deserialize(d)? {
            Scalar::Str(s) => Text(Some(s)),
            Scalar::Bool(_) | Scalar::Other => Text(None),
        })
    }
}

impl<'a> Text<'a> {
    /// The string, unless absent or empty (placeholders such as `""` carry
    /// no information).
    pub fn take(self) -> Option<Cow<'a, str>> {
        self.0.filter(|s| !s.is_empty())
    }

    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref().filter(|s| !s.is_empty())
    }
}

/// `readOnly` is a JSON bool in CloudTrail; SIEM exports sometimes quote it.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub Option<bool>);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Flag(match Scalar::deserialize(d)? {
            Scalar::Bool(b) => Some(b),
            Scalar::Str(t) if t.eq_ignore_ascii_case("true") => Some(true),
            Scalar::Str(t) if t.eq_ignore_ascii_case("false") => Some(false),
            Scalar::Str(_) | Scalar::Other => None,
        }))
    }
}

/// The top level of one CloudTrail record: only what kmstop reads.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Record<'a> {
    #[serde(rename = "eventSource", borrow)]
    pub event_source: Text<'a>,
    #[serde(rename = "eventName", borrow)]
    pub event_name: Text<'a>,
    #[serde(rename = "eventTime", borrow)]
    pub event_time: Text<'a>,
    #[serde(rename = "eventID", borrow)]
    pub event_id: Text<'a>,
    #[serde(rename = "eventType", borrow)]
    pub event_type: Text<'a>,
    #[serde(rename = "eventCategory", borrow)]
    pub event_category: Text<'a>,
    #[serde(rename = "awsRegion", borrow)]
    pub region: Text<'a>,
    #[serde(rename = "recipientAccountId", borrow)]
    pub recipient_account: Text<'a>,
    #[serde(rename = "sourceIPAddress", borrow)]
    pub source_ip: Text<'a>,
    #[serde(rename = "userAgent", borrow)]
    pub user_agent: Text<'a>,
    #[serde(rename = "errorCode", borrow)]
    pub error_code: Text<'a>,
    #[serde(rename = "errorMessage", borrow)]
    pub error_message: Text<'a>,
    #[serde(rename = "readOnly")]
    pub read_only: Flag,
    #[serde(rename = "userIdentity", borrow)]
    pub user_identity: Obj<UserIdentity<'a>>,
    #[serde(rename = "requestParameters", borrow)]
    pub request_parameters: Obj<Parameters<'a>>,
    #[serde(rename = "responseElements", borrow)]
    pub response_elements: Obj<Parameters<'a>>,
    #[serde(borrow)]
    pub resources: List<Resource<'a>>,
    /// The VPC endpoint the call came through, when it did.
    #[serde(rename = "vpcEndpointId", borrow)]
    pub vpc_endpoint_id: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UserIdentity<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Text<'a>,
    #[serde(rename = "principalId", borrow)]
    pub principal_id: Text<'a>,
    #[serde(borrow)]
    pub arn: Text<'a>,
    #[serde(rename = "accountId", borrow)]
    pub account_id: Text<'a>,
    #[serde(rename = "invokedBy", borrow)]
    pub invoked_by: Text<'a>,
    #[serde(rename = "accessKeyId", borrow)]
    pub access_key_id: Text<'a>,
    #[serde(rename = "sessionContext", borrow)]
    pub session_context: Obj<SessionContext<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SessionContext<'a> {
    #[serde(rename = "sessionIssuer", borrow)]
    pub session_issuer: Obj<SessionIssuer<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SessionIssuer<'a> {
    #[serde(borrow)]
    pub arn: Text<'a>,
}

/// The parts of `requestParameters` / `responseElements` that name keys.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Parameters<'a> {
    #[serde(rename = "keyId", borrow)]
    pub key_id: Text<'a>,
    #[serde(rename = "targetKeyId", borrow)]
    pub target_key_id: Text<'a>,
    #[serde(rename = "aliasName", borrow)]
    pub alias_name: Text<'a>,
    /// `CreateKey` / `PutKeyPolicy`: the key policy, a JSON document in a
    /// string.
    #[serde(borrow)]
    pub policy: Text<'a>,
    #[serde(rename = "encryptionContext", borrow)]
    pub encryption_context: Context<'a>,
    /// `CreateGrant`: who the grant is for, and who may retire it.
    #[serde(rename = "granteePrincipal", borrow)]
    pub grantee_principal: Text<'a>,
    #[serde(rename = "retiringPrincipal", borrow)]
    pub retiring_principal: Text<'a>,
    /// `ReEncrypt`: the key the data is re-encrypted under.
    #[serde(rename = "destinationKeyId", borrow)]
    pub destination_key_id: Text<'a>,
    /// `CreateKey` / `PutKeyPolicy`: skip the check that the new policy
    /// still lets the caller manage the key.
    #[serde(rename = "bypassPolicyLockoutSafetyCheck")]
    pub bypass_lockout_check: Flag,
    /// `ImportKeyMaterial`: `KEY_MATERIAL_EXPIRES` or
    /// `KEY_MATERIAL_DOES_NOT_EXPIRE`, and the expiry (a Java-style date
    /// text, kept as written).
    #[serde(rename = "expirationModel", borrow)]
    pub expiration_model: Text<'a>,
    #[serde(rename = "validTo", borrow)]
    pub valid_to: Text<'a>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Resource<'a> {
    #[serde(rename = "type", borrow)]
    pub kind: Text<'a>,
    /// CloudTrail writes `ARN`; Panther's fixtures write `arn`.
    #[serde(rename = "ARN", alias = "arn", borrow)]
    pub arn: Text<'a>,
}

/// An encryption context in record order; non-string values are dropped.
#[derive(Debug, Default)]
pub struct Context<'a>(pub Vec<(Cow<'a, str>, Cow<'a, str>)>);

impl<'de: 'a, 'a> Deserialize<'de> for Context<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ContextVisitor;
        impl<'de> Visitor<'de> for ContextVisitor {
            type Value = Context<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an encryption context object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut pairs = Vec::new();
                while let Some((k, v)) = map.next_entry::<Text<'de>, Text<'de>>()? {
                    if let (Some(k), Some(v)) = (k.0, v.0) {
                        pairs.push((k, v));
                    }
                }
                Ok(Context(pairs))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Context::default())
            }
            scalars_are!(Context::default());
        }
        d.deserialize_any(ContextVisitor)
    }
}

/// A nested object read leniently in the same pass: anything but an object
/// reads as `T::default()` (all fields absent).
#[derive(Debug, Default)]
pub struct Obj<T>(pub T);

/// A nested array of objects read leniently: anything but an array reads
/// as empty, and elements that are not objects are dropped.
#[derive(Debug)]
pub struct List<T>(pub Vec<T>);

impl<T> Default for List<T> {
    fn default() -> Self {
        List(Vec::new())
    }
}

/// An object, or `None` for any other JSON value (skipped).
pub struct MaybeObj<T>(pub Option<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for MaybeObj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MaybeObjVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for MaybeObjVisitor<T> {
            type Value = MaybeObj<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(|t| MaybeObj(Some(t)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(MaybeObj(None))
            }
            scalars_are!(MaybeObj(None));
        }
        d.deserialize_any(MaybeObjVisitor(PhantomData))
    }
}

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        MaybeObj::deserialize(d).map(|m| Obj(m.0.unwrap_or_default()))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ListVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ListVisitor<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<MaybeObj<T>>()? {
                    items.extend(item.0);
                }
                Ok(List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(List::default())
            }
            scalars_are!(List::default());
        }
        d.deserialize_any(ListVisitor(PhantomData))
    }
}
