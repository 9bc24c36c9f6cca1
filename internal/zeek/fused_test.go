package zeek

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mlads/mlads/internal/flow"
	"github.com/mlads/mlads/internal/logline"
)

// FuzzFusedPath checks that the fused fast path of parseTSV and the general
// path (used for CSV and combined columns) read every line alike: the same
// record, or both an error of the same kind. The fast path reads the line
// twice, so that the second read hits the word caches the first filled.
func FuzzFusedPath(f *testing.F) {
	header := "#separator \\x09\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\tconn_state\thistory\tduration\torig_bytes\tresp_bytes\tmissed_bytes\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\tip_proto"
	for _, s := range []string{
		"1655071198.444458\tC1\t147.32.81.167\t62771\t40.74.108.123\t443\ttcp\tssl\tSF\tShADdaFf\t1.135424\t1596\t4039\t0\t14\t1016\t16\t1226\t6",
		"XXXXXXXXXX.XXXXXX\tC1\t::1\t1\tfe80::1\t2\tudp\t-\tS0\t(empty)\t-\t-\t-\t0\t1\t2\t3\t4\t17",
		"1.5e3\tC1\t01.2.3.4\t65536\t1.2.3.4\t-1\ticmp\tdns,http\tOTH\tS\\x41d\t0.1234567891\t18446744073709551615\t18446744073709551616\t0\t1\t2\t3\t4\t256",
		"1655071198\tC1\t1.2.3.4\t1\t1.2.3.4\t2\ttcp\t\tREJ\tShADdaFfShADdaFfShADdaFf\t.5\t1\t1\t0\t1\t2\t3\t4\t6",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		parse := func(general bool) (string, logline.ErrorKind) {
			p := NewParser("fuzz.log")
			var r flow.Record
			for _, h := range strings.Split(header, "\n") {
				p.ParseLine([]byte(h), &r)
			}
			if general {
				p.fast = nil
			} else {
				p.ParseLine([]byte(line), &r) // fills the word caches
			}
			ok, err := p.ParseLine([]byte(line), &r)
			var le *logline.LineError
			if errors.As(err, &le) {
				return "", le.Kind
			}
			return fmt.Sprintf("%v %+v", ok, r), ""
		}
		fast, fk := parse(false)
		slow, sk := parse(true)
		if fast != slow || fk != sk {
			t.Fatalf("fused path %q %s, general path %q %s", fast, fk, slow, sk)
		}
	})
}
