//go:build !linux

package recorder

import "os/exec"

// lowerPriority does nothing here: the child runs at normal priority.
func lowerPriority() {}

func setParentDeath(*exec.Cmd) {}
