//! S3's read side as a trail's reader meets it, in S3's REST/XML protocol
//! (path-style addressing): `HeadBucket`, `ListObjectsV2` (prefix,
//! delimiter, start-after, continuation, max-keys, URL encoding) and
//! `GetObject`. What a bucket holds comes from an [`ObjectStore`]: the
//! simulated account's trail, or a directory served as a bucket.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};

use super::RequestRecord;
use super::server::Answer;
use super::wire::{AwsError, xml_escape};

/// One object as a listing shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectMeta {
    pub key: String,
    pub size: u64,
    pub modified: DateTime<Utc>,
}

/// What one bucket holds at a moment.
pub trait ObjectStore: Send + Sync {
    /// Every object whose key starts with `prefix` and sorts after
    /// `after` that exists at `now`, sorted by key.
    fn list(&self, prefix: &str, after: Option<&str>, now: DateTime<Utc>) -> Vec<ObjectMeta>;
    /// An object's bytes, if it exists at `now`.
    fn get(&self, key: &str, now: DateTime<Utc>) -> Option<Arc<Vec<u8>>>;
    /// The size of an object `list` gave: a store whose objects are made
    /// on demand knows it only then, so it is asked only for the objects a
    /// page shows, not for every one a folder's listing passes over.
    fn size_of(&self, meta: &ObjectMeta) -> u64 {
        meta.size
    }
}

/// The buckets served, by name.
#[derive(Default)]
pub struct Buckets {
    stores: BTreeMap<String, Box<dyn ObjectStore>>,
    /// The region every bucket answers it is in.
    pub region: String,
}

impl Buckets {
    pub fn new(region: &str) -> Self {
        Self {
            stores: BTreeMap::new(),
            region: region.to_string(),
        }
    }

    pub fn add(&mut self, name: &str, store: Box<dyn ObjectStore>) {
        self.stores.insert(name.to_string(), store);
    }
}

/// What an S3 request is answered with.
pub enum S3Answer {
    /// `HeadBucket`: no body, the bucket's region in a header.
    Head {
        region: String,
    },
    Xml(String),
    Object(Arc<Vec<u8>>),
}

/// The operation a request is, for the request log.
pub fn operation(method: &hyper::Method, path: &str, query: &str) -> &'static str {
    let has_key = path
        .trim_start_matches('/')
        .split_once('/')
        .is_some_and(|(_, key)| !key.is_empty());
    match (method, has_key) {
        (&hyper::Method::HEAD, false) => "HeadBucket",
        (&hyper::Method::HEAD, true) => "HeadObject",
        (&hyper::Method::GET, true) => "GetObject",
        (&hyper::Method::GET, false) if query_pairs(query).contains_key("list-type") => {
            "ListObjectsV2"
        }
        (&hyper::Method::GET, false) => "ListObjects",
        _ => "Unknown",
    }
}

/// Answers one S3 request.
pub fn handle(
    buckets: &Buckets,
    method: &hyper::Method,
    path: &str,
    query: &str,
    now: DateTime<Utc>,
) -> Result<S3Answer, AwsError> {
    let path = path.trim_start_matches('/');
    let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
    let bucket = decode(bucket);
    let Some(store) = buckets.stores.get(&bucket) else {
        return Err(no_such_bucket());
    };
    match operation(method, &format!("/{path}"), query) {
        "HeadBucket" => Ok(S3Answer::Head {
            region: buckets.region.clone(),
        }),
        "ListObjectsV2" => Ok(S3Answer::Xml(list_objects_v2(
            &bucket,
            store.as_ref(),
            &query_pairs(query),
            now,
        )?)),
        "GetObject" => store
            .get(&decode(key), now)
            .map(S3Answer::Object)
            .ok_or_else(|| AwsError::new(404, "NoSuchKey", "The specified key does not exist.")),
        _ => Err(AwsError::new(
            405,
            "MethodNotAllowed",
            "The specified method is not allowed against this resource.",
        )),
    }
}

/// S3 reads are the only GET and HEAD requests: the other services POST.
/// Their method, path and query.
pub fn s3_request_of(
    req: &Request<Incoming>,
    has_target: bool,
) -> Option<(hyper::Method, String, String)> {
    (!has_target && matches!(*req.method(), hyper::Method::GET | hyper::Method::HEAD)).then(|| {
        (
            req.method().clone(),
            req.uri().path().to_string(),
            req.uri().query().unwrap_or_default().to_string(),
        )
    })
}

