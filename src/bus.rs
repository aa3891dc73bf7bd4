//! The message bus between the dispatcher, the control plane and the agents:
//! point-to-point messages (direct, request/reply) with latency, loss and
//! partitions, NATS-style publish/subscribe with retention, and broadcast.
//!
//! Why a component of its own: the network is where distributed designs
//! differ (a lost heartbeat, a reply that comes too late, an agent cut off),
//! so the bus decides each message's fate and counts it, and the world only
//! schedules the arrivals it is told about. Sans-IO (docs/architecture.md): no clock
//! and no RNG of its own; `now` and `rng` are arguments, so a run replays
//! exactly and the same logic could sit behind real sockets.
//!
//! The network model is the usual one of distributed-systems texts
//! (Lynch, *Distributed Algorithms*; Jepsen's partitions): each message
//! independently is lost with probability `loss`, else delayed by a draw
//! of `latency`; a partition cuts an endpoint off in both directions. Random
//! latency does not keep per-pair FIFO order, as with UDP; constant latency
//! does. Publish/subscribe follows NATS (subjects with `*` and `>`) with
//! JetStream-like per-topic retention of the last N messages for replay.
//! An optional broker (`bus/broker.rs`) queues every message for a
//! service slot before the network latency, drops what its queue cannot
//! hold, and can go down (every message sent then is refused; what it
//! held is lost; retained messages survive only if it is persistent).
//!
//! Determinism: no hash-map iteration; subscriptions, retained topics and
//! registered endpoints live in `Vec`s and `BTreeMap`s. `send` and `arrive`
//! run once per message and never allocate.

use std::collections::{BTreeMap, VecDeque};

use hdrhistogram::Histogram;
use rand::Rng;

use crate::hist::Counts;
use crate::rng::{Dist, unit};
use crate::time::Instant;

pub mod broker;
pub mod filter;
pub mod pattern;

pub use broker::{Admission, Broker, BrokerConfig};
pub use filter::{Filter, FilterError};
pub use pattern::{Pattern, PatternError, check_topic};

/// Message headers: a small key→value list kept sorted by key. Messages
/// carry a handful of headers, so a sorted `Vec` beats a map, and its order
/// is deterministic wherever it is printed or compared.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    /// These headers with `k` set to `v` (replacing an earlier value), so a
    /// message's headers can be written in one expression.
    pub fn with(mut self, k: &str, v: &str) -> Self {
        match self.0.binary_search_by(|(key, _)| key.as_str().cmp(k)) {
            Ok(i) => self.0[i].1 = v.to_owned(),
            Err(i) => self.0.insert(i, (k.to_owned(), v.to_owned())),
        }
        self
    }

    /// The value of `k`, if set.
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0
            .binary_search_by(|(key, _)| key.as_str().cmp(k))
            .ok()
            .map(|i| self.0[i].1.as_str())
    }

    /// The headers in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if there are no headers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A party on the bus: agents are `Endpoint(0..n)`; the control plane
/// (dispatcher, registry, health monitor) is [`Endpoint::CONTROL`], so a
/// partition can cut an agent off from it as from its peers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint(pub u32);

impl Endpoint {
    /// The control plane: one endpoint, after every agent in order.
    pub const CONTROL: Endpoint = Endpoint(u32::MAX);
}

/// What a message is, for metrics: `bus.csv` has one row per kind, in
/// [`Kind::ALL`] order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A task sent to an agent.
    Request,
    /// An agent's answer to a request.
    Reply,
    /// A health check from the monitor.
    Probe,
    /// An agent's answer to a probe.
    ProbeReply,
    /// An agent's unsolicited liveness signal (registry lease renewal).
    Heartbeat,
    /// One copy of a published message, to one subscriber.
    Publish,
}

impl Kind {
    /// Every kind, in report order (also the order of [`BusStats::by_kind`]).
    pub const ALL: [Kind; 6] = [
        Kind::Request,
        Kind::Reply,
        Kind::Probe,
        Kind::ProbeReply,
        Kind::Heartbeat,
        Kind::Publish,
    ];

    /// The name reports use; stable, as CSVs are diffed across versions.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Request => "request",
            Kind::Reply => "reply",
            Kind::Probe => "probe",
            Kind::ProbeReply => "probe_reply",
            Kind::Heartbeat => "heartbeat",
            Kind::Publish => "publish",
        }
    }

    /// The position in [`Kind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Why a message did not arrive: reports tell a partition from random loss.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lost {
    /// An end was cut off, at send or before arrival.
    Partition,
    /// Random loss (`loss`).
    Dropped,
    /// The broker's queue was full (`[bus.broker] capacity`).
    Overflow,
    /// Sent while the broker was down: the sender sees an error at once.
    BrokerDown,
}

/// A message's fate, decided when it is sent, so that the world schedules
/// one arrival or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// It reaches the receiver at this instant, unless an end is cut by then.
    Arrives(Instant),
    /// It never arrives; no event is needed.
    Lost(Lost),
}

/// Counters of one message kind.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KindStats {
    /// Every `send`, whatever its fate.
    pub sent: u64,
    /// Reached the receiver (counted at `arrive`).
    pub delivered: u64,
    /// Lost at send or at arrival because an end was cut off.
    pub lost_partition: u64,
    /// Lost at random at send.
    pub lost_dropped: u64,
    /// Requests whose reply did not come in time (reported by the caller).
    pub timed_out: u64,
    /// Dropped by a broker whose waiting places were all taken.
    pub lost_overflow: u64,
    /// Sent while the broker was down (refused at send).
    pub lost_broker: u64,
    /// Handed to the broker before it went down and not yet delivered
    /// then: waiting, in service, or on the wire from it.
    pub lost_crash: u64,
}

impl KindStats {
    /// Add `other`'s counters, to merge runs or shards.
    pub fn add(&mut self, other: &KindStats) {
        self.sent += other.sent;
        self.delivered += other.delivered;
        self.lost_partition += other.lost_partition;
        self.lost_dropped += other.lost_dropped;
        self.timed_out += other.timed_out;
        self.lost_overflow += other.lost_overflow;
        self.lost_broker += other.lost_broker;
        self.lost_crash += other.lost_crash;
    }
}

/// Largest latency tracked exactly: one hour, far beyond any timeout.
const LATENCY_HIGHEST_NS: u64 = 3_600_000_000_000;

/// What the bus counted: per-kind counters and the latency of delivered
/// messages. Kept by the bus rather than in `metrics` so that the bus can be
/// tested, and reused, alone.
#[derive(Clone, Debug)]
pub struct BusStats {
    /// Counters in [`Kind::ALL`] order.
    pub by_kind: [KindStats; 6],
    /// Send → arrival of delivered messages of every kind, in nanoseconds,
    /// 3 significant digits; zero latencies are recorded as 0.
    pub latency: Counts<u64>,
    /// Exact sum of the recorded latencies, for an exact mean (as `metrics`).
    latency_sum_ns: u128,
    /// Retained messages replayed to agents that subscribed again (each is
    /// also sent, and counted, as a `publish` message).
    pub replayed: u64,
    /// Exact largest recorded latency (the histogram's is rounded up to
    /// its precision).
    latency_max_ns: u64,
}

