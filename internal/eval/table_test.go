package eval

import (
	"strings"
	"testing"
)

func TestFloor(t *testing.T) {
	peers := []Peer{
		{Name: "iforest", Metrics: Metrics{ROCAUC: 0.90, PRAUC: 0.80}},
		{Name: "knn", Metrics: Metrics{ROCAUC: 0.99, PRAUC: 0.85}},
		{Name: "lof", Metrics: Metrics{ROCAUC: 0.95, PRAUC: 0.93}},
		{Name: "ecod", Err: "RuntimeError: no pyod", Metrics: Metrics{ROCAUC: 1, PRAUC: 1}},
	}
	tests := []struct {
		name    string
		roc, pr float64
		peers   []Peer
		ok      bool
		why     string
	}{
		{"above both", 0.999, 0.95, peers, true, "pass"},
		{"ROC within the slack", 0.986, 0.93, peers, true, "pass"},
		{"ROC below the slack", 0.98, 0.93, peers, false, "FAIL: ROC-AUC -0.0100 vs knn"},
		// the best PR-AUC is lof's, not that of the best ROC-AUC peer
		{"PR below another peer's", 0.99, 0.90, peers, false, "FAIL: PR-AUC -0.0300 vs lof"},
		{"both", 0.5, 0.5, peers, false, "FAIL: ROC-AUC -0.4900 vs knn, PR-AUC -0.4300 vs lof"},
		{"perfect ties perfect", 1, 1, []Peer{{Name: "iforest", Metrics: Metrics{ROCAUC: 1, PRAUC: 1}}}, true, "pass"},
		{"no peer", 1, 1, nil, false, "n/a: no peer ran"},
		{"only failed peers", 1, 1, peers[3:], false, "n/a: no peer ran"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := Result{Set: "s", MLADS: Metrics{ROCAUC: tc.roc, PRAUC: tc.pr}, Peers: tc.peers}
			ok, why := Floor(r)
			if ok != tc.ok || why != tc.why {
				t.Errorf("Floor = %v, %q; want %v, %q", ok, why, tc.ok, tc.why)
			}
		})
	}
}

func TestWriteTables(t *testing.T) {
	res := []Result{
		{Set: "a", Train: 10, Test: 20, Malicious: 5, Alpha: 0.01,
			MLADS: Metrics{ROCAUC: 0.99, PRAUC: 0.9, Recall: 0.8, BenignAlertRate: 0.02},
			Peers: []Peer{
				{Name: "iforest", Metrics: Metrics{ROCAUC: 0.9, PRAUC: 0.95, Recall: 0.1, BenignAlertRate: 0.01}},
				{Name: "knn", Metrics: Metrics{ROCAUC: 0.97, PRAUC: 0.7, Recall: 0.5, BenignAlertRate: 0.03}},
				{Name: "hbos", Err: "boom"},
			}},
		{Set: "b", Train: 10, Test: 20, Alpha: 0.01, Skipped: "one class", MLADS: Metrics{BenignAlertRate: 0.005}},
	}
	var b strings.Builder
	if err := WriteTable(&b, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| a | 10 | 20 (5) | 0.9900 | 0.9700 (knn) | 0.9000 | 0.9500 (iforest) | 0.800 | 0.500 (knn) | 0.0200 | 0.0300 | 0.0100 | FAIL: PR-AUC -0.0500 vs iforest |",
		"| b | 10 | 20 (0) | | | | | | | 0.0050 | | 0.0100 | benign only |",
		"peer error: a: hbos: boom",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("table lacks\n%s\ngot\n%s", want, b.String())
		}
	}
	b.Reset()
	if err := WritePeerTable(&b, res); err != nil {
		t.Fatal(err)
	}
	want := "| set (ROC-AUC / PR-AUC) | mlads | iforest | knn | hbos |\n" +
		"|---|--:|--:|--:|--:|\n" +
		"| a | 0.9900 / 0.9000 | 0.9000 / 0.9500 | 0.9700 / 0.7000 | error |\n"
	if b.String() != want {
		t.Errorf("peer table:\n-got\n%s\n+want\n%s", b.String(), want)
	}
}
