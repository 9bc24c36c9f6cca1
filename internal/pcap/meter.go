package pcap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sort"

	"github.com/mlads/mlads/internal/flow"
)

// Config configures ReadFiles.
type Config struct {
	// Table holds the flow table's limits and timeouts.
	Table TableConfig
	// VerifyChecksums verifies IP and transport checksums as Zeek does by
	// default; false is Zeek's -C. It overrides Table.VerifyChecksums.
	VerifyChecksums bool
	// AutoChecksums decides VerifyChecksums for each file from its first
	// packets (Options.AutoChecksums); VerifyChecksums is then ignored.
	AutoChecksums bool
	// Progress, when set, is called about every 64k packets and once at the
	// end of each file. It runs on the goroutine that called ReadFiles (as
	// emit does): keep it short. With several shards, reports may be
	// skipped while emit is busy, and Flows and Active lag a little.
	Progress func(Progress)
	// Shards is the number of flow tables the packets are spread over by
	// HostPairHash, each on a goroutine of its own, with one more goroutine
	// reading and decoding (see meter_shard.go). 1 (the default) meters on
	// the calling goroutine alone; 0 or less means runtime.GOMAXPROCS(0).
	Shards int
}

// DefaultConfig returns Zeek's defaults.
func DefaultConfig() Config {
	return Config{Table: DefaultTableConfig(), VerifyChecksums: true, Shards: 1}
}

// Progress is a snapshot of a ReadFiles run.
type Progress struct {
	File      string // file being read
	FileIndex int    // 0-based index of File in the paths
	Files     int    // number of paths
	FileRead  int64  // bytes of File read so far
	FileSize  int64  // size of File, 0 when unknown (e.g. a pipe)
	BytesRead int64  // bytes read over all files so far
	Packets   uint64 // packets decoded so far
	Flows     uint64 // flows emitted so far
	Active    int    // flows held in the table
}

// KindCount is a number of decode problems of one kind.
type KindCount struct {
	Kind  string
	Count uint64
}

// Summary reports what ReadFiles did.
type Summary struct {
	Files   uint64 // files read (opened successfully)
	Frames  uint64 // frames read
	Packets uint64 // IP packets decoded (outer and tunnelled)
	Flows   uint64 // flows emitted
	Bytes   uint64 // file bytes read

	// DecodeErrors lists the decode problems by kind, sorted by kind name;
	// notes (snaplen-cut, frag-overlap) are included.
	DecodeErrors []KindCount
	// Evicted counts flows reported early because the table was full.
	Evicted uint64
	// Dropped counts state the bounded tables could not keep (tunnel ids,
	// announced data connections).
	Dropped uint64
	// PeakFlows is the most flows held at once (with several shards, the
	// sum of each shard's most).
	PeakFlows int

	Decode DecodeStats // the decoder's counters, summed over files
	Table  TableStats  // the flow table's counters

	// Checksums holds, in auto checksum mode, each file's decision whose
	// verification was switched off (the ones that kept it are not listed).
	Checksums []FileChecksums
}

// FileChecksums is the auto checksum decision made for one file.
type FileChecksums struct {
	File string
	ChecksumDecision
}

// progressEvery is how many packets pass between Progress calls and
// context checks.
const progressEvery = 1 << 16

// ReadFiles meters the captures in order as one stream (one flow table; time
// ordered within each file) and calls emit for every finished flow. The
// *flow.Record is reused and valid only during the call.
//
// A file that cannot be opened or read to the end does not stop the run: its
// error (naming the file and packet) is returned, joined with the others,
// after the remaining files were read. Flows seen before an error are still
// emitted. An error from emit, or the end of ctx, stops the run; what the
// table holds is flushed before ReadFiles returns in every case except an
// emit error.
//
// With cfg.Shards above 1, ReadFiles starts goroutines of its own: one
// reads and decodes, each shard runs a Table, and records come back to the
// calling goroutine, which alone calls emit and cfg.Progress. This is the
// one stage that owns goroutines and channels, although STYLE #4 keeps
// channels between stages in app: here they are parallelism inside the
// stage, not a pipeline between stages, invisible to the caller (the same
// signature, emit never concurrent, every goroutine ended on return, after
// an emit error or the end of ctx too). One core reads and decodes about
// as fast as it meters, so two shards and the reader use two cores well;
// see meter_shard.go for how frames are spread and what differs from one
// shard.
func ReadFiles(ctx context.Context, paths []string, cfg Config, emit func(*flow.Record) error) (Summary, error) {
	n := cfg.Shards
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	if n > 1 {
		return readSharded(ctx, paths, cfg, n, emit)
	}
	var sum Summary
	tc := cfg.Table
	tc.VerifyChecksums = cfg.VerifyChecksums || cfg.AutoChecksums
	tab := NewTable(tc, emit)
	var fm frameMeter
	stop := false
	errs := readFrames(ctx, paths, cfg, &sum, func(pkts []Packet) bool {
		if fm.meter(tab, pkts) != nil {
			stop = true
		}
		return !stop
	}, func(p *Progress) {
		ts := tab.Stats()
		p.Flows, p.Active = ts.Flows, ts.Active
	})
	if tab.Err() == nil {
		_ = tab.Flush()
	}
	if err := tab.Err(); err != nil {
		errs = append(errs, fmt.Errorf("pcap: writing flows: %w", err))
	}
	sum.addTable(tab)
	return sum.finish(errs)
}

