package pcap

import (
	"bytes"
	"time"

	"github.com/mlads/mlads/internal/flow"
)

// TableConfig holds the flow table's limits and Zeek's connection timeouts.
// All times are measured on packet timestamps, never on the wall clock. A
// zero limit or timeout means Zeek's default (see DefaultTableConfig).
type TableConfig struct {
	// MaxFlows bounds the number of connections held at once. When a new
	// connection would exceed it, the connection closest to its timeout is
	// evicted (reported early) and counted in Stats.Evicted.
	MaxFlows int

	// Zeek's timeouts (names as in Zeek's init-bare.zeek).
	TCPInactivity     time.Duration // tcp_inactivity_timeout, 5 min
	UDPInactivity     time.Duration // udp_inactivity_timeout, 1 min
	ICMPInactivity    time.Duration // icmp_inactivity_timeout, 1 min
	UnknownInactivity time.Duration // unknown_ip_inactivity_timeout, 1 min
	TCPAttemptDelay   time.Duration // tcp_attempt_delay, 5 s
	TCPCloseDelay     time.Duration // tcp_close_delay, 5 s
	TCPConnLinger     time.Duration // tcp_connection_linger, 5 s
	TCPSessionTimer   time.Duration // tcp_session_timer, 6 s
	TCPSYNTimeout     time.Duration // tcp_SYN_timeout, 5 s
	TunnelTimeout     time.Duration // ip_tunnel_timeout, 24 h (GRE/IP-in-IP tunnel ids)

	// VLANInKey makes the 802.1Q tags part of the connection key, so the
	// same 5-tuple on two VLANs gives two connections. Zeek's default key is
	// the 5-tuple alone (false).
	VLANInKey bool

	// VerifyChecksums makes packets whose transport checksum the decoder
	// found wrong count as Zeek counts them (history 'C', not analysed).
	// When false they are treated as good packets (Zeek's -C).
	VerifyChecksums bool

	// Source is what the records' source field says: flow.SourcePcap
	// (the zero value means it too) or flow.SourceLive.
	Source flow.Source

	// UIDSeed makes the generated uids differ between runs that should not
	// share them; the same seed and input give the same uids.
	UIDSeed uint64
}

// DefaultTableConfig returns Zeek's defaults and a limit of one million flows.
func DefaultTableConfig() TableConfig {
	return TableConfig{
		MaxFlows:          1 << 20,
		TCPInactivity:     5 * time.Minute,
		UDPInactivity:     time.Minute,
		ICMPInactivity:    time.Minute,
		UnknownInactivity: time.Minute,
		TCPAttemptDelay:   5 * time.Second,
		TCPCloseDelay:     5 * time.Second,
		TCPConnLinger:     5 * time.Second,
		TCPSessionTimer:   6 * time.Second,
		TCPSYNTimeout:     5 * time.Second,
		TunnelTimeout:     24 * time.Hour,
		VerifyChecksums:   true,
	}
}

// TableStats counts what the table did.
type TableStats struct {
	Packets  uint64 // packets given to Add
	Flows    uint64 // connections emitted
	Active   int    // connections held now
	Peak     int    // most connections held at once
	Evicted  uint64 // connections reported early because MaxFlows was reached
	Tunnels  int    // GRE/IP-in-IP tunnel ids held
	TunDrops uint64 // tunnel ids not kept because the tunnel table was full
	HistCut  uint64 // connections whose history outgrew its buffer
}

// FlowRef identifies the connection a packet was counted in; the meter uses
// it to name the tunnel parent of packets carried inside that packet.
type FlowRef struct {
	slot uint32
	gen  uint32
	uid  uint64 // uid sequence number; 0 means none
}

// Valid reports whether the reference names a connection or tunnel.
func (r FlowRef) Valid() bool { return r.uid != 0 }

// flowKey is the connection key: both endpoints in a canonical order so a
// packet and its reply find the same entry. Fixed size and comparable, so it
// hashes without allocating.
type flowKey struct {
	loAddr, hiAddr [16]byte
	loPort, hiPort uint16
	proto          uint8
	vlan, inner    uint16
}

// conn is one connection's state. Slots live in Table.flows and are reused.
type conn struct {
	key      flowKey
	gen      uint32
	live     bool
	origLo   bool // the originator is the key's lo endpoint
	v6       bool
	proto    uint8
	histLen  uint8
	nsvc     uint8
	nparent  uint8
	nOrigPay uint8 // payload packets inspected per direction
	nRespPay uint8
	tcp      *tcpConn // nil for non-TCP

	uid      uint64
	first    int64
	last     int64 // Zeek's last_time (not advanced after both TCP sides closed)
	deadline int64 // removal time given the current state
	schedSec int64 // wheel second of this flow's live wheel entry

	vlan, inner uint16
	icmpCode    uint16
	origPort    uint16
	respPort    uint16

	histSeen uint32

	orig, resp side

	svc     [3]uint8
	parents [2]uint64 // tunnel parents beyond two are not kept
	hist    [32]byte
	svcHint svcState
}

