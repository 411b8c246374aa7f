package tnef

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"testing"
)

func attr(b *bytes.Buffer, level byte, id uint32, d []byte) {
	b.WriteByte(level)
	_ = binary.Write(b, binary.LittleEndian, id)
	_ = binary.Write(b, binary.LittleEndian, uint32(len(d)))
	b.Write(d)
	b.Write([]byte{0, 0})
}

func sample() []byte {
	var b bytes.Buffer
	b.WriteString(Signature + "\x01\x00")
	attr(&b, 2, attAttachRendData, make([]byte, 14))
	attr(&b, 2, attAttachTitle, []byte("A.EXE\x00"))
	attr(&b, 2, attAttachData, []byte("MZ payload"))
	var p bytes.Buffer
	w := func(v any) { _ = binary.Write(&p, binary.LittleEndian, v) }
	w(uint32(3))
	w(uint32(ptLong) | 0x0ffe<<16)
	w(uint32(7))
	w(uint32(ptString8) | prAttachLongFile<<16)
	w(uint32(1))
	w(uint32(10))
	p.WriteString("long a.exe\x00\x00")
	w(uint32(ptBinary) | prAttachDataBin<<16)
	w(uint32(1))
	w(uint32(3))
	p.WriteString("abc\x00")
	attr(&b, 2, attAttachment, p.Bytes())
	attr(&b, 2, attAttachRendData, make([]byte, 14))
	attr(&b, 2, attAttachTitle, []byte("B.TXT\x00"))
	return b.Bytes()
}

type rec struct {
	names map[int][]string
	data  map[int][]string
}

func walk(t testing.TB, in []byte) (rec, error) {
	r := rec{names: map[int][]string{}, data: map[int][]string{}}
	err := Walk(bytes.NewReader(in), Visitor{
		Data: func(att int, rd io.Reader) error {
			b, err := io.ReadAll(io.LimitReader(rd, 1<<20))
			r.data[att] = append(r.data[att], string(b))
			return err
		},
		Name: func(att int, n string) { r.names[att] = append(r.names[att], n) },
	})
	return r, err
}

func TestWalk(t *testing.T) {
	r, err := walk(t, sample())
	if err != nil {
		t.Fatal(err)
	}
	if got := r.names[0]; len(got) != 2 || got[0] != "A.EXE" || got[1] != "long a.exe" {
		t.Errorf("names[0] = %q", got)
	}
	if got := r.names[1]; len(got) != 1 || got[0] != "B.TXT" {
		t.Errorf("names[1] = %q", got)
	}
	if got := r.data[0]; len(got) != 2 || got[0] != "MZ payload" || got[1] != "abc" {
		t.Errorf("data[0] = %q", got)
	}
	if _, err := walk(t, []byte("not tnef")); err != ErrSignature {
		t.Errorf("bad signature: %v", err)
	}
	s := sample()
	if _, err := walk(t, s[:len(s)-20]); err == nil {
		t.Error("truncated stream accepted")
	}
}

func FuzzWalk(f *testing.F) {
	f.Add(sample())
	if b, err := os.ReadFile("/usr/share/clamav-testfiles/clam.tnef"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var total int
		_ = Walk(bytes.NewReader(in), Visitor{
			Data: func(_ int, r io.Reader) error {
				n, err := io.Copy(io.Discard, r)
				total += int(n)
				return err
			},
			Name: func(int, string) {},
			MIME: func(int, string) {},
		})
		if total > len(in) {
			t.Fatalf("read %d data bytes from %d input", total, len(in))
		}
	})
}
