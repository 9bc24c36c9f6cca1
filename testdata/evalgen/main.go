// Command evalgen writes the synthetic labelled sets of internal/eval
// (eval.WriteSynthetic): beacons among timers, a slow FIN scan and a slow
// exfiltration, each from hosts that were benign in the training half.
// Evaluate them with peers:
//
//	go run ./testdata/evalgen -out /tmp/synth
//	mlads eval /tmp/synth/*.json
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/mlads/mlads/internal/eval"
)

func main() {
	out := flag.String("out", ".", "folder to write the sets into")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	sets, err := eval.WriteSynthetic(*out, *seed)
	if err != nil {
		fmt.Fprintln(os.Stderr, "evalgen:", err)
		os.Exit(1)
	}
	for _, s := range sets {
		fmt.Println(s.Path)
	}
}
