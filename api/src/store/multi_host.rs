//! A `DATABASE_URL` naming several hosts, as libpq reads it
//! (`postgres://user@host1:5432,host2:5432/db?target_session_attrs=read-write`, INTEGRATION.md
//! 4): the ledger connects to whichever of them is the primary now, and after a failover
//! (Patroni promoting a standby) to the new one, by itself.
//!
//! sqlx reads one host only. So the pool connects to a forwarder of our own on
//! `127.0.0.1` that relays each new connection, byte for byte (TLS, if asked for, runs
//! end to end through it), to the host it believes is the primary: the last one that
//! accepted a read-write session, trying the others in order when a connection is
//! refused. Every new connection is then asked `SHOW transaction_read_only`
//! ([`HostChoice::check_session`], run by the pool as it connects): a standby's answer
//! `on` turns the forwarder to the next host and discards the connection, so a session
//! is only ever used on a read-write server (`target_session_attrs=read-write`).
//!
//! During the switch, statements on connections to the old primary fail (connection
//! errors, or SQLSTATE 25006 on a demoted one): the store reports them as unavailable
//! and the API answers 503, recording nothing; the pool replaces the connections.
//! Certificate host names cannot be checked through the relay (`sslmode=verify-full`
//! is refused with several hosts).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};

/// How long a host has to accept a TCP connection before the next one is tried.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The most hosts one URL may name.
pub const HOSTS_MAX: usize = 16;

/// The hosts a URL names and the one connections go to now.
#[derive(Debug)]
pub struct HostChoice {
    hosts: Vec<(String, u16)>,
    current: AtomicUsize,
    /// Which host each relayed connection went to, by the relay's local port (what the
    /// server sees as `inet_client_port()`).
    relayed: Mutex<HashMap<u16, usize>>,
}

/// A multi-host URL taken apart: its hosts, and the URL to give sqlx with the host part
/// left for the forwarder's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MultiHostUrl {
    pub hosts: Vec<(String, u16)>,
    prefix: String,
    suffix: String,
}

impl MultiHostUrl {
    /// `None` for a URL with one host (sqlx reads it as it is); an error for one whose
    /// host list cannot be read.
    pub fn parse(url: &str) -> Result<Option<Self>, String> {
        let Some((scheme, rest)) = url.split_once("://") else {
            return Ok(None);
        };
        if !matches!(scheme, "postgres" | "postgresql") {
            return Ok(None);
        }
        let (userinfo, rest) = match rest.rsplit_once('@') {
            Some((userinfo, rest)) if !rest.contains('@') => (Some(userinfo), rest),
            _ => (None, rest),
        };
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (host_list, tail) = rest.split_at(end);
        if !host_list.contains(',') {
            return Ok(None);
        }
        let mut hosts = Vec::new();
        for host in host_list.split(',') {
            if host.starts_with('[') {
                return Err(format!(
                    "DATABASE_URL: IPv6 hosts in a host list are not supported: `{host}`"
                ));
            }
            let (name, port) = match host.rsplit_once(':') {
                Some((name, port)) => (
                    name,
                    port.parse::<u16>()
                        .map_err(|_| format!("DATABASE_URL: `{port}` is not a port"))?,
                ),
                None => (host, 5432),
            };
            if name.is_empty() {
                return Err("DATABASE_URL: an empty host in the host list".to_owned());
            }
            hosts.push((name.to_owned(), port));
        }
        if hosts.len() > HOSTS_MAX {
            return Err(format!("DATABASE_URL: more than {HOSTS_MAX} hosts"));
        }
        let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                // Always read-write: the ledger writes.
                "target_session_attrs" => {
                    if !matches!(value, "read-write" | "primary" | "any") {
                        return Err(format!(
                            "DATABASE_URL: target_session_attrs={value}: the ledger needs a read-write session"
                        ));
                    }
                }
                "sslmode" if value == "verify-full" => {
                    return Err("DATABASE_URL: sslmode=verify-full cannot check host names through the forwarder of a host list; use verify-ca".to_owned());
                }
                _ => kept.push(pair),
            }
        }
        let prefix = match userinfo {
            Some(userinfo) => format!("{scheme}://{userinfo}@"),
            None => format!("{scheme}://"),
        };
        let suffix = if kept.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{}", kept.join("&"))
        };
        Ok(Some(Self {
            hosts,
            prefix,
            suffix,
        }))
    }

    /// The URL for sqlx: the forwarder at `address` as its one host.
    pub fn through(&self, address: SocketAddr) -> String {
        format!("{}{address}{}", self.prefix, self.suffix)
    }
}

impl HostChoice {
    pub fn new(hosts: Vec<(String, u16)>) -> Self {
        assert!(!hosts.is_empty() && hosts.len() <= HOSTS_MAX);
        Self {
            hosts,
            current: AtomicUsize::new(0),
            relayed: Mutex::new(HashMap::new()),
        }
    }

