package clamd

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestParseReply(t *testing.T) {
	tests := []struct {
		line    string
		session bool
		id      int
		status  Status
		name    string
		virus   string
	}{
		{"stream: OK\x00", false, 0, Clean, "stream", ""},
		{"stream: Eicar-Signature FOUND\x00", false, 0, Found, "stream", "Eicar-Signature"},
		{"stream: Win.Test.EICAR_HDB-1(44d88612fea8a8f36de82e1278abb02f:68) FOUND", false, 0, Found, "stream", "Win.Test.EICAR_HDB-1(44d88612fea8a8f36de82e1278abb02f:68)"},
		{"1: stream: OK\x00", true, 1, Clean, "stream", ""},
		{"12: stream: Eicar-Signature.UNOFFICIAL FOUND\x00", true, 12, Found, "stream", "Eicar-Signature.UNOFFICIAL"},
		{"3: INSTREAM size limit exceeded. ERROR\x00", true, 3, Failed, "", ""},
		{"INSTREAM size limit exceeded. ERROR", false, 0, Failed, "", ""},
		{"/tmp/p: lstat() failed: Permission denied. ERROR", false, 0, Failed, "/tmp/p: lstat() failed", ""},
		{"/var/x/p1/a: Eicar-Signature.UNOFFICIAL FOUND", false, 0, Found, "/var/x/p1/a", "Eicar-Signature.UNOFFICIAL"},
		{"/var/x/odd: name: Eicar FOUND", false, 0, Found, "/var/x/odd: name", "Eicar"},
		{"/var/x: OK", false, 0, Clean, "/var/x", ""},
		{"fd[10]: OK", false, 0, Clean, "fd[10]", ""},
		{"UNKNOWN COMMAND", false, 0, Failed, "", ""},
		{"COMMAND READ TIMED OUT", true, 0, Failed, "", ""},
		{"x: stream: OK", true, 0, Failed, "", ""},         // bad id: not a clean answer
		{"stream:  FOUND", false, 0, Failed, "stream", ""}, // no name
		{"stream: OKAY", false, 0, Failed, "stream", ""},
		{"", false, 0, Failed, "", ""},
		{"PONG", false, 0, Failed, "", ""},
	}
	for _, tt := range tests {
		id, r, err := ParseReply(tt.line, tt.session)
		if err != nil {
			t.Errorf("ParseReply(%q): %v", tt.line, err)
			continue
		}
		if id != tt.id || r.Status != tt.status || r.Virus != tt.virus || r.Name != tt.name {
			t.Errorf("ParseReply(%q, %v) = %d %+v; want id %d status %v name %q virus %q",
				tt.line, tt.session, id, r, tt.id, tt.status, tt.name, tt.virus)
		}
	}
	if _, r, _ := ParseReply("1: INSTREAM size limit exceeded. ERROR", true); !r.SizeLimit() {
		t.Error("size limit reply not recognised")
	}
	if _, _, err := ParseReply(strings.Repeat("a", maxReplyLen+1), false); err == nil {
		t.Error("overlong reply accepted")
	}
}

func TestReplyLine(t *testing.T) {
	tests := []struct {
		r    Reply
		want string
	}{
		{Reply{Name: "p001", Status: Clean}, "p001: OK"},
		{Reply{Name: "message", Status: Found, Virus: "Eicar-Signature"}, "message: Eicar-Signature FOUND"},
		{Reply{Name: "p002", Status: Failed, Text: "INSTREAM size limit exceeded. ERROR"}, "p002: INSTREAM size limit exceeded. ERROR"},
		{Reply{Name: "/d/x", Status: Failed, Text: "/d/x: lstat() failed: Permission denied. ERROR"}, "/d/x: Permission denied. ERROR"},
	}
	for _, tt := range tests {
		if got := tt.r.Line(); got != tt.want {
			t.Errorf("%+v.Line() = %q, want %q", tt.r, got, tt.want)
		}
	}
}

func TestParseAddress(t *testing.T) {
	tests := []struct {
		spec, network, address string
		bad                    bool
	}{
		{"/var/run/clamav/clamd.ctl", "unix", "/var/run/clamav/clamd.ctl", false},
		{"clamd:/var/run/clamav/clamd.ctl", "unix", "/var/run/clamav/clamd.ctl", false},
		{"unix:/run/x.sock", "unix", "/run/x.sock", false},
		{"clamd:[127.0.0.1]:3310", "tcp", "127.0.0.1:3310", false},
		{"CLAMD:127.0.0.1:3310", "tcp", "127.0.0.1:3310", false},
		{"127.0.0.1:3310", "tcp", "127.0.0.1:3310", false},
		{"[::1]:3310", "tcp", "[::1]:3310", false},
		{"tcp:localhost:3310", "tcp", "localhost:3310", false},
		{"unix:relative", "", "", true},
		{"clamd:", "", "", true},
		{"", "", "", true},
		{"localhost", "", "", true},
		{":3310", "", "", true},
	}
	for _, tt := range tests {
		n, a, err := ParseAddress(tt.spec)
		if tt.bad {
			if err == nil {
				t.Errorf("ParseAddress(%q) = %s %s, want error", tt.spec, n, a)
			}
			continue
		}
		if err != nil || n != tt.network || a != tt.address {
			t.Errorf("ParseAddress(%q) = %q %q %v; want %q %q", tt.spec, n, a, err, tt.network, tt.address)
		}
	}
}

func FuzzParseReply(f *testing.F) {
	for _, s := range []string{
		"stream: OK", "1: stream: OK\x00", "2: stream: Eicar-Signature FOUND\x00",
		"INSTREAM size limit exceeded. ERROR", "/a/b: lstat() failed: Permission denied. ERROR",
		"/a: b: c FOUND", "COMMAND READ TIMED OUT", "-1: stream: OK", "99999999999999999999: x",
		": : FOUND", "\x00\x00", "1:  FOUND",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, line string, session bool) {
		id, r, err := ParseReply(line, session)
		if err != nil {
			return
		}
		if id < 0 || (!session && id != 0) {
			t.Fatalf("id %d for %q", id, line)
		}
		switch r.Status {
		case Found:
			if r.Virus == "" || !strings.HasSuffix(strings.TrimRight(line, "\x00\r\n"), " FOUND") {
				t.Fatalf("Found without name or FOUND suffix: %q -> %+v", line, r)
			}
		case Clean:
			if !strings.HasSuffix(strings.TrimRight(line, "\x00\r\n"), ": OK") {
				t.Fatalf("Clean without ': OK': %q", line)
			}
		}
		if utf8.ValidString(line) && !utf8.ValidString(r.Line()) {
			t.Fatalf("Line() broke UTF-8 of %q", line)
		}
	})
}
