package catalog

import "runtime"

// workers is how many goroutines do CPU-bound chunk work: every core.
func workers() int { return runtime.GOMAXPROCS(0) }
