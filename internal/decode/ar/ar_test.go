package ar

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

func build(names ...string) []byte {
	var b bytes.Buffer
	b.WriteString(Magic)
	var table bytes.Buffer
	offs := map[string]int{}
	for _, n := range names {
		if len(n) > 15 {
			offs[n] = table.Len()
			table.WriteString(n + "/\n")
		}
	}
	w := func(name string, data []byte) {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8o%-10d`\n", name, 0, 0, 0, 0o644, len(data))
		b.Write(data)
		if len(data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	w("/", []byte{0, 0, 0, 0})
	if table.Len() > 0 {
		w("//", table.Bytes())
	}
	for _, n := range names {
		hn := n + "/"
		if o, ok := offs[n]; ok {
			hn = fmt.Sprintf("/%d", o)
		}
		w(hn, []byte("data of "+n))
	}
	w("#1/12", []byte("bsd-name.txtbsd data"))
	return b.Bytes()
}

func readAll(in []byte) (map[string]string, error) {
	out := map[string]string{}
	r, err := NewReader(bytes.NewReader(in))
	if err != nil {
		return nil, err
	}
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

func TestReader(t *testing.T) {
	got, err := readAll(build("debian-binary", "a-very-long-member-name.tar.xz", "x"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"debian-binary":                  "data of debian-binary",
		"a-very-long-member-name.tar.xz": "data of a-very-long-member-name.tar.xz",
		"x":                              "data of x",
		"bsd-name.txt":                   "bsd data",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d members: %q", len(got), got)
	}
	if _, err := readAll([]byte("!<arch>\nshort")); err == nil {
		t.Error("truncated header accepted")
	}
	if _, err := NewReader(bytes.NewReader([]byte("not an archive"))); err == nil {
		t.Error("bad magic accepted")
	}
}

func FuzzReader(f *testing.F) {
	f.Add(build("a", "long-name-number-one.txt"))
	f.Add([]byte(Magic + "/0              0           0     0     644     5         `\nhello\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		_, _ = readAll(in)
	})
}
