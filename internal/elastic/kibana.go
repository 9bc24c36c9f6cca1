package elastic

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// Kibana imports saved objects (data views, searches, dashboards) through
// Kibana's saved-objects import API.
type Kibana struct {
	URL      string
	Space    string // empty: the default space
	Username string
	Password string // secret: never logged, never in an error
	APIKey   string // secret: never logged, never in an error
	CAFile   string
	// Timeout bounds one request; 0 means 60 s.
	Timeout time.Duration
	// Transport replaces the HTTP transport (tests).
	Transport http.RoundTripper
}

// SavedObjects is one file of saved objects in Kibana's export format
// (ndjson), to import.
type SavedObjects struct {
	Name string
	Data []byte
}

// Import sends each file to POST /api/saved_objects/_import?overwrite=true,
// so a second import replaces the objects instead of failing on them. With
// dryRun it sends nothing and lists what it would send on w.
func (k *Kibana) Import(ctx context.Context, files []SavedObjects, dryRun bool, w io.Writer) error {
	endpoint := strings.TrimRight(k.URL, "/")
	if k.Space != "" {
		endpoint += "/s/" + url.PathEscape(k.Space)
	}
	endpoint += "/api/saved_objects/_import?overwrite=true"
	where := k.where()
	if dryRun {
		for _, f := range files {
			n := bytes.Count(bytes.TrimSpace(f.Data), []byte{'\n'}) + 1
			if _, err := fmt.Fprintf(w, "POST %s  (multipart file %s: %d saved objects, kbn-xsrf: true)\n", endpoint, f.Name, n); err != nil {
				return err
			}
		}
		return nil
	}
	client, err := k.client()
	if err != nil {
		return err
	}
	for _, f := range files {
		if err := k.importOne(ctx, client, endpoint, f); err != nil {
			return fmt.Errorf("kibana: %s: import %s: %w", where, f.Name, err)
		}
	}
	return nil
}

func (k *Kibana) importOne(ctx context.Context, client *http.Client, endpoint string, f SavedObjects) error {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	part, err := mw.CreateFormFile("file", f.Name)
	if err != nil {
		return err
	}
	if _, err := part.Write(f.Data); err != nil {
		return err
	}
	if err := mw.Close(); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, &body)
	if err != nil {
		return errors.New("bad kibana.url")
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("kbn-xsrf", "true")
	switch {
	case k.APIKey != "":
		req.Header.Set("Authorization", "ApiKey "+k.APIKey)
	case k.Username != "":
		req.SetBasicAuth(k.Username, k.Password)
	}
	res, err := client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // its message repeats the URL
		}
		var unknownCA x509.UnknownAuthorityError
		if errors.As(err, &unknownCA) {
			return errors.New("TLS: Kibana's certificate is not signed by a trusted CA (set kibana.ca_file)")
		}
		return fmt.Errorf("unreachable: %s", k.scrub(err.Error()))
	}
	defer func() { _ = res.Body.Close() }()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 4<<20))
	if res.StatusCode != http.StatusOK {
		msg := strings.TrimSpace(string(b))
		var e struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(b, &e) == nil && e.Message != "" {
			msg = e.Message
		}
		hint := ""
		if res.StatusCode == http.StatusUnauthorized {
			hint = " (authentication failed: check the username and password or API key)"
		}
		return fmt.Errorf("HTTP %d%s: %s", res.StatusCode, hint, k.scrub(msg))
	}
	var out struct {
		Success      bool `json:"success"`
		SuccessCount int  `json:"successCount"`
		Errors       []struct {
			ID    string `json:"id"`
			Type  string `json:"type"`
			Title string `json:"title"`
			Error struct {
				Type       string `json:"type"`
				References []struct {
					Type string `json:"type"`
					ID   string `json:"id"`
				} `json:"references"`
			} `json:"error"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("answer: %w", err)
	}
	if !out.Success {
		var msgs []string
		for _, e := range out.Errors {
			m := fmt.Sprintf("%s %s (%s): %s", e.Type, e.ID, e.Title, e.Error.Type)
			for _, r := range e.Error.References {
				m += fmt.Sprintf(" [missing %s %s]", r.Type, r.ID)
			}
			msgs = append(msgs, m)
		}
		return fmt.Errorf("%d objects imported, %d failed: %s", out.SuccessCount, len(out.Errors), strings.Join(msgs, "; "))
	}
	return nil
}

func (k *Kibana) client() (*http.Client, error) {
	timeout := k.Timeout
	if timeout <= 0 {
		timeout = time.Minute
	}
	if k.Transport != nil {
		return &http.Client{Transport: k.Transport, Timeout: timeout}, nil
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	if k.CAFile != "" {
		pem, err := os.ReadFile(k.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kibana: CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kibana: CA file %s: no PEM certificate in it", k.CAFile)
		}
		t.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: t, Timeout: timeout}, nil
}

func (k *Kibana) where() string {
	u, err := url.Parse(k.URL)
	if err != nil {
		return "kibana"
	}
	u.User = nil
	return u.Redacted()
}

func (k *Kibana) scrub(s string) string {
	for _, sec := range []string{k.Password, k.APIKey} {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}
