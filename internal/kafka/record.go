package kafka

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/mlads/mlads/internal/eve"
	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/input"
	"github.com/mlads/mlads/internal/jscan"
	"github.com/mlads/mlads/internal/zeek"
)

// Parser turns record values of the input topics into flows, with the
// same parsers as files: zeek.Parser for Zeek JSON logs, plain or tagged
// with their log name as Zeek's Kafka writer publishes them
// ({"conn": {...}}), and eve.Parser for EVE JSON. The format is told per
// record (input.DetectBytes), so one topic may carry both. Records of
// other logs (dns, http, alerts, ...) are skipped and counted.
//
// EVE netflow halves wait for their partner in one eve.Pairer; the caller
// flushes it (FlushNetflow) at the end of each transaction, so a pair
// split across two transactions comes out as two one-sided flows.
type Parser struct {
	zeek   *zeek.Parser
	eve    *eve.Parser
	pairer *eve.Pairer
	it     jscan.Iter

	// Skipped counts records that carry no flow: other Zeek logs, other
	// EVE event types, empty values.
	Skipped int64
}

// NewParser returns a Parser.
func NewParser() *Parser {
	pr := eve.NewPairer()
	return &Parser{zeek: zeek.NewParser("kafka"), eve: pr.NewParser("kafka"), pairer: pr}
}

// Parse parses one record value into r. ok is false for a record that
// carries no flow (or the first netflow half of a pair). The error of a bad
// record names its topic, partition and offset (the parsers' "line" is the
// offset).
func (p *Parser) Parse(topic string, partition int32, offset int64, value []byte, r *flow.Record) (ok bool, err error) {
	v := bytes.TrimSpace(value)
	if len(v) == 0 || v[0] != '{' {
		if len(v) == 0 {
			p.Skipped++
			return false, nil
		}
		return false, fmt.Errorf("kafka: topic %s partition %d offset %d: not a JSON object: %.80q", topic, partition, offset, v)
	}
	if inner, log, tagged := p.untag(v); tagged {
		if log != "conn" {
			p.Skipped++
			return false, nil
		}
		v = inner
	}
	switch input.DetectBytes(v) {
	case input.EVE:
		p.eve.SetLineNumber(offset - 1)
		ok, err = p.eve.ParseLine(v, r)
		if !ok && err == nil {
			p.Skipped++
		}
	default:
		p.zeek.SetLineNumber(offset - 1)
		ok, err = p.zeek.ParseLine(v, r)
		if !ok && err == nil {
			p.Skipped++
		}
	}
	if err != nil {
		return false, fmt.Errorf("kafka: topic %s partition %d offset %d: %w", topic, partition, offset, err)
	}
	return ok, nil
}

// untag recognises Zeek's tagged form, {"<log>": {...}}: an object whose
// only member is an object.
func (p *Parser) untag(v []byte) (inner []byte, log string, ok bool) {
	it := &p.it
	if it.Init(v) != nil {
		return nil, "", false
	}
	key, _, kind, val, err := it.Next()
	if err != nil || kind != jscan.Object {
		return nil, "", false
	}
	// val runs from the inner object's '{' to the end of the record
	// (the scanner is lazy about nested objects); what follows the inner
	// object is the outer one's '}', once the scan has reached its end
	start := len(v) - len(val)
	if _, _, _, _, err := it.Next(); !errors.Is(err, jscan.ErrEnd) || start <= 0 || start >= len(v) {
		return nil, "", false
	}
	return bytes.TrimRight(v[start:len(v)-1], " \t\r\n"), string(key), true
}

// FlushNetflow emits the EVE netflow halves still waiting for their
// partner, each as a one-sided flow.
func (p *Parser) FlushNetflow(emit func(*flow.Record) error) error {
	return p.pairer.Flush(emit)
}
