package main

import (
	"bufio"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/mlads/mlads/internal/config"
)

// unitFile is a systemd unit: its sections' keys, each with its values in
// the order given (a key may repeat).
type unitFile map[string]map[string][]string

// readUnit parses a systemd unit file (comments, sections, key=value;
// no line continuations, which the unit does not use).
func readUnit(tb testing.TB, path string) unitFile {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	u := unitFile{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.HasSuffix(line, `\`) {
				tb.Fatalf("%s:%d: not key=value in a section: %q", path, n, line)
			}
			u[section][strings.TrimSpace(k)] = append(u[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return u
}

// TestSystemdUnit loads configs/mlads.service and checks its hardening: a
// user of its own, CAP_NET_RAW and no other capability, a read-only system
// but for /var/lib/mlads (where the shipped configuration keeps all its
// state), the address families and system calls it needs, and a reload by
// SIGHUP. ExecStart must parse as an mlads command line. When systemd is
// installed, systemd-analyze verifies the unit and rates its exposure.
func TestSystemdUnit(t *testing.T) {
	const path = "../../configs/mlads.service"
	u := readUnit(t, path)
	svc := u["Service"]
	if svc == nil || u["Unit"] == nil || u["Install"] == nil {
		t.Fatalf("sections %v: want Unit, Service and Install", slices.Sorted(maps.Keys(u)))
	}
	one := func(k string) string {
		if vs := svc[k]; len(vs) == 1 {
			return vs[0]
		}
		t.Errorf("%s: %q, want one value", k, svc[k])
		return ""
	}
	for k, want := range map[string]string{
		"User": "mlads", "Group": "mlads", "DynamicUser": "yes", "StateDirectory": "mlads",
		"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
		"PrivateDevices": "yes", "ProtectKernelTunables": "yes", "ProtectKernelModules": "yes",
		"ProtectControlGroups": "yes", "RestrictNamespaces": "yes", "RestrictSUIDSGID": "yes",
		"MemoryDenyWriteExecute": "yes", "LockPersonality": "yes", "SystemCallArchitectures": "native",
		"ExecReload": "/bin/kill -HUP $MAINPID", "KillSignal": "SIGTERM",
	} {
		if got := one(k); got != want {
			t.Errorf("%s=%s, want %s", k, got, want)
		}
	}
	// capture needs CAP_NET_RAW (AF_PACKET, its ring, fanout, PACKET_MR_PROMISC), and nothing more
	for _, k := range []string{"AmbientCapabilities", "CapabilityBoundingSet"} {
		if got := strings.Fields(one(k)); !slices.Equal(got, []string{"CAP_NET_RAW"}) {
			t.Errorf("%s=%s, want CAP_NET_RAW only", k, got)
		}
	}
	fams := strings.Fields(one("RestrictAddressFamilies"))
	slices.Sort(fams)
	if want := []string{"AF_INET", "AF_INET6", "AF_NETLINK", "AF_PACKET", "AF_UNIX"}; !slices.Equal(fams, want) {
		t.Errorf("RestrictAddressFamilies=%s, want %s", fams, want)
	}
	if f := svc["SystemCallFilter"]; len(f) == 0 || f[0] != "@system-service" || !slices.ContainsFunc(f, func(s string) bool {
		return strings.HasPrefix(s, "~") && strings.Contains(s, "@privileged")
	}) {
		t.Errorf("SystemCallFilter=%q: want @system-service without @privileged", f)
	}
	rw := strings.Fields(one("ReadWritePaths"))
	if !slices.Equal(rw, []string{"/var/lib/mlads"}) {
		t.Errorf("ReadWritePaths=%s, want /var/lib/mlads", rw)
	}

	// ExecStart is an mlads command line, and the shipped configuration
	// keeps its state where the unit may write.
	exe := strings.Fields(one("ExecStart"))
	if len(exe) < 2 || filepath.Base(exe[0]) != "mlads" {
		t.Fatalf("ExecStart=%s: want mlads and a command", exe)
	}
	root := newRoot()
	cmd, args, err := root.Find(exe[1:])
	if err != nil || cmd.Name() != "run" {
		t.Fatalf("ExecStart=%s: finds %v, %v: want the run command", exe, cmd, err)
	}
	if err := cmd.ParseFlags(args); err != nil {
		t.Fatalf("ExecStart=%s: %v", exe, err)
	}
	cfgPath, err := cmd.Flags().GetString("config")
	if err != nil || cfgPath != "/etc/mlads/mlads.yaml" {
		t.Fatalf("ExecStart=%s: --config %q, %v", exe, cfgPath, err)
	}
	cfg, err := config.Load("../../configs/mlads.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	for what, p := range map[string]string{
		"run.positions": cfg.Run.Positions, "notify.outbox": cfg.Notify.Outbox,
		"elasticsearch.spool.dir": cfg.Elasticsearch.Spool.Dir, "elasticsearch.dead_letter": cfg.Elasticsearch.DeadLetter,
	} {
		if !strings.HasPrefix(p, rw[0]+"/") {
			t.Errorf("configs/mlads.yaml: %s %s is outside ReadWritePaths %s: the service could not write it", what, p, rw[0])
		}
	}
	if h, _, _ := strings.Cut(cfg.Run.MetricsListen, ":"); h != "127.0.0.1" {
		t.Errorf("configs/mlads.yaml: run.metrics_listen %s is not loopback", cfg.Run.MetricsListen)
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed: the unit is not verified by systemd")
	}
	// verify wants ExecStart's binary to exist: this test's stands in
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	unit := filepath.Join(t.TempDir(), "mlads.service")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(unit, []byte(strings.ReplaceAll(string(b), exe[0], self)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", unit).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err := exec.Command(analyze, "security", "--offline=yes", unit).CombinedOutput()
	if err != nil {
		t.Logf("systemd-analyze security --offline=yes: %v (older systemd?); exposure not rated", err)
		return
	}
	m := regexp.MustCompile(`Overall exposure level for mlads.service: ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security: no exposure level in\n%s", out)
	}
	level, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil || level > 2.5 {
		t.Errorf("systemd-analyze security: exposure %s, want at most 2.5 (0 is best, 10 worst)\n%s", m[1], out)
	}
	t.Logf("systemd-analyze security: exposure %.1f", level)
}