// side holds the per-direction counters every transport shares.
type side struct {
	pkts    uint64
	ipBytes uint64
	size    int64 // UDP/ICMP payload bytes; -1 until a packet was seen (Zeek's request_len)
	chkCnt  uint32
}

// Table folds packets into bidirectional connections the way Zeek's session
// manager and transport analyzers do, and emits each connection as a
// flow.Record when it ends, times out, is evicted, or at Flush.
//
// A Table is not safe for concurrent use. Add allocates nothing per packet in
// the steady state: keys are fixed-size structs, connection state lives in
// reused slots and per-connection TCP state in a reused pool.
type Table struct {
	cfg  TableConfig
	emit func(*flow.Record) error

	index   flowIndex
	flows   []conn
	free    []uint32
	tcpPool []*tcpConn

	wheel   wheel
	uids    uidGen
	tunnels map[tunnelKey]tunnelEntry
	expect  expectTable

	rec     flow.Record
	parents []string
	svcBuf  []byte
	strs    map[string]string // interned history and service strings
	now     int64
	err     error

	stats TableStats
}

// NewTable returns an empty table that hands finished connections to emit.
// The *flow.Record passed to emit is reused: it is valid only during the call.
// An error from emit stops the table; Add and Flush then return it.
func NewTable(cfg TableConfig, emit func(*flow.Record) error) *Table {
	def := DefaultTableConfig()
	if cfg.MaxFlows <= 0 {
		cfg.MaxFlows = def.MaxFlows
	}
	for _, d := range []struct{ v, def *time.Duration }{
		{&cfg.TCPInactivity, &def.TCPInactivity}, {&cfg.UDPInactivity, &def.UDPInactivity},
		{&cfg.ICMPInactivity, &def.ICMPInactivity}, {&cfg.UnknownInactivity, &def.UnknownInactivity},
		{&cfg.TCPAttemptDelay, &def.TCPAttemptDelay}, {&cfg.TCPCloseDelay, &def.TCPCloseDelay},
		{&cfg.TCPConnLinger, &def.TCPConnLinger}, {&cfg.TCPSessionTimer, &def.TCPSessionTimer},
		{&cfg.TCPSYNTimeout, &def.TCPSYNTimeout}, {&cfg.TunnelTimeout, &def.TunnelTimeout},
	} {
		if *d.v <= 0 {
			*d.v = *d.def
		}
	}
	if cfg.Source == flow.SourceUnknown {
		cfg.Source = flow.SourcePcap
	}
	hint := min(cfg.MaxFlows, 4096) // grows on demand up to MaxFlows
	t := &Table{
		cfg:     cfg,
		emit:    emit,
		index:   newFlowIndex(hint),
		flows:   make([]conn, 0, hint),
		tunnels: make(map[tunnelKey]tunnelEntry),
		parents: make([]string, 0, 4),
		svcBuf:  make([]byte, 0, 64),
		strs:    make(map[string]string),
	}
	t.uids.init(cfg.UIDSeed)
	t.expect.init()
	return t
}

// Stats returns the table's counters.
func (t *Table) Stats() TableStats {
	s := t.stats
	s.Active = t.index.len()
	s.Tunnels = len(t.tunnels)
	return s
}

// Err returns the error that stopped the table, if any.
func (t *Table) Err() error { return t.err }

// makeKey builds the canonical key of p; srcLo reports whether p's source is
// the key's lo endpoint.
func (t *Table) makeKey(p *Packet, sport, dport uint16) (k flowKey, srcLo bool) {
	return makeKey(p, sport, dport, t.cfg.VLANInKey)
}

func makeKey(p *Packet, sport, dport uint16, vlanInKey bool) (k flowKey, srcLo bool) {
	c := bytes.Compare(p.Src[:], p.Dst[:])
	srcLo = c < 0 || (c == 0 && sport <= dport)
	if srcLo {
		k.loAddr, k.hiAddr, k.loPort, k.hiPort = p.Src, p.Dst, sport, dport
	} else {
		k.loAddr, k.hiAddr, k.loPort, k.hiPort = p.Dst, p.Src, dport, sport
	}
	k.proto = p.IPProto
	if vlanInKey {
		k.vlan, k.inner = p.VLAN, p.InnerVLAN
	}
	return k, srcLo
}

