package quarantine

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
)

// FuzzParseEnvelope feeds arbitrary files to the release-side parser of
// the quarantine prefix: it must not panic, and what it returns as the
// message plus the fields it consumed must be a suffix of the input.
func FuzzParseEnvelope(f *testing.F) {
	r := baseRequest("")
	f.Add(wantFile(r))
	f.Add("X-Envelope-From: <>\nX-Envelope-To: <a>,\n <b>\nX-Quarantine-ID: <x>\n\nbody")
	f.Add("Return-Path: <a@b>\r\nX-Spam-Flag: YES\r\nReceived: x\r\n\r\n")
	f.Add(" continuation first\nX-Envelope-To:\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, in string) {
		env, rest, err := ParseEnvelope(strings.NewReader(in))
		if err != nil {
			return
		}
		b, err := io.ReadAll(rest)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(in, string(b)) {
			t.Fatalf("rest %q is not a suffix of the input", b)
		}
		_ = env
	})
}

// FuzzStoreHeader stores arbitrary messages: the file must hold the
// prefix and the message with CRLF turned into LF and Return-Path fields
// of the header removed, and read back unchanged.
func FuzzStoreHeader(f *testing.F) {
	f.Add([]byte(origCRLF))
	f.Add([]byte("Return-Path: <x>\r\n\r\n"))
	f.Add([]byte("no header at all"))
	f.Add([]byte("\r\n\r\nbody\r"))
	dir := f.TempDir()
	n := 0
	f.Fuzz(func(t *testing.T, msg []byte) {
		n++
		r := baseRequest(dir)
		r.SubdirLevels = 0
		r.MailID = "fz" + strings.Repeat("0", 4) + string(rune('a'+n%26)) + strings.Repeat("1", 3)
		r.Method = "local:f-%m-" + itoa(n) + ".gz"
		r.Body = bytes.NewReader(msg)
		loc, err := Store(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		defer os.Remove(loc.Path)
		rc, err := Open(dir, loc.Rel)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(got, Prefix(&r)) {
			t.Fatal("prefix missing")
		}
		if bytes.Count(got, []byte("\r\n")) > bytes.Count(msg, []byte("\r\n")) {
			t.Fatal("CRLF kept")
		}
	})
}

func itoa(n int) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}
