//! The file dashboard over a trail in S3 (moto's) with few records kept:
//! an old event's JSON view reads its record again from its object
//! (`GetObject`, inflated, sliced where the record lay), and says so when
//! the object changed since it was read.

// Deadlines bound the waits on real threads.
#![allow(clippy::disallowed_methods)]

use crate::support;

use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use aws_sdk_s3::primitives::ByteStream;
use kmstop::app::refetch::READING_S3;
use kmstop::app::{Action, App, Data, DataConfig, Loading, Mode, Overlay, Pane, update};
use kmstop::aws::TargetOptions;
use kmstop::feed::RecordAsk;
use kmstop::source::trail_fetch::TrailPlan;
use kmstop::source::trail_layout::{S3Url, Selection};
use kmstop::tui::{Msg, send_asks};
use tokio::sync::mpsc::UnboundedSender;

use super::s3_source::{runtime, s3, upload};
use support::moto::Moto;

const BUCKET: &str = "redrill-trail";
const KEY: &str = "AWSLogs/111122223333/CloudTrail/us-east-1/2025/03/10/111122223333_CloudTrail_us-east-1_20250310T0900Z_redrill.json.gz";
const RAW_CAPACITY: usize = 5;

struct Dashboard {
    app: App,
    rx: Receiver<Msg>,
    asks: UnboundedSender<RecordAsk>,
}

impl Dashboard {
    /// Reads the bucket as the file dashboard does (`--source s3://…`).
    fn read(moto: &Moto) -> Self {
        let now = support::app().now;
        let options = TargetOptions {
            profiles: Vec::new(),
            regions: vec!["us-east-1".into()],
            all_regions: false,
            endpoint_url: Some(moto.endpoint.clone()),
            static_credentials: Some(("x".into(), "x".into())),
        };
        let plan = TrailPlan {
            buckets: vec![S3Url::parse(&format!("s3://{BUCKET}")).expect("a bucket")],
            log_groups: Vec::new(),
            options: options.clone(),
            selection: Selection {
                since: None,
                until: None,
                accounts: Vec::new(),
                regions: Vec::new(),
            },
            now,
        };
        let (tx, rx) = kmstop::tui::channel();
        kmstop::source::file_feed::spawn(Vec::new(), Some(plan), 1, tx.clone());
        let asks = kmstop::source::object_records::serve(options, tx);
        let mut config = DataConfig::files();
        config.raw_capacity = RAW_CAPACITY;
        let mut data = Data::new(&config, Vec::new()).expect("no rules");
        data.record_reader = Some(kmstop::source::files::read_record);
        data.set_loading(Loading::default());
        let mut dashboard = Self {
            app: App::new(data, Mode::Files(vec![format!("s3://{BUCKET}")]), now),
            rx,
            asks,
        };
        dashboard.until("the bucket read", |app| {
            app.data.loading.as_ref().is_some_and(|l| l.done)
        });
        dashboard
    }

    /// Takes what the sources sent until `done` holds (two minutes at most).
    fn until(&mut self, what: &str, done: impl Fn(&App) -> bool) {
        let deadline = Instant::now() + Duration::from_mins(2);
        while !done(&self.app) {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            if let Ok(Msg::Source(msg)) = self.rx.recv_timeout(Duration::from_millis(200)) {
                let now = self.app.now;
                self.app.apply(msg, now);
                self.app.refresh();
            }
        }
    }

    fn act(&mut self, actions: &[Action]) {
        let now = self.app.now;
        for &a in actions {
            update(&mut self.app, a, now);
        }
        send_asks(&mut self.app, Some(&self.asks), now);
    }

    /// Opens the JSON view of the oldest event (from `skip` rows up)
    /// whose record is not held; returns its id.
    fn open_old(&mut self, skip: usize) -> String {
        self.act(&[Action::Focus(Pane::Events), Action::Bottom]);
        for _ in 0..skip {
            self.act(&[Action::Up]);
        }
        loop {
            let sel = self.app.panes[Pane::Events.index()].list.selected;
            let key = self.app.snapshot.events[sel].key;
            let entry = self.app.data.log.get(key).expect("held");
            assert!(
                entry.at.as_ref().is_some_and(kmstop::feed::RecordAt::in_s3),
                "no place"
            );
            if !entry.event.has_raw() {
                break;
            }
            self.act(&[Action::Up]);
        }
        self.act(&[Action::Enter]);
        let (title, _, _) = json(&self.app);
        title.rsplit(' ').next().expect("an id").to_owned()
    }
}

fn json(app: &App) -> (&str, Option<&str>, &[String]) {
    match &app.overlay {
        Some(Overlay::Json(j)) => (j.title.as_str(), j.note.as_deref(), &j.lines),
        other => panic!("no JSON view: {other:?}"),
    }
}

#[test]
fn an_old_events_json_is_read_again_from_its_s3_object() {
    let moto = Moto::start();
    let client = s3(&moto.endpoint);
    let records = support::records();
    upload(
        &client,
        BUCKET,
        &[(KEY.to_owned(), support::gzip_log(&records))],
    );
    let mut dash = Dashboard::read(&moto);
    assert_eq!(dash.app.data.log.len(), records.len());
    assert!(dash.app.data.log.len() > RAW_CAPACITY);

    let id = dash.open_old(0);
    assert_eq!(json(&dash.app).1, Some(READING_S3));
    dash.until("the record", |app| json(app).1.is_none());
    let lines = json(&dash.app).2;
    // The parsed fields have no eventSource: this is the record.
    assert!(
        lines
            .iter()
            .any(|l| l.contains("\"eventSource\": \"kms.amazonaws.com\"")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("\"eventID\": \"{id}\"")))
    );

    // The object rewritten since, each id one digit off (same lengths):
    // what lies there is another event now.
    let changed: Vec<serde_json::Value> = records
        .iter()
        .map(|r| {
            let mut r = r.clone();
            let id = r["eventID"]
                .as_str()
                .expect("an id")
                .replace("4000", "4001");
            r["eventID"] = serde_json::json!(id);
            r
        })
        .collect();
    runtime().block_on(async {
        client
            .put_object()
            .bucket(BUCKET)
            .key(KEY)
            .body(ByteStream::from(support::gzip_log(&changed)))
            .send()
            .await
            .expect("PutObject");
    });
    dash.act(&[Action::Back]);
    dash.open_old(1);
    assert_eq!(json(&dash.app).1, Some(READING_S3));
    dash.until("the answer", |app| json(app).1 != Some(READING_S3));
    let note = json(&dash.app).1.expect("a note").to_owned();
    assert!(note.contains(&format!("s3://{BUCKET}/{KEY}")), "{note}");
    assert!(note.contains("changed since it was read"), "{note}");
}
