package decode

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"

	"github.com/kdomanski/iso9660"

	"github.com/mavis-filter/mavis/internal/mail"
)

func xzOf(data []byte) []byte {
	var b bytes.Buffer
	w, err := xz.NewWriter(&b)
	must(err)
	_, err = w.Write(data)
	must(err)
	must(w.Close())
	return b.Bytes()
}

func zstdOf(data []byte) []byte {
	e, err := zstd.NewWriter(nil)
	must(err)
	defer e.Close()
	return e.EncodeAll(data, nil)
}

func lz4Of(data []byte) []byte {
	var b bytes.Buffer
	w := lz4.NewWriter(&b)
	_, err := w.Write(data)
	must(err)
	must(w.Close())
	return b.Bytes()
}

func isoOf(t testing.TB, ms ...member) []byte {
	w, err := iso9660.NewWriter()
	must(err)
	defer w.Cleanup()
	for _, m := range ms {
		must(w.AddFile(bytes.NewReader(m.data), m.name))
	}
	out := filepath.Join(t.TempDir(), "x.iso")
	f, err := os.Create(out)
	must(err)
	must(w.WriteTo(f, "TEST"))
	must(f.Close())
	b, err := os.ReadFile(out)
	must(err)
	return b
}

// bzip2Of uses the bzip2 program: the standard library only decompresses.
func bzip2Of(t testing.TB, data []byte) []byte {
	needTool(t, "bzip2")
	dir := t.TempDir()
	p := filepath.Join(dir, "x")
	must(os.WriteFile(p, data, 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := newCmd(ctx, "bzip2", "-k", p)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bzip2: %v %s", err, out)
	}
	b, err := os.ReadFile(p + ".bz2")
	must(err)
	return b
}

// TestExeAtDepth3 puts an executable at depth 3 of every supported format:
// message -> format (depth 1) -> inner archive (2) -> evil.exe (3).
func TestExeAtDepth3(t *testing.T) {
	exe := tinyPE(false)
	inner := zipOf(member{"evil.exe", exe})
	innerTar := tarOf(member{"evil.exe", exe})
	cases := []struct {
		name string
		data func(t *testing.T) []byte
		fmt  string // expected short type of the outer part
	}{
		{"x.zip", func(*testing.T) []byte { return zipOf(member{"inner.zip", inner}) }, "zip"},
		{"x.tar", func(*testing.T) []byte { return tarOf(member{"inner.zip", inner}) }, "tar"},
		{"x.tar.gz", func(*testing.T) []byte { return gzipOf("x.tar", innerTar) }, "gz"},
		{"x.tar.bz2", func(t *testing.T) []byte { return bzip2Of(t, innerTar) }, "bz2"},
		{"x.tar.xz", func(*testing.T) []byte { return xzOf(innerTar) }, "xz"},
		{"x.tar.zst", func(*testing.T) []byte { return zstdOf(innerTar) }, "zst"},
		{"x.tar.lz4", func(*testing.T) []byte { return lz4Of(innerTar) }, "lz4"},
		{"x.7z", func(t *testing.T) []byte { return run7z(t, nil, member{"inner.zip", inner}) }, "7z"},
		{"x4.rar", func(*testing.T) []byte { return rar4Stored(false, member{"inner.zip", inner}) }, "rar"},
		{"x5.rar", func(*testing.T) []byte { return rar5Stored(member{"inner.zip", inner}) }, "rar"},
		{"x.cpio", func(*testing.T) []byte { return cpioNewc(member{"inner.zip", inner}) }, "cpio"},
		{"x.a", func(*testing.T) []byte { return arOf(member{"a-rather-long-name-inner.zip", inner}) }, "a"},
		{"x.deb", func(*testing.T) []byte {
			return arOf(member{"debian-binary", []byte("2.0\n")}, member{"data.tar.gz", gzipOf("", tarOf(member{"./usr/bin/evil.exe", exe}))})
		}, "deb"},
		{"x.rpm", func(*testing.T) []byte { return rpmOf(member{"./usr/bin/evil.exe", exe}) }, "rpm"},
		{"x.iso", func(t *testing.T) []byte { return isoOf(t, member{"inner.zip", inner}) }, "iso"},
		{"winmail.dat", func(*testing.T) []byte { return tnefOf("INNER~1.ZIP", "inner.zip", inner) }, "tnef"},
		{"fwd.eml", func(*testing.T) []byte { return mailWith(file("inner.zip", inner)) }, "asc"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			att := file(c.name, c.data(t))
			if c.name == "fwd.eml" {
				att.ctype = "message/rfc822"
				att.cte = "7bit"
			}
			res := decodeBytes(t, mailWith(att), DefaultLimits())
			o := find(res, c.name)
			if o < 0 || !res.Parts[o].HasType(c.fmt) {
				t.Fatalf("outer part not typed %s:\n%s", c.fmt, res.Tree())
			}
			e := find(res, "evil.exe")
			if e < 0 {
				for i := range res.Parts {
					if strings.HasSuffix(res.Parts[i].ArchiveName, "evil.exe") {
						e = i
					}
				}
			}
			if e < 0 {
				t.Fatalf("evil.exe not found:\n%s", res.Tree())
			}
			p := res.Parts[e]
			if !p.HasType("exe") || !p.HasType("exe-ms") || p.Depth < 3 {
				t.Errorf("evil.exe: types %v depth %d, want exe,exe-ms at depth >= 3:\n%s", p.Types, p.Depth, res.Tree())
			}
			if len(res.Unchecked) != 0 || res.Hold != "" {
				t.Errorf("unexpected unchecked %v hold %q:\n%s", res.Unchecked, res.Hold, res.Tree())
			}
			if got := res.Chain(e); got[0] != 0 || got[len(got)-1] != e {
				t.Errorf("chain %v", got)
			}
		})
	}
}

