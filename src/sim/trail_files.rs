//! The simulated account's trail as CloudTrail delivers it to S3: one
//! gzip object per region per five minutes, holding every event of those
//! minutes (the trail is complete, unlike LookupEvents' view of it), each
//! appearing two minutes after its minutes end ([`Delivery`]), in the
//! `AWSLogs/` layout and under the bucket `DescribeTrails` names.

use std::collections::{HashMap, VecDeque};
use std::io::Write as _;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::events::Events;
use super::s3::{ObjectMeta, ObjectStore};

/// How CloudTrail delivers: an object per region every `every`, out `lag`
/// after its minutes end ("typically within … about 5 minutes" of a call).
/// Tests shorten both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub every: Duration,
    pub lag: Duration,
}

impl Default for Delivery {
    fn default() -> Self {
        Self {
            every: Duration::minutes(5),
            lag: Duration::minutes(2),
        }
    }
}

impl Delivery {
    fn seconds(self) -> i64 {
        self.every.num_seconds().max(1)
    }

    /// When the object of the minutes starting at `start` appears.
    fn delivered_at(self, start: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(start + self.seconds(), 0)
            .single()
            .unwrap_or_default()
            + self.lag
    }

    /// The event times the objects delivered by `now` cover, both ends
    /// inclusive (the end before the start when none is out yet).
    pub fn coverage(self, first: i64, now: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
        let every = self.seconds();
        let first = first.div_euclid(every) * every;
        let newest_end = (now - self.lag).timestamp().div_euclid(every) * every;
        let at = |s: i64| Utc.timestamp_opt(s, 0).single().unwrap_or_default();
        (at(first), at(newest_end - 1))
    }
}
pub struct TrailFiles {
    events: Arc<Events>,
    delivery: Delivery,
    cache: Mutex<Cache>,
    /// Rendered objects' bytes kept ([`super::SimMemory`]); older ones are
    /// rendered again when asked for (their sizes are kept, so a listing
    /// does not render them again).
    cached_bytes: usize,
}

#[derive(Default)]
struct Cache {
    objects: HashMap<(usize, i64), Arc<Vec<u8>>>,
    sizes: HashMap<(usize, i64), u64>,
    order: VecDeque<(usize, i64)>,
    bytes: usize,
}

impl TrailFiles {
    pub fn new(events: Arc<Events>, delivery: Delivery) -> Self {
        Self {
            events,
            delivery,
            cache: Mutex::new(Cache::default()),
            cached_bytes: super::SimMemory::default().object_bytes,
        }
    }

    /// Keeps at most `cached_bytes` of rendered objects.
    #[must_use]
    pub fn keeping(mut self, cached_bytes: usize) -> Self {
        self.cached_bytes = cached_bytes;
        self
    }

    /// The bucket `DescribeTrails` names.
    pub fn bucket(account: &str) -> String {
        format!("aws-cloudtrail-logs-{account}-5c1e9a3b")
    }

    /// The object of `region`'s minutes starting at `start`.
    fn key(&self, region: usize, start: i64) -> String {
        let w = &self.events.traffic.world;
        let (account, name) = (&w.account, &w.regions[region]);
        let delivered = self.delivery.delivered_at(start);
        // A stable suffix per object, as CloudTrail's random one.
        let mut x = self.events.traffic.seed ^ start.cast_unsigned() ^ ((region as u64) << 56);
        // splitmix64: a stable, random-looking suffix.
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        let suffix = format!("{:016X}", x ^ (x >> 31));
        format!(
            "AWSLogs/{account}/CloudTrail/{name}/{}/{account}_CloudTrail_{name}_{}_{suffix}.json.gz",
            delivered.format("%Y/%m/%d"),
            delivered.format("%Y%m%dT%H%MZ"),
        )
    }

    /// Every object delivered by `now`: (region, start of its minutes).
    fn delivered(&self, now: DateTime<Utc>) -> Vec<(usize, i64)> {
        let traffic = &self.events.traffic;
        let every = self.delivery.seconds();
        let first = traffic.first.div_euclid(every) * every;
        let mut out = Vec::new();
        for region in 0..traffic.world.regions.len() {
            let mut start = first;
            while self.delivery.delivered_at(start) <= now {
                if traffic.last.is_some_and(|l| start > l) {
                    break;
                }
                out.push((region, start));
                start += every;
            }
        }
        out
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, Cache> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn object(&self, region: usize, start: i64) -> Arc<Vec<u8>> {
        let hit = self.cache().objects.get(&(region, start)).cloned();
        if let Some(hit) = hit {
            return hit;
        }
        // Rendered outside the lock: a race only renders it twice.
        let bytes = Arc::new(self.render(region, start));
        let mut cache = self.cache();
        if cache
            .objects
            .insert((region, start), bytes.clone())
            .is_none()
        {
            cache.order.push_back((region, start));
            cache.bytes += bytes.len();
        }
        while cache.bytes > self.cached_bytes && cache.order.len() > 1 {
            if let Some(old) = cache.order.pop_front()
                && let Some(gone) = cache.objects.remove(&old)
            {
                cache.bytes -= gone.len();
            }
        }
        bytes
    }

    /// An object's size: rendered once to know it, then remembered.
    fn size(&self, region: usize, start: i64) -> u64 {
        let known = self.cache().sizes.get(&(region, start)).copied();
        known.unwrap_or_else(|| {
            let size = self.object(region, start).len() as u64;
            self.cache().sizes.insert((region, start), size);
            size
        })
    }

    /// `{"Records":[…]}` of every event of the minutes, gzip.
    fn render(&self, region: usize, start: i64) -> Vec<u8> {
        let excluded = self.events.traffic.world.trail.excludes_kms;
        let mut json = String::from("{\"Records\":[");
        let mut first = true;
        for second in start..start + self.delivery.seconds() {
            if excluded {
                break;
            }
            for event in self.events.slot(region, second).iter().rev() {
                if !first {
                    json.push(',');
                }
                first = false;
                json.push_str(&self.events.render(region, event).json);
            }
        }
        json.push_str("]}");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        // Writing to memory cannot fail.
        let _ = gz.write_all(json.as_bytes());
        gz.finish().unwrap_or_default()
    }
}

impl ObjectStore for TrailFiles {
    fn list(&self, prefix: &str, after: Option<&str>, now: DateTime<Utc>) -> Vec<ObjectMeta> {
        let mut out: Vec<ObjectMeta> = self
            .delivered(now)
            .into_iter()
            .filter_map(|(region, start)| {
                let key = self.key(region, start);
                let wanted = key.starts_with(prefix) && after.is_none_or(|a| key.as_str() > a);
                // Sized when a page shows it (`size_of`): a delimited
                // listing of the root must not render the whole trail.
                wanted.then(|| ObjectMeta {
                    size: 0,
                    modified: self.delivery.delivered_at(start),
                    key,
                })
            })
            .collect();
        out.sort_by(|a, b| a.key.cmp(&b.key));
        out
    }

    fn get(&self, key: &str, now: DateTime<Utc>) -> Option<Arc<Vec<u8>>> {
        let (region, start) = self.find(key, now)?;
        Some(self.object(region, start))
    }

    fn size_of(&self, meta: &ObjectMeta) -> u64 {
        self.find(&meta.key, meta.modified)
            .map_or(0, |(region, start)| self.size(region, start))
    }
}

impl TrailFiles {
    /// The object named `key`, if it is delivered by `now`.
    fn find(&self, key: &str, now: DateTime<Utc>) -> Option<(usize, i64)> {
        self.delivered(now)
            .into_iter()
            .find(|(region, start)| self.key(*region, *start) == key)
    }
}
