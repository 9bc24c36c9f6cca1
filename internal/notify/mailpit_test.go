package notify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// mailpitVersion is the mailpit the tests run as their SMTP server,
// built from the Go module proxy on first use and cached.
const mailpitVersion = "v1.33.1"

var (
	mailpitOnce sync.Once
	mailpitPath string
	mailpitErr  error
)

// mailpitBinary returns the mailpit executable: $MAILPIT_BIN, or one
// built with `go install github.com/axllent/mailpit@v1.33.1` into the
// user's cache. It skips the test when that fails, except under CI.
func mailpitBinary(t testing.TB) string {
	t.Helper()
	mailpitOnce.Do(func() {
		if p := os.Getenv("MAILPIT_BIN"); p != "" {
			mailpitPath = p
			return
		}
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		dir := filepath.Join(cache, "mlads", "mailpit-"+mailpitVersion)
		mailpitPath = filepath.Join(dir, "mailpit")
		if _, err := os.Stat(mailpitPath); err == nil {
			return
		}
		cmd := exec.Command("go", "install", "github.com/axllent/mailpit@"+mailpitVersion)
		cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
		if out, err := cmd.CombinedOutput(); err != nil {
			mailpitErr = fmt.Errorf("building mailpit %s: %w\n%s", mailpitVersion, err, out)
		}
	})
	if mailpitErr != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(mailpitErr)
		}
		t.Skip(mailpitErr)
	}
	return mailpitPath
}

// mailpit is a mailpit server on loopback ports of its own, requiring
// STARTTLS with a certificate made for the test.
type mailpit struct {
	t          testing.TB
	bin        string
	dir        string
	smtpPort   int
	httpPort   int
	cert, key  string
	cmd        *exec.Cmd
	exited     chan struct{}
	requireTLS bool
}

func newMailpit(t testing.TB) *mailpit {
	t.Helper()
	m := &mailpit{t: t, bin: mailpitBinary(t), dir: t.TempDir(), smtpPort: freePort(t), httpPort: freePort(t), requireTLS: true}
	m.cert, m.key = selfSigned(t, m.dir)
	t.Cleanup(m.stop)
	return m
}

func (m *mailpit) start() {
	m.t.Helper()
	args := []string{"--quiet", "--disable-version-check", "--smtp-disable-rdns",
		"--smtp", "127.0.0.1:" + strconv.Itoa(m.smtpPort), "--listen", "127.0.0.1:" + strconv.Itoa(m.httpPort),
		"--database", filepath.Join(m.dir, "mailpit.db"), "--smtp-auth-accept-any",
		"--smtp-tls-cert", m.cert, "--smtp-tls-key", m.key}
	if m.requireTLS {
		args = append(args, "--smtp-require-starttls")
	}
	m.cmd = exec.Command(m.bin, args...)
	// its log goes nowhere: the tests read what arrived through its API
	if err := m.cmd.Start(); err != nil {
		m.t.Fatal(err)
	}
	m.exited = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(m.cmd, m.exited)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := http.Get(m.api("/api/v1/info")); err == nil {
			r.Body.Close()
			if c, err := net.Dial("tcp", m.smtpAddr()); err == nil {
				c.Close()
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	m.t.Fatal("mailpit did not come up")
}

func (m *mailpit) stop() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	_ = m.cmd.Process.Kill()
	<-m.exited
	m.cmd = nil
}

func (m *mailpit) smtpAddr() string { return "127.0.0.1:" + strconv.Itoa(m.smtpPort) }

func (m *mailpit) api(path string) string {
	return "http://127.0.0.1:" + strconv.Itoa(m.httpPort) + path
}

type mpAddress struct {
	Name, Address string
}

type mpSummary struct {
	ID        string
	MessageID string
	From      mpAddress
	To        []mpAddress
	Subject   string
}

type mpMessage struct {
	mpSummary
	Text, HTML string
}

// messages lists what arrived, oldest first.
func (m *mailpit) messages() []mpSummary {
	m.t.Helper()
	var out struct {
		Total    int
		Messages []mpSummary
	}
	m.get("/api/v1/messages?limit=1000", &out)
	for i, j := 0, len(out.Messages)-1; i < j; i, j = i+1, j-1 {
		out.Messages[i], out.Messages[j] = out.Messages[j], out.Messages[i]
	}
	return out.Messages
}

func (m *mailpit) message(id string) mpMessage {
	m.t.Helper()
	var msg mpMessage
	m.get("/api/v1/message/"+id, &msg)
	return msg
}

func (m *mailpit) headers(id string) map[string][]string {
	m.t.Helper()
	var h map[string][]string
	m.get("/api/v1/message/"+id+"/headers", &h)
	return h
}

func (m *mailpit) get(path string, v any) {
	m.t.Helper()
	r, err := http.Get(m.api(path))
	if err != nil {
		m.t.Fatal(err)
	}
	defer r.Body.Close()
	if r.StatusCode != http.StatusOK {
		m.t.Fatalf("mailpit %s: %s", path, r.Status)
	}
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		m.t.Fatalf("mailpit %s: %v", path, err)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// selfSigned writes a certificate for 127.0.0.1 and localhost and its
// key; the certificate is also the CA the client trusts.
func selfSigned(t testing.TB, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "mlads test SMTP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}
