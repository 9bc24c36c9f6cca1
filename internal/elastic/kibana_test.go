package elastic

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeKibana answers the saved-objects import API as Kibana 8.19 does,
// checking the request on the way: Kibana itself cannot run here.
type fakeKibana struct {
	mu       sync.Mutex
	imported map[string][]byte // file name → content
	problems []string
	answer   func(w http.ResponseWriter) bool // overrides the success answer when it returns true
}

func (k *fakeKibana) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	problem := func(s string) { k.problems = append(k.problems, s) }
	if r.Method != http.MethodPost || r.URL.Path != "/s/soc/api/saved_objects/_import" || r.URL.Query().Get("overwrite") != "true" {
		problem("request " + r.Method + " " + r.URL.String())
	}
	if r.Header.Get("kbn-xsrf") == "" {
		problem("no kbn-xsrf header")
	}
	if u, p, ok := r.BasicAuth(); !ok || u != "mlads" || p != testPassword {
		problem("no basic auth")
	}
	if k.answer != nil && k.answer(w) {
		return
	}
	f, hdr, err := r.FormFile("file")
	if err != nil {
		problem("no multipart file: " + err.Error())
		http.Error(w, `{"statusCode":400,"error":"Bad Request","message":"no file"}`, http.StatusBadRequest)
		return
	}
	b, _ := io.ReadAll(f)
	if k.imported == nil {
		k.imported = map[string][]byte{}
	}
	k.imported[hdr.Filename] = b
	n := bytes.Count(b, []byte{'\n'})
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"successCount":`+strconv.Itoa(n)+`,"success":true,"warnings":[],"successResults":[]}`)
}

func TestKibanaImport(t *testing.T) {
	fk := &fakeKibana{}
	srv := httptest.NewServer(fk)
	defer srv.Close()
	k := &Kibana{URL: srv.URL, Space: "soc", Username: "mlads", Password: testPassword}
	files := []SavedObjects{{Name: "a.ndjson", Data: []byte("{\"id\":\"1\"}\n{\"id\":\"2\"}\n")}, {Name: "b.ndjson", Data: []byte("{\"id\":\"3\"}\n")}}
	ctx := context.Background()

	var dry bytes.Buffer
	if err := k.Import(ctx, files, true, &dry); err != nil {
		t.Fatal(err)
	}
	if len(fk.imported) != 0 || !strings.Contains(dry.String(), "POST "+srv.URL+"/s/soc/api/saved_objects/_import?overwrite=true  (multipart file a.ndjson: 2 saved objects") {
		t.Fatalf("dry run sent %d files, printed:\n%s", len(fk.imported), dry.String())
	}

	for range 2 { // idempotent: overwrite=true
		if err := k.Import(ctx, files, false, io.Discard); err != nil {
			t.Fatal(err)
		}
	}
	if len(fk.problems) > 0 {
		t.Fatalf("requests: %v", fk.problems)
	}
	if !bytes.Equal(fk.imported["a.ndjson"], files[0].Data) || !bytes.Equal(fk.imported["b.ndjson"], files[1].Data) {
		t.Fatalf("imported %q", fk.imported)
	}

	// Kibana's answers to a bad import and to refused credentials.
	for _, tc := range []struct {
		status int
		body   string
		want   string
	}{
		{200, `{"success":false,"successCount":1,"errors":[{"id":"mlads-overview","type":"dashboard","title":"[mlads] Alert overview","error":{"type":"missing_references","references":[{"type":"lens","id":"nope"}]}}]}`,
			"import a.ndjson: 1 objects imported, 1 failed: dashboard mlads-overview ([mlads] Alert overview): missing_references [missing lens nope]"},
		{401, `{"statusCode":401,"error":"Unauthorized","message":"[security_exception] unable to authenticate user [mlads]"}`,
			"HTTP 401 (authentication failed: check the username and password or API key): [security_exception] unable to authenticate user [mlads]"},
	} {
		fk.answer = func(w http.ResponseWriter) bool {
			w.WriteHeader(tc.status)
			_, _ = io.WriteString(w, tc.body)
			return true
		}
		err := k.Import(ctx, files, false, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), testPassword) {
			t.Errorf("got %v\nwant %q", err, tc.want)
		}
	}
}
