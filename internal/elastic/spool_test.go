package elastic

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

func spoolEntry(i int) *entry {
	return &entry{Op: "create", Index: "logs-mlads.alert-test", ID: fmt.Sprintf("id-%06d", i),
		Doc: json.RawMessage(fmt.Sprintf(`{"n":%d,"pad":"%0200d"}`, i, 0))}
}

// replayIDs replays sp and returns the IDs in the order they came.
func replayIDs(t *testing.T, sp *Spool) []string {
	t.Helper()
	var ids []string
	if _, err := sp.replay(func(seg []*entry) (bool, error) {
		for _, e := range seg {
			ids = append(ids, e.ID)
		}
		return true, nil
	}); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestSpoolOrderAndRestart appends across several segments, reopens the
// spool (a restart, with a torn last line as a crash leaves it), and
// replays everything in order.
func TestSpoolOrderAndRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	sp, err := OpenSpool(dir, 4<<20, WhenFullBlock) // segments of 64 KiB
	if err != nil {
		t.Fatal(err)
	}
	const n = 12000 // about 3 MB: several segments
	for i := range n {
		if _, err := sp.Append(spoolEntry(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := sp.Sync(); err != nil {
		t.Fatal(err)
	}
	if st := sp.Status(); st.Docs != n || st.Segments < 3 {
		t.Fatalf("status %+v", st)
	}
	if _, err := OpenSpool(dir, 4<<20, WhenFullBlock); err == nil {
		t.Fatal("a second process opened the spool")
	}
	if err := sp.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash in the middle of an append.
	last := sp.segs[len(sp.segs)-1]
	f, err := os.OpenFile(filepath.Join(dir, last.name()), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString(`{"op":"create","index":"x","id":"torn`)
	_ = f.Close()

	sp, err = OpenSpool(dir, 4<<20, WhenFullBlock)
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if st := sp.Status(); st.Docs != n {
		t.Fatalf("after restart: %+v", st)
	}
	ids := replayIDs(t, sp)
	if len(ids) != n {
		t.Fatalf("replayed %d, want %d", len(ids), n)
	}
	for i, id := range ids {
		if id != spoolEntry(i).ID {
			t.Fatalf("replay %d is %s, want %s: out of order", i, id, spoolEntry(i).ID)
		}
	}
	if !sp.Empty() {
		t.Fatal("not empty after replay")
	}
	if names, _ := filepath.Glob(filepath.Join(dir, "spool-*")); len(names) != 0 {
		t.Fatalf("segments left: %v", names)
	}
}

// TestSpoolWhenFull checks the three policies at the limit.
func TestSpoolWhenFull(t *testing.T) {
	const limit = 1 << 20 // about 4000 entries, 1 MiB segments
	for _, tc := range []struct {
		policy string
		check  func(t *testing.T, sp *Spool, appended int, fullErr error)
	}{
		{WhenFullBlock, func(t *testing.T, sp *Spool, appended int, fullErr error) {
			if !errors.Is(fullErr, ErrSpoolFull) || sp.Status().Dropped != 0 {
				t.Errorf("block: err %v, dropped %d", fullErr, sp.Status().Dropped)
			}
		}},
		{WhenFullDropNewest, func(t *testing.T, sp *Spool, appended int, fullErr error) {
			st := sp.Status()
			ids := replayIDs(t, sp)
			if fullErr != nil || st.Dropped == 0 || uint64(len(ids))+st.Dropped != uint64(appended) || ids[0] != spoolEntry(0).ID {
				t.Errorf("drop_newest: err %v, kept %d + dropped %d != %d, first %s", fullErr, len(ids), st.Dropped, appended, ids[0])
			}
		}},
		{WhenFullDropOldest, func(t *testing.T, sp *Spool, appended int, fullErr error) {
			st := sp.Status()
			ids := replayIDs(t, sp)
			if fullErr != nil || st.Dropped == 0 || uint64(len(ids))+st.Dropped != uint64(appended) || ids[len(ids)-1] != spoolEntry(appended-1).ID {
				t.Errorf("drop_oldest: err %v, kept %d + dropped %d != %d, last %s", fullErr, len(ids), st.Dropped, appended, ids[len(ids)-1])
			}
		}},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			sp, err := OpenSpool(filepath.Join(t.TempDir(), "spool"), limit, tc.policy)
			if err != nil {
				t.Fatal(err)
			}
			defer sp.Close()
			var fullErr error
			appended := 0
			for i := range 12000 {
				if _, err := sp.Append(spoolEntry(i)); err != nil {
					fullErr = err
					break
				}
				appended++
			}
			if st := sp.Status(); st.Bytes > limit {
				t.Errorf("%d bytes spooled, limit %d", st.Bytes, limit)
			}
			tc.check(t, sp, appended, fullErr)
		})
	}
}
