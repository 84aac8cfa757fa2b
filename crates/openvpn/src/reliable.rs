//! The control channel's reliability layer (OpenVPN src/openvpn/reliable.c):
//! numbered messages, acknowledgements, retransmission and an in-order
//! receive window. Time is an input (milliseconds of any monotonic clock).
//!
//! Bounds: at most [`SEND_WINDOW`] messages in flight, at most
//! [`MAX_QUEUED_BYTES`] queued behind them, a receive window of
//! [`RECV_WINDOW`] ids and at most [`MAX_PENDING_ACKS`] acks waiting.

use std::collections::{BTreeMap, VecDeque};

/// Messages in flight (OpenVPN `TLS_RELIABLE_N_SEND_BUFFERS` is 4..6; the
/// client's receive window is 12, `RELIABLE_CAPACITY`).
pub const SEND_WINDOW: usize = 6;
/// Out-of-order ids accepted ahead of the next expected one (OpenVPN
/// `RELIABLE_CAPACITY`).
pub const RECV_WINDOW: u32 = 12;
/// Bytes queued for sending beyond the window before [`ReliableSend::push`]
/// refuses (a TLS flight with a certificate chain fits easily).
pub const MAX_QUEUED_BYTES: usize = 64 * 1024;
/// Acks kept for sending; older ones are dropped (the peer retransmits).
pub const MAX_PENDING_ACKS: usize = 32;
/// First retransmission timeout (OpenVPN starts at 2 s, then doubles).
pub const INITIAL_RTO_MS: u64 = 2_000;
/// Largest retransmission timeout.
pub const MAX_RTO_MS: u64 = 16_000;
/// Retransmissions of one message before the session is declared dead.
pub const MAX_RETRIES: u32 = 8;

#[derive(Debug)]
struct InFlight {
    id: u32,
    data: Vec<u8>,
    next_send_ms: u64,
    rto_ms: u64,
    retries: u32,
}

/// Sending side: numbers messages, keeps them until acked, says when to
/// (re)send them.
#[derive(Debug)]
pub struct ReliableSend {
    next_id: u32,
    window: VecDeque<InFlight>,
    queue: VecDeque<Vec<u8>>,
    queued_bytes: usize,
}

/// The send queue is full (more than [`MAX_QUEUED_BYTES`] unsent).
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("control channel send queue full")]
pub struct QueueFull;

/// A message retransmitted [`MAX_RETRIES`] times without an ack.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("control message {0} never acknowledged")]
pub struct GaveUp(pub u32);

impl ReliableSend {
    /// A sender whose first message gets id `first_id`.
    pub fn new(first_id: u32) -> ReliableSend {
        ReliableSend {
            next_id: first_id,
            window: VecDeque::new(),
            queue: VecDeque::new(),
            queued_bytes: 0,
        }
    }

    /// Queues a message (sent by [`ReliableSend::due`]).
    pub fn push(&mut self, data: Vec<u8>) -> Result<(), QueueFull> {
        if self.queued_bytes + data.len() > MAX_QUEUED_BYTES {
            return Err(QueueFull);
        }
        self.queued_bytes += data.len();
        self.queue.push_back(data);
        Ok(())
    }

    /// Removes an acknowledged message; unknown ids are ignored (duplicate
    /// or forged acks cost nothing).
    pub fn ack(&mut self, id: u32) {
        self.window.retain(|m| m.id != id);
    }

    /// True when nothing is in flight or queued.
    pub fn is_idle(&self) -> bool {
        self.window.is_empty() && self.queue.is_empty()
    }

