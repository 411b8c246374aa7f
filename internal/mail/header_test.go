package mail

import (
	"strings"
	"testing"
)

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		fields     []string // names, "" for invalid lines
		length     int64
		invalid    int
		noSep      bool
		getSubject string
	}{
		{"simple", "From: a\r\nSubject: hi\r\n there\r\n\r\nbody", []string{"From", "Subject"}, 32, 0, false, "hi there"},
		{"lf only", "From: a\nSubject: x\n\nbody\n", []string{"From", "Subject"}, 20, 0, false, "x"},
		{"invalid line kept", "From: a\r\nno colon here\r\n cont\r\nSubject: s\r\n\r\n", []string{"From", "", "Subject"}, 45, 1, false, "s"},
		{"no separator", "From: a\r\nSubject: s\r\n", []string{"From", "Subject"}, 0, 0, true, "s"},
		{"8bit name", "Fr\xc3\xb6m: a\r\n\r\n", []string{"Fr\xc3\xb6m"}, 12, 0, false, ""},
		{"leading continuation", " x\r\nFrom: a\r\n\r\n", []string{"From"}, 15, 1, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := ParseHeader(strings.NewReader(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, f := range h.Fields {
				names = append(names, f.Name)
			}
			if strings.Join(names, "|") != strings.Join(tt.fields, "|") {
				t.Errorf("fields %q want %q", names, tt.fields)
			}
			if h.Len != tt.length || h.Invalid != tt.invalid || h.NoSeparator != tt.noSep {
				t.Errorf("Len=%d Invalid=%d NoSep=%v, want %d %d %v", h.Len, h.Invalid, h.NoSeparator, tt.length, tt.invalid, tt.noSep)
			}
			if got := h.Get("subject"); got != tt.getSubject {
				t.Errorf("Get(subject)=%q want %q", got, tt.getSubject)
			}
		})
	}
}

func TestParseHeaderBounded(t *testing.T) {
	big := "X-A: " + strings.Repeat("a", MaxHeaderBytes) + "\r\n\r\n"
	h, err := ParseHeader(strings.NewReader(big))
	if err != nil {
		t.Fatal(err)
	}
	if !h.Truncated {
		t.Error("oversized header not marked truncated")
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte("From: a\r\nSubject: b\r\n c\r\n\r\nbody"))
	f.Add([]byte(" \r\n:\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHeader(strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		var n int64
		for _, fl := range h.Fields {
			n += int64(len(fl.Raw))
		}
		if h.Len > int64(len(b)) || n > int64(len(b)) {
			t.Fatalf("parsed more than the input: Len=%d fields=%d input=%d", h.Len, n, len(b))
		}
	})
}
