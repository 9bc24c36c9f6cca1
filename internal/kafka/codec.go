package kafka

import (
	"fmt"

	"github.com/mlads/mlads/internal/flow"
)

// The flows and victims topics carry flow.Records in mlads's compact
// binary form (flow.AppendBinary) behind a version byte: the topics are
// internal to the group (both ends are mlads), every field is kept exactly
// (nanosecond times, Source, Label), and it costs a fraction of JSON to
// write and read.
const codecVersion = 1

// AppendFlow appends the encoding of r to b.
func AppendFlow(b []byte, r *flow.Record) []byte {
	return flow.AppendBinary(append(b, codecVersion), r)
}

// Decoder decodes flow values. It is not safe for concurrent use.
type Decoder struct {
	dec flow.BinaryDecoder
}

// NewDecoder returns a Decoder.
func NewDecoder() *Decoder { return &Decoder{} }

// Decode decodes value into r (overwritten whole).
func (d *Decoder) Decode(value []byte, r *flow.Record) error {
	if len(value) == 0 || value[0] != codecVersion {
		return fmt.Errorf("flow value: unknown encoding version (mlads versions in the group differ?)")
	}
	if err := d.dec.Decode(value[1:], r); err != nil {
		return fmt.Errorf("flow value: %w", err)
	}
	return nil
}
