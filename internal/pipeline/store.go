package pipeline

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/mlads/mlads/internal/flow"
)

// Store keeps the flows of a batch command's one pass over its inputs, so
// that they are scored after the model is learned without reading and
// decoding the inputs a second time. The first MemFlows flows are kept in
// memory; later ones go to a spill file in a compact binary form (about a
// third of a record's size in memory), in a temporary folder, removed by
// Close. Each returns them in the order they were added.
//
// In memory the flows are kept in chunks of chunkFlows: a growing slice
// would copy every record kept each time it doubled, and leave the old
// copies to the collector.
type Store struct {
	mem      [][]flow.Record // full chunks, then the one being filled
	n        int             // flows in mem
	memFlows int
	dir      string // where the spill file goes; "" is os.TempDir

	spill   *os.File
	w       *bufio.Writer
	spilled int
	buf     []byte
}

// DefaultMemFlows is how many flows a Store keeps in memory by default:
// about 100 MB of records.
const DefaultMemFlows = 1 << 18

// chunkFlows is how many records one chunk of a Store's memory holds.
const chunkFlows = 4096

// NewStore returns an empty Store keeping memFlows flows in memory (≤ 0:
// DefaultMemFlows) and spilling the rest into a file in dir ("" for the
// system's temporary folder).
func NewStore(memFlows int, dir string) *Store {
	if memFlows <= 0 {
		memFlows = DefaultMemFlows
	}
	return &Store{memFlows: memFlows, dir: dir}
}

// Add keeps a copy of r.
func (s *Store) Add(r *flow.Record) error {
	if s.n < s.memFlows {
		if len(s.mem) == 0 || len(s.mem[len(s.mem)-1]) == chunkFlows {
			s.mem = append(s.mem, make([]flow.Record, 0, min(chunkFlows, s.memFlows-s.n)))
		}
		last := &s.mem[len(s.mem)-1]
		*last = append(*last, *r)
		c := &(*last)[len(*last)-1]
		c.TunnelParents = slices.Clone(r.TunnelParents) // the parser may reuse its backing array
		s.n++
		return nil
	}
	if s.spill == nil {
		f, err := os.CreateTemp(s.dir, "mlads-flows-*.spill")
		if err != nil {
			return fmt.Errorf("flow spill file: %w", err)
		}
		s.spill, s.w = f, bufio.NewWriterSize(f, 1<<20)
	}
	s.buf = appendRecord(s.buf[:0], r)
	if _, err := s.w.Write(s.buf); err != nil {
		return fmt.Errorf("flow spill file %s: %w", s.spill.Name(), err)
	}
	s.spilled++
	return nil
}

// Len returns the number of flows kept.
func (s *Store) Len() int { return s.n + s.spilled }

// Spilled returns how many of the flows kept are in the spill file.
func (s *Store) Spilled() int { return s.spilled }

// Each calls fn with every flow kept, in order, until fn fails. The record
// is reused between calls: fn copies what it keeps.
func (s *Store) Each(fn func(r *flow.Record) error) error {
	for _, chunk := range s.mem {
		for i := range chunk {
			if err := fn(&chunk[i]); err != nil {
				return err
			}
		}
	}
	if s.spill == nil {
		return nil
	}
	if err := s.w.Flush(); err != nil {
		return fmt.Errorf("flow spill file %s: %w", s.spill.Name(), err)
	}
	br := bufio.NewReaderSize(io.NewSectionReader(s.spill, 0, 1<<62), 1<<20)
	var d decoder
	var r flow.Record
	for range s.spilled {
		if err := d.read(br, &r); err != nil {
			return fmt.Errorf("flow spill file %s: %w", s.spill.Name(), err)
		}
		if err := fn(&r); err != nil {
			return err
		}
	}
	return nil
}

// Close removes the spill file, if any.
func (s *Store) Close() error {
	s.mem, s.n = nil, 0
	if s.spill == nil {
		return nil
	}
	name := s.spill.Name()
	err := errors.Join(s.spill.Close(), os.Remove(name))
	s.spill = nil
	if err != nil {
		return fmt.Errorf("flow spill file %s: %w", name, err)
	}
	return nil
}

// appendRecord appends r's spill form: its length, then r in
// flow.AppendBinary's form. Label is kept: eval reads it.
func appendRecord(b []byte, r *flow.Record) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0) // record length, set at the end
	b = flow.AppendBinary(b, r)
	binary.LittleEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b
}

// decoder reads spilled records back.
type decoder struct {
	rec []byte
	dec flow.BinaryDecoder
}

func (d *decoder) read(br *bufio.Reader, r *flow.Record) error {
	var n [4]byte
	if _, err := io.ReadFull(br, n[:]); err != nil {
		return fmt.Errorf("record header: %w", err)
	}
	size := int(binary.LittleEndian.Uint32(n[:]))
	d.rec = slices.Grow(d.rec[:0], size)[:size]
	if _, err := io.ReadFull(br, d.rec); err != nil {
		return fmt.Errorf("record of %d bytes: %w", size, err)
	}
	return d.dec.Decode(d.rec, r)
}
