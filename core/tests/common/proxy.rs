//! A small TCP proxy in front of a real FTP server, for fault injection.
//!
//! The proxy listens on 127.0.0.1 and forwards each control connection to the server, byte for
//! byte, except the server's `227` (PASV) and `229` (EPSV) replies: those are rewritten to name
//! a data listener of the proxy, which forwards the data connection to the server's real data
//! port. So both connections of a transfer pass through the proxy, and a test can cut either
//! one while the server stays alive:
//! - [`Proxy::cut_control`]: the control connections, now (between commands);
//! - [`Proxy::cut_data_after`]: the data connection of a transfer, after N bytes in one
//!   direction;
//! - [`Proxy::cut_control_after`]: the control connection of a transfer, after N bytes of its
//!   data in one direction (the data connection itself stays up).
//!
//! It can also truncate a transfer ([`Proxy::truncate_after`]): the receiver sees a clean end
//! of stream after N bytes while the sender's bytes are drained to their end, so the server
//! reports success; only the client's own checks can notice.
//!
//! A cut closes both sockets of the connection, the client's and the server's, at once: with
//! [`Cut::Fin`] by a plain close, with [`Cut::Rst`] with `SO_LINGER` 0 (the peers get a reset
//! and the bytes still queued in the proxy are dropped). The kernel resets a socket closed with
//! unread data even on a plain close, so a `Fin` cut of a download reaches the server as a reset
//! and the client as a clean end of stream after exactly N bytes, and a `Fin` cut of an upload
//! reaches the server as a clean end of stream (a short file it takes for complete) and the
//! client as a reset.
//!
//! A fault is armed for one shot and taken by the first data transfer that carries more than N
//! bytes in its direction (a directory listing in between does not consume it); the transfer
//! waits until the cut is done before it moves another byte. The proxy's data sockets have small
//! buffers, so the server can never run far ahead of what the proxy forwarded.
//!
//! Plain FTP only (a TLS control connection cannot be rewritten). Everything runs on the shared
//! ferroftp runtime and is synchronised by channels, never by sleeps; dropping the [`Proxy`]
//! stops all of it.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;

use super::Server;

/// How a connection is cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// A plain close of both sockets (a FIN, or a reset where unread data is pending).
    Fin,
    /// A reset of both sockets (`SO_LINGER` 0).
    Rst,
}

/// The direction of a data transfer that a fault counts bytes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// Server to client (RETR, LIST, ...).
    Download,
    /// Client to server (STOR, APPE).
    Upload,
}

/// What an armed fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// Cuts the data connection.
    Data,
    /// Cuts the control connection of the transfer.
    Control,
    /// Ends the receiver's stream cleanly and drops the rest of the sender's.
    Truncate,
}

#[derive(Clone, Copy, Debug)]
struct Fault {
    target: Target,
    dir: Dir,
    after: u64,
    how: Cut,
    /// The first data connection (by accept order) that may take it: a transfer that was under
    /// way when the fault was armed never does.
    first_link: u64,
}

/// Asks a control link to cut itself; answered once both of its sockets are closed.
type CutRequest = (Cut, oneshot::Sender<()>);

/// Receive and send buffer of the proxy's data sockets.
const DATA_BUFFER: usize = 128 * 1024;

/// How long a data listener waits for the client (a refused transfer command never connects).
const ACCEPT_LIMIT: Duration = Duration::from_secs(60);

struct Shared {
    upstream: SocketAddr,
    handle: tokio::runtime::Handle,
    fault: Mutex<Option<Fault>>,
    /// One sender per control link that was alive when it registered.
    controls: Mutex<Vec<mpsc::UnboundedSender<CutRequest>>>,
    tasks: Mutex<Vec<AbortHandle>>,
    control_conns: AtomicU64,
    data_conns: AtomicU64,
    fired: AtomicU64,
}

impl Shared {
    fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        let handle = self.handle.spawn(task).abort_handle();
        self.tasks.lock().unwrap().push(handle);
    }

    /// Takes the armed fault if it is for `dir` and data connection `link` now reaches
    /// `reached` bytes.
    fn take_fault(&self, link: u64, dir: Dir, reached: u64) -> Option<Fault> {
        let mut slot = self.fault.lock().unwrap();
        match *slot {
            Some(f) if f.dir == dir && link >= f.first_link && reached > f.after => {
                self.fired.fetch_add(1, Ordering::SeqCst);
                slot.take()
            }
            _ => None,
        }
    }
}

