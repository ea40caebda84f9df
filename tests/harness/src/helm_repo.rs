//! A Helm chart repository over HTTP on 127.0.0.1: serves `index.yaml` and
//! chart archives from memory, counts requests per path, and can swap a
//! file's bytes (a chart republished upstream). Stopped when dropped.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// A running chart repository.
pub struct HelmRepo {
    port: u16,
    files: Arc<Mutex<BTreeMap<String, Vec<u8>>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl HelmRepo {
    /// Serves `files` (path without the leading `/` → bytes).
    pub fn start(files: BTreeMap<String, Vec<u8>>) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let files = Arc::new(Mutex::new(files));
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (files, hits, stop) = (files.clone(), hits.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        let _ = serve(stream, &files, &hits);
                    }
                }
            })
        };
        Ok(HelmRepo { port, files, hits, stop, thread: Some(thread) })
    }

    /// The repository URL (`http://127.0.0.1:<port>/charts`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/charts", self.port)
    }

    /// How often `path` (under the repository) was requested.
    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().map(|h| h.get(path).copied().unwrap_or(0)).unwrap_or(0)
    }

    /// Replaces the bytes served at `path`.
    pub fn replace(&self, path: &str, bytes: Vec<u8>) {
        if let Ok(mut files) = self.files.lock() {
            files.insert(path.to_string(), bytes);
        }
    }
}

fn serve(
    stream: TcpStream,
    files: &Mutex<BTreeMap<String, Vec<u8>>>,
    hits: &Mutex<HashMap<String, usize>>,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let path = path.strip_prefix("/charts/").unwrap_or(path.trim_start_matches('/')).to_string();
    if let Ok(mut hits) = hits.lock() {
        *hits.entry(path.clone()).or_insert(0) += 1;
    }
    let body = files.lock().ok().and_then(|f| f.get(&path).cloned());
    let mut stream = stream;
    match body {
        Some(body) => {
            write!(stream, "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())?;
            stream.write_all(&body)?;
        }
        None => write!(stream, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?,
    }
    stream.flush()
}

impl Drop for HelmRepo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the stop flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