/// An S3 answer on the wire: XML or the object's bytes, errors as S3's
/// XML (a `HEAD` answers with the status alone).
pub fn s3_response(
    answer: Result<S3Answer, AwsError>,
    request_id: &str,
    record: &mut RequestRecord,
) -> Response<Answer> {
    let (status, content_type, body, region) = match answer {
        Ok(S3Answer::Head { region }) => (200, "application/xml", Bytes::new(), Some(region)),
        Ok(S3Answer::Xml(xml)) => (200, "application/xml", Bytes::from(xml), None),
        Ok(S3Answer::Object(bytes)) => (
            200,
            "application/octet-stream",
            Bytes::from(bytes.as_ref().clone()),
            None,
        ),
        Err(e) => {
            record.error = Some(e.code.to_string());
            (
                e.status,
                "application/xml",
                Bytes::from(error_xml(&e, request_id)),
                None,
            )
        }
    };
    record.status = status;
    let mut response = Response::new(Answer::Left(Full::new(body)));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amz-request-id", id);
    }
    if let Some(region) = region.and_then(|r| HeaderValue::from_str(&r).ok()) {
        headers.insert("x-amz-bucket-region", region);
    }
    response
}

fn no_such_bucket() -> AwsError {
    AwsError::new(404, "NoSuchBucket", "The specified bucket does not exist")
}

/// S3's error body.
pub fn error_xml(e: &AwsError, request_id: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message><RequestId>{}</RequestId></Error>",
        xml_escape(e.code),
        xml_escape(&e.message),
        xml_escape(request_id)
    )
}

fn query_pairs(query: &str) -> BTreeMap<String, String> {
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn decode(text: &str) -> String {
    percent_decode_str(text).decode_utf8_lossy().into_owned()
}

/// What `encoding-type=url` escapes: everything but unreserved bytes and
/// the `/` of keys.
const KEY_ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

const MAX_KEYS: usize = 1000;

fn list_objects_v2(
    bucket: &str,
    store: &dyn ObjectStore,
    params: &BTreeMap<String, String>,
    now: DateTime<Utc>,
) -> Result<String, AwsError> {
    let param = |name: &str| params.get(name).map(String::as_str);
    let prefix = param("prefix").unwrap_or_default();
    let delimiter = param("delimiter").filter(|d| !d.is_empty());
    let max_keys = match param("max-keys") {
        None => MAX_KEYS,
        Some(n) => n
            .parse::<usize>()
            .map(|n| n.min(MAX_KEYS))
            .map_err(|_| AwsError::client("InvalidArgument", "max-keys is not a number"))?,
    };
    let after_token = param("continuation-token")
        .map(|t| {
            hex_decode(t).ok_or_else(|| {
                AwsError::client(
                    "InvalidArgument",
                    "The continuation token provided is incorrect",
                )
            })
        })
        .transpose()?;
    let after = after_token
        .clone()
        .or_else(|| param("start-after").map(str::to_string));
    let url = param("encoding-type") == Some("url");
    let show = |text: &str| {
        if url {
            utf8_percent_encode(text, KEY_ESCAPE).to_string()
        } else {
            xml_escape(text)
        }
    };

    let page = select(
        store.list(prefix, after.as_deref(), now),
        prefix,
        delimiter,
        after.as_deref(),
        max_keys,
    );
    let Page {
        contents,
        prefixes,
        truncated,
        last,
    } = page;

    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
    );
    let _ = write!(
        xml,
        "<Name>{}</Name><Prefix>{}</Prefix><KeyCount>{}</KeyCount><MaxKeys>{max_keys}</MaxKeys><IsTruncated>{truncated}</IsTruncated>",
        xml_escape(bucket),
        show(prefix),
        contents.len() + prefixes.len()
    );
    if let Some(d) = delimiter {
        let _ = write!(xml, "<Delimiter>{}</Delimiter>", show(d));
    }
    if url {
        xml.push_str("<EncodingType>url</EncodingType>");
    }
    if let Some(token) = param("continuation-token") {
        let _ = write!(
            xml,
            "<ContinuationToken>{}</ContinuationToken>",
            xml_escape(token)
        );
    }
    if let Some(start) = param("start-after") {
        let _ = write!(xml, "<StartAfter>{}</StartAfter>", show(start));
    }
    for o in &contents {
        // Sized once: a generated trail looks its object up to size it.
        let size = store.size_of(o);
        let _ = write!(
            xml,
            "<Contents><Key>{}</Key><LastModified>{}</LastModified><ETag>\"{size:016x}\"</ETag><Size>{size}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            show(&o.key),
            o.modified.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
        );
    }
    for p in &prefixes {
        let _ = write!(
            xml,
            "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
            show(p)
        );
    }
    if truncated && let Some(last) = last {
        let _ = write!(
            xml,
            "<NextContinuationToken>{}</NextContinuationToken>",
            hex_encode(&last)
        );
    }
    xml.push_str("</ListBucketResult>");
    Ok(xml)
}

/// One page of a listing, before it is written out.
struct Page {
    contents: Vec<ObjectMeta>,
    prefixes: Vec<String>,
    truncated: bool,
    /// The last key or folder on the page: where the next one starts.
    last: Option<String>,
}

