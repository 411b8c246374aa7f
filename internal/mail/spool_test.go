package mail

import (
	"bytes"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

func naiveHighBit(p []byte) bool {
	for _, c := range p {
		if c >= 0x80 {
			return true
		}
	}
	return false
}

// TestHasHighBit compares the word-at-a-time scan with a byte loop for
// every length up to 80 and every position of a single high octet.
func TestHasHighBit(t *testing.T) {
	for n := 0; n <= 80; n++ {
		p := bytes.Repeat([]byte{'a'}, n)
		if hasHighBit(p) {
			t.Fatalf("len %d, all ASCII: high bit reported", n)
		}
		for i := range n {
			for _, c := range []byte{0x80, 0xc3, 0xff} {
				p[i] = c
				if !hasHighBit(p) {
					t.Fatalf("len %d, %#x at %d: not found", n, c, i)
				}
				p[i] = 'a'
			}
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 2000 {
		p := make([]byte, r.IntN(300))
		for i := range p {
			p[i] = byte(r.IntN(128))
			if r.IntN(200) == 0 {
				p[i] |= 0x80
			}
		}
		if hasHighBit(p) != naiveHighBit(p) {
			t.Fatalf("%q: got %v", p, hasHighBit(p))
		}
	}
}

// TestSpoolEightBit: the flag follows what was written, in memory and
// after the spool spilled to a file, and for NewSpoolFromBytes.
func TestSpoolEightBit(t *testing.T) {
	cases := []struct {
		name      string
		writes    []string
		threshold int
		want      bool
	}{
		{"ascii", []string{"Subject: hi\r\n\r\nhello\r\n"}, 0, false},
		{"8bit header", []string{"Subject: h\xc3\xa9\r\n\r\n", "body\r\n"}, 0, true},
		{"8bit late", []string{"a\r\n", "b\r\n", "caf\xc3\xa9\r\n"}, 0, true},
		{"spilled ascii", []string{strings.Repeat("x", 100), strings.Repeat("y", 100)}, 64, false},
		{"spilled 8bit after spill", []string{strings.Repeat("x", 100), strings.Repeat("y", 99) + "\xff"}, 64, true},
		{"empty", nil, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := NewSpool(t.TempDir(), c.threshold)
			defer s.Close()
			var all string
			for _, w := range c.writes {
				if _, err := s.Write([]byte(w)); err != nil {
					t.Fatal(err)
				}
				all += w
			}
			if got := s.HasEightBit(); got != c.want {
				t.Errorf("HasEightBit = %v, want %v", got, c.want)
			}
			if c.threshold > 0 && s.InMemory() {
				t.Errorf("expected a spill to a file")
			}
			b, err := io.ReadAll(s.Reader())
			if err != nil || string(b) != all {
				t.Errorf("content %q, %v", b, err)
			}
			if got := NewSpoolFromBytes([]byte(all)).HasEightBit(); got != c.want {
				t.Errorf("NewSpoolFromBytes: HasEightBit = %v, want %v", got, c.want)
			}
		})
	}
}

func BenchmarkHasHighBit1MB(b *testing.B) {
	p := bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog.\r\n"), (1<<20)/46)
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		if hasHighBit(p) {
			b.Fatal("high bit")
		}
	}
}
