// Command build compiles the single sign-on tests' OpenID provider into
// the user's cache folder (oidctest.Build), for make test-deps.
package main

import (
	"fmt"
	"os"

	"github.com/jumpcast/jumpcast/internal/oidctest"
)

func main() {
	bin, err := oidctest.Build()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(bin)
}
