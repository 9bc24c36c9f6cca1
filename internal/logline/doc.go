// Package logline holds what the line-oriented log readers (zeek and eve)
// share, so that neither imports the other: opening a plain or gzip file
// (Open), reading it line by line with a length limit (EachLine), the bad
// line error and its kinds (LineError, ErrorKind), the read counters
// (Stats), allocation-free string storage for record fields (Strings) and
// address parsing (ParseAddr).
//
// It knows no log format: the readers bring their parsers.
package logline
