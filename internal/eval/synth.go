package eval

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/mlads/mlads/internal/flow"
)

// Synthetic labelled sets where the shared ones are easy: there, most
// malicious flows are inbound traffic of a kind the training half never
// had. Here the malicious traffic is outbound, from hosts that were benign
// in the training half, in an office network with timers of its own:
//
//   - synth-beacons-among-timers: NTP and a polled web service run on
//     timers all along; on the second day three clients beacon every
//     minute to a new server on port 443, with sizes like the poller's;
//   - synth-stealth-scan: on the second day a busy client FIN-scans its
//     subnet slowly, one probe every 5 s for two hours;
//   - synth-slow-exfil: on the second day a client uploads 300 kB every 5
//     minutes for six hours over TLS to a server it never used;
//   - synth-cc-retries: on both days web requests fail now and then and
//     are retried once or twice, and a client keeps retrying a dead
//     printer; on the second day an infected client tries to reach its
//     command-and-control server, which does not answer, in bursts of six
//     attempts every 20 minutes.
//
// The sets are two days long, so the time-ordered split trains on the
// first (benign only). The same seed gives the same flows.
var synthSets = []struct {
	name   string
	attack func(g *synthGen, day time.Time)
}{
	{"synth-beacons-among-timers", (*synthGen).beacons},
	{"synth-stealth-scan", (*synthGen).finScan},
	{"synth-slow-exfil", (*synthGen).exfil},
	{"synth-cc-retries", (*synthGen).ccRetries},
}

// WriteSynthetic writes the synthetic labelled sets into dir as Zeek JSON
// conn logs with a label field, and returns them in evaluation order.
func WriteSynthetic(dir string, seed uint64) ([]Set, error) {
	var sets []Set
	for i, s := range synthSets {
		g := &synthGen{rng: rand.New(rand.NewPCG(seed, uint64(i)+1))}
		day0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		g.office(day0, 2)
		s.attack(g, day0.Add(24*time.Hour))
		slices.SortStableFunc(g.recs, func(a, b flow.Record) int { return a.TS.Compare(b.TS) })
		path := filepath.Join(dir, s.name+".json")
		if err := writeLabelled(path, g.recs); err != nil {
			return nil, err
		}
		sets = append(sets, Set{s.name, path})
	}
	return sets, nil
}

type synthGen struct {
	rng  *rand.Rand
	recs []flow.Record
	n    int
}

func (g *synthGen) client(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, 0, byte(10 + i)}) }

const synthClients = 30

// add appends one flow; sizes are application bytes, packets are derived.
func (g *synthGen) add(ts time.Time, orig, resp netip.Addr, respP uint16, proto, service, state, history string,
	dur time.Duration, ob, rb uint64, label string) {
	g.n++
	op, rp := 1+ob/1400, 1+rb/1400
	if state == "RSTR" || state == "S0" || state == "REJ" {
		op, rp = 1, 0
		if state != "S0" {
			rp = 1
		}
	}
	r := flow.Record{TS: ts, UID: "CS" + strconv.Itoa(g.n), OrigH: orig, OrigP: uint16(32768 + g.rng.IntN(28000)),
		RespH: resp, RespP: respP, Proto: proto, Service: service, ConnState: state, History: history,
		Duration: dur, OrigBytes: ob, RespBytes: rb, OrigPkts: op, RespPkts: rp,
		OrigIPBytes: ob + 40*op, RespIPBytes: rb + 40*rp, Source: flow.SourceZeek, Label: label}
	g.recs = append(g.recs, r)
}

func (g *synthGen) lognormal(mu, sigma float64) uint64 {
	return uint64(math.Exp(mu + sigma*g.rng.NormFloat64()))
}

// office is the benign traffic: browsing, DNS, NTP every 1024 s per
// client, and five clients polling an internal-facing web service every 5
// minutes.
func (g *synthGen) office(start time.Time, days int) {
	end := start.Add(time.Duration(days) * 24 * time.Hour)
	dns, ntp := netip.AddrFrom4([4]byte{10, 0, 0, 1}), netip.AddrFrom4([4]byte{10, 0, 0, 2})
	poll := netip.AddrFrom4([4]byte{198, 51, 100, 10})
	for c := range synthClients {
		h := g.client(c)
		for t := start.Add(time.Duration(g.rng.IntN(1024)) * time.Second); t.Before(end); t = t.Add(1024 * time.Second) {
			g.add(t, h, ntp, 123, flow.ProtoUDP, "ntp", "SF", "Dd", 2*time.Millisecond, 48, 48, "benign")
		}
		if c < 5 {
			for t := start.Add(time.Duration(g.rng.IntN(300)) * time.Second); t.Before(end); t = t.Add(300*time.Second + time.Duration(g.rng.IntN(400))*time.Millisecond) {
				g.add(t, h, poll, 443, flow.ProtoTCP, "ssl", "SF", "ShADadFf", 80*time.Millisecond, 180+uint64(g.rng.IntN(40)), 900+uint64(g.rng.IntN(200)), "benign")
			}
		}
	}
	// browsing and DNS in office hours, about 6 web flows a minute
	for d := start; d.Before(end); d = d.Add(24 * time.Hour) {
		for t := d.Add(8 * time.Hour); t.Before(d.Add(18 * time.Hour)); t = t.Add(time.Duration(g.rng.ExpFloat64() * 10 * float64(time.Second))) {
			h := g.client(g.rng.IntN(synthClients))
			web := netip.AddrFrom4([4]byte{93, 184, byte(g.rng.IntN(4)), byte(g.rng.IntN(50))})
			g.add(t, h, dns, 53, flow.ProtoUDP, "dns", "SF", "Dd", 5*time.Millisecond, 30+uint64(g.rng.IntN(30)), 60+uint64(g.rng.IntN(200)), "benign")
			g.add(t.Add(20*time.Millisecond), h, web, 443, flow.ProtoTCP, "ssl", "SF", "ShADadFf",
				time.Duration(math.Exp(-1+1.2*g.rng.NormFloat64())*float64(time.Second)), g.lognormal(7, 0.8), g.lognormal(10, 1.5), "benign")
		}
	}
}

