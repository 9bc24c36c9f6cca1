// Package metrics serves the daemon's Prometheus metrics (/metrics) and its
// health (/healthz) over HTTP.
//
// Nothing is counted here. The stages keep their own counters (atomics, or
// a snapshot their goroutine publishes), and the collectors built with
// NewFunc and NewHistogramFunc read them when Prometheus scrapes: metrics
// stay a wrapper around the business code, not a part of it (STYLE.md #6),
// and a hot path pays nothing for them.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Emit hands one sample to a scrape: its value and its label values, in
// the order of the family's label names.
type Emit func(v float64, labelValues ...string)

// Func is a metric family read at scrape time: a prometheus.Collector
// whose read function emits the current samples.
type Func struct {
	desc *prometheus.Desc
	typ  prometheus.ValueType
	read func(Emit)
}

// NewFunc returns the family name (a counter or a gauge, by typ) with the
// given label names, whose samples read emits at each scrape. read is
// called from the scraping goroutine: it must read only what is safe to
// read concurrently (atomics, a published snapshot).
func NewFunc(name, help string, typ prometheus.ValueType, labels []string, read func(Emit)) *Func {
	return &Func{desc: prometheus.NewDesc(name, help, labels, nil), typ: typ, read: read}
}

// Describe sends the family's description.
func (f *Func) Describe(ch chan<- *prometheus.Desc) { ch <- f.desc }

// Collect sends the samples read now.
func (f *Func) Collect(ch chan<- prometheus.Metric) {
	f.read(func(v float64, lv ...string) {
		ch <- prometheus.MustNewConstMetric(f.desc, f.typ, v, lv...)
	})
}

// Histogram is a histogram's state as its owner counts it: the count of
// observations at or below each upper bound (not cumulative: each
// observation is in one bucket, and those above the last bound are in
// Count only), their count and their sum.
type Histogram struct {
	Bounds []float64
	Counts []uint64 // len(Bounds)
	Count  uint64
	Sum    float64
}

// HistogramFunc is a histogram read at scrape time.
type HistogramFunc struct {
	desc *prometheus.Desc
	read func() (Histogram, bool)
}

// NewHistogramFunc returns the histogram name, read at each scrape; read
// returns false when there is nothing to report yet.
func NewHistogramFunc(name, help string, read func() (Histogram, bool)) *HistogramFunc {
	return &HistogramFunc{desc: prometheus.NewDesc(name, help, nil, nil), read: read}
}

// Describe sends the histogram's description.
func (h *HistogramFunc) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

// Collect sends the histogram as read now, with cumulative buckets.
func (h *HistogramFunc) Collect(ch chan<- prometheus.Metric) {
	st, ok := h.read()
	if !ok {
		return
	}
	buckets := make(map[float64]uint64, len(st.Bounds))
	var cum uint64
	for i, b := range st.Bounds {
		cum += st.Counts[i]
		buckets[b] = cum
	}
	ch <- prometheus.MustNewConstHistogram(h.desc, st.Count, st.Sum, buckets)
}