impl Default for BusStats {
    fn default() -> Self {
        BusStats::new()
    }
}

impl BusStats {
    /// Empty statistics.
    pub fn new() -> BusStats {
        BusStats {
            by_kind: Default::default(),
            latency: Counts::like(
                &Histogram::new_with_bounds(1, LATENCY_HIGHEST_NS, 3)
                    .expect("static histogram bounds are valid"),
            ),
            latency_sum_ns: 0,
            replayed: 0,
            latency_max_ns: 0,
        }
    }

    /// The counters of kind `k`.
    pub fn kind(&self, k: Kind) -> &KindStats {
        &self.by_kind[k.index()]
    }

    /// Every kind's counters added up.
    pub fn total(&self) -> KindStats {
        let mut t = KindStats::default();
        for k in &self.by_kind {
            t.add(k);
        }
        t
    }

    /// Exact mean latency of delivered messages; 0 if none (as `metrics`).
    pub fn latency_mean_ns(&self) -> f64 {
        match self.latency.len() {
            0 => 0.0,
            n => self.latency_sum_ns as f64 / n as f64,
        }
    }

    /// Exact largest latency of a delivered message; 0 if none.
    pub fn latency_max_ns(&self) -> u64 {
        self.latency_max_ns
    }

    /// Latency at quantile `q` in `[0, 1]` (histogram precision); 0 if none.
    pub fn latency_quantile_ns(&self, q: f64) -> u64 {
        if self.latency.is_empty() {
            0
        } else {
            self.latency.value_at_quantile(q)
        }
    }

    /// Add `other`'s counts, to merge replications or shards.
    pub fn merge(&mut self, other: &BusStats) {
        for (a, b) in self.by_kind.iter_mut().zip(&other.by_kind) {
            a.add(b);
        }
        self.latency.add(&other.latency);
        self.latency_sum_ns += other.latency_sum_ns;
        self.replayed += other.replayed;
        self.latency_max_ns = self.latency_max_ns.max(other.latency_max_ns);
    }

    #[inline]
    fn record_latency(&mut self, ns: u64) {
        // Saturating: a latency above an hour is counted as an hour in the
        // histogram, but the sum keeps the exact value.
        self.latency.record(ns);
        self.latency_sum_ns += u128::from(ns);
        self.latency_max_ns = self.latency_max_ns.max(ns);
    }

    /// [`Self::record_latency`] `n` times.
    fn record_latency_n(&mut self, ns: u64, n: u64) {
        if n == 0 {
            return;
        }
        self.latency.record_n(ns, n);
        self.latency_sum_ns += u128::from(ns) * u128::from(n);
        self.latency_max_ns = self.latency_max_ns.max(ns);
    }
}

/// A subscription, as handed out by [`Bus::subscribe`]. Ids increase, so
/// their order is subscription order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SubId(pub u32);

/// A published message, as retained for replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Bus-wide, increasing in publish order.
    pub id: u64,
    /// The concrete topic it was published on.
    pub topic: String,
    /// What subscribers filter on.
    pub headers: Headers,
    /// The publisher.
    pub from: Endpoint,
    /// When it was published.
    pub sent: Instant,
}

#[derive(Clone, Debug)]
struct Subscription {
    id: SubId,
    who: Endpoint,
    pattern: Pattern,
    filter: Option<Filter>,
}

/// The bus: the network model, partitions, subscriptions and retention.
#[derive(Clone, Debug)]
pub struct Bus {
    latency: Dist,
    loss: f64,
    /// No latency, no loss and no broker: a message arrives when sent
    /// unless a partition or an outage says otherwise (the fast path).
    instant: bool,
    /// Cut endpoints and how many partitions hold each (≥ 1); usually empty,
    /// so the per-message check is one `is_empty`.
    cuts: BTreeMap<Endpoint, u32>,
    stats: BusStats,
    /// In subscription order (ids increasing).
    subs: Vec<Subscription>,
    next_sub: u32,
    next_message: u64,
    /// Retention rules: a topic keeps the largest `last` of the patterns it
    /// matches. One rule per distinct pattern.
    retention: Vec<(Pattern, usize)>,
    /// Retained messages per topic, oldest first.
    retained: BTreeMap<String, VecDeque<Message>>,
    /// Endpoints that broadcasts reach, in endpoint order.
    registered: Vec<Endpoint>,
    /// The broker as a server (`None`: free and infinite).
    broker: Option<Broker>,
    /// Outages holding the broker down (they may overlap): while above 0
    /// every message sent is refused.
    down: u32,
    /// When each outage began, in order: a message sent before one and
    /// arriving after it was lost with the broker.
    outages: Vec<Instant>,
    /// Messages counted by [`Bus::crossed_unseen`] whose zero latencies
    /// are not in `stats.latency` yet.
    at_once: u64,
}

impl Bus {
    /// A bus whose messages take `latency` and are lost with probability
    /// `loss` (in `[0, 1]`, validated by the scenario).
    pub fn new(latency: Dist, loss: f64) -> Bus {
        assert!(
            (0.0..=1.0).contains(&loss),
            "validated: loss is a probability in [0, 1], got {loss}"
        );
        Bus {
            instant: loss == 0.0 && latency.is_zero(),
            latency,
            loss,
            cuts: BTreeMap::new(),
            stats: BusStats::new(),
            subs: Vec::new(),
            next_sub: 0,
            next_message: 0,
            retention: Vec::new(),
            retained: BTreeMap::new(),
            registered: Vec::new(),
            broker: None,
            down: 0,
            outages: Vec::new(),
            at_once: 0,
        }
    }

    /// Route every message through a broker with these settings.
    pub fn set_broker(&mut self, config: BrokerConfig) {
        self.broker = Some(Broker::new(config));
        self.instant = false;
    }

    /// Is the broker down now?
    pub fn is_broker_down(&self) -> bool {
        self.down > 0
    }

    /// The broker goes down at `now`: messages sent until [`Bus::broker_up`]
    /// are refused; those it holds (waiting, in service, or on their way
    /// from it) are lost when they would have arrived; retained messages
    /// are forgotten unless the broker is persistent. Outages nest: going
    /// down while down only adds one more [`Bus::broker_up`] to wait for.
    pub fn broker_down(&mut self, now: Instant) {
        self.down += 1;
        if self.down > 1 {
            return;
        }
        self.outages.push(now);
        let persistent = self.broker.as_ref().is_some_and(|b| b.config().persistence);
        if let Some(b) = &mut self.broker {
            b.crash(now);
        }
        if !persistent {
            self.retained.clear();
        }
        // Every client's connection breaks: subscriptions go with it.
        self.subs.clear();
    }

    /// One outage ends; the broker is back (idle, with its retained
    /// messages if persistent) when every outage has ended. Ending an
    /// outage that never began does nothing.
    pub fn broker_up(&mut self) {
        self.down = self.down.saturating_sub(1);
    }

    /// A message of `kind` that the sender could not hand to the broker
    /// (it is down), counted as sent and lost without a `send`.
    pub fn refused(&mut self, kind: Kind) {
        let s = &mut self.stats.by_kind[kind.index()];
        s.sent += 1;
        s.lost_broker += 1;
    }

