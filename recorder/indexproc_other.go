//go:build !linux

package recorder

import "os/exec"

// lowerPriority does nothing here: the child runs at normal priority.
func lowerPriority() {}

func setParentDeath(*exec.Cmd) {}

// lowerThreadPriority does nothing here: the thread keeps its priority.
func lowerThreadPriority() {}
