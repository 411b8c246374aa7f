package logging

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestMainLine(t *testing.T) {
	tests := []struct {
		name string
		e    Entry
		want string
	}{
		{
			name: "spec example with XFORWARD",
			e: Entry{Passed: true, CCat: "CLEAN", Actions: []string{"RelayedInbound"},
				ClientIP: "198.51.100.7", ClientPort: "41234", Originator: "198.51.100.7",
				Sender: "a@b.example", Rcpts: []string{"c@d.example"}, QueueID: "4XyZ",
				MessageID: "<x@y>", MailID: "Ab3_dE-fGh12", Hits: "-1.9", Size: 2345,
				QueuedAs: []string{"4Z1Q"}, ElapsedMS: 630},
			want: "Passed CLEAN {RelayedInbound}, [198.51.100.7]:41234 [198.51.100.7] <a@b.example> -> <c@d.example>, Queue-ID: 4XyZ, Message-ID: <x@y>, mail_id: Ab3_dE-fGh12, Hits: -1.9, size: 2345, queued_as: 4Z1Q, 630 ms",
		},
		{
			name: "rig sample without XFORWARD",
			e: Entry{Passed: true, CCat: "UNCHECKED", Actions: []string{"RelayedTaggedInbound"},
				Originator: "127.0.0.1", Sender: "sender@example.net", Rcpts: []string{"user@rig.test"},
				MessageID: "<rig-corpus-01@example.net>", MailID: "3zf36UCGLSSt", Size: 2337,
				QueuedAs: []string{"000002"}, ElapsedMS: 7047},
			want: "Passed UNCHECKED {RelayedTaggedInbound}, [127.0.0.1] <sender@example.net> -> <user@rig.test>, Message-ID: <rig-corpus-01@example.net>, mail_id: 3zf36UCGLSSt, Hits: -, size: 2337, queued_as: 000002, 7047 ms",
		},
		{
			name: "blocked, two recipients, quarantine, null sender",
			e: Entry{Passed: false, CCat: "INFECTED (Eicar-Signature)", Actions: []string{"DiscardedInbound", "Quarantined"},
				PolicyBank: "MYNETS", Local: true, ClientIP: "10.0.0.1", Sender: "",
				Rcpts: []string{"a@x", "b@x"}, Quarantine: "virus-abc", MailID: "abc", Size: 10,
				PartTag: "0", QueuedAs: []string{"IGNORED"}, ElapsedMS: 5},
			want: "Blocked INFECTED (Eicar-Signature) {DiscardedInbound,Quarantined}, MYNETS LOCAL [10.0.0.1] <> -> <a@x>,<b@x>, quarantine: virus-abc, mail_id: abc, Hits: -, size: 10, 5 ms",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MainLine(tt.e); got != tt.want {
				t.Errorf("MainLine\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	lg, _, err := New(Options{Stderr: &buf, Level: 0})
	if err != nil {
		t.Fatal(err)
	}
	lg.With(LogIDKey, "01234-01").Info("Passed CLEAN", "x", "a b")
	lg.Debug("hidden at level 0")
	lg.Warn("careful", LogIDKey, "01234-02")
	out := buf.String()
	for _, want := range []string{"(01234-01) Passed CLEAN x=\"a b\"", "(01234-02) (!)careful"} {
		if !strings.Contains(out, want) {
			t.Errorf("output %q lacks %q", out, want)
		}
	}
	if strings.Contains(out, "hidden") {
		t.Errorf("debug line shown at log_level 0: %q", out)
	}
	for lvl, want := range map[int]slog.Level{0: slog.LevelInfo, 2: slog.Level(-2), 5: slog.Level(-5)} {
		if got := Level(lvl); got != want {
			t.Errorf("Level(%d)=%v want %v", lvl, got, want)
		}
	}
	if _, err := Facility("bogus"); err == nil {
		t.Error("Facility(bogus) gave no error")
	}
}