    /// Was a message sent at `sent` still undelivered when an outage began
    /// (at or before `now`)?
    fn lost_in_crash(&self, sent: Instant, now: Instant) -> bool {
        if self.outages.is_empty() {
            return false;
        }
        let i = self.outages.partition_point(|&t| t <= sent);
        i < self.outages.len() && self.outages[i] <= now
    }

    /// Cut `e` off: nothing crosses to or from it until it is healed.
    /// Counted, so overlapping partitions nest (cut twice, heal twice).
    pub fn cut(&mut self, e: Endpoint) {
        *self.cuts.entry(e).or_insert(0) += 1;
    }

    /// End one partition of `e`; it is reachable again when every cut has
    /// been healed. Healing an endpoint that is not cut does nothing, so a
    /// fault schedule that heals twice cannot underflow.
    pub fn heal(&mut self, e: Endpoint) {
        if let Some(n) = self.cuts.get_mut(&e) {
            *n -= 1;
            if *n == 0 {
                self.cuts.remove(&e);
            }
        }
    }

    /// Is `e` cut off now?
    pub fn is_cut(&self, e: Endpoint) -> bool {
        !self.cuts.is_empty() && self.cuts.contains_key(&e)
    }

    fn either_cut(&self, a: Endpoint, b: Endpoint) -> bool {
        !self.cuts.is_empty() && (self.cuts.contains_key(&a) || self.cuts.contains_key(&b))
    }

    /// Send one point-to-point message and decide its fate. Checks, in
    /// order: a cut end loses it with no random draw; then, if `loss > 0`,
    /// one [`unit`] draw loses it when below `loss`; then the latency, drawn
    /// only if the distribution is not zero. With no loss and no partition
    /// this consumes exactly the draws of `latency.sample(rng)`, so adding a
    /// bus does not change existing results.
    pub fn send<R: Rng>(
        &mut self,
        now: Instant,
        kind: Kind,
        from: Endpoint,
        to: Endpoint,
        rng: &mut R,
    ) -> Fate {
        self.send_via::<R, R>(now, kind, from, to, rng, None)
    }

    /// [`Bus::send`] through the broker, if there is one: a message sent
    /// while the broker is down is refused first (no draw); then the
    /// partition and loss checks of `send`; then the broker admits it
    /// (dropped if its queue is full; its service time drawn from
    /// `broker_rng`), and the network latency runs from when it leaves the
    /// broker. Without a broker this is exactly `send`.
    #[inline]
    pub fn send_via<R: Rng, B: Rng>(
        &mut self,
        now: Instant,
        kind: Kind,
        from: Endpoint,
        to: Endpoint,
        rng: &mut R,
        broker_rng: Option<&mut B>,
    ) -> Fate {
        // The common case, decided without a call: nothing can lose or
        // delay the message (the same outcome as the checks below).
        if self.nothing_can_stop() {
            self.stats.by_kind[kind.index()].sent += 1;
            return Fate::Arrives(now);
        }
        self.send_checked(now, kind, from, to, rng, broker_rng)
    }

    fn send_checked<R: Rng, B: Rng>(
        &mut self,
        now: Instant,
        kind: Kind,
        from: Endpoint,
        to: Endpoint,
        rng: &mut R,
        broker_rng: Option<&mut B>,
    ) -> Fate {
        let loss = self.loss;
        if let Some(fate) = self.stopped(kind, from, to, || loss > 0.0 && unit(rng) < loss) {
            return fate;
        }
        let s = &mut self.stats.by_kind[kind.index()];
        let leaves = match &mut self.broker {
            None => now,
            Some(b) => {
                let brng = broker_rng.expect("a bus with a broker needs the broker's stream");
                match b.admit(now, brng) {
                    Admission::Leaves(t) => t,
                    Admission::Overflow => {
                        s.lost_overflow += 1;
                        return Fate::Lost(Lost::Overflow);
                    }
                }
            }
        };
        if self.latency.is_zero() {
            Fate::Arrives(leaves)
        } else {
            Fate::Arrives(leaves + self.latency.sample(rng))
        }
    }

    /// The checks of `send` before the broker, in order: the message is
    /// counted as sent, then lost if the broker is down, if an end is cut
    /// off, or if `lost` (asked only then) says the random loss takes it.
    /// Its fate if one of them stops it.
    #[inline]
    fn stopped(
        &mut self,
        kind: Kind,
        from: Endpoint,
        to: Endpoint,
        lost: impl FnOnce() -> bool,
    ) -> Option<Fate> {
        let cut = self.either_cut(from, to);
        let s = &mut self.stats.by_kind[kind.index()];
        s.sent += 1;
        if self.down > 0 {
            s.lost_broker += 1;
            return Some(Fate::Lost(Lost::BrokerDown));
        }
        if cut {
            s.lost_partition += 1;
            return Some(Fate::Lost(Lost::Partition));
        }
        if lost() {
            s.lost_dropped += 1;
            return Some(Fate::Lost(Lost::Dropped));
        }
        None
    }

    /// [`Bus::send`] on a network with no latency or broker, whose loss
    /// draw the caller made ahead: `lost` is how it came out. Checked and
    /// counted as `send` does.
    pub fn send_decided(
        &mut self,
        now: Instant,
        kind: Kind,
        from: Endpoint,
        to: Endpoint,
        lost: bool,
    ) -> Fate {
        debug_assert!(
            self.latency.is_zero() && self.broker.is_none(),
            "a decided send on a network that can delay it"
        );
        self.stopped(kind, from, to, || lost)
            .unwrap_or(Fate::Arrives(now))
    }

    /// A message sent at `sent` reaches `to` now. It is lost (`false`,
    /// counted as a partition loss) if either end is cut off at arrival;
    /// else it is delivered and its latency recorded. A partition that
    /// starts and heals entirely while a message is in flight does not lose
    /// it: `cut` carries no time, and partitions last far longer than
    /// messages. A message sent before the broker went down and arriving
    /// after is lost with it (`lost_crash`), first.
    #[inline]
    pub fn arrive(
        &mut self,
        now: Instant,
        kind: Kind,
        from: Endpoint,
        to: Endpoint,
        sent: Instant,
    ) -> bool {
        if self.cuts.is_empty() && self.outages.is_empty() {
            self.stats.by_kind[kind.index()].delivered += 1;
            self.stats
                .record_latency(now.saturating_since(sent).as_nanos());
            return true;
        }
        self.arrive_checked(now, kind, from, to, sent)
    }

    fn arrive_checked(
        &mut self,
        now: Instant,
        kind: Kind,
        from: Endpoint,
        to: Endpoint,
        sent: Instant,
    ) -> bool {
        let cut = self.either_cut(from, to);
        let crashed = self.lost_in_crash(sent, now);
        let s = &mut self.stats.by_kind[kind.index()];
        if crashed {
            s.lost_crash += 1;
            return false;
        }
        if cut {
            s.lost_partition += 1;
            return false;
        }
        s.delivered += 1;
        self.stats
            .record_latency(now.saturating_since(sent).as_nanos());
        true
    }