func TestMisnamedAndNames(t *testing.T) {
	msg := mailWith(
		file("invoice.pdf", tinyPE(false)),
		file("report.pdf", tinyPE(true)),
		file("document.pdf.exe", []byte("%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n")),
		attachment{ // RFC 2231 split and encoded
			ctype: "application/octet-stream",
			disp:  "attachment; filename*0*=UTF-8''%E2%82%AC; filename*1=\"rate.exe\"",
			body:  []byte("x"),
		},
		attachment{ // duplicate filename parameters
			ctype: "application/octet-stream",
			disp:  "attachment; filename=\"harmless.txt\"; filename=\"payload.scr\"",
			body:  []byte("y"),
		},
		attachment{ // RFC 2047 in a quoted name, unquoted in Content-Type
			ctype: "application/octet-stream; name==?UTF-8?B?w6TDtsO8LmV4ZQ==?=",
			disp:  "attachment; filename=\"=?ISO-8859-1?Q?r=E9sum=E9.bat?=\"",
			body:  []byte("z"),
		},
	)
	res := decodeBytes(t, msg, DefaultLimits())
	check := func(name string, types ...string) {
		t.Helper()
		i := find(res, name)
		if i < 0 {
			t.Errorf("no part named %q:\n%s", name, res.Tree())
			return
		}
		for _, ty := range types {
			if !res.Parts[i].HasType(ty) {
				t.Errorf("%s: types %v, want %s", name, res.Parts[i].Types, ty)
			}
		}
	}
	check("invoice.pdf", "exe", "exe-ms")
	check("report.pdf", "exe", "dll")
	check("document.pdf.exe", "pdf")
	check("€rate.exe")
	check("harmless.txt")
	check("payload.scr")
	check("äöü.exe")
	check("résumé.bat")
	check("=?ISO-8859-1?Q?r=E9sum=E9.bat?=") // raw form kept too
	if i := find(res, "report.pdf"); i >= 0 && res.Parts[i].Type() != "dll" {
		t.Errorf("Type() = %q", res.Parts[i].Type())
	}
}

