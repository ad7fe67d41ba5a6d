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