    /// A request of `kind` whose reply did not come in time; the caller owns
    /// the timer, the bus only counts.
    pub fn timed_out(&mut self, kind: Kind) {
        self.stats.by_kind[kind.index()].timed_out += 1;
    }

    /// Nothing can lose or delay a message now: an instant network (no
    /// latency, loss or broker), nothing cut off, the broker up.
    #[inline(always)]
    fn nothing_can_stop(&self) -> bool {
        self.instant && self.cuts.is_empty() && self.down == 0
    }

    /// Count `n` messages of `kind` that crossed an instant, lossless
    /// network and that the caller did not send one by one (nothing could
    /// stop them): exactly as `n` calls of `send` and `arrive` at the same
    /// instant would count them. Their zero latencies join the histogram
    /// when the stats are read (counts do not depend on order).
    #[inline]
    pub fn crossed_unseen(&mut self, kind: Kind, n: u64) {
        let s = &mut self.stats.by_kind[kind.index()];
        s.sent += n;
        s.delivered += n;
        self.at_once += n;
    }

    /// Count `n` messages of `kind` sent and delivered `latency_ns` later
    /// on a lossless network with nothing cut off, which the caller did
    /// not send one by one: as `n` calls of `send` and `arrive` would
    /// count them (`n` latencies of `latency_ns`; with none,
    /// [`Bus::crossed_unseen`]).
    pub fn crossed_unseen_after(&mut self, kind: Kind, n: u64, latency_ns: u64) {
        if latency_ns == 0 {
            self.crossed_unseen(kind, n);
            return;
        }
        let s = &mut self.stats.by_kind[kind.index()];
        s.sent += n;
        s.delivered += n;
        self.stats.record_latency_n(latency_ns, n);
    }

    /// Count a message of `kind` sent now, whose arrival the caller
    /// schedules and reports to `arrive`, as `send` would count it on a
    /// lossless network with nothing cut off.
    pub fn sent_unseen(&mut self, kind: Kind) {
        self.stats.by_kind[kind.index()].sent += 1;
    }

    /// Count `n` messages of `kind` lost to a partition (an end cut off
    /// as they left), which the caller did not send one by one: exactly
    /// as `n` calls of `send` from a cut-off endpoint would count them.
    pub fn cut_unseen(&mut self, kind: Kind, n: u64) {
        let s = &mut self.stats.by_kind[kind.index()];
        s.sent += n;
        s.lost_partition += n;
    }

    /// Count `n` messages of `kind` that the network's random loss
    /// dropped, which the caller did not send one by one: exactly as `n`
    /// calls of `send` whose loss draw came out lost would count them.
    #[inline]
    pub fn dropped_unseen(&mut self, kind: Kind, n: u64) {
        let s = &mut self.stats.by_kind[kind.index()];
        s.sent += n;
        s.lost_dropped += n;
    }

    /// A message of `kind` sent now and arriving now, if nothing can stop
    /// it (no loss, no partition, and no outage can start between its
    /// leaving and its arrival): counted as `send_via` and `arrive` would
    /// count it ([`Bus::crossed_unseen`]), and `true`. Else `false`, and
    /// nothing counted: the caller goes through `send_via` and `arrive`.
    #[inline]
    pub fn cross_at_once(&mut self, kind: Kind) -> bool {
        if !self.nothing_can_stop() {
            return false;
        }
        self.crossed_unseen(kind, 1);
        true
    }

    /// What the bus has counted so far.
    pub fn stats(&mut self) -> &BusStats {
        if self.at_once > 0 {
            self.stats.latency.record_n(0, self.at_once);
            self.at_once = 0;
        }
        &self.stats
    }

    /// Count `n` retained messages replayed to a subscriber.
    pub fn replayed(&mut self, n: usize) {
        self.stats.replayed += n as u64;
    }

    /// Subscribe `who` to the topics matching `pattern`, optionally narrowed
    /// by a header filter. With `replay`, also returns the retained messages
    /// of the matching topics that pass the filter, oldest first across
    /// topics, so an agent back from a crash sees what it missed. Messages
    /// the bus did not retain are gone, as on a real broker.
    pub fn subscribe(
        &mut self,
        who: Endpoint,
        pattern: &str,
        filter: Option<Filter>,
        replay: bool,
    ) -> Result<(SubId, Vec<Message>), PatternError> {
        let pattern = Pattern::parse(pattern)?;
        let id = SubId(self.next_sub);
        self.next_sub = self
            .next_sub
            .checked_add(1)
            .expect("fewer than 2^32 subscriptions in one run");
        let mut missed = Vec::new();
        if replay {
            for (topic, messages) in &self.retained {
                if pattern.matches(topic) {
                    missed.extend(
                        messages
                            .iter()
                            .filter(|m| filter.as_ref().is_none_or(|f| f.matches(&m.headers)))
                            .cloned(),
                    );
                }
            }
            missed.sort_by_key(|m| m.id);
        }
        self.subs.push(Subscription {
            id,
            who,
            pattern,
            filter,
        });
        Ok((id, missed))
    }