    /// The host connections go to now.
    pub fn current(&self) -> &(String, u16) {
        &self.hosts[self.current.load(Ordering::SeqCst) % self.hosts.len()]
    }

    /// Turns from host `from` to the next one, unless another connection turned already.
    fn turn_from(&self, from: usize) {
        let next = (from + 1) % self.hosts.len();
        if self
            .current
            .compare_exchange(from, next, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
        {
            tracing::warn!(
                from = %format!("{}:{}", self.hosts[from].0, self.hosts[from].1),
                to = %format!("{}:{}", self.hosts[next].0, self.hosts[next].1),
                "the database host changed: the previous one refused or is not read-write"
            );
        }
    }

    /// Starts the forwarder on a free port of 127.0.0.1: its address.
    pub async fn forward(self: &Arc<Self>) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let choice = self.clone();
        tokio::spawn(async move {
            loop {
                let Ok((inbound, _)) = listener.accept().await else {
                    continue;
                };
                let choice = choice.clone();
                tokio::spawn(async move { choice.relay(inbound).await });
            }
        });
        Ok(address)
    }

    /// Relays one connection to the current host, trying each once in order from it.
    async fn relay(&self, mut inbound: TcpStream) {
        for _ in 0..self.hosts.len() {
            let index = self.current.load(Ordering::SeqCst) % self.hosts.len();
            let (host, port) = &self.hosts[index];
            let connected =
                tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect((host.as_str(), *port)))
                    .await;
            match connected {
                Ok(Ok(mut outbound)) => {
                    let _ = outbound.set_nodelay(true);
                    let _ = inbound.set_nodelay(true);
                    let local_port = outbound.local_addr().map(|a| a.port()).unwrap_or(0);
                    self.relayed
                        .lock()
                        .expect("the relay map's lock")
                        .insert(local_port, index);
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    self.relayed
                        .lock()
                        .expect("the relay map's lock")
                        .remove(&local_port);
                    return;
                }
                _ => self.turn_from(index),
            }
        }
        // No host accepted: the pool's connection fails (the store is unavailable).
    }

    /// Checks a new session: read-write, or the forwarder turns to the next host and the
    /// session is refused (the pool discards it and connects again).
    pub async fn check_session(
        &self,
        connection: &mut sqlx::PgConnection,
    ) -> Result<(), sqlx::Error> {
        let (read_only, client_port): (String, Option<i32>) =
            sqlx::query_as("SELECT current_setting('transaction_read_only'), inet_client_port()")
                .fetch_one(&mut *connection)
                .await?;
        if read_only == "off" {
            return Ok(());
        }
        let index = client_port
            .and_then(|port| u16::try_from(port).ok())
            .and_then(|port| {
                self.relayed
                    .lock()
                    .expect("the relay map's lock")
                    .get(&port)
                    .copied()
            });
        if let Some(index) = index {
            self.turn_from(index);
        }
        Err(sqlx::Error::Io(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "a standby answered (transaction_read_only = on): not the primary",
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_list_is_taken_apart_and_one_host_is_left_to_sqlx() {
        let url = "postgres://edoc:s3cret@db1:5433,db2/edoc?target_session_attrs=read-write&sslmode=require";
        let parsed = MultiHostUrl::parse(url).unwrap().unwrap();
        assert_eq!(
            parsed.hosts,
            [("db1".to_owned(), 5433), ("db2".to_owned(), 5432)]
        );
        assert_eq!(
            parsed.through("127.0.0.1:40000".parse().unwrap()),
            "postgres://edoc:s3cret@127.0.0.1:40000/edoc?sslmode=require"
        );
        assert_eq!(MultiHostUrl::parse("postgres://u@h:5432/db").unwrap(), None);
        for bad in [
            "postgres://u@h1:x,h2/db",
            "postgres://u@h1,h2/db?target_session_attrs=read-only",
            "postgres://u@h1,h2/db?sslmode=verify-full",
            "postgres://u@[::1]:5432,h2/db",
        ] {
            assert!(MultiHostUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn the_forwarder_turns_to_the_next_host_when_one_refuses() {
        // A closed port, then a listening one.
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        let open = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let open_port = open.local_addr().unwrap().port();
        let choice = Arc::new(HostChoice::new(vec![
            ("127.0.0.1".to_owned(), closed_port),
            ("127.0.0.1".to_owned(), open_port),
        ]));
        let address = choice.forward().await.unwrap();
        let _client = TcpStream::connect(address).await.unwrap();
        let (_server_side, _) = tokio::time::timeout(Duration::from_secs(5), open.accept())
            .await
            .expect("relayed to the open host")
            .unwrap();
        assert_eq!(choice.current().1, open_port);
    }
}
