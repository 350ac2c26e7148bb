package asciicast_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jumpcast/jumpcast/recorder/asciicast"
)

func TestPlayWritesOutputAtPace(t *testing.T) {
	full, err := os.ReadFile(filepath.Join("testdata", "writer_shell.cast"))
	if err != nil {
		t.Fatal(err)
	}
	rd, err := asciicast.NewReader(bytes.NewReader(full))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	start := time.Now()
	// 5 s of recording at 20× speed: about 0.2 s (the last o event is at 4 s).
	if err := asciicast.Play(context.Background(), &out, rd, 20, 0); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if want := goldenCases[0].wantOut; out.String() != want {
		t.Errorf("played %q, want %q", out.String(), want)
	}
	if took < 150*time.Millisecond || took > 5*time.Second {
		t.Errorf("playback at 20× took %v, want about 200ms", took)
	}
}

func TestPlayIdleLimit(t *testing.T) {
	cast := `{"version":2,"width":80,"height":24}
[0.5,"o","a"]
[3600,"o","b"]
[7200.25,"o","c"]
`
	rd, err := asciicast.NewReader(strings.NewReader(cast))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	start := time.Now()
	if err := asciicast.Play(context.Background(), &out, rd, 1, 50*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if out.String() != "abc" {
		t.Errorf("played %q", out.String())
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("two one-hour gaps capped at 50ms took %v", took)
	}
}

func TestPlayCancel(t *testing.T) {
	rd, err := asciicast.NewReader(strings.NewReader("{\"version\":2,\"width\":80,\"height\":24}\n[0,\"o\",\"a\"]\n[3600,\"o\",\"b\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	err = asciicast.Play(ctx, &out, rd, 1, 0)
	if !errors.Is(err, context.DeadlineExceeded) || out.String() != "a" {
		t.Errorf("Play under a cancelled context = %v, output %q", err, out.String())
	}
}
