package affinity

import (
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestPin pins to each allowed CPU in turn, reads the thread's CPUs back,
// and checks undo gives the thread its former set.
func TestPin(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("pinning is Linux only")
	}
	allowed, err := Allowed()
	if err != nil {
		t.Fatal(err)
	}
	for _, cpu := range allowed {
		done := make(chan struct{})
		go func() { // a goroutine of its own: the test's thread stays unpinned
			defer close(done)
			runtime.LockOSThread() // hold the thread across undo, to read it back
			defer runtime.UnlockOSThread()
			before, err := Current()
			if err != nil {
				t.Error(err)
				return
			}
			undo, err := Pin(cpu)
			if err != nil {
				t.Errorf("Pin(%d): %v", cpu, err)
				return
			}
			got, err := Current()
			if err != nil {
				t.Error(err)
			}
			if !slices.Equal(got, []int{cpu}) {
				t.Errorf("Pin(%d): the thread may run on %v, want [%d]", cpu, got, cpu)
			}
			undo()
			after, err := Current()
			if err != nil {
				t.Error(err)
			}
			if !slices.Equal(after, before) {
				t.Errorf("after undo the thread may run on %v, want %v as before", after, before)
			}
		}()
		<-done
	}
}

func TestPinAbsentCPU(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("pinning is Linux only")
	}
	for _, cpu := range []int{-1, maxCPU} {
		if _, err := Pin(cpu); err == nil || !strings.Contains(err.Error(), "must be in [0, 1024)") {
			t.Errorf("Pin(%d): err = %v", cpu, err)
		}
	}
	// a CPU number the kernel knows of but the process may not use
	allowed, err := Allowed()
	if err != nil {
		t.Fatal(err)
	}
	absent := allowed[len(allowed)-1] + 1
	done := make(chan error)
	go func() {
		undo, err := Pin(absent)
		if err == nil {
			undo()
		}
		done <- err
	}()
	if err := <-done; err == nil || !strings.Contains(err.Error(), "pinning the thread to CPU") {
		t.Errorf("Pin(%d), not allowed: err = %v", absent, err)
	}
}

func TestCheck(t *testing.T) {
	if runtime.GOOS != "linux" {
		if err := Check([]int{0}); !errors.Is(err, ErrUnsupported) {
			t.Fatalf("Check: err = %v, want ErrUnsupported", err)
		}
		return
	}
	allowed, err := Allowed()
	if err != nil {
		t.Fatal(err)
	}
	if len(allowed) == 0 {
		t.Fatal("the process may run on no CPU")
	}
	if err := Check(nil); err != nil {
		t.Errorf("Check(nil) = %v", err)
	}
	if err := Check(allowed); err != nil {
		t.Errorf("Check(%v) = %v", allowed, err)
	}
	for _, tc := range []struct {
		cpus []int
		want string
	}{
		{[]int{9999}, "CPU 9999 is not one this process may run on (allowed: " + List(allowed) + ")"},
		{[]int{-1}, "CPU -1 must not be negative"},
		{[]int{allowed[0], allowed[0]}, "is listed twice"},
	} {
		err := Check(tc.cpus)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Check(%v) = %v, want it to say %q", tc.cpus, err, tc.want)
		}
	}
}

func TestList(t *testing.T) {
	for _, tc := range []struct {
		cpus []int
		want string
	}{
		{nil, ""},
		{[]int{0}, "0"},
		{[]int{0, 1}, "0-1"},
		{[]int{0, 1, 2, 3, 6, 8, 9}, "0-3,6,8-9"},
	} {
		if got := List(tc.cpus); got != tc.want {
			t.Errorf("List(%v) = %q, want %q", tc.cpus, got, tc.want)
		}
	}
}
