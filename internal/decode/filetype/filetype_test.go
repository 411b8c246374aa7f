package filetype

import (
	"bytes"
	"os"
	"testing"
)

func TestDetect(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want []string
	}{
		{"empty", nil, []string{"empty"}},
		{"dos", append([]byte("MZ"), make([]byte, 100)...), []string{"exe", "exe-ms"}},
		{"ascii", []byte("hello world\nplain text\n"), []string{"asc"}},
		{"utf8", []byte("grüße aus köln\n"), []string{"txt"}},
		{"latin1", []byte("gr\xfc\xdfe aus k\xf6ln\n"), []string{"txt"}},
		{"html", []byte("<!DOCTYPE html><html><body>x</body></html>"), []string{"html"}},
		{"pdf", []byte("%PDF-1.4\n%\xe2\xe3\n1 0 obj\n"), []string{"pdf"}},
		{"uue", []byte("begin 644 x.exe\nM35I0\n"), []string{"uue"}},
		{"pgp", []byte("-----BEGIN PGP MESSAGE-----\n\nhQEMA\n"), []string{"pgp", "pgp.enc"}},
		{"gzip", []byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03"), []string{"gz"}},
		{"zip", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00"), []string{"zip"}},
		{"rar", []byte("Rar!\x1a\x07\x00\xcf\x90\x73\x00\x00"), []string{"rar"}},
		{"7z", []byte("7z\xbc\xaf\x27\x1c\x00\x04"), []string{"7z"}},
		{"tnef", []byte("\x78\x9f\x3e\x22\x01\x00"), []string{"tnef"}},
		{"deb", []byte("!<arch>\ndebian-binary   "), []string{"deb"}},
		{"ar", []byte("!<arch>\nfoo.o/          "), []string{"a"}},
		{"Z", []byte("\x1f\x9d\x90abc"), []string{"Z"}},
		{"ole", []byte("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + string(make([]byte, 600))), []string{"doc", "cdf-ms"}},
		{"mail", []byte("Received: from x\r\nFrom: a@b\r\nSubject: hi\r\n\r\nbody\r\n"), []string{"asc"}},
	}
	for _, c := range cases {
		got := Detect(bytes.NewReader(c.data), int64(len(c.data)))
		if len(got.Short) != len(c.want) {
			t.Errorf("%s: %v (%s), want %v", c.name, got.Short, got.Desc, c.want)
			continue
		}
		for i := range c.want {
			if got.Short[i] != c.want[i] {
				t.Errorf("%s: %v, want %v", c.name, got.Short, c.want)
			}
		}
	}
}

func TestExecutables(t *testing.T) {
	for _, p := range []string{"/bin/ls", "/usr/bin/env"} {
		f, err := os.Open(p)
		if err != nil {
			continue
		}
		st, _ := f.Stat()
		got := Detect(f, st.Size())
		f.Close()
		if !got.Has("exe") || !got.Has("elf") || !got.Has("exe-unix") {
			t.Errorf("%s: %v %q", p, got.Short, got.Desc)
		}
	}
}