/// A running proxy in front of one server; stops when dropped.
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Proxy {
    /// Starts a proxy on a free loopback port in front of `server` (plain FTP).
    pub fn start(server: &Server) -> Proxy {
        assert_eq!(server.tls, "none", "the proxy rewrites plain FTP only");
        let ip: IpAddr = server
            .host
            .parse()
            .expect("the server's host is an IP address");
        assert!(ip.is_loopback(), "only loopback servers");
        let listener = std::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            upstream: SocketAddr::new(ip, server.port),
            handle: ferroftp::runtime::handle().expect("runtime"),
            fault: Mutex::new(None),
            controls: Mutex::new(Vec::new()),
            tasks: Mutex::new(Vec::new()),
            control_conns: AtomicU64::new(0),
            data_conns: AtomicU64::new(0),
            fired: AtomicU64::new(0),
        });
        shared.spawn(accept_controls(Arc::clone(&shared), listener));
        Proxy { addr, shared }
    }

    /// `server.config()` pointed at the proxy.
    pub fn config(&self, server: &Server) -> ferroftp::Config {
        let mut c = server.config();
        c.host = self.addr.ip().to_string();
        c.port = self.addr.port();
        c
    }

    /// Arms a cut of the data connection of the next transfer that carries more than `after`
    /// bytes towards `dir`: exactly `after` bytes are forwarded, then both sides are cut.
    pub fn cut_data_after(&self, dir: Dir, after: u64, how: Cut) {
        self.arm(Target::Data, dir, after, how);
    }

    /// Arms a cut of the control connection during the next transfer that carries more than
    /// `after` bytes towards `dir`: after `after` bytes the control connection is cut, then the
    /// data connection goes on.
    pub fn cut_control_after(&self, dir: Dir, after: u64, how: Cut) {
        self.arm(Target::Control, dir, after, how);
    }

    /// Arms a truncation of the next transfer that carries more than `after` bytes towards
    /// `dir`: the receiver gets exactly `after` bytes and a clean end of stream, while the rest
    /// of the sender's bytes are read to their end and dropped, so the sender takes the transfer
    /// for complete (the server replies 226), as a middlebox that loses the end of a stream
    /// would make it.
    pub fn truncate_after(&self, dir: Dir, after: u64) {
        self.arm(Target::Truncate, dir, after, Cut::Fin);
    }

    fn arm(&self, target: Target, dir: Dir, after: u64, how: Cut) {
        let mut slot = self.shared.fault.lock().unwrap();
        let fault = Fault {
            target,
            dir,
            after,
            how,
            first_link: self.shared.data_conns.load(Ordering::SeqCst),
        };
        let old = slot.replace(fault);
        assert!(old.is_none(), "a fault was still armed: {old:?}");
    }

    /// Whether an armed fault has not fired yet.
    pub fn armed(&self) -> bool {
        self.shared.fault.lock().unwrap().is_some()
    }

    /// Cuts every open control connection now; returns once their sockets are closed, with how
    /// many were cut.
    pub fn cut_control(&self, how: Cut) -> usize {
        let links = std::mem::take(&mut *self.shared.controls.lock().unwrap());
        let acks: Vec<_> = links
            .into_iter()
            .filter_map(|link| {
                let (tx, rx) = oneshot::channel();
                link.send((how, tx)).ok().map(|_| rx)
            })
            .collect();
        super::run(async {
            let mut cut = 0;
            for ack in acks {
                // A link that ended on its own meanwhile drops the request unanswered.
                match tokio::time::timeout(Duration::from_secs(20), ack).await {
                    Ok(Ok(())) => cut += 1,
                    Ok(Err(_)) => {}
                    Err(_) => panic!("a control link did not answer a cut request"),
                }
            }
            cut
        })
    }

    /// Control connections accepted so far.
    pub fn control_connections(&self) -> u64 {
        self.shared.control_conns.load(Ordering::SeqCst)
    }

    /// Data connections accepted so far.
    pub fn data_connections(&self) -> u64 {
        self.shared.data_conns.load(Ordering::SeqCst)
    }

    /// Armed faults that fired so far.
    pub fn fired(&self) -> u64 {
        self.shared.fired.load(Ordering::SeqCst)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        for task in self.shared.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

/// Closes both sockets of a connection.
fn close(a: TcpStream, b: TcpStream, how: Cut) {
    if how == Cut::Rst {
        for s in [&a, &b] {
            let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
        }
    }
    drop((a, b));
}

async fn accept_controls(shared: Arc<Shared>, listener: std::net::TcpListener) {
    let listener = TcpListener::from_std(listener).expect("listener");
    while let Ok((client, _)) = listener.accept().await {
        shared.control_conns.fetch_add(1, Ordering::SeqCst);
        shared.spawn(control_link(Arc::clone(&shared), client));
    }
}

/// One control connection: forwarded until either side closes it or a cut is requested.
async fn control_link(shared: Arc<Shared>, mut client: TcpStream) {
    let Ok(mut server) = TcpStream::connect(shared.upstream).await else {
        return;
    };
    let (me, mut requests) = mpsc::unbounded_channel();
    shared.controls.lock().unwrap().push(me.clone());
    let request = relay_control(&shared, &mut client, &mut server, &me, &mut requests).await;
    if let Some((how, done)) = request {
        close(client, server, how);
        let _ = done.send(());
    }
}

/// Relays one control connection, rewriting passive-mode replies; returns the cut request that
/// ended it, if one did.
async fn relay_control(
    shared: &Arc<Shared>,
    client: &mut TcpStream,
    server: &mut TcpStream,
    me: &mpsc::UnboundedSender<CutRequest>,
    requests: &mut mpsc::UnboundedReceiver<CutRequest>,
) -> Option<CutRequest> {
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let (mut up, mut down) = ([0u8; 4096], [0u8; 4096]);
    // Server bytes not forwarded yet: the start of a reply line.
    let mut pending = Vec::new();
    let mut client_open = true;
    loop {
        tokio::select! {
            request = requests.recv() => return request,
            r = cr.read(&mut up), if client_open => match r {
                Ok(0) => {
                    client_open = false;
                    let _ = sw.shutdown().await;
                }
                Ok(n) => {
                    if sw.write_all(&up[..n]).await.is_err() {
                        return None;
                    }
                }
                Err(_) => return None,
            },
            r = sr.read(&mut down) => match r {
                Ok(0) | Err(_) => {
                    let _ = cw.write_all(&pending).await;
                    let _ = cw.shutdown().await;
                    return None;
                }
                Ok(n) => {
                    pending.extend_from_slice(&down[..n]);
                    while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                        let line: Vec<u8> = pending.drain(..=end).collect();
                        let line = passive_reply(shared, &line, me).unwrap_or(line);
                        if cw.write_all(&line).await.is_err() {
                            return None;
                        }
                    }
                }
            },
        }
    }
}

