// Command jumpcast-seedcast indexes asciicast v2 files as finished
// recordings of a jumpcast data folder, as if sessions through the bastion
// had written them: each file is copied to recordings/ under a new id
// (0600, folders 0700) and a finished row is written to jumpcast.db with
// the file's SHA-256, size, duration and output bytes. It prints "ID" per
// file, in order.
//
// The player benchmark (make bench-player) seeds both the product and the
// baseline build with it, and builds it from each one's own source tree, so
// that each binary reads rows its own store code wrote. Run it while no
// server holds the data folder.
//
//	jumpcast-seedcast -data DIR FILE.cast...
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/jumpcast/jumpcast/internal/recording"
	"github.com/jumpcast/jumpcast/recorder/asciicast"
	"github.com/jumpcast/jumpcast/store"
)

func main() {
	data := flag.String("data", "", "the jumpcast data folder (data_dir)")
	flag.Parse()
	if *data == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: jumpcast-seedcast -data DIR FILE.cast...")
		os.Exit(2)
	}
	if err := run(*data, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "jumpcast-seedcast:", err)
		os.Exit(1)
	}
}

func run(data string, files []string) error {
	if err := os.MkdirAll(filepath.Join(data, "recordings"), 0o700); err != nil {
		return err
	}
	st, err := store.Open(filepath.Join(data, "jumpcast.db"), store.Options{})
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	for i, f := range files {
		// Ids are time-ordered: space the starts so each file gets its own.
		id, err := seed(st, data, f, time.Now().Add(-time.Duration(len(files)-i)*time.Hour))
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		fmt.Println(id)
	}
	return nil
}

func seed(st *store.Store, data, src string, start time.Time) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer func() { _ = in.Close() }()
	rd, err := asciicast.NewReader(in)
	if err != nil {
		return "", err
	}
	hdr := rd.Header()
	if _, err := in.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	sum, err := asciicast.Summarize(in)
	if err != nil {
		return "", err
	}
	if _, err := in.Seek(0, io.SeekStart); err != nil {
		return "", err
	}
	id := recording.NewID(start)
	rel, err := recording.RelPath(id)
	if err != nil {
		return "", err
	}
	dst := filepath.Join(data, "recordings", filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return "", err
	}
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	size, err := io.Copy(io.MultiWriter(out, h), in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", errors.Join(err, os.Remove(dst))
	}
	dur := time.Duration(sum.LastEventTime * float64(time.Second))
	zero := 0
	m := recording.Meta{
		ID: id, User: "alice", KeyFingerprint: "SHA256:bench", RemoteUser: "root", TargetAlias: "db1",
		TargetAddr: "127.0.0.1:22", ClientAddr: "127.0.0.1:50000", Kind: "shell",
		Title: "root@db1 — alice (" + filepath.Base(src) + ")", Term: "xterm-256color",
		Width: hdr.Width, Height: hdr.Height, Start: start, Path: rel, Status: recording.StatusActive,
	}
	ctx := context.Background()
	if err := st.CreateRecording(ctx, &m); err != nil {
		return "", err
	}
	m.End, m.Duration, m.BytesOut, m.FileSize = start.Add(dur), dur, sum.OutputBytes, size
	m.SHA256, m.ExitStatus, m.Status = hex.EncodeToString(h.Sum(nil)), &zero, recording.StatusFinished
	if err := st.FinishRecording(ctx, &m); err != nil {
		return "", err
	}
	return id, nil
}
