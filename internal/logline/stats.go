package logline

import "errors"

// MaxExamples is how many bad-line errors Stats keeps verbatim.
const MaxExamples = 5

// Stats counts what a read saw.
type Stats struct {
	Files    int                 // files read
	Lines    int64               // lines read, headers and bad lines included
	Headers  int64               // header and comment lines
	Skipped  int64               // JSON records of other logs in a mixed stream (_path not conn)
	Records  int64               // records emitted
	Bad      int64               // bad lines, skipped
	BadKinds map[ErrorKind]int64 // bad lines by kind
	Examples []string            // the first MaxExamples bad-line errors, naming file and line
}

// AddBad counts one bad line.
func (s *Stats) AddBad(err error) {
	s.Bad++
	kind := ErrorKind("other")
	var le *LineError
	if errors.As(err, &le) {
		kind = le.Kind
	}
	if s.BadKinds == nil {
		s.BadKinds = make(map[ErrorKind]int64)
	}
	s.BadKinds[kind]++
	if len(s.Examples) < MaxExamples {
		s.Examples = append(s.Examples, err.Error())
	}
}

// Add adds the counts of o to s.
func (s *Stats) Add(o Stats) {
	s.Files += o.Files
	s.Lines += o.Lines
	s.Headers += o.Headers
	s.Skipped += o.Skipped
	s.Records += o.Records
	s.Bad += o.Bad
	for k, v := range o.BadKinds {
		if s.BadKinds == nil {
			s.BadKinds = make(map[ErrorKind]int64)
		}
		s.BadKinds[k] += v
	}
	for _, e := range o.Examples {
		if len(s.Examples) < MaxExamples {
			s.Examples = append(s.Examples, e)
		}
	}
}