func TestTNEF(t *testing.T) {
	msg := mailWith(attachment{ctype: "application/ms-tnef; name=\"winmail.dat\"", disp: "attachment; filename=\"winmail.dat\"",
		body: tnefOf("SETUP~1.EXE", "setup-long-name.exe", tinyPE(false))})
	res := decodeBytes(t, msg, DefaultLimits())
	i := find(res, "setup-long-name.exe")
	if i < 0 || find(res, "SETUP~1.EXE") != i {
		t.Fatalf("TNEF names missing:\n%s", res.Tree())
	}
	if !res.Parts[i].HasType("exe-ms") || res.Parts[i].Depth != 2 {
		t.Errorf("TNEF member: %+v", res.Parts[i])
	}
}

func TestAttachedMessageRecursion(t *testing.T) {
	inner := mailWith(file("payload.exe", tinyPE(false)))
	outer := mailWith(attachment{ctype: "message/rfc822", cte: "7bit", body: inner})
	outer2 := mailWith(attachment{ctype: "message/rfc822", body: outer}) // base64'd, two levels
	res := decodeBytes(t, outer2, DefaultLimits())
	i := find(res, "payload.exe")
	if i < 0 || !res.Parts[i].HasType("exe-ms") {
		t.Fatalf("executable inside attached message not seen:\n%s", res.Tree())
	}
	if res.Parts[i].Depth != 3 {
		t.Errorf("depth %d, want 3", res.Parts[i].Depth)
	}
}

func TestUUEncodeInText(t *testing.T) {
	var body bytes.Buffer
	body.WriteString("see attached\r\n\r\nbegin 644 tool.exe\r\n")
	data := tinyPE(false)
	for len(data) > 0 {
		n := min(45, len(data))
		line := []byte{byte(' ' + n)}
		chunk := append(data[:n:n], 0, 0)
		for k := 0; k < n; k += 3 {
			a, b, c := chunk[k], chunk[k+1], chunk[k+2]
			for _, v := range []byte{a >> 2, (a<<4 | b>>4) & 63, (b<<2 | c>>6) & 63, c & 63} {
				if v == 0 {
					line = append(line, '`')
				} else {
					line = append(line, ' '+v)
				}
			}
		}
		body.Write(append(line, '\r', '\n'))
		data = data[n:]
	}
	body.WriteString("`\r\nend\r\n")
	msg := []byte("From: a@b\r\nSubject: uu\r\n\r\n" + body.String())
	res := decodeBytes(t, msg, DefaultLimits())
	i := find(res, "tool.exe")
	if i < 0 || !res.Parts[i].HasType("exe-ms") || res.Parts[i].Size != int64(len(tinyPE(false))) {
		t.Fatalf("uuencoded exe not found intact:\n%s", res.Tree())
	}
}

func TestEncrypted(t *testing.T) {
	exe := member{"evil.exe", tinyPE(false)}
	cases := []struct {
		name       string
		data       func(t *testing.T) []byte
		onArchive  bool // the archive itself is C (headers encrypted)
		memberName string
	}{
		{"enc.zip", func(t *testing.T) []byte { return run7z(t, []string{"-tzip", "-psecret"}, exe) }, false, "evil.exe"},
		{"aes.zip", func(t *testing.T) []byte { return run7z(t, []string{"-tzip", "-psecret", "-mem=AES256"}, exe) }, false, "evil.exe"},
		{"enc.7z", func(t *testing.T) []byte { return run7z(t, []string{"-t7z", "-psecret"}, exe) }, false, "evil.exe"},
		{"hdr.7z", func(t *testing.T) []byte { return run7z(t, []string{"-t7z", "-psecret", "-mhe=on"}, exe) }, true, ""},
		{"enc.rar", func(*testing.T) []byte { return rar4Stored(true, exe) }, false, "evil.exe"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := decodeBytes(t, mailWith(file(c.name, c.data(t))), DefaultLimits())
			var idx int
			if c.onArchive {
				idx = find(res, c.name)
			} else {
				idx = find(res, c.memberName)
			}
			if idx < 0 || !res.Parts[idx].Encrypted || !strings.Contains(res.Parts[idx].Attrs, "C") {
				t.Fatalf("not marked encrypted:\n%s", res.Tree())
			}
			if m := res.Minors(); len(m) == 0 || m[0] != MinorEncrypted {
				t.Errorf("minors %v, want [%d]", m, MinorEncrypted)
			}
		})
	}
}