    /// The messages to (re)send now as `(id, payload)`; moves queued ones
    /// into the window as space frees up. Errors when one has been
    /// retransmitted [`MAX_RETRIES`] times.
    pub fn due(&mut self, now_ms: u64) -> Result<Vec<(u32, Vec<u8>)>, GaveUp> {
        while self.window.len() < SEND_WINDOW {
            let Some(data) = self.queue.pop_front() else {
                break;
            };
            self.queued_bytes -= data.len();
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1);
            self.window.push_back(InFlight {
                id,
                data,
                next_send_ms: now_ms,
                rto_ms: INITIAL_RTO_MS,
                retries: 0,
            });
        }
        let mut out = Vec::new();
        for m in self.window.iter_mut() {
            if m.next_send_ms <= now_ms {
                if m.retries > MAX_RETRIES {
                    return Err(GaveUp(m.id));
                }
                out.push((m.id, m.data.clone()));
                m.retries += 1;
                m.next_send_ms = now_ms + m.rto_ms;
                m.rto_ms = (m.rto_ms * 2).min(MAX_RTO_MS);
            }
        }
        Ok(out)
    }

    /// When [`ReliableSend::due`] has something next, if anything.
    pub fn next_timeout(&self) -> Option<u64> {
        if !self.queue.is_empty() && self.window.len() < SEND_WINDOW {
            return Some(0);
        }
        self.window.iter().map(|m| m.next_send_ms).min()
    }
}

/// What [`ReliableRecv::receive`] did with a message.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// New; stored (maybe delivered by [`ReliableRecv::pop_in_order`]).
    New,
    /// Already received; acked again.
    Duplicate,
    /// Beyond the window; dropped without ack (the peer will resend).
    OutOfWindow,
}

/// Receiving side: acks every message in the window, delivers payloads in
/// id order.
#[derive(Debug)]
pub struct ReliableRecv {
    next_id: u32,
    buffered: BTreeMap<u32, Vec<u8>>,
    acks: VecDeque<u32>,
}

impl ReliableRecv {
    /// A receiver expecting `first_id` next.
    pub fn new(first_id: u32) -> ReliableRecv {
        ReliableRecv {
            next_id: first_id,
            buffered: BTreeMap::new(),
            acks: VecDeque::new(),
        }
    }

    /// Offers a received message. Messages older than the next expected id
    /// are duplicates (acked again); ids up to [`RECV_WINDOW`] ahead are
    /// stored and acked; later ones are dropped.
    pub fn receive(&mut self, id: u32, data: &[u8]) -> Received {
        let ahead = id.wrapping_sub(self.next_id);
        if ahead >= u32::MAX / 2 {
            self.queue_ack(id);
            return Received::Duplicate;
        }
        if ahead >= RECV_WINDOW {
            return Received::OutOfWindow;
        }
        self.queue_ack(id);
        if self.buffered.contains_key(&id) {
            return Received::Duplicate;
        }
        self.buffered.insert(id, data.to_vec());
        Received::New
    }

    fn queue_ack(&mut self, id: u32) {
        if self.acks.contains(&id) {
            return;
        }
        if self.acks.len() >= MAX_PENDING_ACKS {
            self.acks.pop_front();
        }
        self.acks.push_back(id);
    }

    /// The next in-order payload, if it has arrived.
    pub fn pop_in_order(&mut self) -> Option<Vec<u8>> {
        let d = self.buffered.remove(&self.next_id)?;
        self.next_id = self.next_id.wrapping_add(1);
        Some(d)
    }

    /// Takes up to `max` acks to send.
    pub fn take_acks(&mut self, max: usize) -> Vec<u32> {
        let n = self.acks.len().min(max);
        self.acks.drain(..n).collect()
    }

