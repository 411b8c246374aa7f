package smtpd

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// decodeAll feeds in in chunks of the given size and returns what was
// stored, the bytes consumed and whether the end was found.
func decodeAll(in []byte, chunk int, limit int64) (out []byte, consumed int, done bool, d *dataDecoder) {
	return decodeAllMode(in, chunk, limit, false)
}

// decodeAllMode is decodeAll, with slow disabling the plain-lines fast path.
func decodeAllMode(in []byte, chunk int, limit int64, slow bool) (out []byte, consumed int, done bool, d *dataDecoder) {
	var buf bytes.Buffer
	d = newDataDecoder(&buf, limit)
	d.slow = slow
	for consumed < len(in) {
		end := min(consumed+chunk, len(in))
		n, fin := d.feed(in[consumed:end])
		if fin {
			return buf.Bytes(), consumed + n, true, d
		}
		if consumed+n != end { // all of a non-final chunk is consumed
			panic("decoder left bytes of a chunk unconsumed")
		}
		consumed = end
	}
	return buf.Bytes(), consumed, false, d
}

func TestDataDecoder(t *testing.T) {
	tests := []struct {
		name string
		in   string // what follows the 354
		want string // stored message
		rest string // left for the next command; "!" means no end found
	}{
		{"empty message", ".\r\n", "", ""},
		{"simple", "a\r\nb\r\n.\r\n", "a\r\nb\r\n", ""},
		{"rest is next command", "a\r\n.\r\nQUIT\r\n", "a\r\n", "QUIT\r\n"},
		{"no final CRLF before dot is still a line", "a\r\n.\r\n", "a\r\n", ""},
		{"dot stuffing", "..a\r\n.b\r\n...\r\n.\r\n", ".a\r\nb\r\n..\r\n", ""},
		{"dot stuffing first line", "..\r\n.\r\n", ".\r\n", ""},
		{"bare LF normalised", "a\nb\n\r\n.\r\n", "a\r\nb\r\n\r\n", ""},
		{"bare CR normalised", "a\rb\r\r\n.\r\n", "a\r\nb\r\n\r\n", ""},
		{"CR CR LF", "a\r\r\n.\r\n", "a\r\n\r\n", ""},
		{"long line", strings.Repeat("x", 100000) + "\r\n.\r\n", strings.Repeat("x", 100000) + "\r\n", ""},
		{"NUL and 8bit kept", "a\x00\xff\r\n.\r\n", "a\x00\xff\r\n", ""},
		// SMTP smuggling: none of these end the message
		{"LF dot LF", "a\n.\nMAIL FROM:<x>\r\n.\r\n", "a\r\n.\r\nMAIL FROM:<x>\r\n", ""},
		{"CRLF dot LF", "a\r\n.\nMAIL FROM:<x>\r\n.\r\n", "a\r\n.\r\nMAIL FROM:<x>\r\n", ""},
		{"LF dot CRLF", "a\n.\r\nMAIL FROM:<x>\r\n.\r\n", "a\r\n.\r\nMAIL FROM:<x>\r\n", ""},
		{"CRLF dot CR", "a\r\n.\rMAIL FROM:<x>\r\n.\r\n", "a\r\n.\r\nMAIL FROM:<x>\r\n", ""},
		{"CR dot CR", "a\r.\rMAIL FROM:<x>\r\n.\r\n", "a\r\n.\r\nMAIL FROM:<x>\r\n", ""},
		{"CR dot CRLF", "a\r.\r\nMAIL FROM:<x>\r\n.\r\n", "a\r\n.\r\nMAIL FROM:<x>\r\n", ""},
		{"dot LF at start", ".\nx\r\n.\r\n", ".\r\nx\r\n", ""},
		{"dot CR at start", ".\rx\r\n.\r\n", ".\r\nx\r\n", ""},
		{"dot CR CR LF", "a\r\n.\r\r\n.\r\n", "a\r\n.\r\n\r\n", ""},
		{"LF dot dot LF not unstuffed", "a\n..\n\r\n.\r\n", "a\r\n..\r\n\r\n", ""},
		{"dot CRLF after bare LF is no end", "a\n.\r\n", "", "!"},
		{"unterminated", "a\r\n.", "", "!"},
		{"unterminated CR", "a\r\n.\r", "", "!"},
	}
	for _, tc := range tests {
		for _, chunk := range []int{1, 2, 3, 7, 1 << 20, -1} {
			slow := chunk < 0 // the whole input, without the plain-lines fast path
			if slow {
				chunk = 1 << 20
			}
			out, n, done, _ := decodeAllMode([]byte(tc.in), chunk, 0, slow)
			if tc.rest == "!" {
				if done {
					t.Errorf("%s/%d: found an end in %q", tc.name, chunk, tc.in)
				}
				continue
			}
			if !done {
				t.Errorf("%s/%d: no end found", tc.name, chunk)
				continue
			}
			if string(out) != tc.want {
				t.Errorf("%s/%d: stored %q, want %q", tc.name, chunk, out, tc.want)
			}
			if rest := tc.in[n:]; rest != tc.rest {
				t.Errorf("%s/%d: rest %q, want %q", tc.name, chunk, rest, tc.rest)
			}
		}
	}
}

func TestDataDecoderLimit(t *testing.T) {
	in := strings.Repeat("0123456789\r\n", 100) + ".\r\n" // 1200 bytes stored
	for _, limit := range []int64{0, 1199, 1200, 1201} {
		out, _, done, d := decodeAll([]byte(in), 100, limit)
		if !done || d.size != 1200 {
			t.Fatalf("limit %d: done %v size %d", limit, done, d.size)
		}
		wantOver := limit > 0 && limit < 1200
		if d.oversized != wantOver {
			t.Errorf("limit %d: oversized %v", limit, d.oversized)
		}
		if wantOver && int64(len(out)) > limit {
			t.Errorf("limit %d: stored %d bytes", limit, len(out))
		}
		if !wantOver && len(out) != 1200 {
			t.Errorf("limit %d: stored %d bytes", limit, len(out))
		}
	}
}

type failWriter struct{ after int }

func (f *failWriter) Write(p []byte) (int, error) {
	if f.after -= len(p); f.after < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestDataDecoderWriteError(t *testing.T) {
	d := newDataDecoder(&failWriter{after: 10}, 0)
	in := []byte(strings.Repeat("abcdef\r\n", 10) + ".\r\nNOOP\r\n")
	n, done := d.feed(in)
	if !done || string(in[n:]) != "NOOP\r\n" || d.err == nil || d.size != 80 {
		t.Fatalf("done %v rest %q err %v size %d", done, in[n:], d.err, d.size)
	}
}
