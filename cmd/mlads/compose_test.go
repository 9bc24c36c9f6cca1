package main

import (
	"net"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/mlads/mlads/internal/config"
)

// TestDockerCompose checks docker-compose.yml without Docker: Elasticsearch
// and Kibana of the same 8.19 release with security on, the order of the
// services, and that every MLADS_ variable the mlads services set loads
// with the shipped configuration (a typo would stop mlads at start). The
// daemons drop every capability but the NET_RAW that capture needs, keep
// their state in their volume, and publish their metrics on loopback only;
// the capture service runs only with its profile, on the host's network.
func TestDockerCompose(t *testing.T) {
	b, err := os.ReadFile("../../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Image       string                    `yaml:"image"`
			Build       string                    `yaml:"build"`
			Command     []string                  `yaml:"command"`
			Environment []string                  `yaml:"environment"`
			DependsOn   map[string]map[string]any `yaml:"depends_on"`
			Profiles    []string                  `yaml:"profiles"`
			NetworkMode string                    `yaml:"network_mode"`
			User        string                    `yaml:"user"`
			CapAdd      []string                  `yaml:"cap_add"`
			CapDrop     []string                  `yaml:"cap_drop"`
			SecurityOpt []string                  `yaml:"security_opt"`
			Ports       []string                  `yaml:"ports"`
			Volumes     []string                  `yaml:"volumes"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	es, kb := c.Services["elasticsearch"], c.Services["kibana"]
	if !strings.HasPrefix(es.Image, "docker.elastic.co/elasticsearch/elasticsearch:8.19.") ||
		strings.TrimPrefix(es.Image, "docker.elastic.co/elasticsearch/elasticsearch:") != strings.TrimPrefix(kb.Image, "docker.elastic.co/kibana/kibana:") {
		t.Errorf("images %q and %q: want Elastic's 8.19 images of one release", es.Image, kb.Image)
	}
	if !slices.Contains(es.Environment, "xpack.security.enabled=true") {
		t.Error("elasticsearch: security is not on")
	}
	for svc, want := range map[string]string{"es-users": "elasticsearch", "kibana": "es-users", "mlads-setup": "kibana", "mlads": "mlads-setup", "mlads-capture": "mlads-setup"} {
		if _, ok := c.Services[svc].DependsOn[want]; !ok {
			t.Errorf("%s does not wait for %s", svc, want)
		}
	}
	if got := c.Services["mlads-setup"].Command; len(got) == 0 || got[0] != "setup" {
		t.Errorf("mlads-setup runs %v", got)
	}
	if got := c.Services["mlads"].Command; len(got) == 0 || got[0] != "run" {
		t.Errorf("mlads runs %v", got)
	}
	if got := c.Services["mlads-capture"].Command; len(got) == 0 || got[0] != "run" {
		t.Errorf("mlads-capture runs %v", got)
	}
	placeholder := regexp.MustCompile(`\$\{[^}]*\}`)
	for _, svc := range []string{"mlads-setup", "mlads", "mlads-capture"} {
		var env []string
		for _, kv := range c.Services[svc].Environment {
			env = append(env, placeholder.ReplaceAllString(kv, "x"))
		}
		cfg, err := config.Load("../../configs/mlads.yaml", env)
		if err != nil {
			t.Errorf("%s: its environment does not load: %v", svc, err)
			continue
		}
		if cfg.Elasticsearch.URL == "" {
			t.Errorf("%s: elasticsearch.url is not set", svc)
		}
		if svc == "mlads-setup" {
			continue
		}
		s := c.Services[svc]
		// the daemons: every capability dropped, NET_RAW (capture) at most
		if !slices.Equal(s.CapDrop, []string{"ALL"}) || len(s.CapAdd) > 1 || (len(s.CapAdd) == 1 && s.CapAdd[0] != "NET_RAW") {
			t.Errorf("%s: cap_drop %v, cap_add %v: want ALL dropped, NET_RAW at most added", svc, s.CapDrop, s.CapAdd)
		}
		if !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
			t.Errorf("%s: security_opt %v: want no-new-privileges", svc, s.SecurityOpt)
		}
		// all their state in their volume
		if !slices.ContainsFunc(s.Volumes, func(v string) bool { return strings.HasSuffix(v, ":/var/lib/mlads") }) {
			t.Errorf("%s: volumes %v: none on /var/lib/mlads", svc, s.Volumes)
		}
		for what, p := range map[string]string{"run.positions": cfg.Run.Positions, "run.output": cfg.Run.Output,
			"elasticsearch.spool.dir": cfg.Elasticsearch.Spool.Dir, "elasticsearch.dead_letter": cfg.Elasticsearch.DeadLetter,
			"notify.outbox": cfg.Notify.Outbox} {
			if !strings.HasPrefix(p, "/var/lib/mlads/") {
				t.Errorf("%s: %s %s is not in the volume /var/lib/mlads", svc, what, p)
			}
		}
		// metrics: reachable from the host's loopback only
		host, port, err := net.SplitHostPort(cfg.Run.MetricsListen)
		if err != nil {
			t.Errorf("%s: run.metrics_listen %q: %v", svc, cfg.Run.MetricsListen, err)
			continue
		}
		if s.NetworkMode == "host" {
			if host != "127.0.0.1" {
				t.Errorf("%s: on the host's network, run.metrics_listen %s is not loopback", svc, cfg.Run.MetricsListen)
			}
		} else if !slices.Contains(s.Ports, "127.0.0.1:"+port+":"+port) || len(s.Ports) != 1 {
			t.Errorf("%s: ports %v: want the metrics port %s published on 127.0.0.1 only", svc, s.Ports, port)
		}
	}
	// capture on the host's network, only when asked, with NET_RAW: the
	// interface of $CAPTURE_INTERFACE, no log
	var env []string
	for _, kv := range c.Services["mlads-capture"].Environment {
		env = append(env, placeholder.ReplaceAllString(kv, "eth9"))
	}
	if cfg, err := config.Load("../../configs/mlads.yaml", env); err != nil || !slices.Equal(cfg.Run.Interfaces, []string{"eth9"}) || len(cfg.Run.Inputs) != 0 {
		t.Errorf("mlads-capture: run.interfaces %q, run.inputs %q, %v: want $CAPTURE_INTERFACE and no log", cfg.Run.Interfaces, cfg.Run.Inputs, err)
	}
	cp := c.Services["mlads-capture"]
	if !slices.Equal(cp.Profiles, []string{"capture"}) || cp.NetworkMode != "host" || !slices.Equal(cp.CapAdd, []string{"NET_RAW"}) {
		t.Errorf("mlads-capture: profiles %v, network_mode %q, cap_add %v: want profile capture, the host's network, NET_RAW",
			cp.Profiles, cp.NetworkMode, cp.CapAdd)
	}
	if m := c.Services["mlads"]; len(m.Profiles) > 0 || m.User != "" || len(m.CapAdd) > 0 {
		t.Errorf("mlads: profiles %v, user %q, cap_add %v: want it always on, as the image's user, with no capability", m.Profiles, m.User, m.CapAdd)
	}
}

// TestDockerfile: the image is built in stages and runs as a user that is
// not root.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var froms int
	user := ""
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			froms++
			user = "" // each stage starts as root
		case "USER":
			user = f[1]
		}
	}
	if froms < 2 {
		t.Errorf("Dockerfile: %d stages, want a build stage and a runtime stage", froms)
	}
	if name, _, _ := strings.Cut(user, ":"); name == "" || name == "root" || name == "0" {
		t.Errorf("Dockerfile: the image runs as %q, want a user that is not root", user)
	}
}
