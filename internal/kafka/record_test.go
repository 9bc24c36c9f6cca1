package kafka

import (
	"strings"
	"testing"

	"github.com/mlads/mlads/internal/flow"
)

// TestParse: Zeek JSON plain and tagged, EVE flow events, and records of
// other logs; bad records name topic, partition and offset.
func TestParse(t *testing.T) {
	const conn = `{"ts":1664462456.755299,"uid":"C5xhsO3uGtOfyrBlHh","id.orig_h":"172.16.1.11","id.orig_p":40042,"id.resp_h":"8.8.8.8","id.resp_p":53,"proto":"udp","service":"dns","duration":0.012,"orig_bytes":0,"resp_bytes":111,"conn_state":"SHR","missed_bytes":0,"history":"Cd","orig_pkts":0,"orig_ip_bytes":0,"resp_pkts":1,"resp_ip_bytes":139}`
	const eveFlow = `{"timestamp":"2022-09-29T14:40:56.755299+0000","flow_id":1,"event_type":"flow","src_ip":"172.16.1.11","src_port":40042,"dest_ip":"8.8.8.8","dest_port":53,"proto":"UDP","app_proto":"dns","flow":{"pkts_toserver":1,"pkts_toclient":1,"bytes_toserver":70,"bytes_toclient":139,"start":"2022-09-29T14:40:56.755299+0000","end":"2022-09-29T14:40:56.767299+0000","age":0,"state":"established","reason":"timeout","alerted":false}}`
	cases := []struct {
		name, value string
		ok          bool
		src         flow.Source
		err         string
	}{
		{"zeek plain", conn, true, flow.SourceZeek, ""},
		{"zeek tagged", `{"conn": ` + conn + `}`, true, flow.SourceZeek, ""},
		{"zeek tagged twice", `{"conn":` + conn + `}`, true, flow.SourceZeek, ""},
		{"other log tagged", `{"dns":{"ts":1.0,"uid":"Cx","query":"example.org"}}`, false, 0, ""},
		{"eve flow", eveFlow, true, flow.SourceEVE, ""},
		{"eve alert", `{"timestamp":"2022-09-29T14:40:56.755299+0000","event_type":"alert","src_ip":"1.2.3.4"}`, false, 0, ""},
		{"empty", "  ", false, 0, ""},
		{"not json", "hello", false, 0, "kafka: topic t partition 3 offset 42: not a JSON object"},
		{"bad zeek", `{"ts":"x","id.orig_h":"1.2.3.4","id.resp_h":"5.6.7.8"}`, false, 0, "kafka: topic t partition 3 offset 42: "},
	}
	p := NewParser()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r flow.Record
			ok, err := p.Parse("t", 3, 42, []byte(c.value), &r)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ok != c.ok {
				t.Fatalf("ok = %v, want %v", ok, c.ok)
			}
			if ok && (r.Source != c.src || r.OrigH.String() != "172.16.1.11" || r.RespP != 53) {
				t.Errorf("record %+v", r)
			}
		})
	}
}
