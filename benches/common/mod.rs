//! Event streams for the store benchmarks and the memory example: realistic
//! records from the synthetic corpus generator, re-stamped with unique ids,
//! times spread over a window and one of `principals` callers.

use chrono::{DateTime, Duration, TimeZone, Utc};
use kmstop::app::{App, Data, DataConfig, Mode};
use kmstop::event::PackedEvent;
use kmstop::event::{KmsEvent, Parsed, parse_record};
use kmstop::synth::{CorpusSpec, SynthRng, kms_record, plan, universe};
use rand::SeedableRng;

/// The record texts the events borrow from.
pub struct Texts {
    pub records: Vec<String>,
    pub principals: Vec<String>,
}

pub fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 3, 1, 0, 0, 0)
        .single()
        .expect("valid")
}

pub fn texts(principals: usize) -> Texts {
    let spec = CorpusSpec::small(7);
    let u = universe(&spec);
    let mut rng = SynthRng::seed_from_u64(7);
    let planned = plan::plan_events(&spec, &u, &mut rng);
    let records = planned
        .iter()
        .map(|p| kms_record(&p.event(&u), &mut rng).to_json())
        .collect();
    let principals = (0..principals)
        .map(|i| format!("arn:aws:iam::111122223333:role/service-role-{i:05}"))
        .collect();
    Texts {
        records,
        principals,
    }
}

/// Templates parsed once; only KMS records with a key are kept.
pub fn templates(t: &Texts) -> Vec<KmsEvent<'_>> {
    t.records
        .iter()
        .filter_map(|r| match parse_record(r) {
            Ok(Parsed::Kms(e)) if e.key.is_some() => Some(*e),
            _ => None,
        })
        .collect()
}

/// Per-event id and time texts, owned so the events can borrow them.
pub struct Stamps {
    pub ids: Vec<String>,
    pub times: Vec<(DateTime<Utc>, String)>,
}

#[allow(dead_code)] // used by the bench, not by the memory example
pub fn stamps(n: usize, offset: usize, span: Duration) -> Stamps {
    stamps_slice(n, offset, n, span)
}

/// Events `from..from + len` of `total` spread evenly over `span`.
pub fn stamps_slice(total: usize, from: usize, len: usize, span: Duration) -> Stamps {
    let span_ms = span.num_milliseconds();
    let total = i64::try_from(total.max(1)).unwrap_or(i64::MAX);
    Stamps {
        ids: (from..from + len)
            .map(|i| format!("{i:08x}-0000-4000-8000-000000000000"))
            .collect(),
        times: (from..from + len)
            .map(|i| {
                let i = i64::try_from(i).unwrap_or(i64::MAX);
                let t = start() + Duration::milliseconds(i * span_ms / total);
                (t, t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            })
            .collect(),
    }
}

/// `n` borrowed events in time order; event `i` uses template `i % len`.
pub fn events<'a>(
    tmpl: &[KmsEvent<'a>],
    t: &'a Texts,
    s: &'a Stamps,
    offset: usize,
) -> Vec<KmsEvent<'a>> {
    (0..s.ids.len())
        .map(|i| {
            let mut e = tmpl[(i + offset) % tmpl.len()].clone();
            e.event_id = s.ids[i].as_str().into();
            e.time = s.times[i].0;
            e.time_text = s.times[i].1.as_str().into();
            // Spread over the callers with a skew: busy services and a long tail.
            let j = ((i + offset) >> 1).wrapping_mul(2_654_435_761) % t.principals.len();
            let j = if i % 2 == 0 { j % 200 } else { j };
            e.principal = t.principals[j].as_str().into();
            e
        })
        .collect()
}

#[allow(dead_code)]
pub const EVENTS: usize = 1_000_000;
#[allow(dead_code)]
const BATCH: usize = 20_000;

/// A file-mode dashboard holding `EVENTS` events of 10 k principals over
/// a day, loaded and settled (the frame benchmark and its profiler).
#[allow(dead_code)] // used by the render bench and the frame profiler only
pub fn loaded() -> App {
    loaded_over(Duration::hours(24))
}

/// As [`loaded`], the events spread over `span` up to the last one.
pub fn loaded_over(span: Duration) -> App {
    let texts = texts(10_000);
    let tmpl = templates(&texts);
    let data = Data::new(&DataConfig::files(), kmstop::alert::builtin::rules())
        .expect("built-in rules compile");
    let mut app = App::new(data, Mode::Files(vec!["bench".into()]), start());
    for from in (0..EVENTS).step_by(BATCH) {
        let stamps = stamps_slice(EVENTS, from, BATCH, span);
        let batch: Vec<PackedEvent> = events(&tmpl, &texts, &stamps, from)
            .into_iter()
            .map(|mut e| {
                // Records are most of the memory; the log keeps a few.
                if from + BATCH < EVENTS {
                    e.raw = None;
                }
                PackedEvent::pack(&e)
            })
            .collect();
        app.data.ingest(batch, None);
    }
    app.data.finish_files();
    app.refresh();
    app
}