    /// End one subscription; `false` if it was not active.
    pub fn unsubscribe(&mut self, sub: SubId) -> bool {
        match self.subs.binary_search_by_key(&sub, |s| s.id) {
            Ok(i) => {
                self.subs.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// End every subscription of `who` (an agent crashing loses its
    /// subscriptions; it subscribes again, with replay, when it recovers).
    pub fn unsubscribe_all(&mut self, who: Endpoint) {
        self.subs.retain(|s| s.who != who);
    }

    /// Topics matching `pattern` keep their last `last` messages each, for
    /// replay. Rules do not override one another: a topic keeps the largest
    /// `last` of every pattern it matches, so a broad rule cannot silently
    /// shorten a specific one. `last = 0` keeps nothing (unless another rule
    /// keeps more). Applies to messages published from now on.
    pub fn retain(&mut self, pattern: &str, last: usize) -> Result<(), PatternError> {
        let pattern = Pattern::parse(pattern)?;
        match self.retention.iter_mut().find(|(p, _)| *p == pattern) {
            Some((_, n)) => *n = (*n).max(last),
            None => self.retention.push((pattern, last)),
        }
        Ok(())
    }

    /// How many messages `topic` keeps: the largest rule it matches.
    fn retention_of(&self, topic: &str) -> usize {
        self.retention
            .iter()
            .filter(|(p, _)| p.matches(topic))
            .map(|&(_, n)| n)
            .max()
            .unwrap_or(0)
    }

    /// Publish on the concrete `topic`. Fills `out` (cleared first) with one
    /// `(endpoint, subscription)` per matching subscription whose filter
    /// passes, in subscription order (an endpoint subscribed twice gets two
    /// copies, as on NATS). Counts nothing: the caller `send`s each copy as
    /// [`Kind::Publish`], so copies meet latency, loss and partitions one by
    /// one. Retains the message if a rule covers the topic, unless the
    /// publisher is cut off: then it never left, and a replay must not bring
    /// it back. Returns the message id (bus-wide, increasing).
    pub fn publish(
        &mut self,
        now: Instant,
        from: Endpoint,
        topic: &str,
        headers: Headers,
        out: &mut Vec<(Endpoint, SubId)>,
    ) -> Result<u64, PatternError> {
        check_topic(topic)?;
        out.clear();
        let id = self.next_message;
        self.next_message += 1;
        out.extend(
            self.subs
                .iter()
                .filter(|s| {
                    s.pattern.matches(topic)
                        && s.filter.as_ref().is_none_or(|f| f.matches(&headers))
                })
                .map(|s| (s.who, s.id)),
        );
        let keep = self.retention_of(topic);
        // A down broker keeps nothing (the world refuses the publication
        // before it gets here; the bus holds the rule too).
        if keep > 0 && !self.is_cut(from) && self.down == 0 {
            let message = Message {
                id,
                topic: topic.to_owned(),
                headers,
                from,
                sent: now,
            };
            let queue = match self.retained.get_mut(topic) {
                Some(q) => q,
                None => self.retained.entry(topic.to_owned()).or_default(),
            };
            queue.push_back(message);
            while queue.len() > keep {
                queue.pop_front();
            }
        }
        Ok(id)
    }

    /// Make `e` reachable by broadcasts (the world registers the agents).
    /// Registering twice is harmless.
    pub fn register(&mut self, e: Endpoint) {
        if let Err(i) = self.registered.binary_search(&e) {
            self.registered.insert(i, e);
        }
    }

    /// Append every registered endpoint except `from` to `out`, in endpoint
    /// order; the caller `send`s each copy. `out` is not cleared, so targets
    /// of several broadcasts can be gathered in one buffer.
    pub fn broadcast_targets(&self, from: Endpoint, out: &mut Vec<Endpoint>) {
        out.extend(self.registered.iter().copied().filter(|&e| e != from));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Seed, Stream};
    use crate::time::Duration;

    const A: Endpoint = Endpoint(1);
    const B: Endpoint = Endpoint(2);
    const C: Endpoint = Endpoint::CONTROL;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn rng() -> Stream {
        Seed(7).stream("bus-test")
    }

    #[test]
    fn kinds_in_report_order() {
        let names: Vec<_> = Kind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            [
                "request",
                "reply",
                "probe",
                "probe_reply",
                "heartbeat",
                "publish"
            ]
        );
        for (i, k) in Kind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
    }

    #[test]
    fn send_and_arrive_are_counted() {
        let mut bus = Bus::new(Dist::Constant(ms(5)), 0.0);
        let mut rng = rng();
        let t0 = Instant(1_000);
        assert_eq!(
            bus.send(t0, Kind::Request, C, A, &mut rng),
            Fate::Arrives(t0 + ms(5))
        );
        assert!(bus.arrive(t0 + ms(5), Kind::Request, C, A, t0));
        assert_eq!(
            bus.send(t0 + ms(5), Kind::Reply, A, C, &mut rng),
            Fate::Arrives(t0 + ms(10))
        );
        bus.timed_out(Kind::Request);
        let s = bus.stats();
        assert_eq!(
            *s.kind(Kind::Request),
            KindStats {
                sent: 1,
                delivered: 1,
                timed_out: 1,
                ..Default::default()
            }
        );
        assert_eq!(
            *s.kind(Kind::Reply),
            KindStats {
                sent: 1,
                ..Default::default()
            }
        );
        assert_eq!(*s.kind(Kind::Probe), KindStats::default());
        assert_eq!(s.latency.len(), 1);
        assert_eq!(s.latency_mean_ns(), 5e6);
        // 3 significant digits.
        assert!(s.latency_quantile_ns(0.5).abs_diff(5_000_000) <= 5_000);
        assert_eq!(s.total().sent, 2);
    }

    #[test]
    fn loss_follows_its_probability() {
        for p in [0.01, 0.1, 0.5] {
            let mut bus = Bus::new(Dist::Constant(ms(1)), p);
            let mut rng = rng();
            let n = 100_000u64;
            let mut lost = 0u64;
            for i in 0..n {
                match bus.send(Instant(i), Kind::Heartbeat, A, C, &mut rng) {
                    Fate::Lost(Lost::Dropped) => lost += 1,
                    Fate::Arrives(t) => assert_eq!(t, Instant(i) + ms(1)),
                    Fate::Lost(other) => panic!("only random loss here, got {other:?}"),
                }
            }
            let sd = (p * (1.0 - p) / n as f64).sqrt();
            let frac = lost as f64 / n as f64;
            assert!((frac - p).abs() < 5.0 * sd, "p {p}: lost fraction {frac}");
            let k = bus.stats().kind(Kind::Heartbeat);
            assert_eq!((k.sent, k.lost_dropped), (n, lost));
        }
        let mut bus = Bus::new(Dist::Constant(ms(1)), 1.0);
        let mut rng = rng();
        assert_eq!(
            bus.send(Instant::ZERO, Kind::Probe, C, A, &mut rng),
            Fate::Lost(Lost::Dropped)
        );
    }

    #[test]
    fn no_loss_draws_only_the_latency() {
        // Constant or zero latency, no loss: no draw at all.
        for d in [Dist::Constant(ms(3)), Dist::Constant(Duration::ZERO)] {
            let mut bus = Bus::new(d.clone(), 0.0);
            let mut rng = rng();
            let untouched = rng.clone();
            for i in 0..100 {
                let now = Instant(i * 1_000);
                let fate = bus.send(now, Kind::Request, C, A, &mut rng);
                let expected = if d.is_zero() { now } else { now + ms(3) };
                assert_eq!(fate, Fate::Arrives(expected));
            }
            assert_eq!(rng, untouched);
        }
        // Random latency: exactly the draws of `sample` alone.
        let d = Dist::Exponential { mean: ms(2) };
        let mut bus = Bus::new(d.clone(), 0.0);
        let (mut rng, mut shadow) = (rng(), rng());
        for _ in 0..100 {
            let fate = bus.send(Instant::ZERO, Kind::Request, C, A, &mut rng);
            assert_eq!(fate, Fate::Arrives(Instant::ZERO + d.sample(&mut shadow)));
        }
        assert_eq!(rng, shadow);
    }

    #[test]
    fn partitions_cut_both_ways_and_nest() {
        let mut bus = Bus::new(Dist::Constant(ms(1)), 0.5);
        let mut rng = rng();
        let untouched = rng.clone();
        let part = Fate::Lost(Lost::Partition);
        bus.cut(A);
        bus.cut(A);
        assert!(bus.is_cut(A) && !bus.is_cut(B));
        assert_eq!(bus.send(Instant::ZERO, Kind::Request, C, A, &mut rng), part);
        assert_eq!(bus.send(Instant::ZERO, Kind::Reply, A, C, &mut rng), part);
        assert_eq!(bus.send(Instant::ZERO, Kind::Publish, A, B, &mut rng), part);
        assert_eq!(bus.send(Instant::ZERO, Kind::Publish, B, A, &mut rng), part);
        // A partition loss draws nothing, even with random loss on.
        assert_eq!(rng, untouched);
        bus.heal(A);
        assert!(bus.is_cut(A), "cut twice, healed once");
        assert_eq!(bus.send(Instant::ZERO, Kind::Request, C, A, &mut rng), part);
        bus.heal(A);
        assert!(!bus.is_cut(A));
        bus.heal(A); // healing an uncut endpoint does nothing
        assert!(!bus.is_cut(A));
        bus.cut(A);
        assert!(bus.is_cut(A), "a stray heal must not pre-pay a later cut");
        bus.heal(A);
        assert_ne!(bus.send(Instant::ZERO, Kind::Request, C, A, &mut rng), part);
        // The control plane can be cut too.
        bus.cut(C);
        assert_eq!(
            bus.send(Instant::ZERO, Kind::Heartbeat, B, C, &mut rng),
            part
        );
        let s = bus.stats();
        assert_eq!(s.kind(Kind::Request).lost_partition, 2);
        assert_eq!(s.kind(Kind::Request).sent, 3);
        assert_eq!(s.kind(Kind::Publish).lost_partition, 2);
        assert_eq!(s.kind(Kind::Heartbeat).lost_partition, 1);
    }

    /// `cross_at_once` counts what `send_via` and `arrive` at the same
    /// instant would, and refuses whenever those could lose the message.
    #[test]
    fn crossing_at_once_counts_as_send_and_arrive() {
        let zero = Dist::Constant(Duration::ZERO);
        let (mut one_by_one, mut at_once) = (Bus::new(zero.clone(), 0.0), Bus::new(zero, 0.0));
        let mut rng = rng();
        let t = Instant(5);
        for kind in [Kind::Request, Kind::Reply, Kind::Reply] {
            assert_eq!(one_by_one.send(t, kind, C, A, &mut rng), Fate::Arrives(t));
            assert!(one_by_one.arrive(t, kind, C, A, t));
            assert!(at_once.cross_at_once(kind));
        }
        let (a, b) = (one_by_one.stats().clone(), at_once.stats().clone());
        for kind in Kind::ALL {
            assert_eq!(a.kind(kind), b.kind(kind), "{kind:?}");
        }
        assert_eq!(a.latency.len(), 3);
        assert_eq!(b.latency.len(), 3);
        assert_eq!(a.latency.to_histogram(), b.latency.to_histogram());
        // Anything that can stop a message: no crossing at once.
        at_once.cut(A);
        assert!(!at_once.cross_at_once(Kind::Request), "a partition");
        at_once.heal(A);
        at_once.broker_down(t);
        assert!(!at_once.cross_at_once(Kind::Request), "the broker down");
        assert!(!Bus::new(Dist::Constant(ms(1)), 0.0).cross_at_once(Kind::Request));
        assert!(!Bus::new(Dist::Constant(Duration::ZERO), 0.1).cross_at_once(Kind::Request));
        assert_eq!(at_once.stats().kind(Kind::Request).sent, 1);
    }

    #[test]
    fn in_flight_messages_are_lost_when_an_end_is_cut() {
        let mut bus = Bus::new(Dist::Constant(ms(10)), 0.0);
        let mut rng = rng();
        let t0 = Instant::ZERO;
        let Fate::Arrives(t1) = bus.send(t0, Kind::Request, C, A, &mut rng) else {
            panic!("no loss, no partition");
        };
        let Fate::Arrives(t2) = bus.send(t0, Kind::Request, A, C, &mut rng) else {
            panic!("no loss, no partition");
        };
        bus.cut(A);
        assert!(!bus.arrive(t1, Kind::Request, C, A, t0), "receiver cut");
        assert!(!bus.arrive(t2, Kind::Request, A, C, t0), "sender cut");
        bus.heal(A);
        let Fate::Arrives(t3) = bus.send(t1, Kind::Request, C, A, &mut rng) else {
            panic!("healed");
        };
        assert!(bus.arrive(t3, Kind::Request, C, A, t1));
        let k = bus.stats().kind(Kind::Request);
        assert_eq!((k.sent, k.delivered, k.lost_partition), (3, 1, 2));
        assert_eq!(bus.stats().latency.len(), 1);
    }

    #[test]
    fn constant_latency_keeps_send_order() {
        let mut bus = Bus::new(Dist::Constant(ms(4)), 0.0);
        let mut rng = rng();
        let sends = [0, 0, 1, 1, 1, 5, 9, 9, 20].map(|t| Instant(t * 1_000));
        let arrivals: Vec<Instant> = sends
            .iter()
            .map(|&t| match bus.send(t, Kind::Publish, C, A, &mut rng) {
                Fate::Arrives(at) => at,
                f => panic!("{f:?}"),
            })
            .collect();
        assert!(arrivals.windows(2).all(|w| w[0] <= w[1]), "{arrivals:?}");
    }

    #[test]
    fn zero_latency_is_recorded_as_zero() {
        let mut bus = Bus::new(Dist::Constant(Duration::ZERO), 0.0);
        let mut rng = rng();
        let now = Instant(42);
        assert_eq!(
            bus.send(now, Kind::Probe, C, A, &mut rng),
            Fate::Arrives(now)
        );
        assert!(bus.arrive(now, Kind::Probe, C, A, now));
        let s = bus.stats();
        // HdrHistogram with lowest discernible value 1 keeps 0 in its first
        // bucket: counted, and reported as 0.
        let h = s.latency.to_histogram();
        assert_eq!(h.len(), 1);
        assert_eq!(h.count_at(0), 1);
        assert_eq!(s.latency_quantile_ns(1.0), 0);
        assert_eq!(h.max(), 0);
        assert_eq!(s.latency_mean_ns(), 0.0);
    }

    #[test]
    fn stats_merge_adds_counters_and_histograms() {
        let mut rng = rng();
        let mut a = Bus::new(Dist::Constant(ms(2)), 0.0);
        let mut b = Bus::new(Dist::Constant(ms(6)), 0.0);
        for bus in [&mut a, &mut b] {
            let Fate::Arrives(t) = bus.send(Instant::ZERO, Kind::Request, C, A, &mut rng) else {
                panic!("no loss");
            };
            assert!(bus.arrive(t, Kind::Request, C, A, Instant::ZERO));
        }
        b.timed_out(Kind::Reply);
        b.cut(A);
        b.send(Instant::ZERO, Kind::Request, C, A, &mut rng);
        let mut m = a.stats().clone();
        m.merge(b.stats());
        let k = m.kind(Kind::Request);
        assert_eq!((k.sent, k.delivered, k.lost_partition), (3, 2, 1));
        assert_eq!(m.kind(Kind::Reply).timed_out, 1);
        assert_eq!(m.latency.len(), 2);
        assert_eq!(m.latency_mean_ns(), 4e6);
        assert_eq!(m.latency_max_ns(), 6_000_000, "exact, merged by max");
        assert!(m.latency_quantile_ns(1.0).abs_diff(6_000_000) <= 6_000);
        assert!(m.latency_quantile_ns(0.0).abs_diff(2_000_000) <= 2_000);
        // Merging an empty one changes nothing.
        let before = m.clone();
        m.merge(&BusStats::new());
        assert_eq!(m.by_kind, before.by_kind);
        assert!(m.latency.to_histogram() == before.latency.to_histogram());
        assert_eq!(BusStats::default().latency_quantile_ns(0.99), 0);
        assert_eq!(BusStats::default().latency_mean_ns(), 0.0);
        assert_eq!(BusStats::default().latency_max_ns(), 0);
    }

    fn slow_broker(persistence: bool) -> Bus {
        let mut bus = Bus::new(Dist::Constant(ms(1)), 0.0);
        bus.set_broker(BrokerConfig {
            service_time: Dist::Constant(ms(10)),
            concurrency: 1,
            capacity: 1,
            persistence,
        });
        bus
    }

    #[test]
    fn a_broker_queues_then_the_network_delays() {
        let mut bus = slow_broker(false);
        let (mut net, mut brk) = (rng(), Seed(9).stream("broker"));
        let mut send = |bus: &mut Bus, t: u64| {
            bus.send_via(
                Instant::ZERO + ms(t),
                Kind::Request,
                C,
                A,
                &mut net,
                Some(&mut brk),
            )
        };
        // Served 0–10, then 10–20 (one waits); the third finds the place taken.
        assert_eq!(send(&mut bus, 0), Fate::Arrives(Instant::ZERO + ms(11)));
        assert_eq!(send(&mut bus, 0), Fate::Arrives(Instant::ZERO + ms(21)));
        assert_eq!(send(&mut bus, 5), Fate::Lost(Lost::Overflow));
        assert_eq!(send(&mut bus, 10), Fate::Arrives(Instant::ZERO + ms(31)));
        let k = bus.stats().kind(Kind::Request);
        assert_eq!((k.sent, k.lost_overflow), (4, 1));
    }

    #[test]
    fn an_outage_refuses_new_messages_and_loses_what_the_broker_held() {
        let mut bus = slow_broker(false);
        let (mut net, mut brk) = (rng(), Seed(9).stream("broker"));
        let t = |m: u64| Instant::ZERO + ms(m);
        let a = bus.send_via(t(0), Kind::Reply, A, C, &mut net, Some(&mut brk));
        let b = bus.send_via(t(1), Kind::Reply, A, C, &mut net, Some(&mut brk));
        assert_eq!((a, b), (Fate::Arrives(t(11)), Fate::Arrives(t(21))));
        bus.broker_down(t(12));
        bus.broker_down(t(13)); // a second, overlapping outage
        let refused = bus.send_via(t(14), Kind::Probe, C, A, &mut net, Some(&mut brk));
        assert_eq!(refused, Fate::Lost(Lost::BrokerDown));
        // The first left before the outage; the second was still held.
        assert!(bus.arrive(t(11), Kind::Reply, A, C, t(0)));
        assert!(!bus.arrive(t(21), Kind::Reply, A, C, t(1)));
        bus.broker_up();
        assert!(bus.is_broker_down(), "the second outage still holds it");
        bus.broker_up();
        bus.broker_up(); // a stray end does nothing
        assert!(!bus.is_broker_down());
        // Back idle: served at once.
        let c = bus.send_via(t(30), Kind::Reply, A, C, &mut net, Some(&mut brk));
        assert_eq!(c, Fate::Arrives(t(41)));
        assert!(bus.arrive(t(41), Kind::Reply, A, C, t(30)));
        let r = bus.stats().kind(Kind::Reply);
        assert_eq!((r.sent, r.delivered, r.lost_crash), (3, 2, 1));
        assert_eq!(bus.stats().kind(Kind::Probe).lost_broker, 1);
    }

    #[test]
    fn only_a_persistent_broker_keeps_what_it_retained() {
        for persistence in [false, true] {
            let mut bus = slow_broker(persistence);
            bus.retain("config.>", 2).unwrap();
            bus.subscribe(B, "config.>", None, false).unwrap();
            publish_n(&mut bus, "config.a", 0, 3);
            bus.broker_down(Instant::ZERO + ms(10));
            let mut out = vec![(A, SubId(0))];
            bus.publish(
                Instant::ZERO + ms(11),
                A,
                "config.a",
                Headers::new(),
                &mut out,
            )
            .unwrap();
            assert!(out.is_empty(), "the outage dropped every subscription");
            bus.broker_up();
            let (_, missed) = bus.subscribe(B, "config.>", None, true).unwrap();
            let expected: &[u64] = if persistence { &[1, 2] } else { &[] };
            assert_eq!(ids(&missed), expected, "persistence = {persistence}");
        }
    }

    #[test]
    fn headers_stay_sorted_and_replace() {
        let h = Headers::new()
            .with("zone", "b")
            .with("app", "x")
            .with("mid", "m")
            .with("zone", "c");
        let pairs: Vec<_> = h.iter().collect();
        assert_eq!(pairs, [("app", "x"), ("mid", "m"), ("zone", "c")]);
        assert_eq!(h.get("zone"), Some("c"));
        assert_eq!(h.get("nope"), None);
        assert_eq!(h.len(), 3);
        assert!(Headers::new().is_empty());
        // Same headers in any insertion order are equal.
        assert_eq!(
            h,
            Headers::new()
                .with("mid", "m")
                .with("zone", "c")
                .with("app", "x")
        );
    }

    fn bus() -> Bus {
        Bus::new(Dist::Constant(ms(1)), 0.0)
    }

    /// Publish `n` messages on `topic` at 1 ms intervals from `start` ms.
    fn publish_n(bus: &mut Bus, topic: &str, start: u64, n: u64) -> Vec<u64> {
        let mut out = Vec::new();
        (0..n)
            .map(|i| {
                let h = Headers::new().with("seq", &i.to_string());
                bus.publish(Instant::ZERO + ms(start + i), A, topic, h, &mut out)
                    .unwrap()
            })
            .collect()
    }

    fn ids(messages: &[Message]) -> Vec<u64> {
        messages.iter().map(|m| m.id).collect()
    }

    #[test]
    fn retention_replays_the_last_messages_in_order() {
        let mut bus = bus();
        bus.retain("config.>", 3).unwrap();
        let published = publish_n(&mut bus, "config.a", 0, 5);
        assert_eq!(published, [0, 1, 2, 3, 4]);
        let (_, missed) = bus.subscribe(B, "config.a", None, true).unwrap();
        assert_eq!(ids(&missed), [2, 3, 4]);
        let m = &missed[0];
        assert_eq!(
            (m.topic.as_str(), m.from, m.sent, m.headers.get("seq")),
            ("config.a", A, Instant::ZERO + ms(2), Some("2"))
        );
        // Without replay, nothing comes back.
        let (_, none) = bus.subscribe(B, "config.a", None, false).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn replay_across_topics_follows_publish_order() {
        let mut bus = bus();
        bus.retain("config.>", 10).unwrap();
        let mut out = Vec::new();
        let topics = ["config.b", "config.a", "config.c.x", "config.a", "config.b"];
        for (i, t) in topics.iter().enumerate() {
            let h = Headers::new().with("zone", if i % 2 == 0 { "eu" } else { "us" });
            bus.publish(Instant(i as u64), C, t, h, &mut out).unwrap();
        }
        let (_, all) = bus.subscribe(A, "config.>", None, true).unwrap();
        assert_eq!(ids(&all), [0, 1, 2, 3, 4]);
        let (_, two) = bus.subscribe(A, "config.*", None, true).unwrap();
        assert_eq!(ids(&two), [0, 1, 3, 4]);
        let (_, a) = bus.subscribe(A, "config.a", None, true).unwrap();
        assert_eq!(ids(&a), [1, 3]);
        // The filter applies to the replay.
        let eu = Filter::parse("zone=eu").unwrap();
        let (_, filtered) = bus.subscribe(A, "config.>", Some(eu), true).unwrap();
        assert_eq!(ids(&filtered), [0, 2, 4]);
    }

    #[test]
    fn only_retained_topics_replay() {
        let mut bus = bus();
        bus.retain("config.>", 5).unwrap();
        bus.retain("scratch.>", 0).unwrap();
        publish_n(&mut bus, "tasks.compute", 0, 3);
        publish_n(&mut bus, "scratch.x", 0, 3);
        publish_n(&mut bus, "config", 0, 3); // `config.>` needs a second token
        for p in ["tasks.>", "scratch.>", "config", ">"] {
            let (_, missed) = bus.subscribe(B, p, None, true).unwrap();
            assert!(missed.is_empty(), "{p}: {missed:?}");
        }
    }

    #[test]
    fn overlapping_retention_keeps_the_largest() {
        let mut bus = bus();
        bus.retain("a.>", 1).unwrap();
        bus.retain("a.b", 3).unwrap();
        bus.retain("a.b", 2).unwrap(); // smaller: the larger stays
        bus.retain("a.c", 0).unwrap(); // cannot shorten `a.>`
        publish_n(&mut bus, "a.b", 0, 5);
        publish_n(&mut bus, "a.c", 10, 5);
        let (_, b) = bus.subscribe(B, "a.b", None, true).unwrap();
        assert_eq!(ids(&b), [2, 3, 4]);
        let (_, c) = bus.subscribe(B, "a.c", None, true).unwrap();
        assert_eq!(ids(&c), [9]);
        assert_eq!(
            bus.retain("a.*b", 1),
            Err(PatternError::BadToken {
                input: "a.*b".into(),
                token: "*b".into(),
            })
        );
    }

    #[test]
    fn a_cut_publisher_is_not_retained() {
        let mut bus = bus();
        bus.retain(">", 10).unwrap();
        let (sub, _) = bus.subscribe(B, "x", None, false).unwrap();
        let mut out = Vec::new();
        bus.cut(A);
        let id = bus
            .publish(Instant::ZERO, A, "x", Headers::new(), &mut out)
            .unwrap();
        // The fan-out is still given, so the copies are counted as lost.
        assert_eq!(out, [(B, sub)]);
        let mut rng = rng();
        assert_eq!(
            bus.send(Instant::ZERO, Kind::Publish, A, B, &mut rng),
            Fate::Lost(Lost::Partition)
        );
        bus.heal(A);
        let next = bus
            .publish(Instant::ZERO, A, "x", Headers::new(), &mut out)
            .unwrap();
        assert!(next > id);
        let (_, missed) = bus.subscribe(C, "x", None, true).unwrap();
        assert_eq!(ids(&missed), [next]);
    }

    #[test]
    fn publish_fans_out_in_subscription_order() {
        let mut bus = bus();
        let (s0, _) = bus.subscribe(B, "t.*", None, false).unwrap();
        let (s1, _) = bus.subscribe(A, "t.x", None, false).unwrap();
        let eu = Filter::parse("zone=eu").unwrap();
        let (s2, _) = bus.subscribe(C, ">", Some(eu), false).unwrap();
        let (s3, _) = bus.subscribe(B, "t.>", None, false).unwrap();
        let (_s4, _) = bus.subscribe(A, "u.*", None, false).unwrap();
        assert!(s0 < s1 && s1 < s2 && s2 < s3);
        let mut out = vec![(Endpoint(99), SubId(99))]; // cleared first
        let eu = Headers::new().with("zone", "eu");
        bus.publish(Instant::ZERO, A, "t.x", eu.clone(), &mut out)
            .unwrap();
        assert_eq!(out, [(B, s0), (A, s1), (C, s2), (B, s3)]);
        bus.publish(Instant::ZERO, A, "t.x", Headers::new(), &mut out)
            .unwrap();
        assert_eq!(out, [(B, s0), (A, s1), (B, s3)], "the filter drops C");
        bus.publish(Instant::ZERO, A, "t.y.z", eu.clone(), &mut out)
            .unwrap();
        assert_eq!(out, [(C, s2), (B, s3)]);
        // Each copy is sent, and counted, by the caller.
        let mut rng = rng();
        for &(to, _) in &out {
            bus.send(Instant::ZERO, Kind::Publish, A, to, &mut rng);
        }
        assert_eq!(bus.stats().kind(Kind::Publish).sent, 2);

        // Unsubscribing.
        assert!(bus.unsubscribe(s1));
        assert!(!bus.unsubscribe(s1), "already gone");
        assert!(!bus.unsubscribe(SubId(1_000)), "never existed");
        bus.publish(Instant::ZERO, A, "t.x", eu.clone(), &mut out)
            .unwrap();
        assert_eq!(out, [(B, s0), (C, s2), (B, s3)]);
        bus.unsubscribe_all(B);
        bus.publish(Instant::ZERO, A, "t.x", eu.clone(), &mut out)
            .unwrap();
        assert_eq!(out, [(C, s2)]);
        // A new subscription comes last, with a fresh id.
        let (s5, _) = bus.subscribe(B, "t.x", None, false).unwrap();
        assert!(s5 > s3);
        bus.publish(Instant::ZERO, A, "t.x", eu, &mut out).unwrap();
        assert_eq!(out, [(C, s2), (B, s5)]);
    }

    #[test]
    fn publish_needs_a_concrete_topic_and_ids_increase() {
        let mut bus = bus();
        let mut out = Vec::new();
        let mut publish = |t: &str| bus.publish(Instant::ZERO, A, t, Headers::new(), &mut out);
        assert_eq!(publish("a"), Ok(0));
        assert_eq!(
            publish("a.*"),
            Err(PatternError::Wildcard {
                input: "a.*".into()
            })
        );
        assert!(matches!(
            publish("a..b"),
            Err(PatternError::EmptyToken { .. })
        ));
        assert_eq!(publish("b"), Ok(1), "a refused publish takes no id");
        assert!(matches!(
            bus.subscribe(A, "a.>.b", None, false),
            Err(PatternError::TailNotLast { .. })
        ));
    }

    #[test]
    fn broadcast_reaches_every_registered_endpoint_but_the_sender() {
        let mut bus = bus();
        for e in [3, 1, 2, 1].map(Endpoint) {
            bus.register(e);
        }
        let mut out = Vec::new();
        bus.broadcast_targets(Endpoint(2), &mut out);
        assert_eq!(out, [Endpoint(1), Endpoint(3)]);
        bus.broadcast_targets(C, &mut out); // appends
        assert_eq!(
            out,
            [1, 3, 1, 2, 3].map(Endpoint),
            "the control plane is not registered, so it reaches every agent"
        );
    }
}
