//! Connection limits, so that one client can never lock out the rest: at most so many
//! open connections per listener and per client address (a trusted proxy's address is
//! exempt from the per-address limit: many clients share it), and an idle timeout that
//! closes a connection on which nothing was read or written for a while (idle keep-alive,
//! idle HTTP/2, a TLS or HTTP preface that never comes, a body that trickles).

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The limits of one listener.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// Open connections of the listener in all.
    pub max_connections: usize,
    /// Open connections from one client address.
    pub max_per_address: usize,
    /// Addresses exempt from `max_per_address` (TLS-terminating proxies, load balancers).
    pub exempt: Vec<IpAddr>,
    /// HTTP/1.1: the whole request head must arrive within this time (also the longest
    /// wait for the next request on a kept-alive connection).
    pub header_read_timeout: Duration,
    /// A connection with no bytes read or written for this long is closed.
    pub idle_timeout: Duration,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            max_connections: 4096,
            max_per_address: 256,
            exempt: Vec::new(),
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
        }
    }
}

/// Counts open connections in all and per address.
pub struct ConnectionLimits {
    settings: ConnectionSettings,
    open: AtomicUsize,
    per_address: Mutex<HashMap<IpAddr, usize>>,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    ListenerFull,
    AddressFull,
}

impl Refused {
    pub fn code(self) -> &'static str {
        match self {
            Refused::ListenerFull => "CONNECTIONS_LISTENER_FULL",
            Refused::AddressFull => "CONNECTIONS_ADDRESS_FULL",
        }
    }
}

impl ConnectionLimits {
    pub fn new(settings: ConnectionSettings) -> Arc<Self> {
        Arc::new(Self {
            settings,
            open: AtomicUsize::new(0),
            per_address: Mutex::new(HashMap::new()),
        })
    }

    pub fn settings(&self) -> &ConnectionSettings {
        &self.settings
    }

    /// Open connections now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// A slot for a new connection from `address`, released when the guard drops.
    pub fn admit(self: &Arc<Self>, address: IpAddr) -> Result<ConnectionGuard, Refused> {
        let address = canonical(address);
        if self.open.fetch_add(1, Ordering::AcqRel) >= self.settings.max_connections {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Refused::ListenerFull);
        }
        let counted = !self
            .settings
            .exempt
            .iter()
            .any(|exempt| canonical(*exempt) == address);
        if counted {
            let mut map = match self.per_address.lock() {
                Ok(map) => map,
                Err(poisoned) => poisoned.into_inner(),
            };
            let count = map.entry(address).or_insert(0);
            if *count >= self.settings.max_per_address {
                drop(map);
                self.open.fetch_sub(1, Ordering::AcqRel);
                return Err(Refused::AddressFull);
            }
            *count += 1;
        }
        Ok(ConnectionGuard {
            limits: self.clone(),
            address: counted.then_some(address),
        })
    }
}

/// IPv4-mapped IPv6 addresses count as their IPv4 address; IPv6 clients by their /64
/// (one subscriber usually has a whole /64).
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut segments = v6.segments();
                segments[4..].fill(0);
                IpAddr::V6(segments.into())
            }
        },
        v4 => v4,
    }
}

/// One admitted connection.
pub struct ConnectionGuard {
    limits: Arc<ConnectionLimits>,
    address: Option<IpAddr>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        if let Some(address) = self.address {
            let mut map = match self.limits.per_address.lock() {
                Ok(map) => map,
                Err(poisoned) => poisoned.into_inner(),
            };
            if let Some(count) = map.get_mut(&address) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    map.remove(&address);
                }
            }
        }
        self.limits.open.fetch_sub(1, Ordering::AcqRel);
    }
}

/// When a connection last moved a byte, as milliseconds since it was accepted.
#[derive(Clone)]
pub struct Activity {
    start: Instant,
    last_millis: Arc<AtomicU64>,
}

impl Activity {
    pub fn new() -> Self {
        Self {
            start: Instant::now(),
            last_millis: Arc::new(AtomicU64::new(0)),
        }
    }

    fn touch(&self) {
        let now = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_millis.store(now, Ordering::Relaxed);
    }

    /// Completes once nothing has moved for `timeout`.
    pub async fn idle_for(&self, timeout: Duration) {
        loop {
            let last = Duration::from_millis(self.last_millis.load(Ordering::Relaxed));
            let quiet = self.start.elapsed().saturating_sub(last);
            if quiet >= timeout {
                return;
            }
            tokio::time::sleep(timeout - quiet).await;
        }
    }
}

impl Default for Activity {
    fn default() -> Self {
        Self::new()
    }
}

/// An IO object that records its activity.
pub struct Watched<IO> {
    inner: IO,
    activity: Activity,
}

impl<IO> Watched<IO> {
    pub fn new(inner: IO, activity: Activity) -> Self {
        Self { inner, activity }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(result, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        result
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, data);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max: usize, per_address: usize, exempt: Vec<IpAddr>) -> Arc<ConnectionLimits> {
        ConnectionLimits::new(ConnectionSettings {
            max_connections: max,
            max_per_address: per_address,
            exempt,
            ..ConnectionSettings::default()
        })
    }

    #[test]
    fn one_address_cannot_take_every_slot() {
        let limits = limits(10, 2, vec![]);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = limits.admit(a).unwrap();
        let _second = limits.admit(a).unwrap();
        assert_eq!(limits.admit(a).err(), Some(Refused::AddressFull));
        assert!(limits.admit(b).is_ok());
        drop(first);
        assert!(limits.admit(a).is_ok());
    }

    #[test]
    fn the_listener_limit_holds_and_slots_come_back() {
        let limits = limits(2, 5, vec![]);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = limits.admit(a).unwrap();
        let _second = limits.admit(b).unwrap();
        assert_eq!(limits.admit(b).err(), Some(Refused::ListenerFull));
        drop(first);
        assert_eq!(limits.open(), 1);
        assert!(limits.admit(b).is_ok());
    }

    #[test]
    fn a_proxy_is_exempt_from_the_per_address_limit_and_ipv6_counts_by_slash_64() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let limits = limits(10, 1, vec![proxy]);
        let _a = limits.admit(proxy).unwrap();
        let _b = limits.admit(proxy).unwrap();
        let _c = limits.admit("2001:db8::1".parse().unwrap()).unwrap();
        assert_eq!(
            limits.admit("2001:db8::2".parse().unwrap()).err(),
            Some(Refused::AddressFull)
        );
        assert!(limits.admit("2001:db8:0:1::1".parse().unwrap()).is_ok());
    }
}