/// For a `227`/`229` reply line: opens a data listener forwarding to the port the server named
/// and returns the line naming the listener instead. `None` for every other line.
fn passive_reply(
    shared: &Arc<Shared>,
    line: &[u8],
    control: &mpsc::UnboundedSender<CutRequest>,
) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(line).ok()?;
    let epsv = text.starts_with("229 ");
    let (start, end, port) = if epsv {
        epsv_port(text)?
    } else if text.starts_with("227 ") {
        pasv_port(text)?
    } else {
        return None;
    };
    let listener = data_listener().expect("a data listener");
    let here = listener.local_addr().expect("local address").port();
    // The data port is on the server's host (as with the client's PASV NAT workaround).
    let real = SocketAddr::new(shared.upstream.ip(), port);
    shared.spawn(data_link(
        Arc::clone(shared),
        listener,
        real,
        control.clone(),
    ));
    let inner = if epsv {
        format!("|||{here}|")
    } else {
        format!("127,0,0,1,{},{}", here >> 8, here & 0xff)
    };
    Some(format!("{}{inner}{}", &text[..start], &text[end..]).into_bytes())
}

/// The port of `229 ... (|||port|)`, with the byte range between the parentheses.
fn epsv_port(text: &str) -> Option<(usize, usize, u16)> {
    let start = text.find("(|||")? + 1;
    let len = text[start..].find(')')?;
    let port = text[start..start + len]
        .strip_prefix("|||")?
        .strip_suffix('|')?
        .parse()
        .ok()?;
    Some((start, start + len, port))
}

