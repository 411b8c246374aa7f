package deliver

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/mavis-filter/mavis/internal/mail"
)

func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"250 2.0.0 Ok: queued as 4XyZ\r\n",
		"250-smtp-sink\r\n250-PIPELINING\r\n250 \r\n",
		"550-5.1.1 a\r\n550 5.1.1 b\r\n",
		"421 4.4.2 timeout\n",
		"25\r\n", "2500\r\n", "abc\r\n", "",
		"250-" + strings.Repeat("x", 5000) + "\r\n250 y\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r, err := readReply(bufio.NewReaderSize(bytes.NewReader(in), 512))
		if err != nil {
			return
		}
		if r.code < 0 || r.code > 999 || len(r.lines) == 0 || len(r.lines) > maxReplyLines {
			t.Fatalf("bad reply %+v", r)
		}
		for _, l := range r.lines {
			if len(l) > maxReplyLineLen || strings.ContainsAny(l, "\n") {
				t.Fatalf("bad line %q", l)
			}
		}
		// formatting must never panic
		_ = enhance(&r, "smtp:[127.0.0.1]:10025", ".6.0", "data-dot").String()
		_ = queuedAs(r)
	})
}

func FuzzDataWriter(f *testing.F) {
	for _, s := range []string{"", "a", ".", "\r\n.\r\n", "a\nb\r\n.c\r\r\n\x00", "\n\r.x", "..\n..", "x\r"} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint8) {
		var out bytes.Buffer
		bw := bufio.NewWriterSize(&out, 16)
		dw := newDataWriter(bw)
		rest := in
		step := int(split)%17 + 1
		for len(rest) > 0 {
			n := min(step, len(rest))
			if _, err := dw.Write(rest[:n]); err != nil {
				t.Fatal(err)
			}
			rest = rest[n:]
		}
		if err := dw.end(); err != nil {
			t.Fatal(err)
		}
		_ = bw.Flush()
		o := out.String()
		if !strings.HasSuffix(o, ".\r\n") || (len(o) > 3 && !strings.HasSuffix(o, "\r\n.\r\n")) {
			t.Fatalf("not terminated: %q", o)
		}
		// only CRLF line ends
		for i := 0; i < len(o); i++ {
			if o[i] == '\r' && (i+1 >= len(o) || o[i+1] != '\n') || o[i] == '\n' && (i == 0 || o[i-1] != '\r') {
				t.Fatalf("bare CR/LF at %d in %q", i, o)
			}
		}
		// undo the dot-stuffing: it must give the normalised input back, and
		// no line but the terminator may be a lone dot
		body := strings.TrimSuffix(o, ".\r\n")
		var lines []string
		if body != "" {
			lines = strings.Split(strings.TrimSuffix(body, "\r\n"), "\r\n")
		}
		var got strings.Builder
		for _, l := range lines {
			if l == "." {
				t.Fatalf("lone dot inside the data: %q", o)
			}
			if strings.HasPrefix(l, ".") {
				if !strings.HasPrefix(l, "..") {
					t.Fatalf("unstuffed dot line %q", l)
				}
				l = l[1:]
			}
			got.WriteString(l + "\r\n")
		}
		norm := strings.ReplaceAll(string(in), "\r", "")
		norm = strings.ReplaceAll(norm, "\x00", "\xc0\x80")
		norm = strings.ReplaceAll(norm, "\n", "\r\n")
		if norm != "" && !strings.HasSuffix(norm, "\r\n") {
			norm += "\r\n"
		}
		if got.String() != norm {
			t.Fatalf("round trip:\n got  %q\n want %q", got.String(), norm)
		}
	})
}

func FuzzParseMethod(f *testing.F) {
	for _, s := range []string{"smtp:[127.0.0.1]:10025", "smtp:127.0.0.1:10025", "lmtp:[::1]:24", "lmtp:/var/run/x.sock", "smtp:*:*", "smtp:[a]:", ":"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMethod(s)
		if err != nil {
			return
		}
		if m.Proto != "smtp" && m.Proto != "lmtp" || m.Network != "tcp" && m.Network != "unix" || m.Address == "" {
			t.Fatalf("ParseMethod(%q) = %+v", s, m)
		}
		// the MTA id must parse back to the same address
		m2, err := ParseMethod(m.MTAID())
		if err != nil || m2.Address != m.Address || m2.Network != m.Network {
			t.Fatalf("MTAID %q of %q does not round-trip: %+v %v", m.MTAID(), s, m2, err)
		}
	})
}

func FuzzXforward(f *testing.F) {
	f.Add("192.0.2.1", "name", "helo<>", "ident")
	f.Add("2001:db8::1", strings.Repeat("+", 300), "h\x00\r\n", "")
	f.Fuzz(func(t *testing.T, addr, name, helo, ident string) {
		for _, l := range xforwardLines(mailClient(addr, name, helo, ident), "NAME ADDR PORT PROTO HELO IDENT SOURCE") {
			if len(l)+2 > maxXforwardLine {
				t.Fatalf("line too long: %d", len(l))
			}
			for i := 0; i < len(l); i++ {
				if l[i] < 0x20 || l[i] > 0x7e {
					t.Fatalf("unsafe octet %#x in %q", l[i], l)
				}
			}
			for _, kv := range strings.Fields(l)[1:] {
				if k, v, ok := strings.Cut(kv, "="); !ok || k == "" || len(v) > 255 || strings.ContainsAny(v, "=<>()\\\";@") {
					t.Fatalf("bad attribute %q", kv)
				}
			}
		}
	})
}

func mailClient(addr, name, helo, ident string) mail.ClientInfo {
	return mail.ClientInfo{Addr: addr, Name: name, Helo: helo, Ident: ident, Proto: "ESMTP"}
}