// readFrames reads the files in order, decodes every frame and hands its
// Packets to meter, which returns false to stop the run (an emit error).
// It fills the reading half of sum and calls cfg.Progress, completed by
// fill with the flow counts. It returns the errors of the files and of a
// cancelled ctx.
func readFrames(ctx context.Context, paths []string, cfg Config, sum *Summary,
	meter func([]Packet) bool, fill func(*Progress)) []error {
	opt := DefaultOptions()
	opt.VerifyChecksums = cfg.VerifyChecksums
	opt.AutoChecksums = cfg.AutoChecksums
	var errs []error
	var bytesDone int64
	pkts := make([]Packet, 0, maxFramePackets)
	progress := func(p Progress) {
		if cfg.Progress != nil {
			fill(&p)
			cfg.Progress(p)
		}
	}
	stop := false
	for fi, path := range paths {
		if stop {
			break
		}
		src, err := OpenFileOptions(path, opt)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		sum.Files++
		nextProgress := sum.Packets + progressEvery
		for {
			pkts, err = src.Next(pkts[:0])
			if err != nil {
				if !errors.Is(err, io.EOF) {
					errs = append(errs, err)
				}
				break
			}
			if len(pkts) == 0 {
				continue
			}
			sum.Packets += uint64(len(pkts))
			if !meter(pkts) {
				stop = true
				break
			}
			if sum.Packets >= nextProgress {
				nextProgress = sum.Packets + progressEvery
				if ctx.Err() != nil {
					stop = true
					errs = append(errs, fmt.Errorf("pcap: %s: stopped at packet %d: %w", src.Name(), src.Frame(), context.Cause(ctx)))
					break
				}
				progress(Progress{File: path, FileIndex: fi, Files: len(paths), FileRead: src.BytesRead(),
					FileSize: src.Size(), BytesRead: bytesDone + src.BytesRead(), Packets: sum.Packets})
			}
		}
		if d := src.Checksums(); d.Off {
			sum.Checksums = append(sum.Checksums, FileChecksums{File: src.Name(), ChecksumDecision: d})
		}
		st := src.Stats()
		sum.Decode.Add(st)
		sum.Frames += st.Frames
		read := src.BytesRead()
		bytesDone += read
		if cerr := src.Close(); cerr != nil {
			errs = append(errs, fmt.Errorf("pcap: %s: close: %w", src.Name(), cerr))
		}
		progress(Progress{File: path, FileIndex: fi, Files: len(paths), FileRead: read,
			FileSize: src.Size(), BytesRead: bytesDone, Packets: sum.Packets})
		if ctx.Err() != nil && !stop {
			stop = true
			errs = append(errs, fmt.Errorf("pcap: stopped after %s: %w", src.Name(), context.Cause(ctx)))
		}
	}
	sum.Bytes = uint64(bytesDone)
	return errs
}

// frameMeter feeds the Packets of one frame to a Table, linking tunnelled
// packets to their carriers.
type frameMeter struct {
	refs        [maxFramePackets]FlowRef
	tunnelOuter [maxFramePackets]bool
}

// meter adds the packets of one frame (as Source.Next returns them) to tab.
// It returns tab's error, which stops the run.
func (m *frameMeter) meter(tab *Table, pkts []Packet) error {
	// Which packets carry an IP tunnel (GRE, IP-in-IP)? Those are not
	// connections in Zeek; their inner packets name a tunnel id.
	for i := range pkts {
		m.tunnelOuter[i] = false
	}
	for i := range pkts {
		p := &pkts[i]
		if p.Parent >= 0 && int(p.Parent) < i && (p.Tunnel == TunnelGRE || p.Tunnel == TunnelIP) &&
			pkts[p.Parent].IPProto != ipProtoUDP {
			m.tunnelOuter[p.Parent] = true
		}
	}
	for i := range pkts {
		p := &pkts[i]
		var parent FlowRef
		if p.Parent >= 0 && int(p.Parent) < i {
			parent = m.refs[p.Parent]
		}
		if m.tunnelOuter[i] {
			m.refs[i] = tab.TunnelRef(p.Src, p.Dst, p.TS)
			continue
		}
		ref, err := tab.Add(p, parent)
		if err != nil {
			return err
		}
		m.refs[i] = ref
		if p.Parent >= 0 && int(p.Parent) < i && !m.tunnelOuter[p.Parent] && p.Tunnel != "" &&
			pkts[p.Parent].IPProto == ipProtoUDP {
			tab.MarkService(m.refs[p.Parent], p.Tunnel)
		}
	}
	return nil
}

// addTable adds a flow table's counters to the summary.
func (s *Summary) addTable(tab *Table) {
	ts := tab.Stats()
	s.Table.Packets += ts.Packets
	s.Table.Flows += ts.Flows
	s.Table.Active += ts.Active
	s.Table.Peak += ts.Peak
	s.Table.Evicted += ts.Evicted
	s.Table.Tunnels += ts.Tunnels
	s.Table.TunDrops += ts.TunDrops
	s.Table.HistCut += ts.HistCut
	s.Flows += ts.Flows
	s.Evicted += ts.Evicted
	s.Dropped += ts.TunDrops + tab.expect.dropped
	s.PeakFlows += ts.Peak
}

// finish lists the decode problems and joins the errors.
func (s *Summary) finish(errs []error) (Summary, error) {
	for k, c := range s.Decode.Errors {
		if c > 0 {
			s.DecodeErrors = append(s.DecodeErrors, KindCount{Kind: ErrKind(k).String(), Count: c})
		}
	}
	sort.Slice(s.DecodeErrors, func(i, j int) bool { return s.DecodeErrors[i].Kind < s.DecodeErrors[j].Kind })
	return *s, errors.Join(errs...)
}
