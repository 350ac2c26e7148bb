// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

//go:build race

package ssh

// raceEnabled: the race detector's sync.Pool drops items at random, so
// tests of what pools save do not hold.
const raceEnabled = true
