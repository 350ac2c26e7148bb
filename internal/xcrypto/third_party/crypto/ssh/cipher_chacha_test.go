// Copyright 2026 The Go Authors. All rights reserved.
// Use of this source code is governed by a BSD-style
// license that can be found in the LICENSE file.

package ssh

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestChaCha20Poly1305AssemblyKeystream checks that packets encrypted
// through chacha20poly1305's Seal keystream are byte for byte those of
// package chacha20 alone, and that each variant reads the other's.
func TestChaCha20Poly1305AssemblyKeystream(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	key := make([]byte, 64)
	for i := range key {
		key[i] = byte(rng.Uint32())
	}
	newPair := func() (fast, slow *chacha20Poly1305Cipher) {
		f, err := newChaCha20Cipher(key, nil, nil, DirectionAlgorithms{})
		if err != nil {
			t.Fatal(err)
		}
		s, _ := newChaCha20Cipher(key, nil, nil, DirectionAlgorithms{})
		fast, slow = f.(*chacha20Poly1305Cipher), s.(*chacha20Poly1305Cipher)
		slow.content = nil
		if fast.content == nil {
			t.Skip("chacha20poly1305 is not available (FIPS 140-only mode)")
		}
		return fast, slow
	}
	fast, slow := newPair()
	sizes := []int{1, 2, 15, 16, 17, 63, 64, 65, 255, 256, 1000, 4096, 32768, 35000}
	for range 50 {
		sizes = append(sizes, 1+rng.IntN(40000)) // an SSH payload is never empty
	}
	for i, n := range sizes {
		payload := make([]byte, n)
		for j := range payload {
			payload[j] = byte(rng.Uint32())
		}
		seq := rng.Uint32()
		if i == 1 {
			seq = ^uint32(0)
		}
		var a, b bytes.Buffer
		// The same padding bytes for both.
		pad := bytes.Repeat([]byte{byte(i)}, 64)
		if err := fast.writeCipherPacket(seq, &a, bytes.NewReader(pad), payload); err != nil {
			t.Fatal(err)
		}
		if err := slow.writeCipherPacket(seq, &b, bytes.NewReader(pad), payload); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatalf("payload of %d bytes, seq %d: the assembly keystream encrypts differently", n, seq)
		}
		for _, c := range []struct {
			name string
			r    *chacha20Poly1305Cipher
			pkt  []byte
		}{{"fast reads slow", fast, b.Bytes()}, {"slow reads fast", slow, a.Bytes()}} {
			got, err := c.r.readCipherPacket(seq, bytes.NewReader(c.pkt))
			if err != nil {
				t.Fatalf("%s, %d bytes: %v", c.name, n, err)
			}
			if !bytes.Equal(got, payload) {
				t.Fatalf("%s, %d bytes: payload differs", c.name, n)
			}
		}
		// A flipped bit is still refused, before any decryption.
		bad := bytes.Clone(a.Bytes())
		bad[len(bad)/2] ^= 1
		if _, err := fast.readCipherPacket(seq, bytes.NewReader(bad)); err == nil {
			t.Fatalf("%d bytes: a corrupted packet was accepted", n)
		}
	}
}
