// Package rusage gives the benchmark harnesses the process's CPU time: on a
// shared, loaded machine a steadier measure of work than wall time.
package rusage

import (
	"syscall"
	"time"
)

// CPU is the process's user + system time so far (0 if the kernel will not
// say).
func CPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
