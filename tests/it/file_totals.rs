//! File mode holds the whole range it was given: the dashboard's `all`
//! counts what `report` counts over the same files, per principal and in
//! total — over the shipped fixtures (nine years apart) and over a
//! generated corpus long enough to widen the store's buckets.

use std::path::Path;

use crate::support;

use kmstop::app::{App, Data, DataConfig, Mode};
use kmstop::report::{ReportSettings, build_report};
use kmstop::source::files::{Listed, discover};
use kmstop::synth::{CorpusSpec, write_corpus};

/// The file dashboard over `dir`, fed in file-sized batches newest file
/// last, as its reader threads do, at a wall clock long after the data.
fn dashboard(dir: &Path) -> App {
    let inputs = discover(&[dir.to_path_buf()]).expect("discover");
    let packers = support::packed_by_reader(&inputs);
    let data = Data::new(&DataConfig::files(), kmstop::alert::builtin::rules()).expect("rules");
    let now = kmstop::clock::Clock::now(&kmstop::clock::SystemClock);
    let mut app = App::new(data, Mode::Files(vec![dir.display().to_string()]), now);
    for p in packers {
        for chunk in p.chunks(500) {
            app.data.ingest(chunk.to_vec(), None);
        }
    }
    app.data.finish_files();
    app.refresh();
    app
}

fn assert_same_as_report(dir: &Path) -> App {
    let inputs = discover(&[dir.to_path_buf()]).expect("discover");
    let report = build_report(&Listed::new(&inputs), &ReportSettings::new(2), &|_| {})
        .expect("rules")
        .0;
    let app = dashboard(dir);
    assert_eq!(app.data.events_seen, report.events, "events");
    assert_eq!(app.data.store.total_events(), report.events, "in the store");
    let s = &app.snapshot;
    assert_eq!(s.principal_total, report.principals.len(), "principals");
    let shown: u64 = s.principals.iter().map(|r| r.calls).sum();
    assert_eq!(shown, report.events, "calls over every principal row");
    for want in &report.principals {
        let row = s
            .principals
            .iter()
            .find(|r| r.name.as_str() == want.principal)
            .unwrap_or_else(|| panic!("{} not shown", want.principal));
        assert_eq!(row.calls, want.events, "{}", want.principal);
        assert_eq!(row.denied, want.denied, "{}", want.principal);
    }
    app
}

#[test]
fn the_shipped_fixtures_nine_years_apart_are_all_shown() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cloudtrail");
    let app = assert_same_as_report(&dir);
    // 2014 to 2023 at 10 s would be 28 M buckets: widened, and said so.
    assert!(app.data.store.widened());
    assert!(app.data.store.bucket_count() <= kmstop::app::FILE_MAX_BUCKETS);
}

#[test]
fn a_quarter_of_logs_is_all_shown() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = CorpusSpec {
        kms_events: 6_000,
        files: 60,
        duration: chrono::Duration::days(90),
        ..CorpusSpec::small(11)
    };
    write_corpus(dir.path(), &spec).expect("corpus");
    let app = assert_same_as_report(dir.path());
    assert!(app.data.store.widened());
}
