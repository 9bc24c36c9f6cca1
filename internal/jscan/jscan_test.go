package jscan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestParseISO8601 checks the fast path against time.Parse and the general
// forms.
func TestParseISO8601(t *testing.T) {
	for _, s := range []string{
		"2024-12-17T19:19:11.815121-0500", "2021-06-06T17:34:31.140759+0200", "2016-02-29T23:59:59.999999+0000",
		"1999-12-31T23:59:59.000000-1130", "2000-03-01T00:00:00.000001+1400", "1970-01-01T00:00:00.000000+0000",
		"2100-02-28T12:00:00.500000-0000",
	} {
		want, err := time.Parse("2006-01-02T15:04:05.999999999-0700", s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseISO8601([]byte(s))
		if err != nil || !got.Equal(want) {
			t.Errorf("%s: got %v %v, want %v", s, got, err, want)
		}
	}
	for s, want := range map[string]string{
		"2019-01-01T12:34:56.123456Z":      "2019-01-01T12:34:56.123456Z",
		"2019-01-01T12:34:56Z":             "2019-01-01T12:34:56Z",
		"2019-01-01T12:34:56.123+05:30":    "2019-01-01T07:04:56.123Z",
		"2019-01-01":                       "2019-01-01T00:00:00Z",
		"2019-01-01T12:34:56.123456789123": "2019-01-01T12:34:56.123456789Z",
	} {
		got, err := ParseISO8601([]byte(s))
		w, _ := time.Parse(time.RFC3339Nano, want)
		if err != nil || !got.Equal(w) {
			t.Errorf("%s: got %v %v, want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"2019-13-01T00:00:00Z", "2019-01-01T25:00:00Z", "2019-01-01X", "2024-12-17T19:19:11.81512a-0500"} {
		if _, err := ParseISO8601([]byte(s)); err == nil {
			t.Errorf("%s: no error", s)
		}
	}
}

// TestIter walks nested objects, entered and skipped, and rejects broken input.
func TestIter(t *testing.T) {
	line := []byte(`{"a":"x\"y","b":{"c":1,"d":{"e":[1,{"f":2}]}},"g":[true,false,null],"h":-1.5e3}`)
	var it, sub Iter
	if err := it.Init(line); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for {
		k, _, kind, _, err := it.Next()
		if errors.Is(err, ErrEnd) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, string(k)+":"+kind.String())
		if string(k) == "b" {
			if err := it.Enter(&sub); err != nil {
				t.Fatal(err)
			}
			for {
				k, _, kind, _, err := sub.Next()
				if errors.Is(err, ErrEnd) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				keys = append(keys, "b."+string(k)+":"+kind.String()) // d is skipped, not entered
			}
		}
	}
	want := "a:string b:object b.c:number b.d:object g:array h:number"
	if got := joinStrings(keys); got != want {
		t.Errorf("walk %q, want %q", got, want)
	}
	for _, bad := range []string{`{"a":1`, `{"a" 1}`, `{"a":1,}`, `{"a":tru}`, `{"a":"x}`, `{"a":{"b":1}`, `{"a":[1,2}`, `{"a":1} x`, "{\"a\":\"\x01\"}", `[1]`} {
		if err := walkAll([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func walkAll(b []byte) error {
	var it Iter
	if err := it.Init(b); err != nil {
		return err
	}
	for {
		_, _, _, _, err := it.Next()
		if errors.Is(err, ErrEnd) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func joinStrings(s []string) string {
	out := ""
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out
}

// TestUnescape decodes JSON escapes, surrogate pairs included.
func TestUnescape(t *testing.T) {
	for in, want := range map[string]string{
		`a\"b\\c\/d\n\t`:  "a\"b\\c/d\n\t",
		`\u00e9\u4e2d`:    "é中",
		`\ud83d\ude00 ok`: "😀 ok",
		`\ud83d alone`:    "\ufffd alone",
	} {
		got, err := Unescape(nil, []byte(in))
		if err != nil || string(got) != want {
			t.Errorf("%s: got %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{`\x`, `\u12`, `\`} {
		if _, err := Unescape(nil, []byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// FuzzIterAcceptsValidJSON: every object encoding/json calls valid must be
// walked to its end, nested objects entered, without error.
func FuzzIterAcceptsValidJSON(f *testing.F) {
	for _, s := range []string{
		`{"a":"x\"y","b":{"c":1,"d":{"e":[1,{"f":2}]}},"g":[true,false,null],"h":-1.5e3}`,
		` { "a" : [ ] , "b" : { } } `,
		`{"\u00e9":"\ud83d\ude00","k":"\\\"","n":0.0e-0}`,
		`{"timestamp":"2024-12-17T19:17:54.565494-0500","flow_id":1,"event_type":"flow","flow":{"pkts_toserver":6}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) || len(bytes.TrimSpace(b)) == 0 || bytes.TrimSpace(b)[0] != '{' {
			return
		}
		if err := walkEntering(b); err != nil {
			t.Fatalf("valid JSON rejected: %v: %q", err, b)
		}
	})
}

// walkEntering walks an object, entering every nested object.
func walkEntering(b []byte) error {
	var it Iter
	if err := it.Init(b); err != nil {
		return err
	}
	return walkIter(&it)
}

func walkIter(it *Iter) error {
	for {
		_, _, kind, _, err := it.Next()
		if errors.Is(err, ErrEnd) {
			return nil
		}
		if err != nil {
			return err
		}
		if kind == Object {
			var sub Iter
			if err := it.Enter(&sub); err != nil {
				return err
			}
			if err := walkIter(&sub); err != nil {
				return err
			}
		}
	}
}

// TestNextKey reads objects with NextKey against keys of every length
// class (within one word, two words, longer), falling back to Next like
// the readers do, and checks that the members come out as Next gives them.
func TestNextKey(t *testing.T) {
	obj := `{"a":1,"ts":"x","tcp_flags_ts":"1b","bytes_toserver":42,"a_key_longer_than_sixteen":null,"o":{"p":[1]},"tcp":true}`
	var want []string
	var it Iter
	if err := it.Init([]byte(obj)); err != nil {
		t.Fatal(err)
	}
	for {
		k, _, kind, v, err := it.Next()
		if err != nil {
			break
		}
		want = append(want, fmt.Sprintf("%s %v %s", k, kind, v))
	}
	for _, guess := range [][]string{
		{"a", "ts", "tcp_flags_ts", "bytes_toserver", "a_key_longer_than_sixteen", "o", "tcp"},
		{"a", "t", "tcp_flags", "bytes_toserver_", "a_key_longer_than_sixteeN", "o", "tcp"},
		{"b", "tcp", "ts", "", "o", "p"},
	} {
		keys := make([]Key, len(guess))
		for i, g := range guess {
			keys[i].Set([]byte(g))
		}
		if err := it.Init([]byte(obj)); err != nil {
			t.Fatal(err)
		}
		var got []string
		for i := 0; ; i++ {
			if i < len(keys) {
				kind, v, ok, err := it.NextKey(&keys[i])
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					got = append(got, fmt.Sprintf("%s %v %s", keys[i].Raw(), kind, v))
					continue
				}
			}
			k, _, kind, v, err := it.Next()
			if err != nil {
				break
			}
			got = append(got, fmt.Sprintf("%s %v %s", k, kind, v))
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("guess %q:\n got %q\nwant %q", guess, got, want)
		}
	}
}

// FuzzParseISOFast: whatever the fast path accepts, time.Parse reads alike
// (but for leap seconds).
func FuzzParseISOFast(f *testing.F) {
	f.Add([]byte("2024-12-17T19:19:11.815121-0500"))
	f.Add([]byte("2024-12-17T19:19:11.8151a1-0500"))
	f.Add([]byte("2024-12-17T19:19:11.815121+05\xff0"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, ok := parseISOFast(b)
		if !ok || string(b[17:19]) == "60" { // a leap second, which time.Parse refuses
			return
		}
		want, err := time.Parse("2006-01-02T15:04:05.000000-0700", string(b))
		if err != nil || !want.Equal(got) {
			t.Fatalf("%q: fast %v, time.Parse %v %v", b, got, want, err)
		}
	})
}
