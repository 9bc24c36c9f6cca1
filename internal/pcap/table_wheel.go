package pcap

import "time"

// wheelSize is the number of one-second buckets of the timer wheel; it spans
// more than the longest default timeout, and deadlines beyond it are parked
// in the last bucket and looked at again.
const wheelSize = 1024

// wheel finds connections whose deadline has passed without scanning the
// table. Each live connection has one entry, in the bucket of the second of
// its deadline (or earlier: deadlines are re-read when the bucket comes up,
// so a packet never has to move its connection between buckets).
//
// A connection whose deadline moves earlier gets a second entry, and one that
// ends early (closed, reused, evicted) leaves its entry behind; such stale
// entries are skipped when their bucket comes up, and compact drops them all
// when they outnumber the live ones, so the wheel stays bounded by the table.
type wheel struct {
	buckets [wheelSize][]uint64 // entries: slot<<32 | generation
	sec     int64               // last second processed
	started bool
	entries int // entries in all buckets, live and stale
}

func wheelEntry(slot, gen uint32) uint64 { return uint64(slot)<<32 | uint64(gen) }

// put schedules f (in slot) at second sec, clamped to the wheel's span.
func (w *wheel) put(t *Table, slot uint32, f *conn, sec int64) {
	if !w.started {
		w.started = true
		w.sec = t.now/int64(time.Second) - 1
	}
	if sec <= w.sec {
		sec = w.sec + 1
	}
	if sec > w.sec+wheelSize-1 {
		sec = w.sec + wheelSize - 1
	}
	f.schedSec = sec
	b := &w.buckets[sec%wheelSize]
	*b = append(*b, wheelEntry(slot, f.gen))
	w.entries++
	if w.entries > 2*t.index.len()+4096 {
		w.compact(t)
	}
}

// compact drops every stale entry.
func (w *wheel) compact(t *Table) {
	w.entries = 0
	for i := range w.buckets {
		b := &w.buckets[i]
		live := (*b)[:0]
		for _, e := range *b {
			slot, gen := uint32(e>>32), uint32(e)
			if int(slot) < len(t.flows) {
				f := &t.flows[slot]
				if f.live && f.gen == gen && f.schedSec%wheelSize == int64(i) {
					live = append(live, e)
				}
			}
		}
		*b = live
		w.entries += len(live)
	}
}

// advance ends every connection whose deadline is at or before now.
func (w *wheel) advance(t *Table, now int64) {
	if !w.started {
		return
	}
	target := now / int64(time.Second)
	steps := 0
	for w.sec < target && steps < wheelSize && t.err == nil {
		w.sec++
		steps++
		w.runBucket(t, w.sec, now)
	}
	if w.sec < target {
		w.sec = target
	}
}

func (w *wheel) runBucket(t *Table, sec, now int64) {
	b := &w.buckets[sec%wheelSize]
	entries := *b
	*b = entries[:0]
	w.entries -= len(entries)
	for i := 0; i < len(entries); i++ {
		e := entries[i]
		slot, gen := uint32(e>>32), uint32(e)
		if int(slot) >= len(t.flows) {
			continue
		}
		f := &t.flows[slot]
		if !f.live || f.gen != gen || f.schedSec != sec {
			continue // stale entry
		}
		if f.deadline <= now {
			t.finish(slot)
			if t.err != nil {
				// Keep the entries not looked at.
				*b = append(*b, entries[i+1:]...)
				w.entries += len(entries) - i - 1
				return
			}
			continue
		}
		f.schedSec = -1
		nsec := f.deadline / int64(time.Second)
		if nsec <= sec {
			nsec = sec + 1
		}
		if nsec > sec+wheelSize-1 {
			nsec = sec + wheelSize - 1
		}
		f.schedSec = nsec
		nb := &w.buckets[nsec%wheelSize]
		*nb = append(*nb, e)
		w.entries++
	}
}

// oldest returns the live connection with the earliest scheduled bucket, to
// be evicted when the table is full.
func (w *wheel) oldest(t *Table) (uint32, bool) {
	for i := int64(1); i <= wheelSize; i++ {
		sec := w.sec + i
		b := &w.buckets[sec%wheelSize]
		for i, e := range *b {
			slot, gen := uint32(e>>32), uint32(e)
			if int(slot) >= len(t.flows) {
				continue
			}
			f := &t.flows[slot]
			if f.live && f.gen == gen && f.schedSec == sec {
				// Drop the stale prefix, so a run of evictions (a SYN
				// flood) does not rescan it each time.
				*b = (*b)[i:]
				w.entries -= i
				return slot, true
			}
		}
		// Drop the stale entries of a bucket we had to scan, so repeated
		// evictions do not rescan them.
		w.entries -= len(*b)
		live := (*b)[:0]
		for _, e := range *b {
			slot, gen := uint32(e>>32), uint32(e)
			if int(slot) < len(t.flows) {
				f := &t.flows[slot]
				if f.live && f.gen == gen && f.schedSec == sec {
					live = append(live, e)
				}
			}
		}
		*b = live
		w.entries += len(live)
	}
	return 0, false
}
