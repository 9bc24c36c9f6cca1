package app

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mlads/mlads/internal/shareddata"
)

// kafkanode runs a broker of the test's own from ../shared/kafkanode, so
// that stopping it stops no one else's. It reuses the build of
// $KAFKANODE_WORK (the one .ci/run made) and keeps its node in a folder of
// the test.
type kafkanode struct {
	script string
	env    []string
}

func newKafkanode(t testing.TB) *kafkanode {
	t.Helper()
	kafkaBroker(t) // only where CI provides Kafka: a first build downloads the jars
	if _, err := exec.LookPath("java"); err != nil {
		t.Skip("no java: cannot run a broker of the test's own")
	}
	script := filepath.Join(filepath.Dir(shareddata.Dir(t)), "kafkanode", "kafkanode-ci.sh")
	if _, err := os.Stat(script); err != nil {
		t.Skipf("no kafkanode recipe: %v", err)
	}
	k := &kafkanode{script: script, env: append(os.Environ(), "KAFKANODE_DIR="+filepath.Join(t.TempDir(), "node"),
		"KAFKANODE_PORT=0", "KAFKANODE_LOG_LEVEL=WARN")}
	t.Cleanup(func() { _, _ = k.run("stop") })
	return k
}

func (k *kafkanode) run(verb string, env ...string) (string, error) {
	cmd := exec.Command("bash", k.script, verb)
	cmd.Env = append(slices.Clip(k.env), env...)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok { //nolint:errorlint // the type of exec's own error
			stderr = string(ee.Stderr)
		}
		return "", fmt.Errorf("kafkanode %s: %w\n%s", verb, err, stderr)
	}
	return strings.TrimSpace(string(out)), nil
}

// TestKafkaBrokerRestart: the broker is stopped for 30 s while a group
// member consumes, then started again on its data. The member waits, says
// so in its log, and goes on: every flow re-keyed and scored exactly once.
func TestKafkaBrokerRestart(t *testing.T) {
	node := newKafkanode(t)
	broker, err := node.run("start")
	if err != nil {
		t.Fatal(err)
	}
	c := newKafkaCase(t)
	flows := streamOf(c.flows, 3)
	run := fmt.Sprintf("b%d", time.Now().UnixNano())
	topic, group := run+".conn", run+".g"
	dir := t.TempDir()
	child := startKafkaChild(t, dir, "p0", broker, topic, group, c.model)
	half := len(flows) / 2
	if err := <-publishPaced(t, broker, topic, flows[:half], 2*time.Second); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	t0 := time.Now()
	if _, err := node.run("stop"); err != nil {
		t.Fatal(err)
	}
	t.Logf("broker stopped in %s", time.Since(t0).Round(time.Millisecond))
	time.Sleep(30 * time.Second)
	log, _ := os.ReadFile(child.log)
	if !strings.Contains(string(log), "Kafka broker unreachable; waiting") {
		t.Errorf("the member did not say the broker is away:\n%s", lastLines(string(log), 20))
	}
	// and its health check says so
	if m := regexp.MustCompile(`serving /metrics and /healthz.* addr=(\S+)`).FindSubmatch(log); m == nil {
		t.Errorf("no metrics address in the member's log")
	} else {
		resp, err := http.Get("http://" + string(m[1]) + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("/healthz while the broker is away: %d %s", resp.StatusCode, body)
		if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "kafka: broker unreachable since") {
			t.Errorf("/healthz while the broker is away: %d %s", resp.StatusCode, body)
		}
	}
	t0 = time.Now()
	if _, err := node.run("start", "KAFKANODE_KEEP=1"); err != nil {
		t.Fatal(err)
	}
	t.Logf("broker started again in %s", time.Since(t0).Round(time.Millisecond))
	if err := <-publishMore(t, broker, topic, flows[half:]); err != nil {
		t.Fatal(err)
	}
	a := waitDrained(t, broker, group, len(flows), []*kafkaChild{child}, 2*time.Minute)
	child.stop(t)
	log, _ = os.ReadFile(child.log)
	if !strings.Contains(string(log), "Kafka broker reachable again") {
		t.Errorf("the member did not say the broker is back:\n%s", lastLines(string(log), 20))
	}
	t.Logf("%d flows: %d re-keyed, %d scored; overlaps %v", len(flows), a.rekeyed, a.scored, a.overlaps)
	if a.rekeyed != int64(len(flows)) || a.scored != int64(len(flows)) || len(a.overlaps) > 0 {
		t.Errorf("not exactly once: %d flows, %d re-keyed, %d scored, ranges consumed twice: %v", len(flows), a.rekeyed, a.scored, a.overlaps)
	}
}