// Add counts p in its connection, creating, ending or replacing connections
// as Zeek would, and returns a reference to the connection. parent, when
// valid, is the tunnel connection that carried p.
func (t *Table) Add(p *Packet, parent FlowRef) (FlowRef, error) {
	if t.err != nil {
		return FlowRef{}, t.err
	}
	t.stats.Packets++
	if p.TS > t.now {
		t.now = p.TS
		t.wheel.advance(t, p.TS)
		if t.err != nil {
			return FlowRef{}, t.err
		}
	}

	sport, dport := p.SrcPort, p.DstPort
	switch p.IPProto {
	case ipProtoTCP, ipProtoUDP:
	case ipProtoICMP:
		sport, dport = p.SrcPort, icmp4Counterpart(p.SrcPort, p.DstPort)
	case ipProtoICMPv6:
		sport, dport = p.SrcPort, icmp6Counterpart(p.SrcPort, p.DstPort)
	default:
		sport, dport = 0, 0
	}
	k, srcLo := t.makeKey(p, sport, dport)

	slot, ok := t.index.find(t.flows, &k)
	if ok {
		f := &t.flows[slot]
		if p.TS >= f.deadline || (f.tcp != nil && f.tcp.isReuse(p, f.origLo == srcLo)) {
			t.finish(slot)
			if t.err != nil {
				return FlowRef{}, t.err
			}
			ok = false
		}
	}
	if !ok {
		slot = t.create(k, p, srcLo, sport, dport)
		if t.err != nil {
			return FlowRef{}, t.err
		}
	}
	f := &t.flows[slot]
	isOrig := f.origLo == srcLo
	if parent.Valid() {
		f.addParent(parent.uid)
	}

	switch f.proto {
	case ipProtoTCP:
		t.tcpPacket(f, p, isOrig)
	case ipProtoUDP:
		t.udpPacket(f, p, isOrig)
	default:
		t.otherPacket(f, p, isOrig)
	}
	t.schedule(slot, f)
	return FlowRef{slot: slot, gen: f.gen, uid: f.uid}, nil
}

// create makes a new connection for p, evicting one when the table is full.
func (t *Table) create(k flowKey, p *Packet, srcLo bool, sport, dport uint16) uint32 {
	if t.index.len() >= t.cfg.MaxFlows {
		t.evictOne()
		if t.err != nil {
			return 0
		}
	}
	var slot uint32
	if n := len(t.free); n > 0 {
		slot = t.free[n-1]
		t.free = t.free[:n-1]
	} else {
		t.flows = append(t.flows, conn{})
		slot = uint32(len(t.flows) - 1)
	}
	f := &t.flows[slot]
	gen := f.gen + 1
	*f = conn{key: k, gen: gen, live: true, proto: p.IPProto, v6: p.V6, uid: t.uids.next(),
		first: p.TS, last: p.TS, vlan: p.VLAN, inner: p.InnerVLAN, schedSec: -1}
	f.orig.size, f.resp.size = -1, -1
	f.origLo = srcLo

	flip := false
	switch p.IPProto {
	case ipProtoTCP:
		f.tcp = t.getTCP()
		flip = tcpWantFlip(p)
	case ipProtoUDP:
		flip = likelyServerPort(p.SrcPort, true) && !likelyServerPort(p.DstPort, true)
	}
	if flip && isBroadcastOrMulticast(p.Dst, p.V6) {
		// A packet to a broadcast or multicast address is not a reply,
		// whatever its ports say (Zeek btest core.udp-broadcast-no-flip,
		// and DHCP offers to 255.255.255.255:68 stay unflipped).
		flip = false
	}
	if srcLo {
		f.origPort, f.respPort = k.loPort, k.hiPort
	} else {
		f.origPort, f.respPort = k.hiPort, k.loPort
	}
	if p.IPProto == ipProtoICMP || p.IPProto == ipProtoICMPv6 {
		// Zeek logs the type in orig_p and the counterpart type (or the
		// code, for one-way messages) in resp_p.
		f.origPort, f.respPort = sport, dport
		f.icmpCode = p.DstPort
	}
	if flip {
		f.origLo = !f.origLo
		f.origPort, f.respPort = f.respPort, f.origPort
		f.addHistory('^')
	}
	if sv := t.expect.lookup(f, p.TS); sv != 0 {
		f.addService(sv)
	}
	t.index.insert(&k, slot)
	if n := t.index.len(); n > t.stats.Peak {
		t.stats.Peak = n
	}
	return slot
}

// isBroadcastOrMulticast reports whether a is the IPv4 limited broadcast
// address or a multicast address.
func isBroadcastOrMulticast(a [16]byte, v6 bool) bool {
	if v6 {
		return a[0] == 0xff
	}
	return a[12]&0xf0 == 0xe0 || (a[12] == 0xff && a[13] == 0xff && a[14] == 0xff && a[15] == 0xff)
}

// MarkService adds a service name to the connection ref names, if it is
// still held; the meter calls it for UDP connections found to carry a tunnel.
func (t *Table) MarkService(ref FlowRef, name string) {
	if int(ref.slot) >= len(t.flows) {
		return
	}
	f := &t.flows[ref.slot]
	if !f.live || f.gen != ref.gen {
		return
	}
	if id := serviceID(name); id != 0 {
		f.addService(id)
	}
}

func (t *Table) getTCP() *tcpConn {
	if n := len(t.tcpPool); n > 0 {
		c := t.tcpPool[n-1]
		t.tcpPool = t.tcpPool[:n-1]
		*c = tcpConn{}
		c.init()
		return c
	}
	c := &tcpConn{}
	c.init()
	return c
}

func (t *Table) putTCP(c *tcpConn) { t.tcpPool = append(t.tcpPool, c) }
