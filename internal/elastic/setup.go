package elastic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/elastic/go-elasticsearch/v8/esapi"
)

// Setup installs the lifecycle policies, the component templates and the
// index templates. It is idempotent: every call puts the same definitions.
// When the templates installed before carry an older MappingVersion, the
// data streams that exist are rolled over so their next backing index
// uses the new mapping, and the incident indices get the new fields. A
// newer version than this mlads knows is an error: an old binary must not
// downgrade the templates.
//
// With dryRun, Setup sends nothing and writes each request (method, path,
// JSON body) to w instead.
func (c *Client) Setup(ctx context.Context, dryRun bool, w io.Writer) error {
	reqs := c.setupRequests()
	if dryRun {
		for _, r := range reqs {
			if err := writeRequest(w, r.Method, r.Path, r.Body); err != nil {
				return err
			}
		}
		_, err := fmt.Fprintf(w, "# when the installed mapping version is older than %d:\nPOST /%s/_rollover\nPOST /%s/_rollover\nPUT /%s*/_mapping\n",
			MappingVersion, c.names.Alerts, c.names.Health, c.names.Incidents)
		return err
	}
	if err := c.Ping(ctx); err != nil {
		return err
	}
	installed, found, err := c.installedVersion(ctx)
	if err != nil {
		return err
	}
	if installed > MappingVersion {
		return fmt.Errorf("elastic: %s: the installed templates have mapping version %d, newer than this mlads's %d: upgrade mlads",
			c.where(), installed, MappingVersion)
	}
	for _, r := range reqs {
		if err := c.send(ctx, r); err != nil {
			return err
		}
	}
	if !found || installed == MappingVersion {
		return nil
	}
	for _, ds := range []string{c.names.Alerts, c.names.Health} {
		_, err := c.do(ctx, "roll over "+ds, esapi.IndicesRolloverRequest{Alias: ds})
		var e *Error
		if errors.As(err, &e) && e.Status == http.StatusNotFound {
			continue // not written to yet: it starts with the new mapping
		}
		if err != nil {
			return err
		}
	}
	body, err := json.Marshal(obj{"properties": alertMappings()})
	if err != nil {
		return fmt.Errorf("elastic: mapping: %w", err)
	}
	allowNone := true
	_, err = c.do(ctx, "update incident mappings", esapi.IndicesPutMappingRequest{
		Index: []string{c.names.Incidents + "*"}, Body: bytes.NewReader(body), AllowNoIndices: &allowNone,
	})
	return err
}

// Check connects and checks that the templates Setup installs are there
// and current; its error says what is wrong and that `mlads setup` fixes it.
func (c *Client) Check(ctx context.Context) error {
	if err := c.Ping(ctx); err != nil {
		return err
	}
	v, found, err := c.installedVersion(ctx)
	switch {
	case err != nil:
		return err
	case !found:
		return fmt.Errorf("elastic: %s: index template %s is not installed: run mlads setup", c.where(), templateAlert)
	case v < MappingVersion:
		return fmt.Errorf("elastic: %s: the installed templates have mapping version %d, this mlads writes %d: run mlads setup",
			c.where(), v, MappingVersion)
	}
	return nil
}

// installedVersion returns the mapping version of the installed alert
// template, and whether there is one.
func (c *Client) installedVersion(ctx context.Context) (version int, found bool, err error) {
	body, err := c.do(ctx, "get index template "+templateAlert, esapi.IndicesGetIndexTemplateRequest{Name: templateAlert})
	var e *Error
	if errors.As(err, &e) && e.Status == http.StatusNotFound {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	var res struct {
		IndexTemplates []struct {
			IndexTemplate struct {
				Meta struct {
					Version int `json:"version"`
				} `json:"_meta"`
			} `json:"index_template"`
		} `json:"index_templates"`
	}
	if err := json.Unmarshal(body, &res); err != nil {
		return 0, false, fmt.Errorf("elastic: %s: get index template %s: %w", c.where(), templateAlert, err)
	}
	if len(res.IndexTemplates) == 0 {
		return 0, false, nil
	}
	return res.IndexTemplates[0].IndexTemplate.Meta.Version, true, nil
}

// send performs one setup request.
func (c *Client) send(ctx context.Context, r request) error {
	body, err := json.Marshal(r.Body)
	if err != nil {
		return fmt.Errorf("elastic: %s: %w", r.Op, err)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.Path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("elastic: %s: %w", r.Op, err)
	}
	req.Header.Set("Content-Type", "application/json")
	_, err = c.perform(ctx, r.Op, req)
	return err
}

// perform sends a raw request through the client (its auth, TLS and
// product check) and returns the body of a 2xx response or an *Error.
func (c *Client) perform(ctx context.Context, op string, req *http.Request) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()
	res, err := c.es.Perform(req.WithContext(ctx))
	if err != nil {
		return nil, c.transportError(op, err)
	}
	defer func() { _ = res.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return nil, c.transportError(op, err)
	}
	if res.StatusCode >= 300 {
		return body, c.statusError(op, res.StatusCode, res.Header, body)
	}
	return body, nil
}

// writeRequest prints a request in the form Kibana's console reads.
func writeRequest(w io.Writer, method, path string, body any) error {
	b, err := json.MarshalIndent(body, "", "  ")
	if err != nil {
		return fmt.Errorf("elastic: %s %s: %w", method, path, err)
	}
	_, err = fmt.Fprintf(w, "%s %s\n%s\n\n", method, path, b)
	return err
}

// errorReason extracts error.type and error.reason (with the root cause's
// reason when it says more) from an Elasticsearch error body.
func errorReason(body []byte) (typ, reason string) {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || len(e.Error) == 0 {
		s := strings.TrimSpace(string(body))
		if len(s) > 300 {
			s = s[:300] + "…"
		}
		return "", s
	}
	var s string
	if json.Unmarshal(e.Error, &s) == nil {
		return "", s
	}
	var d struct {
		Type      string `json:"type"`
		Reason    string `json:"reason"`
		RootCause []struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"root_cause"`
	}
	if json.Unmarshal(e.Error, &d) != nil {
		return "", string(e.Error)
	}
	if len(d.RootCause) > 0 && d.RootCause[0].Reason != "" && d.RootCause[0].Reason != d.Reason {
		return d.Type, d.Reason + ": " + d.RootCause[0].Reason
	}
	return d.Type, d.Reason
}