/// The page of `objects` (sorted, all under `prefix`) after `after`,
/// folders folded at `delimiter`, at most `max_keys` entries.
fn select(
    objects: Vec<ObjectMeta>,
    prefix: &str,
    delimiter: Option<&str>,
    after: Option<&str>,
    max_keys: usize,
) -> Page {
    let mut page = Page {
        contents: Vec::new(),
        prefixes: Vec::new(),
        truncated: false,
        last: None,
    };
    for object in objects {
        if after.is_some_and(|a| {
            object.key.as_str() <= a || (a.ends_with('/') && object.key.starts_with(a))
        }) {
            continue;
        }
        let folder = delimiter.and_then(|d| {
            let rest = &object.key[prefix.len()..];
            rest.find(d)
                .map(|at| object.key[..prefix.len() + at + d.len()].to_string())
        });
        if let Some(folder) = &folder
            && page.prefixes.last() == Some(folder)
        {
            continue;
        }
        if page.contents.len() + page.prefixes.len() == max_keys {
            page.truncated = true;
            break;
        }
        if let Some(folder) = folder {
            page.last = Some(folder.clone());
            page.prefixes.push(folder);
        } else {
            page.last = Some(object.key.clone());
            page.contents.push(object);
        }
    }
    page
}

fn hex_encode(text: &str) -> String {
    text.bytes().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn hex_decode(text: &str) -> Option<String> {
    if !text.len().is_multiple_of(2) || text.len() > 4096 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(Vec<ObjectMeta>);

    impl ObjectStore for Fixed {
        fn list(&self, prefix: &str, _: Option<&str>, _now: DateTime<Utc>) -> Vec<ObjectMeta> {
            self.0
                .iter()
                .filter(|o| o.key.starts_with(prefix))
                .cloned()
                .collect()
        }
        fn get(&self, key: &str, _now: DateTime<Utc>) -> Option<Arc<Vec<u8>>> {
            self.0
                .iter()
                .find(|o| o.key == key)
                .map(|o| Arc::new(o.key.as_bytes().to_vec()))
        }
    }

    fn buckets(keys: &[&str]) -> Buckets {
        let mut b = Buckets::new("eu-west-1");
        let objects = keys
            .iter()
            .map(|k| ObjectMeta {
                key: (*k).to_string(),
                size: 3,
                modified: DateTime::<Utc>::UNIX_EPOCH,
            })
            .collect();
        b.add("trail", Box::new(Fixed(objects)));
        b
    }

    fn list(b: &Buckets, query: &str) -> String {
        match handle(
            b,
            &hyper::Method::GET,
            "/trail",
            query,
            DateTime::<Utc>::UNIX_EPOCH,
        ) {
            Ok(S3Answer::Xml(xml)) => xml,
            _ => panic!("not a listing"),
        }
    }

    #[test]
    fn delimiter_folds_folders_and_pages_resume_after_them() {
        let b = buckets(&["a/1", "a/2", "b/1", "c"]);
        let page = list(&b, "list-type=2&delimiter=%2F&max-keys=2");
        assert!(
            page.contains("<CommonPrefixes><Prefix>a/</Prefix>"),
            "{page}"
        );
        assert!(
            page.contains("<CommonPrefixes><Prefix>b/</Prefix>"),
            "{page}"
        );
        assert!(page.contains("<IsTruncated>true</IsTruncated>"), "{page}");
        let token = page
            .split("<NextContinuationToken>")
            .nth(1)
            .and_then(|t| t.split('<').next())
            .expect("a token");
        let next = list(
            &b,
            &format!("list-type=2&delimiter=%2F&continuation-token={token}"),
        );
        assert!(next.contains("<Key>c</Key>"), "{next}");
        assert!(!next.contains("a/"), "{next}");
        assert!(next.contains("<IsTruncated>false</IsTruncated>"), "{next}");
    }

    #[test]
    fn start_after_and_url_encoding() {
        let b = buckets(&["x/a b", "x/c&d", "x/e"]);
        let page = list(
            &b,
            "list-type=2&prefix=x%2F&start-after=x%2Fa%20b&encoding-type=url",
        );
        assert!(page.contains("<Key>x/c%26d</Key>"), "{page}");
        assert!(!page.contains("a%20b</Key>"), "{page}");
        let plain = list(&b, "list-type=2&prefix=x%2F");
        assert!(plain.contains("<Key>x/c&amp;d</Key>"), "{plain}");
    }

    #[test]
    fn unknown_buckets_keys_and_tokens_are_errors() {
        let b = buckets(&["k"]);
        let now = DateTime::<Utc>::UNIX_EPOCH;
        let get = hyper::Method::GET;
        assert!(
            matches!(handle(&b, &get, "/nope", "list-type=2", now), Err(e) if e.code == "NoSuchBucket")
        );
        assert!(
            matches!(handle(&b, &get, "/trail/none", "", now), Err(e) if e.code == "NoSuchKey")
        );
        assert!(
            matches!(handle(&b, &get, "/trail", "list-type=2&continuation-token=zz", now), Err(e) if e.code == "InvalidArgument")
        );
        assert!(matches!(
            handle(&b, &get, "/trail/k", "", now),
            Ok(S3Answer::Object(_))
        ));
        assert!(
            matches!(handle(&b, &hyper::Method::HEAD, "/trail/", "", now), Ok(S3Answer::Head { region }) if region == "eu-west-1")
        );
    }
}