    /// True when acks wait to be sent.
    pub fn has_acks(&self) -> bool {
        !self.acks.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn retransmits_with_backoff_until_acked() {
        let mut s = ReliableSend::new(1);
        s.push(b"a".to_vec()).unwrap();
        assert_eq!(s.due(0).unwrap(), vec![(1, b"a".to_vec())]);
        assert!(s.due(1_999).unwrap().is_empty());
        assert_eq!(s.due(2_000).unwrap().len(), 1);
        assert_eq!(s.next_timeout(), Some(6_000));
        s.ack(1);
        assert!(s.is_idle());
        assert_eq!(s.next_timeout(), None);
    }

    #[test]
    fn gives_up_after_max_retries() {
        let mut s = ReliableSend::new(0);
        s.push(vec![1]).unwrap();
        let mut now = 0;
        let mut err = None;
        for _ in 0..100 {
            match s.due(now) {
                Ok(_) => now += MAX_RTO_MS,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        assert_eq!(err, Some(GaveUp(0)));
    }

    #[test]
    fn window_and_queue_bounded() {
        let mut s = ReliableSend::new(0);
        for i in 0..10u8 {
            s.push(vec![i]).unwrap();
        }
        assert_eq!(s.due(0).unwrap().len(), SEND_WINDOW);
        assert!(s.push(vec![0; MAX_QUEUED_BYTES]).is_err());
        s.ack(0);
        let d = s.due(1).unwrap();
        assert_eq!(d, vec![(SEND_WINDOW as u32, vec![SEND_WINDOW as u8])]);
    }

    #[test]
    fn recv_reorders_and_acks_duplicates() {
        let mut r = ReliableRecv::new(1);
        assert_eq!(r.receive(3, b"c"), Received::New);
        assert_eq!(r.pop_in_order(), None);
        assert_eq!(r.receive(1, b"a"), Received::New);
        assert_eq!(r.receive(2, b"b"), Received::New);
        assert_eq!(r.receive(2, b"b"), Received::Duplicate);
        let got: Vec<_> = std::iter::from_fn(|| r.pop_in_order()).collect();
        assert_eq!(got, vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]);
        assert_eq!(r.receive(1, b"a"), Received::Duplicate);
        assert_eq!(r.receive(4 + RECV_WINDOW, b"x"), Received::OutOfWindow);
        assert_eq!(r.take_acks(8), vec![3, 1, 2]);
        assert!(!r.has_acks());
    }

    /// One simulated link direction that loses, duplicates and reorders
    /// by `plan`, but loses a given id at most 3 times (so delivery within
    /// the retry budget is certain).
    fn lossy(
        pkts: Vec<(u32, Vec<u8>)>,
        plan: &[u8],
        cursor: &mut usize,
        drops: &mut std::collections::HashMap<u32, u32>,
    ) -> Vec<(u32, Vec<u8>)> {
        let mut out = Vec::new();
        for p in pkts {
            *cursor += 1;
            let action = plan[*cursor % plan.len()] % 4;
            let dropped = drops.entry(p.0).or_insert(0);
            match action {
                0 if *dropped < 3 => *dropped += 1,
                0 | 1 => out.push(p),
                2 => {
                    out.push(p.clone());
                    out.push(p);
                }
                _ => out.insert(0, p),
            }
        }
        out
    }

    proptest! {
        /// Whatever the link does, every message arrives exactly once and
        /// in order, within the retry budget.
        #[test]
        fn delivers_in_order_under_loss_reorder_duplication(
            msgs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..20), 1..40),
            plan in proptest::collection::vec(any::<u8>(), 1..16),
        ) {
            let mut s = ReliableSend::new(0);
            let mut r = ReliableRecv::new(0);
            for m in &msgs {
                s.push(m.clone()).unwrap();
            }
            let (mut c1, mut c2) = (0usize, 7usize);
            let (mut d1, mut d2) = (Default::default(), Default::default());
            let mut got = Vec::new();
            let mut now = 0u64;
            let mut rounds = 0;
            while got.len() < msgs.len() {
                rounds += 1;
                prop_assert!(rounds < 10_000, "no progress");
                let sent = s.due(now);
                prop_assert!(sent.is_ok(), "gave up");
                for (id, d) in lossy(sent.unwrap_or_default(), &plan, &mut c1, &mut d1) {
                    r.receive(id, &d);
                }
                while let Some(d) = r.pop_in_order() {
                    got.push(d);
                }
                let acks = r.take_acks(8).into_iter().map(|a| (a, vec![])).collect();
                for (a, _) in lossy(acks, &plan, &mut c2, &mut d2) {
                    s.ack(a);
                }
                now += 1_000;
            }
            prop_assert_eq!(got, msgs);
        }
    }
}
