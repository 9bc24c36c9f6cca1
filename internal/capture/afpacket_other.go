//go:build !linux

package capture

import "errors"

const afpacketAvailable = false

func openAFPacket(Config, string, int) ([]handle, error) {
	return nil, errors.New("AF_PACKET exists on Linux only; use the libpcap engine")
}
