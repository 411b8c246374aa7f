package decode

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mavis-filter/mavis/internal/decode/filetype"
)

func fuzzLimits() Limits {
	l := DefaultLimits()
	l.MaxFiles = 200
	l.MaxExpansionQuota = 8 << 20
	l.Timeout = 5 * time.Second
	return l
}

// FuzzMIME feeds arbitrary messages to the whole decoder (no external
// programs): it must not panic, must stay inside its directory and must
// account every byte against the quota.
func FuzzMIME(f *testing.F) {
	f.Add(mailWith(file("a.zip", zipOf(member{"b.exe", tinyPE(false)}))))
	f.Add([]byte(hdr + "Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\nContent-Type: message/rfc822\r\n\r\n" +
		hdr + "Content-Type: multipart/mixed; boundary=r\r\n\r\n--r\r\nContent-Type: text/plain; name*0*=utf-8''%E2; name*1=x\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n=41=\r\nb=zz\r\n--r--\r\n--q--\r\n"))
	f.Add([]byte("From: a\nContent-Type: multipart/mixed\n\n--x\nContent-Type: application/x-tar\nContent-Transfer-Encoding: base64\n\n" +
		b64lines(tarOf(member{"../x", []byte("1")})) + "--x--\n"))
	f.Add([]byte(hdr + "Content-Type: application/ms-tnef\r\nContent-Transfer-Encoding: base64\r\n\r\n" + b64lines(tnefOf("A.EXE", "a.exe", []byte("MZ")))))
	f.Add([]byte("begin 644 x.exe\nM35I0\n`\nend\n"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		dir := t.TempDir()
		lim := fuzzLimits()
		// a hang is a bug: fail loudly (with stacks) well after the budget
		watchdog := time.AfterFunc(4*lim.Timeout, func() {
			buf := make([]byte, 1<<20)
			panic("Decode hung:\n" + string(buf[:runtime.Stack(buf, true)]))
		})
		defer watchdog.Stop()
		res, err := Decode(context.Background(), bytes.NewReader(msg), int64(len(msg)), dir, lim, &Tools{})
		if err != nil {
			t.Fatalf("Decode: %v", err)
		}
		checkWorkDir(t, dir, res)
		var total int64
		for i, p := range res.Parts {
			if p.Parent >= i {
				t.Fatalf("part %d has parent %d", i, p.Parent)
			}
			if p.File != "" {
				total += p.Size
			}
		}
		if res.Decoded < 0 || res.Decoded > res.Quota+int64(len(msg))*2+1<<20 {
			t.Fatalf("decoded %d, quota %d", res.Decoded, res.Quota)
		}
		_ = res.Tree()
		// typing from the bytes kept while writing = typing the file
		for _, p := range res.Parts {
			if p.File == "" {
				continue
			}
			f, err := os.Open(p.File)
			if err != nil {
				t.Fatal(err)
			}
			want := filetype.Detect(f, p.Size)
			f.Close()
			if strings.Join(want.Short, ",") != strings.Join(p.Types, ",") || want.Desc != p.TypeDesc {
				t.Fatalf("%s: typed %v %q, its file %v %q", p.ID, p.Types, p.TypeDesc, want.Short, want.Desc)
			}
		}
		// the directory empties for reuse
		if err := EmptyWorkDir(dir); err != nil {
			t.Fatalf("EmptyWorkDir: %v", err)
		}
		if left, _ := os.ReadDir(filepath.Join(dir, partsDir)); len(left) > 0 {
			t.Fatalf("left in parts: %v", left)
		}
	})
}

// FuzzParams checks the parameter parser never panics and always returns
// what it was given in some form.
func FuzzParams(f *testing.F) {
	for _, s := range []string{
		`attachment; filename="a.txt"; filename="b.exe"`,
		`application/octet-stream; name*0*=UTF-8''%E2%82%AC; name*1="rate.exe"`,
		`text/plain name==?UTF-8?B?w6Q=?=`,
		`attachment; filename="unterminated; size=3`,
		`multipart/mixed; boundary=(c)"x"; (comment`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, ps, _ := parseStructured(s)
		for _, n := range []string{"filename", "name", "boundary"} {
			for _, v := range paramValues(ps, n) {
				if v == "" {
					t.Fatal("empty name returned")
				}
			}
		}
	})
}

// FuzzUU decodes arbitrary text with the uuencode, base64 and QP decoders
// in one write and byte by byte: no panics, and the same output.
func FuzzUU(f *testing.F) {
	f.Add([]byte("begin 644 x\nM35I0``(````$``\\`__\\``+@````A````0``:````````````````````````\n`\nend\n"))
	f.Add([]byte("TVpQAAIAAAAEAA8A//8AALgAAAAhAAAAQAAaAA==\r\nTVo=!!\n"))
	f.Add([]byte("a=3D=\r\nb=zz= \r\nc=4"))
	f.Fuzz(func(t *testing.T, in []byte) {
		mk := []func(*bytes.Buffer) bodyDecoder{
			func(b *bytes.Buffer) bodyDecoder { return newUUDec(b) },
			func(b *bytes.Buffer) bodyDecoder { return newBase64Dec(b) },
			func(b *bytes.Buffer) bodyDecoder { return newQPDec(b) },
		}
		for k, m := range mk {
			var one, many bytes.Buffer
			d := m(&one)
			_, _ = d.Write(in)
			_ = d.Close()
			d = m(&many)
			for i := range in {
				_, _ = d.Write(in[i : i+1])
			}
			_ = d.Close()
			if !bytes.Equal(one.Bytes(), many.Bytes()) {
				t.Fatalf("decoder %d: split input decodes differently: %q vs %q", k, one.Bytes(), many.Bytes())
			}
			if one.Len() > len(in) {
				t.Fatalf("decoder %d expanded %d bytes to %d", k, len(in), one.Len())
			}
		}
	})
}
