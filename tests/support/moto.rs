//! moto's server (`pip install 'moto[server]'`) on a free loopback port,
//! killed when dropped. A missing moto fails the test: a skipped test would
//! look like a passing one.

use std::fs::File;
use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// How long moto gets to start listening: it imports a lot of Python,
/// which takes long on a loaded 2-core machine.
const START_DEADLINE: Duration = Duration::from_mins(3);
const START_POLL: Duration = Duration::from_millis(100);

pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    /// moto's own log (one line per request), kept for failure messages.
    log: tempfile::TempDir,
}

impl Moto {
    pub fn start() -> Self {
        let port = free_port();
        let log = tempfile::tempdir().expect("temp dir for moto's log");
        // A file, not a pipe: moto logs every request, and an unread pipe
        // would fill up and stall it.
        let out = File::create(log.path().join("moto.log")).expect("moto log file");
        let err = out.try_clone().expect("moto log file");
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) if e.kind() == ErrorKind::NotFound => {
                panic!("moto is missing: pip install 'moto[server]' — scripts/test installs it")
            }
            Err(e) => panic!("cannot start moto_server: {e}"),
        };
        let mut moto = Self {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            log,
        };
        moto.wait_ready(port);
        moto
    }

    #[allow(clippy::disallowed_methods)] // a deadline is about real time
    fn wait_ready(&mut self, port: u16) {
        let deadline = Instant::now() + START_DEADLINE;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "moto_server exited ({status}) before listening:\n{}",
                    self.log()
                );
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            sleep(START_POLL);
        }
        panic!(
            "moto_server did not listen on port {port} within {} s:\n{}",
            START_DEADLINE.as_secs(),
            self.log()
        );
    }

    /// What moto has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path().join("moto.log")).unwrap_or_default()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nobody listens on right now (the OS picks it; the tiny window
/// before moto binds it is acceptable for tests).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}
