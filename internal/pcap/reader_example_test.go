package pcap_test

import (
	"errors"
	"fmt"
	"io"

	"github.com/mlads/mlads/internal/pcap"
)

// Read every frame of a capture; report decode problems by kind and the
// first of them by packet number.
func ExampleOpenFile() {
	src, err := pcap.OpenFile("testdata/corrupt-headers.pcap")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Close()
	var pkts []pcap.Packet
	for {
		pkts, err = src.Next(pkts)
		if err != nil {
			break
		}
		for _, p := range pkts {
			fmt.Println(src.Frame(), p.IPProto, p.SrcPort, p.DstPort, p.IPLen)
		}
	}
	if !errors.Is(err, io.EOF) {
		fmt.Println(err) // e.g. "pcap: x.pcap packet 1043: unexpected EOF"
	}
	st := src.Stats()
	fmt.Println(st.Frames, "frames,", st.NonIP, "without IP, errors:", st.ErrorsString())
	fmt.Println("first:", st.Examples[0])
	// Output:
	// 1 6 40000 80 48
	// 7 6 80 40000 48
	// 7 frames, 1 without IP, errors: truncated-link=1 truncated-ip=1 bad-ip-version=1 bad-ip-checksum=1
	// first: packet 2: bad-ip-version
}
