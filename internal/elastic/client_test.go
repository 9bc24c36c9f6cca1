package elastic

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testPassword = "pa55-VERY-secret-42" //nolint:gosec // a test secret, asserted absent from output

// TestBadConnections checks that each broken setup gives one error that
// names its cause, and that no secret appears in it or in the logs.
func TestBadConnections(t *testing.T) {
	// A cluster with security on that refuses the credentials.
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"type":"security_exception","reason":"unable to authenticate user [mlads] for REST request [/]"},"status":401}`))
	}))
	defer refuse.Close()
	tlsSrv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer tlsSrv.Close()
	// A CA that did not sign the server's certificate.
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: selfSignedCA(t)}), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	goodCA := filepath.Join(t.TempDir(), "good.pem")
	if err := os.WriteFile(goodCA, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tlsSrv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name string
		o    Options
		want string // in the error
		new  bool   // the error comes from New, not Ping
	}{
		{name: "unreachable", o: Options{URL: "http://127.0.0.1:1"}, want: "connect: unreachable: connection refused"},
		{name: "unknown host", o: Options{URL: "http://no-such-host.invalid:9200"}, want: "unreachable: cannot resolve host no-such-host.invalid"},
		{name: "wrong credentials", o: Options{URL: refuse.URL, Username: "mlads", Password: testPassword},
			want: "HTTP 401 (authentication failed: check the username and password or API key): security_exception"},
		{name: "wrong API key", o: Options{URL: refuse.URL, APIKey: testPassword}, want: "HTTP 401 (authentication failed"},
		{name: "bad CA", o: Options{URL: tlsSrv.URL, CAFile: caFile, Password: testPassword, Username: "u"},
			want: "TLS: the server's certificate is not signed by a trusted CA"},
		{name: "no CA", o: Options{URL: tlsSrv.URL}, want: "TLS: the server's certificate is not signed by a trusted CA"},
		{name: "CA file not PEM", o: Options{URL: tlsSrv.URL, CAFile: notPEM}, want: "no PEM certificate in it", new: true},
		{name: "CA file missing", o: Options{URL: tlsSrv.URL, CAFile: "/nonexistent/ca.pem"}, want: "CA file: open /nonexistent/ca.pem", new: true},
		{name: "wrong fingerprint", o: Options{URL: tlsSrv.URL, Fingerprint: strings.Repeat("AB", 32)},
			want: "TLS: the server's certificate does not match elasticsearch.fingerprint"},
		{name: "https to http", o: Options{URL: strings.Replace(refuse.URL, "http:", "https:", 1)}, want: "TLS: the server speaks plain HTTP"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.Timeout = 5 * time.Second
			c, err := New(tc.o)
			if err == nil {
				if tc.new {
					t.Fatal("New succeeded")
				}
				err = c.Ping(context.Background())
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant an error containing %q", err, tc.want)
			}
			if strings.Contains(err.Error(), testPassword) {
				t.Errorf("the error shows the secret: %v", err)
			}
			if strings.Count(err.Error(), "elastic:") != 1 {
				t.Errorf("not one clear error: %v", err)
			}
			t.Log(err)
		})
	}

	// A good CA works (the control for the cases above).
	c, err := New(Options{URL: tlsSrv.URL, CAFile: goodCA, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(context.Background()); err != nil {
		t.Fatalf("with the right CA: %v", err)
	}
}

// selfSignedCA returns a fresh CA certificate (DER) that signed nothing.
func selfSignedCA(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not the server's CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestSecretsNotLogged runs a sink against a cluster that refuses the
// credentials and checks the logs, errors and spool for the secret.
func TestSecretsNotLogged(t *testing.T) {
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Elastic-Product", "Elasticsearch")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"type":"security_exception","reason":"unable to authenticate"},"status":401}`))
	}))
	defer refuse.Close()
	var logs bytes.Buffer
	c, err := New(Options{URL: refuse.URL, Username: "mlads", Password: testPassword, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s, err := NewSink(c, SinkOptions{SpoolDir: filepath.Join(dir, "spool"), DeadLetter: filepath.Join(dir, "dead"),
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Write(ctx, testAlerts(t, 10)); err != nil {
		t.Fatal(err)
	}
	_, ferr := s.Flush(ctx)
	if ferr == nil || !strings.Contains(ferr.Error(), "401") {
		t.Fatalf("flush: %v, want the 401", ferr)
	}
	if st := s.Stats(); st.Spool.Docs != 11 {
		t.Errorf("refused documents not spooled: %+v", st)
	}
	if err := s.Close(); err != nil {
		t.Log(err)
	}
	var all bytes.Buffer
	all.WriteString(ferr.Error())
	all.Write(logs.Bytes())
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := os.ReadFile(p)
			all.Write(b)
		}
		return nil
	})
	if bytes.Contains(all.Bytes(), []byte(testPassword)) {
		t.Fatalf("the secret appears in the errors, logs or files")
	}
}

// TestSinkTLSFailure: documents written to a cluster whose certificate is
// not trusted are spooled, and Flush says why instead of retrying forever.
func TestSinkTLSFailure(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	c, err := New(Options{URL: srv.URL, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	s, err := NewSink(c, SinkOptions{SpoolDir: filepath.Join(dir, "spool"), DeadLetter: filepath.Join(dir, "dead")})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if _, err := s.Write(ctx, testAlerts(t, 5)); err != nil {
		t.Fatal(err)
	}
	retry, err := s.Flush(ctx)
	if err == nil || retry || !strings.Contains(err.Error(), "TLS: the server's certificate is not signed by a trusted CA") {
		t.Fatalf("flush: %v (retry %v)", err, retry)
	}
	if st := s.Stats(); st.Spool.Docs != 6 {
		t.Fatalf("spooled %d, want 6", st.Spool.Docs)
	}
}
