package pcap

import (
	"context"
	"errors"
	"fmt"
	"io"
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
	// Progress, when set, is called about every 64k packets and once at the
	// end of each file. It runs on the metering goroutine: keep it short.
	Progress func(Progress)
}

// DefaultConfig returns Zeek's defaults.
func DefaultConfig() Config {
	return Config{Table: DefaultTableConfig(), VerifyChecksums: true}
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
	// PeakFlows is the most flows held at once.
	PeakFlows int

	Decode DecodeStats // the decoder's counters, summed over files
	Table  TableStats  // the flow table's counters
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
func ReadFiles(ctx context.Context, paths []string, cfg Config, emit func(*flow.Record) error) (Summary, error) {
	var sum Summary
	tc := cfg.Table
	tc.VerifyChecksums = cfg.VerifyChecksums
	tab := NewTable(tc, emit)
	opt := DefaultOptions()
	opt.VerifyChecksums = cfg.VerifyChecksums

	var errs []error
	var bytesDone int64
	pkts := make([]Packet, 0, maxFramePackets)
	var refs [maxFramePackets]FlowRef
	var tunnelOuter [maxFramePackets]bool

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
			// Which packets carry an IP tunnel (GRE, IP-in-IP)? Those are not
			// connections in Zeek; their inner packets name a tunnel id.
			for i := range pkts {
				tunnelOuter[i] = false
			}
			for i := range pkts {
				p := &pkts[i]
				if p.Parent >= 0 && int(p.Parent) < i && (p.Tunnel == TunnelGRE || p.Tunnel == TunnelIP) &&
					pkts[p.Parent].IPProto != ipProtoUDP {
					tunnelOuter[p.Parent] = true
				}
			}
			for i := range pkts {
				p := &pkts[i]
				var parent FlowRef
				if p.Parent >= 0 && int(p.Parent) < i {
					parent = refs[p.Parent]
				}
				if tunnelOuter[i] {
					refs[i] = tab.TunnelRef(p.Src, p.Dst, p.TS)
					continue
				}
				ref, err := tab.Add(p, parent)
				if err != nil {
					stop = true
					break
				}
				refs[i] = ref
				if p.Parent >= 0 && int(p.Parent) < i && !tunnelOuter[p.Parent] && p.Tunnel != "" &&
					pkts[p.Parent].IPProto == ipProtoUDP {
					tab.MarkService(refs[p.Parent], p.Tunnel)
				}
			}
			sum.Packets += uint64(len(pkts))
			if stop {
				break
			}
			if sum.Packets >= nextProgress {
				nextProgress = sum.Packets + progressEvery
				if ctx.Err() != nil {
					stop = true
					errs = append(errs, fmt.Errorf("pcap: %s: stopped at packet %d: %w", src.Name(), src.Frame(), context.Cause(ctx)))
					break
				}
				if cfg.Progress != nil {
					ts := tab.Stats()
					cfg.Progress(Progress{File: path, FileIndex: fi, Files: len(paths), FileRead: src.BytesRead(),
						FileSize: src.Size(), BytesRead: bytesDone + src.BytesRead(), Packets: sum.Packets,
						Flows: ts.Flows, Active: ts.Active})
				}
			}
		}
		st := src.Stats()
		sum.Decode.Add(st)
		sum.Frames += st.Frames
		read := src.BytesRead()
		bytesDone += read
		if cerr := src.Close(); cerr != nil {
			errs = append(errs, fmt.Errorf("pcap: %s: close: %w", src.Name(), cerr))
		}
		if cfg.Progress != nil {
			ts := tab.Stats()
			cfg.Progress(Progress{File: path, FileIndex: fi, Files: len(paths), FileRead: read,
				FileSize: src.Size(), BytesRead: bytesDone, Packets: sum.Packets, Flows: ts.Flows, Active: ts.Active})
		}
		if ctx.Err() != nil && !stop {
			stop = true
			errs = append(errs, fmt.Errorf("pcap: stopped after %s: %w", src.Name(), context.Cause(ctx)))
		}
	}

	if tab.Err() == nil {
		_ = tab.Flush()
	}
	if err := tab.Err(); err != nil {
		errs = append(errs, fmt.Errorf("pcap: writing flows: %w", err))
	}
	ts := tab.Stats()
	sum.Table = ts
	sum.Flows = ts.Flows
	sum.Evicted = ts.Evicted
	sum.Dropped = ts.TunDrops + tab.expect.dropped
	sum.PeakFlows = ts.Peak
	sum.Bytes = uint64(bytesDone)
	for k, c := range sum.Decode.Errors {
		if c > 0 {
			sum.DecodeErrors = append(sum.DecodeErrors, KindCount{Kind: ErrKind(k).String(), Count: c})
		}
	}
	sort.Slice(sum.DecodeErrors, func(i, j int) bool { return sum.DecodeErrors[i].Kind < sum.DecodeErrors[j].Kind })
	return sum, errors.Join(errs...)
}