/// The port of `227 ... (h1,h2,h3,h4,p1,p2)`, with the byte range between the parentheses.
fn pasv_port(text: &str) -> Option<(usize, usize, u16)> {
    let start = text.find('(')? + 1;
    let len = text[start..].find(')')?;
    let numbers: Vec<u8> = text[start..start + len]
        .split(',')
        .map(|n| n.trim().parse().ok())
        .collect::<Option<_>>()?;
    match numbers[..] {
        [_, _, _, _, p1, p2] => Some((start, start + len, u16::from(p1) << 8 | u16::from(p2))),
        _ => None,
    }
}

fn data_listener() -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_recv_buffer_size(DATA_BUFFER as u32)?;
    socket.set_send_buffer_size(DATA_BUFFER as u32)?;
    socket.bind((Ipv4Addr::LOCALHOST, 0).into())?;
    socket.listen(1)
}

/// Why a data link stopped before both directions ended.
enum Stop {
    /// An armed fault cut it.
    Cut(Cut),
    /// One side failed (a reset, a broken pipe): the other side is reset too.
    Broken,
}

/// One data connection: accepted from the client, forwarded to the server's data port.
async fn data_link(
    shared: Arc<Shared>,
    listener: TcpListener,
    real: SocketAddr,
    control: mpsc::UnboundedSender<CutRequest>,
) {
    let Ok(Ok((mut client, _))) = tokio::time::timeout(ACCEPT_LIMIT, listener.accept()).await
    else {
        return;
    };
    drop(listener);
    let link = shared.data_conns.fetch_add(1, Ordering::SeqCst);
    let connected = async {
        let socket = if real.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        socket.set_recv_buffer_size(DATA_BUFFER as u32)?;
        socket.set_send_buffer_size(DATA_BUFFER as u32)?;
        socket.connect(real).await
    };
    let Ok(mut server) = connected.await else {
        return;
    };
    let end = {
        let (mut cr, mut cw) = client.split();
        let (mut sr, mut sw) = server.split();
        tokio::try_join!(
            pump(&shared, link, &mut cr, &mut sw, Dir::Upload, &control),
            pump(&shared, link, &mut sr, &mut cw, Dir::Download, &control),
        )
    };
    match end {
        Ok(_) => {}
        Err(Stop::Cut(how)) => close(client, server, how),
        Err(Stop::Broken) => close(client, server, Cut::Rst),
    }
}

/// Forwards one direction of a data connection until its end of stream, applying the armed
/// fault when this transfer passes its byte count.
async fn pump<R, W>(
    shared: &Shared,
    link: u64,
    from: &mut R,
    to: &mut W,
    dir: Dir,
    control: &mpsc::UnboundedSender<CutRequest>,
) -> Result<(), Stop>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 64 * 1024];
    let mut done = 0u64;
    loop {
        let n = from.read(&mut buf).await.map_err(|_| Stop::Broken)?;
        if n == 0 {
            let _ = to.shutdown().await;
            return Ok(());
        }
        let mut chunk = &buf[..n];
        if let Some(fault) = shared.take_fault(link, dir, done + n as u64) {
            let head = fault.after.saturating_sub(done) as usize;
            to.write_all(&chunk[..head])
                .await
                .map_err(|_| Stop::Broken)?;
            done += head as u64;
            chunk = &chunk[head..];
            match fault.target {
                Target::Data => return Err(Stop::Cut(fault.how)),
                Target::Truncate => {
                    let _ = to.shutdown().await;
                    loop {
                        match from.read(&mut buf).await {
                            Ok(0) => return Ok(()),
                            Ok(_) => {}
                            Err(_) => return Err(Stop::Broken),
                        }
                    }
                }
                Target::Control => {
                    let (tx, rx) = oneshot::channel();
                    if control.send((fault.how, tx)).is_ok() {
                        let _ = rx.await;
                    }
                }
            }
        }
        to.write_all(chunk).await.map_err(|_| Stop::Broken)?;
        done += chunk.len() as u64;
    }
}