// beacons: three clients that polled nothing in training call a new
// server every minute (±2 s) with the poller's sizes, for 8 hours.
func (g *synthGen) beacons(day time.Time) {
	cc := netip.AddrFrom4([4]byte{203, 0, 113, 66})
	for _, c := range []int{12, 19, 27} {
		for t := day.Add(9*time.Hour + time.Duration(g.rng.IntN(60))*time.Second); t.Before(day.Add(17 * time.Hour)); t = t.Add(58*time.Second + time.Duration(g.rng.IntN(4000))*time.Millisecond) {
			g.add(t, g.client(c), cc, 443, flow.ProtoTCP, "ssl", "SF", "ShADadFf", 90*time.Millisecond, 180+uint64(g.rng.IntN(40)), 900+uint64(g.rng.IntN(200)), "Malicious/C&C")
		}
	}
}

// finScan: client 15 sends FIN probes to the ports 1..1440 of the
// subnet's hosts, one every 5 s for two hours; closed ports answer with a
// reset.
func (g *synthGen) finScan(day time.Time) {
	for i := range 1440 {
		t := day.Add(10*time.Hour + time.Duration(i)*5*time.Second)
		target := netip.AddrFrom4([4]byte{10, 0, 0, byte(10 + i%synthClients)})
		g.add(t, g.client(15), target, uint16(1+i), flow.ProtoTCP, "", "RSTR", "Fr", 0, 0, 0, "Malicious/PartOfAHorizontalPortScan")
	}
}

// exfil: client 22 uploads 300 kB (±10 %) every 5 minutes for 6 hours to
// a TLS server it never used.
func (g *synthGen) exfil(day time.Time) {
	drop := netip.AddrFrom4([4]byte{192, 0, 2, 77})
	for t := day.Add(11 * time.Hour); t.Before(day.Add(17 * time.Hour)); t = t.Add(5*time.Minute + time.Duration(g.rng.IntN(20))*time.Second) {
		g.add(t, g.client(22), drop, 443, flow.ProtoTCP, "ssl", "SF", "ShADadFf", 2*time.Second, 270000+uint64(g.rng.IntN(60000)), 4000, "Malicious/Exfiltration")
	}
}

// ccRetries: benign failures on both days (a web request refused or
// unanswered, then retried up to twice; client 3 retrying a dead printer
// five times each hour), and on the second day client 8 trying its C&C
// server on 443, six unanswered attempts 10 s apart every 20 minutes for
// eight hours.
func (g *synthGen) ccRetries(day time.Time) {
	printer := netip.AddrFrom4([4]byte{10, 0, 0, 250})
	for d := day.Add(-24 * time.Hour); d.Before(day.Add(24 * time.Hour)); d = d.Add(24 * time.Hour) {
		for t := d.Add(8*time.Hour + time.Duration(g.rng.IntN(3600))*time.Second); t.Before(d.Add(18 * time.Hour)); t = t.Add(time.Duration(g.rng.ExpFloat64() * float64(5*time.Minute))) {
			h := g.client(g.rng.IntN(synthClients))
			web := netip.AddrFrom4([4]byte{93, 184, byte(g.rng.IntN(4)), byte(g.rng.IntN(50))})
			state, history := "S0", "S"
			if g.rng.IntN(2) == 0 {
				state, history = "REJ", "Sr"
			}
			for k := range 1 + g.rng.IntN(2) {
				g.add(t.Add(time.Duration(k)*3*time.Second), h, web, 443, flow.ProtoTCP, "", state, history, 0, 0, 0, "benign")
			}
		}
		for t := d.Add(8 * time.Hour); t.Before(d.Add(18 * time.Hour)); t = t.Add(time.Hour) {
			for k := range 5 {
				g.add(t.Add(time.Duration(k)*20*time.Second), g.client(3), printer, 9100, flow.ProtoTCP, "", "S0", "S", 0, 0, 0, "benign")
			}
		}
	}
	cc := netip.AddrFrom4([4]byte{203, 0, 113, 99})
	for t := day.Add(9 * time.Hour); t.Before(day.Add(17 * time.Hour)); t = t.Add(20 * time.Minute) {
		for k := range 6 {
			g.add(t.Add(time.Duration(k)*10*time.Second), g.client(8), cc, 443, flow.ProtoTCP, "", "S0", "S", 0, 0, 0, "Malicious/C&C-attempt")
		}
	}
}

// writeLabelled writes recs as Zeek JSON conn lines with a label field.
func writeLabelled(path string, recs []flow.Record) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("eval: synthetic set: %w", err)
	}
	w := bufio.NewWriter(f)
	var b []byte
	for i := range recs {
		b = flow.AppendJSON(b[:0], &recs[i])
		b = b[:len(b)-1] // reopen the object
		b = append(b, `,"label":`...)
		b = strconv.AppendQuote(b, recs[i].Label)
		b = append(b, "}\n"...)
		if _, err := w.Write(b); err != nil {
			return fmt.Errorf("eval: synthetic set %s: %w", path, errors.Join(err, f.Close()))
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("eval: synthetic set %s: %w", path, errors.Join(err, f.Close()))
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("eval: synthetic set %s: %w", path, err)
	}
	return nil
}
