//go:build !(linux || darwin)

package recorder

import (
	"errors"
	"fmt"
)

// FreeSpace is not implemented on this system; a Manager with a free-space
// floor refuses sessions here.
func (d *Dir) FreeSpace() (uint64, error) {
	return 0, fmt.Errorf("free space of recordings folder: %w", errors.ErrUnsupported)
}
