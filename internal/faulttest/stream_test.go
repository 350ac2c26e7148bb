//go:build faults

package faulttest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// genEnv, when set in the environment as "SEED:SIZE", makes the test binary
// a stream generator instead of a test run (see TestMain): it writes the
// stream of that seed and size to stdout in chunks of random sizes, then
// waits for one line on stdin (so the client decides when the session
// ends), and exits 0.
const genEnv = "FAULTTEST_GEN"

// stream is a deterministic pseudo-random UTF-8 text of exactly size bytes:
// lower-case ASCII words, CJK ideographs, emoji, SGR colour escapes, tabs and
// newlines. The same seed and size give the same bytes whatever the sizes of
// the Read calls. It never splits a character at its end: a token that does
// not fit is replaced by ASCII letters.
type stream struct {
	rng     *rand.Rand
	left    int    // bytes still to produce
	pending []byte // the rest of the current token
}

func newStream(seed uint64, size int) *stream {
	return &stream{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), left: size}
}

func (s *stream) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(s.pending) == 0 {
			if s.left == 0 {
				break
			}
			s.pending = s.token()
		}
		c := copy(p[n:], s.pending)
		s.pending = s.pending[c:]
		n += c
	}
	if n == 0 && len(p) > 0 {
		return 0, io.EOF
	}
	return n, nil
}

// token makes the next token and counts it against left.
func (s *stream) token() []byte {
	var b []byte
	switch k := s.rng.IntN(100); {
	case k < 45: // an ASCII word and a space
		for range 2 + s.rng.IntN(9) {
			b = append(b, byte('a'+s.rng.IntN(26)))
		}
		b = append(b, ' ')
	case k < 75: // CJK Unified Ideographs (3 bytes each)
		for range 1 + s.rng.IntN(6) {
			b = utf8.AppendRune(b, rune(0x4e00+s.rng.IntN(0x5200)))
		}
	case k < 88: // emoji (4 bytes)
		b = utf8.AppendRune(b, rune(0x1f300+s.rng.IntN(0x250)))
	case k < 93: // accented Latin (2 bytes)
		b = utf8.AppendRune(b, rune(0xe0+s.rng.IntN(0x1f)))
	case k < 96:
		b = fmt.Appendf(b, "\x1b[%dm", 30+s.rng.IntN(8))
	case k < 97:
		b = append(b, '\t')
	default:
		b = append(b, "\x1b[0m\r\n"...)
	}
	if len(b) > s.left {
		b = b[:0]
		for range s.left {
			b = append(b, 'z')
		}
	}
	s.left -= len(b)
	return b
}

// streamBytes returns the whole stream (for small sizes and tests).
func streamBytes(seed uint64, size int) []byte {
	b, _ := io.ReadAll(newStream(seed, size))
	return b
}

// genCommand is the command line that makes a target run the generator:
// this test binary, found through /proc/self/exe (the target runs as the
// same user on the same machine).
func genCommand(seed uint64, size int) string {
	exe, err := os.Executable()
	if err != nil {
		exe = "/proc/" + strconv.Itoa(os.Getpid()) + "/exe"
	}
	return fmt.Sprintf("%s=%d:%d GOMAXPROCS=1 exec %s", genEnv, seed, size, exe)
}

// runGenerator is the generator's main (see genEnv). It returns the exit code.
func runGenerator(spec string) int {
	seedS, sizeS, _ := strings.Cut(spec, ":")
	seed, err1 := strconv.ParseUint(seedS, 10, 64)
	size, err2 := strconv.Atoi(sizeS)
	if err1 != nil || err2 != nil {
		fmt.Fprintf(os.Stderr, "faulttest generator: bad %s=%q\n", genEnv, spec)
		return 2
	}
	src := newStream(seed, size)
	rng := rand.New(rand.NewPCG(seed, 7))
	buf := make([]byte, 16<<10)
	for {
		n, err := src.Read(buf[:1+rng.IntN(len(buf))])
		if n > 0 {
			if _, werr := os.Stdout.Write(buf[:n]); werr != nil {
				return 1
			}
		}
		if err != nil {
			break
		}
	}
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	return 0
}

// TestStreamIsDeterministicValidUTF8: the same seed gives the same bytes
// whatever the read sizes, exactly size bytes, valid UTF-8 with all three
// scripts, and different seeds differ.
func TestStreamIsDeterministicValidUTF8(t *testing.T) {
	const size = 100_003
	a := streamBytes(42, size)
	var b bytes.Buffer
	s := newStream(42, size)
	p := make([]byte, 7)
	for {
		n, err := s.Read(p[:1+len(b.Bytes())%7])
		b.Write(p[:n])
		if err != nil {
			break
		}
	}
	if len(a) != size || !bytes.Equal(a, b.Bytes()) {
		t.Fatalf("len %d / %d, equal %v", len(a), b.Len(), bytes.Equal(a, b.Bytes()))
	}
	if !utf8.Valid(a) || !bytes.ContainsRune(a, 'z') || !bytes.ContainsFunc(a, func(r rune) bool { return r >= 0x1f300 }) ||
		!bytes.ContainsFunc(a, func(r rune) bool { return r >= 0x4e00 && r < 0xa000 }) {
		t.Errorf("stream lacks a script or is not UTF-8")
	}
	if bytes.Equal(a[:1000], streamBytes(43, size)[:1000]) {
		t.Error("seeds 42 and 43 give the same stream")
	}
}
