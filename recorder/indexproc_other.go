//go:build !linux

package recorder

import "os/exec"

// lowerThreadPriority does nothing here: priorities are per process and
// the child lowers nothing (it runs at normal priority).
func lowerThreadPriority() {}

func setParentDeath(*exec.Cmd) {}
