//go:build !linux

package affinity

// Pin returns ErrUnsupported: only Linux pins threads.
func Pin(cpu int) (undo func(), err error) { return nil, ErrUnsupported }

// Current returns ErrUnsupported: only Linux pins threads.
func Current() ([]int, error) { return nil, ErrUnsupported }

// Allowed returns ErrUnsupported: only Linux pins threads.
func Allowed() ([]int, error) { return nil, ErrUnsupported }
