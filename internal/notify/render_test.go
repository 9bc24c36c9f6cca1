package notify

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/slack-go/slack"
)

// TestSlackBlocksJSON: the hand-written Block Kit JSON is valid, and
// slack-go reads it back with the text intact, quotes and control
// characters included.
func TestSlackBlocksJSON(t *testing.T) {
	a := explained("beacon", 3, "10.0.0.1", t0)
	a.MLADS.Summary = "a \"quoted\" <summary> & a\ttab\x01 and \\ backslash"
	c := alertContent(a, "https://kibana.example.org")
	raw := c.slackBlocks()
	if !json.Valid(raw) {
		t.Fatalf("invalid JSON: %s", raw)
	}
	var bs slack.Blocks
	if err := json.Unmarshal(raw, &bs); err != nil {
		t.Fatal(err)
	}
	if len(bs.BlockSet) != 7 {
		t.Errorf("%d blocks: %s", len(bs.BlockSet), raw)
	}
	sec, ok := bs.BlockSet[1].(*slack.SectionBlock)
	if !ok || sec.Text.Text != "a \"quoted\" &lt;summary&gt; &amp; a\ttab\x01 and \\ backslash" {
		t.Errorf("summary block %#v", bs.BlockSet[1])
	}
	act, ok := bs.BlockSet[5].(*slack.ActionBlock)
	if !ok || len(act.Elements.ElementSet) != 1 || !strings.HasPrefix(act.Elements.ElementSet[0].(*slack.ButtonBlockElement).URL, "https://kibana.example.org/app/discover") {
		t.Errorf("actions block %#v", bs.BlockSet[5])
	}
}

func TestSMSText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"HIGH 10.0.0.1 scan: a → b ± c", "HIGH 10.0.0.1 scan: a -> b +/- c"},
		{"tabs\tand\nnewlines [x] {y}", "tabs and newlines x y"},
		{strings.Repeat("x", 200), strings.Repeat("x", 157) + "..."},
		{strings.Repeat("é", 200), ""},
	} {
		if got := smsText(tc.in); got != tc.want {
			t.Errorf("smsText(%q):\n-got  %q\n+want %q", tc.in, got, tc.want)
		}
	}
}