func TestCorruptArchiveIsUnchecked(t *testing.T) {
	z := zipOf(member{"a.exe", tinyPE(false)})
	cases := map[string][]byte{
		"trunc.tar.gz": func() []byte { g := gzipOf("x.tar", tarOf(member{"a.exe", tinyPE(false)})); return g[:len(g)/2] }(),
		"garbage.7z":   append([]byte("7z\xbc\xaf\x27\x1c\x00\x04"), bytes.Repeat([]byte{0xAA}, 100)...),
		"bad.rar":      append([]byte("Rar!\x1a\x07\x00"), bytes.Repeat([]byte{0x55}, 60)...),
		"bad.cpio":     []byte("070701ZZZZZZZZ" + strings.Repeat("0", 100)),
		"trunc.zip":    z[:len(z)-30],
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			res := decodeBytes(t, mailWith(file(name, data)), DefaultLimits())
			found := false
			for _, u := range res.Unchecked {
				if u.Minor == MinorUnchecked {
					found = true
				}
			}
			if !found {
				t.Errorf("corrupt archive not UNCHECKED:\n%s", res.Tree())
			}
		})
	}
}

func TestPathTraversalStaysInside(t *testing.T) {
	evil := zipOf(member{"../../../../../../tmp/mavis-escape-zip", []byte("x")}, member{"/tmp/mavis-escape-abs", []byte("y")})
	var tb bytes.Buffer
	tw := newTarWriter(&tb)
	tw.symlink("link-to-etc", "/etc")
	tw.file("link-to-etc/mavis-escape-tar", []byte("z"))
	tw.file("../../mavis-escape-tar2", []byte("w"))
	tw.close()
	res := decodeBytes(t, mailWith(file("evil.zip", evil), file("evil.tar", tb.Bytes())), DefaultLimits())
	for _, p := range []string{"/tmp/mavis-escape-zip", "/tmp/mavis-escape-abs", "/etc/mavis-escape-tar"} {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s was created outside the work dir", p)
		}
	}
	for _, n := range []string{"../../../../../../tmp/mavis-escape-zip", "/tmp/mavis-escape-abs", "link-to-etc", "../../mavis-escape-tar2"} {
		if find(res, n) < 0 {
			t.Errorf("member name %q not reported:\n%s", n, res.Tree())
		}
	}
	if i := find(res, "link-to-etc"); i >= 0 && !strings.Contains(res.Parts[i].Attrs, "L") {
		t.Errorf("symlink not marked L")
	}
}

