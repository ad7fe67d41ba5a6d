//! A TCP load balancer for tests: each new connection goes to the next backend in turn
//! (TLS passes through untouched), and it counts how many each backend received.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

pub struct RoundRobin {
    pub addr: SocketAddr,
    served: Arc<Vec<AtomicUsize>>,
    task: tokio::task::JoinHandle<()>,
}

/// The balancer's socket, bound first: the nodes behind it must know its URL.
pub struct Reserved {
    listener: tokio::net::TcpListener,
}

impl Reserved {
    pub async fn bind() -> Self {
        Self {
            listener: tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(),
        }
    }

    /// On a given port (one a client was told of before anything listened there).
    pub async fn bind_port(port: u16) -> Self {
        Self {
            listener: tokio::net::TcpListener::bind(("127.0.0.1", port))
                .await
                .unwrap_or_else(|e| panic!("port {port}: {e}")),
        }
    }

    pub fn url(&self) -> String {
        format!(
            "https://localhost:{}",
            self.listener.local_addr().unwrap().port()
        )
    }
}

impl RoundRobin {
    pub async fn start(reserved: Reserved, backends: Vec<SocketAddr>) -> Self {
        let listener = reserved.listener;
        let addr = listener.local_addr().unwrap();
        let served: Arc<Vec<AtomicUsize>> =
            Arc::new(backends.iter().map(|_| AtomicUsize::new(0)).collect());
        let counts = served.clone();
        let task = tokio::spawn(async move {
            let mut next = 0usize;
            while let Ok((mut inbound, _)) = listener.accept().await {
                let index = next % backends.len();
                next += 1;
                counts[index].fetch_add(1, Ordering::Relaxed);
                let backend = backends[index];
                tokio::spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self { addr, served, task }
    }

    /// `https://localhost:<port>`.
    pub fn url(&self) -> String {
        format!("https://localhost:{}", self.addr.port())
    }

    /// Connections each backend received.
    pub fn served(&self) -> Vec<usize> {
        self.served
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect()
    }
}

impl Drop for RoundRobin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A TCP link to one backend that a test can cut (every open connection dropped, new
/// ones refused) and restore on the same port: a network partition, or a server that
/// went away and came back, as its clients see it.
pub struct Link {
    port: u16,
    backend: SocketAddr,
    task: std::sync::Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Link {
    pub async fn start(backend: SocketAddr) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let link = Self {
            port,
            backend,
            task: std::sync::Mutex::new(None),
        };
        link.serve(listener);
        link
    }

    fn serve(&self, listener: tokio::net::TcpListener) {
        let backend = self.backend;
        let task = tokio::spawn(async move {
            // Dropped with the task: every forwarded connection ends with it.
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                connections.spawn(async move {
                    if let Ok(mut outbound) = tokio::net::TcpStream::connect(backend).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        *self.task.lock().unwrap() = Some(task);
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Drops every connection and refuses new ones.
    pub fn cut(&self) {
        if let Some(task) = self.task.lock().unwrap().take() {
            task.abort();
        }
    }

    /// Accepts and forwards again, on the same port.
    pub async fn restore(&self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port))
            .await
            .unwrap_or_else(|e| panic!("port {}: {e}", self.port));
        self.serve(listener);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.cut();
    }
}
