//go:build !unix

package recorder

import "testing"

func runChild(string) int { return 2 }

func TestChildProcesses(t *testing.T) { t.Skip("needs a unix system") }
