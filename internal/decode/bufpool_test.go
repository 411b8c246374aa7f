package decode

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/mavis-filter/mavis/internal/decode/filetype"
)

// TestSinkNotesBegin: the "begin " marker that lets doUU run is seen even
// when the writes split it.
func TestSinkNotesBegin(t *testing.T) {
	cases := []struct {
		name   string
		writes []string
		want   bool
	}{
		{"whole", []string{"text\r\nbegin 644 x\r\n"}, true},
		{"at start", []string{"begin 644 x"}, true},
		{"split 3+3", []string{"abc beg", "in 644"}, true},
		{"split 1+5", []string{"xxxxxxxxb", "egin "}, true},
		{"split 5+1", []string{"begin", " "}, true},
		{"three writes", []string{"be", "g", "in "}, true},
		{"one byte each", strings.Split("zzbegin ", ""), true},
		{"empty writes between", []string{"beg", "", "in ", ""}, true},
		{"no space", []string{"begin", "ning"}, false},
		{"broken", []string{"begi", "x", "n "}, false},
		{"none", []string{"hello world\r\n", "nothing here"}, false},
		{"long then short", []string{strings.Repeat("x", 100) + "beg", "i", "n", " "}, true},
		{"stale tail", []string{"beg", "xxxxxxxx", "in "}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &tap{f: io.Discard, head: getHead()}
			defer putHead(s.head)
			var all string
			for _, w := range c.writes {
				s.note([]byte(w))
				all += w
			}
			if s.begin != c.want {
				t.Errorf("begin = %v, want %v", s.begin, c.want)
			}
			if s.begin != strings.Contains(all, uuBegin) {
				t.Errorf("begin = %v disagrees with strings.Contains on %q", s.begin, all)
			}
			if string(*s.head) != all {
				t.Errorf("head %q, want %q", *s.head, all)
			}
		})
	}
}

// TestUUEncodeAcrossDecoderFlush: a uuencoded file in a base64-encoded
// text part is found wherever the base64 decoder's output flushes split the
// "begin " line.
func TestUUEncodeAcrossDecoderFlush(t *testing.T) {
	uu := uuencode("tool.exe", tinyPE(false))
	for pad := copyBufSize - 12; pad <= copyBufSize+4; pad++ {
		var text bytes.Buffer
		for text.Len() < pad {
			text.WriteString(strings.Repeat("y", 70) + "\r\n")
		}
		text.Truncate(pad)
		text.WriteString("\r\n" + uu)
		msg := mailWith(attachment{ctype: "text/plain; charset=us-ascii", body: text.Bytes()})
		res := decodeBytes(t, msg, DefaultLimits())
		if i := find(res, "tool.exe"); i < 0 || !res.Parts[i].HasType("exe-ms") {
			t.Fatalf("pad %d: uuencoded exe not found:\n%s", pad, res.Tree())
		}
	}
}

func uuencode(name string, data []byte) string {
	var b strings.Builder
	b.WriteString("begin 644 " + name + "\r\n")
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
		b.Write(append(line, '\r', '\n'))
		data = data[n:]
	}
	b.WriteString("`\r\nend\r\n")
	return b.String()
}

// TestTypeFromHeadMatchesFile: typing a part from the bytes kept while
// writing it gives what typing its file gives.
func TestTypeFromHeadMatchesFile(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	big := make([]byte, 3*filetype.HeadSize)
	for i := range big {
		big[i] = byte(r.Uint32())
	}
	msg := mailWith(
		file("tool.exe", tinyPE(false)),
		file("lib.dll", tinyPE(true)),
		file("a.zip", zipOf(member{"in.txt", []byte("hello\n")})),
		file("random.bin", big),
		file("text.txt", bytes.Repeat([]byte("plain text line\n"), 5000)),
		attachment{ctype: "text/html", cte: "quoted-printable", body: []byte("<html><body>hi=3D</body></html>")},
	)
	res := decodeBytes(t, msg, DefaultLimits())
	n := 0
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
			t.Errorf("%s: typed %v %q, file says %v %q", p.ID, p.Types, p.TypeDesc, want.Short, want.Desc)
		}
		n++
	}
	if n < 6 {
		t.Fatalf("only %d parts with files:\n%s", n, res.Tree())
	}
}

// TestDecodeConcurrentSameResults: decodes running at once (sharing the
// buffer pools) give the results a lone decode gives.
func TestDecodeConcurrentSameResults(t *testing.T) {
	var msgs [][]byte
	for k := range 6 {
		msgs = append(msgs, mailWith(
			file(fmt.Sprintf("f%d.exe", k), tinyPE(k%2 == 0)),
			file(fmt.Sprintf("z%d.zip", k), zipOf(member{fmt.Sprintf("m%d.txt", k), bytes.Repeat([]byte{byte('a' + k)}, 50000+k)})),
			attachment{ctype: "text/plain", cte: "quoted-printable", body: []byte(strings.Repeat(fmt.Sprintf("line %d=3D\r\n", k), 4000))},
		))
	}
	want := make([]string, len(msgs))
	for i, m := range msgs {
		want[i] = summary(decodeBytes(t, m, DefaultLimits()))
	}
	var wg sync.WaitGroup
	for round := range 4 {
		for i, m := range msgs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				dir := t.TempDir()
				res, err := Decode(context.Background(), bytes.NewReader(m), int64(len(m)), dir, DefaultLimits(), testTools)
				if err != nil {
					t.Errorf("round %d msg %d: %v", round, i, err)
					return
				}
				if got := summary(res); got != want[i] {
					t.Errorf("round %d msg %d:\n%s\nwant\n%s", round, i, got, want[i])
				}
			}()
		}
	}
	wg.Wait()
}

// summary is a part list with sizes, types and content digests.
func summary(r *Result) string {
	var b strings.Builder
	for _, p := range r.Parts {
		sum := ""
		if p.File != "" {
			data, _ := os.ReadFile(p.File)
			sum = fmt.Sprintf("%x", sha256.Sum256(data))
		}
		fmt.Fprintf(&b, "%s %s %v %d %v %s %s\n", p.ID, p.Placement, p.Names, p.Size, p.Types, p.Attrs, sum)
	}
	return b.String()
}
