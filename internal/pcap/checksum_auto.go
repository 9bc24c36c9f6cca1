package pcap

import (
	"fmt"

	"github.com/gopacket/gopacket/layers"
)

// Checksum verification in auto mode (Options.AutoChecksums) works the way
// Suricata's checksum-validation "auto" does (ChecksumAutoModeCheck in its
// util-checksum.c): the first packets are a sample; when more than one in
// ten of them fail their checksum, the capture is taken to come from a host
// whose network card fills checksums in after the capture point (checksum
// offloading), and checksums are no longer verified. Otherwise they stay
// verified to the end, so a capture with a few corrupt packets keeps
// dropping those.
//
// Unlike Suricata, the sample is not lost to the decision: its frames are
// copied and held until the decision is made, then decoded with the
// outcome. So an offloaded capture gives exactly the flows it gives with
// verification off (-C), and a clean one exactly those it gives with it on.

// Suricata's constants: CHECKSUM_SAMPLE_COUNT and CHECKSUM_INVALID_RATIO.
const (
	// AutoChecksumSample is how many checksummed packets decide auto mode.
	AutoChecksumSample = 1000
	// AutoChecksumRatio: verification is switched off when more than one
	// in AutoChecksumRatio sampled packets fails.
	AutoChecksumRatio = 10
)

// Bounds of the held sample, so that a stream of frames that carry no
// checksummed packet (ARP, say) or jumbo frames cannot grow it without end:
// reaching either decides on the sample as it is.
const (
	autoMaxFrames = 4 * AutoChecksumSample
	autoMaxBytes  = 8 << 20
)

// ChecksumDecision is what auto mode decided, for reports.
type ChecksumDecision struct {
	Auto    bool   // auto mode was asked for
	Decided bool   // the sample was complete (or the input ended)
	Off     bool   // verification was switched off
	Sampled uint64 // checksummed packets in the sample
	Failed  uint64 // of which failed a checksum
}

// String says what was decided in one line.
func (d ChecksumDecision) String() string {
	switch {
	case !d.Auto:
		return "checksums not in auto mode"
	case !d.Decided:
		return fmt.Sprintf("checksum auto mode: still sampling (%d of %d packets bad so far)", d.Failed, d.Sampled)
	case d.Off:
		return fmt.Sprintf("%d of %d sampled packets had bad checksums (more than 1 in %d: checksum offloading): checksums are not verified, as with -C",
			d.Failed, d.Sampled, AutoChecksumRatio)
	default:
		return fmt.Sprintf("%d of %d sampled packets had bad checksums (at most 1 in %d): checksums stay verified",
			d.Failed, d.Sampled, AutoChecksumRatio)
	}
}

// heldFrame is a frame copied into the sample buffer.
type heldFrame struct {
	frame uint64
	ts    int64
	lt    layers.LinkType
	wire  int
	off   int // into checksumAuto.buf
	n     int
}

// checksumAuto holds the sample of auto mode until the decision.
type checksumAuto struct {
	probe   decoder // verifies, only to count failures; its packets are dropped
	probed  []Packet
	res     ChecksumDecision
	held    []heldFrame
	buf     []byte
	replay  int // next held frame to decode after the decision
	decided bool
}

func newChecksumAuto(opt Options) *checksumAuto {
	a := &checksumAuto{res: ChecksumDecision{Auto: true}, probed: make([]Packet, 0, maxFramePackets)}
	opt.VerifyChecksums = true
	a.probe.init(opt)
	return a
}

// hold copies a frame into the sample and counts its checksums. It reports
// whether the sample is complete.
func (a *checksumAuto) hold(frame uint64, ts int64, lt layers.LinkType, data []byte, wire int) bool {
	before := a.probe.stats.Errors[ErrBadIPChecksum] + a.probe.stats.Errors[ErrIPLenZero]
	a.probed = a.probe.decodeFrame(a.probed[:0], frame, ts, lt, data, wire)
	dropped := a.probe.stats.Errors[ErrBadIPChecksum] + a.probe.stats.Errors[ErrIPLenZero] - before
	a.res.Sampled += dropped
	a.res.Failed += dropped
	for i := range a.probed {
		p := &a.probed[i]
		switch p.IPProto {
		case ipProtoTCP, ipProtoUDP, ipProtoICMP, ipProtoICMPv6:
			a.res.Sampled++
			if p.BadChecksum {
				a.res.Failed++
			}
		}
	}
	a.held = append(a.held, heldFrame{frame: frame, ts: ts, lt: lt, wire: wire, off: len(a.buf), n: len(data)})
	a.buf = append(a.buf, data...)
	return a.res.Sampled >= AutoChecksumSample || len(a.held) >= autoMaxFrames || len(a.buf) >= autoMaxBytes
}

// decide makes the decision on the sample held so far and sets d's
// verification accordingly.
func (a *checksumAuto) decide(d *decoder) {
	if a.decided {
		return
	}
	a.decided = true
	a.res.Decided = true
	// Suricata: iface_count / iface_fail < CHECKSUM_INVALID_RATIO.
	a.res.Off = a.res.Failed > 0 && a.res.Sampled/a.res.Failed < AutoChecksumRatio
	d.opt.VerifyChecksums = !a.res.Off
	a.probe = decoder{} // its fragment state is not needed any more
}

// next decodes the next held frame with d, after the decision. It returns
// false when every held frame was handed out, and then frees the sample.
func (a *checksumAuto) next(d *decoder, dst []Packet) ([]Packet, uint64, bool) {
	if a.replay >= len(a.held) {
		a.held, a.buf = nil, nil
		return dst, 0, false
	}
	h := a.held[a.replay]
	a.replay++
	return d.decodeFrame(dst[:0], h.frame, h.ts, h.lt, a.buf[h.off:h.off+h.n], h.wire), h.frame, true
}
