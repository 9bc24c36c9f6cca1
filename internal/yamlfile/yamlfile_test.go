package yamlfile

import (
	"strings"
	"testing"
)

type doc struct {
	Routes []struct {
		Match struct {
			Src []string `yaml:"src"`
		} `yaml:"match"`
		Wait int `yaml:"wait"`
	} `yaml:"routes"`
}

func TestDecodeErrorsNameFileLineAndKey(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"ok", "routes:\n  - match: {src: [10.0.0.0/8]}\n", ""},
		{"unknown key", "routes:\n  - match:\n      dst: [10.0.0.0/8]\n", "t: f.yaml:3: routes[0].match.dst: unknown key"},
		{"wrong type", "routes:\n  - wait: soon\n", "t: f.yaml:2: routes[0].wait: cannot unmarshal"},
		{"not yaml", "routes: [\n", "t: f.yaml:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d doc
			root, err := Decode("t", "f.yaml", []byte(tc.in), &d)
			if tc.want == "" {
				if err != nil || root == nil {
					t.Fatalf("Decode: %v", err)
				}
				return
			}
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("error %v, want it to start with %q", err, tc.want)
			}
		})
	}
}