func TestLimits(t *testing.T) {
	zeros := make([]byte, 64<<20)
	t.Run("zip bomb", func(t *testing.T) {
		msg := mailWith(file("bomb.zip", zipOf(member{"zeros.bin", zeros})))
		peak := measurePeak(t, func() {
			res := decodeBytes(t, msg, DefaultLimits())
			if !strings.HasPrefix(res.Hold, "Exceeded storage quota ") || !hasMinor(res, MinorOverLimits) {
				t.Errorf("hold %q, minors %v", res.Hold, res.Minors())
			}
			if res.Decoded > res.Quota+int64(len(msg)) {
				t.Errorf("decoded %d beyond quota %d", res.Decoded, res.Quota)
			}
			t.Logf("message %d bytes, quota %d, hold: %s", len(msg), res.Quota, res.Hold)
		})
		t.Logf("zip bomb: peak heap growth %.1f MiB", float64(peak)/(1<<20))
		if peak > 64<<20 {
			t.Errorf("peak heap growth %d bytes", peak)
		}
	})
	t.Run("gzip bomb", func(t *testing.T) {
		msg := mailWith(file("bomb.gz", gzipOf("zeros", zeros)))
		peak := measurePeak(t, func() {
			res := decodeBytes(t, msg, DefaultLimits())
			if !strings.HasPrefix(res.Hold, "Exceeded storage quota ") {
				t.Errorf("hold %q", res.Hold)
			}
		})
		t.Logf("gzip bomb: peak heap growth %.1f MiB", float64(peak)/(1<<20))
		if peak > 64<<20 {
			t.Errorf("peak heap growth %d bytes", peak)
		}
	})
	t.Run("deep nesting", func(t *testing.T) {
		data := tinyPE(false)
		for k := 0; k < 20; k++ {
			data = zipOf(member{"level.zip", data})
		}
		res := decodeBytes(t, mailWith(file("deep.zip", data)), DefaultLimits())
		if res.Hold != "Maximum decoding depth (14) exceeded" || !hasMinor(res, MinorOverLimits) {
			t.Errorf("hold %q", res.Hold)
		}
	})
	t.Run("too many files", func(t *testing.T) {
		var ms []member
		for k := 0; k < 1600; k++ {
			ms = append(ms, member{name: "f" + strconv.Itoa(k), data: []byte{byte(k)}})
		}
		res := decodeBytes(t, mailWith(file("many.zip", zipOf(ms...))), DefaultLimits())
		if res.Hold != "Maximum number of files (1500) exceeded" {
			t.Errorf("hold %q", res.Hold)
		}
	})
	t.Run("time budget", func(t *testing.T) {
		lim := DefaultLimits()
		lim.Timeout = time.Nanosecond
		res := decodeBytes(t, mailWith(file("x.zip", zipOf(member{"a", zeros[:1<<20]}))), lim)
		if !strings.HasPrefix(res.Hold, "Maximum decoding time") {
			t.Errorf("hold %q", res.Hold)
		}
	})
	t.Run("caller cancel is an error", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		msg := mailWith(file("x.zip", zipOf(member{"a", zeros[:1<<20]})))
		if _, err := Decode(ctx, bytes.NewReader(msg), int64(len(msg)), t.TempDir(), DefaultLimits(), testTools); err == nil {
			t.Error("no error after cancel")
		}
	})
	t.Run("huge lzma dictionary refused", func(t *testing.T) {
		hdr := []byte{0x5d, 0, 0, 0, 0xf0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0}
		res := decodeBytes(t, mailWith(file("x.lzma", hdr)), DefaultLimits())
		if !hasMinor(res, MinorUnchecked) {
			t.Errorf("not unchecked:\n%s", res.Tree())
		}
	})
}

func hasMinor(r *Result, m int) bool {
	for _, x := range r.Minors() {
		if x == m {
			return true
		}
	}
	return false
}

// measurePeak samples the heap while f runs and returns the peak growth
// over the starting heap.
func measurePeak(t testing.TB, f func()) uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var m runtime.MemStats
		for {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			runtime.ReadMemStats(&m)
			if m.HeapAlloc > peak.Load() {
				peak.Store(m.HeapAlloc)
			}
		}
	}()
	f()
	close(stop)
	wg.Wait()
	if p := peak.Load(); p > base {
		return p - base
	}
	return 0
}

func TestQuotaFormula(t *testing.T) {
	l := DefaultLimits()
	cases := []struct{ size, want int64 }{
		{0, 100 * 1024},
		{1000, 500000},         // size*MAX_FACTOR (500) beats 100 KiB
		{10 << 20, 300 << 20},  // capped by MAX_EXPANSION_QUOTA
		{100 << 20, 500 << 20}, // size*MIN_FACTOR beats the cap
	}
	for _, c := range cases {
		if got := l.Quota(c.size); got != c.want {
			t.Errorf("Quota(%d) = %d, want %d", c.size, got, c.want)
		}
	}
	if got := (Limits{MinExpansionFactor: 5, MaxExpansionFactor: 500}).Quota(1000); got != 500000 {
		t.Errorf("undef quotas: %d", got)
	}
}

func TestDecodeMessage(t *testing.T) {
	msg := mailWith(file("a.exe", tinyPE(false)))
	m := &mail.Message{Body: mail.NewSpoolFromBytes(msg)}
	res, err := DecodeMessage(context.Background(), m, t.TempDir(), DefaultLimits(), nil)
	if err != nil || find(res, "a.exe") < 0 {
		t.Fatalf("%v:\n%s", err, res.Tree())
	}
}
