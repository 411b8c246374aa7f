package cpio

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

func newc(name string, data []byte) []byte {
	var b bytes.Buffer
	hdr := func(name string, mode, size int) {
		fmt.Fprintf(&b, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			1, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(name)+1, 0)
		b.WriteString(name + "\x00")
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	hdr(name, 0o100644, len(data))
	b.Write(data)
	for b.Len()%4 != 0 {
		b.WriteByte(0)
	}
	hdr("TRAILER!!!", 0, 0)
	return b.Bytes()
}

func readAll(in []byte) (map[string]string, error) {
	out := map[string]string{}
	r := NewReader(bytes.NewReader(in))
	for {
		h, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		b, err := io.ReadAll(r)
		if err != nil {
			return out, err
		}
		out[h.Name] = string(b)
	}
}

func TestFormats(t *testing.T) {
	got, err := readAll(newc("dir/a.exe", []byte("MZhello")))
	if err != nil || got["dir/a.exe"] != "MZhello" {
		t.Fatalf("newc: %v %q", err, got)
	}
	// Debian's clamav-testfiles carry the four formats as produced by cpio(1)
	for _, f := range []string{"clam.newc.cpio", "clam.odc.cpio", "clam.bin-le.cpio", "clam.bin-be.cpio"} {
		b, err := os.ReadFile(filepath.Join("/usr/share/clamav-testfiles", f))
		if err != nil {
			t.Skip("clamav-testfiles not installed")
		}
		got, err := readAll(b)
		if err != nil || len(got["clam.exe"]) != 544 || got["clam.exe"][:2] != "MZ" {
			t.Errorf("%s: %v, %d members", f, err, len(got))
		}
	}
	if _, err := readAll([]byte("070701XYZ")); err == nil {
		t.Error("garbage accepted")
	}
	b := newc("x", bytes.Repeat([]byte("a"), 100))
	if _, err := readAll(b[:150]); err == nil {
		t.Error("truncated archive accepted")
	}
}

func FuzzReader(f *testing.F) {
	f.Add(newc("a", []byte("b")))
	f.Add([]byte("\xc7\x71" + string(make([]byte, 40))))
	f.Add([]byte("070707" + string(bytes.Repeat([]byte("0"), 80))))
	f.Fuzz(func(t *testing.T, in []byte) {
		_, _ = readAll(in)
	})
}
