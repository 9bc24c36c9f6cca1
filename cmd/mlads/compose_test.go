package main

import (
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
// with the shipped configuration (a typo would stop mlads at start).
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
	for svc, want := range map[string]string{"es-users": "elasticsearch", "kibana": "es-users", "mlads-setup": "kibana", "mlads": "mlads-setup"} {
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
	placeholder := regexp.MustCompile(`\$\{[^}]*\}`)
	for _, svc := range []string{"mlads-setup", "mlads"} {
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
	}
}
