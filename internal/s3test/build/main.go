// Command build installs the tests' S3-compatible server (versitygw) into
// the user's cache folder (s3test.Build), for make test-deps.
package main

import (
	"fmt"
	"os"

	"github.com/jumpcast/jumpcast/internal/s3test"
)

func main() {
	bin, err := s3test.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(bin)
}
