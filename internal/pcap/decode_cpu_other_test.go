//go:build !linux

package pcap

// threadCPU is not measured outside Linux.
func threadCPU() int64 { return 0 }
