//! A throwaway `redis-server` per test, and what the tests share.
//!
//! Each test starts its own server on a free loopback port with a fresh
//! temporary directory and no persistence (`--save '' --appendonly no`),
//! and kills it when the test ends. If `redis-server` is not on `PATH`
//! (or named by `PINSET_REDIS_SERVER`), a test prints a notice and passes
//! without running, unless `CI` is set: then it fails, so CI cannot skip.
#![allow(dead_code)] // each test crate uses a different subset

pub mod fixtures;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use pinset_redis::{RedisStores, redis};

/// The prefix every test uses, so a stray key is easy to spot.
pub const PREFIX: &str = "pinset-test:";

/// A `redis-server` this test started, killed on drop.
pub struct RedisServer {
    binary: PathBuf,
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

/// Where `redis-server` is: `PINSET_REDIS_SERVER`, or the first on `PATH`.
fn find_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PINSET_REDIS_SERVER") {
        let path = PathBuf::from(path);
        return path.is_file().then_some(path);
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("redis-server"))
        .find(|path| path.is_file())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

impl RedisServer {
    /// Starts a server, or returns `None` (after a notice) when the binary
    /// is missing and `CI` is unset.
    pub fn start() -> Option<Self> {
        let Some(binary) = find_binary() else {
            assert!(
                !ci(),
                "redis-server is not on PATH and CI is set: install it (tests/redis/setup.sh)"
            );
            eprintln!(
                "notice: redis-server not found (PATH, PINSET_REDIS_SERVER): skipping this Redis test"
            );
            return None;
        };
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pinset-redis-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temporary directory");
        // A port found free may be taken before the server binds it: try a few.
        for _ in 0..5 {
            let mut server = RedisServer {
                binary: binary.clone(),
                port: free_port(),
                dir: dir.clone(),
                child: None,
            };
            if server.spawn() {
                return Some(server);
            }
            server.dir = PathBuf::new(); // keep the directory for the next try
        }
        panic!("redis-server did not start on any of 5 ports");
    }

    /// Launches the process and waits until it answers PING; false if it
    /// exited (its port was taken).
    fn spawn(&mut self) -> bool {
        let child = Command::new(&self.binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .arg("--dir")
            .arg(&self.dir)
            .args(["--save", "", "--appendonly", "no"])
            .args(["--protected-mode", "yes", "--loglevel", "warning"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.ping() {
                return true;
            }
            let exited = self
                .child
                .as_mut()
                .is_some_and(|child| child.try_wait().ok().flatten().is_some());
            if exited {
                self.child = None;
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server did not answer PING within 10 s");
    }

    fn ping(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
        let mut reply = [0u8; 7];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }

    /// `redis://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server (SIGKILL: a crash, nothing saved).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a fresh, empty server on the same port.
    pub fn restart(&mut self) {
        self.stop();
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.spawn() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not restart on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Freezes the server (SIGSTOP): connections stay open, nothing answers.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws a paused server (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let pid = self.child.as_ref().expect("server running").id();
        let status = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill {signal} {pid}");
    }

    /// Stores over a fresh connection manager of their own, as one
    /// instance of a service would have, with the test prefix.
    pub async fn stores(&self) -> RedisStores {
        RedisStores::connect(&self.url())
            .await
            .expect("connect to the test redis-server")
            .with_prefix(PREFIX)
    }

    /// A plain client connection for looking at what the stores wrote.
    pub async fn inspector(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("client")
            .get_multiplexed_async_connection()
            .await
            .expect("inspector connection")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if !self.dir.as_os_str().is_empty()
            && Path::new(&self.dir).starts_with(std::env::temp_dir())
        {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Every key under the test prefix, with its value (strings and hashes).
pub async fn dump(server: &RedisServer) -> Vec<(String, Vec<u8>)> {
    let mut conn = server.inspector().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{PREFIX}*"))
        .query_async(&mut conn)
        .await
        .expect("KEYS");
    let mut out = Vec::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut conn)
            .await
            .expect("TYPE");
        let value: Vec<u8> = match kind.as_str() {
            "string" => redis::cmd("GET")
                .arg(&key)
                .query_async::<Option<Vec<u8>>>(&mut conn)
                .await
                .expect("GET")
                .unwrap_or_default(),
            "hash" => {
                let fields: Vec<Vec<u8>> = redis::cmd("HGETALL")
                    .arg(&key)
                    .query_async(&mut conn)
                    .await
                    .expect("HGETALL");
                fields.concat()
            }
            other => panic!("unexpected type {other} at {key}"),
        };
        out.push((key, value));
    }
    out
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// Runs `f` and checks it finished within `limit`; returns its output.
pub async fn within<T>(limit: Duration, what: &str, f: impl std::future::Future<Output = T>) -> T {
    let start = Instant::now();
    let out = f.await;
    let took = start.elapsed();
    assert!(took <= limit, "{what} took {took:?}, more than {limit:?}");
    out
}
