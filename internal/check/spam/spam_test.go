package spam

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/mavis-filter/mavis/internal/mail"
)

func TestFormatScore(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{1000, "1000"},
		{-0.001, "-0.001"},
		{2.2, "2.2"},
		{2.199, "2.199"},
		{0, "0"},
		{math.Copysign(0, -1), "0"},
		{3.5, "3.5"},
		{0.1 + 0.2, "0.3"}, // %.15g hides binary noise, as Perl does
		{-100, "-100"},
		{1e-5, "1e-05"},
	} {
		if got := FormatScore(tc.in); got != tc.want {
			t.Errorf("FormatScore(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFormatTests(t *testing.T) {
	tests := []Test{{Name: "GTUBE", Score: 1000}, {Name: "NO_RECEIVED", Score: -0.001}, {Name: "NO_RELAYS", Score: -0.001}}
	for _, tc := range []struct {
		name       string
		tests      []Test
		withScores bool
		want, fold string
	}{
		{"scores", tests, true,
			"GTUBE=1000, NO_RECEIVED=-0.001, NO_RELAYS=-0.001",
			"GTUBE=1000,\n NO_RECEIVED=-0.001,\n NO_RELAYS=-0.001"},
		{"names", tests, false,
			"GTUBE, NO_RECEIVED, NO_RELAYS",
			"GTUBE,\n NO_RECEIVED,\n NO_RELAYS"},
		{"symbols only", []Test{{Name: "A", NoScore: true}, {Name: "B", Score: 2}}, true,
			"A, B=2", "A,\n B=2"},
		{"empty", nil, true, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FormatTests(tc.tests, tc.withScores); got != tc.want {
				t.Errorf("FormatTests = %q, want %q", got, tc.want)
			}
			if got := FoldableTests(tc.tests, tc.withScores); got != tc.fold {
				t.Errorf("FoldableTests = %q, want %q", got, tc.fold)
			}
		})
	}
}

func TestCombine(t *testing.T) {
	sa := &Result{Scanner: "SpamdClient", Score: 1000, Required: 5, IsSpam: true, Autolearn: "no",
		Tests: []Test{{Name: "GTUBE", Score: 1000}, {Name: "NO_RECEIVED", Score: -0.001}}, Elapsed: 80 * time.Millisecond}
	rs := &Result{Scanner: "Rspamd", Score: 6.31, Required: 6.31, Action: "reject", IsSpam: true,
		Tests: []Test{{Name: "GTUBE", Score: 0}}, Elapsed: 20 * time.Millisecond}
	ham := &Result{Scanner: "Ham", Score: -1.5, Required: 5, Tests: []Test{{Name: "BAYES_00", Score: -1.5}}}
	skipped := &Result{Scanner: "Big", Skipped: "too big", Elapsed: time.Millisecond}

	for _, tc := range []struct {
		name string
		in   []*Result
		want *Result
	}{
		{"none", nil, nil},
		{"only nil", []*Result{nil}, nil},
		{"one", []*Result{sa}, &Result{Scanner: "SpamdClient", Score: 1000, Required: 5, IsSpam: true,
			Autolearn: "no", Tests: sa.Tests, Elapsed: sa.Elapsed}},
		{"sum in scanner order", []*Result{sa, rs, ham}, &Result{Scanner: "SpamdClient,Rspamd,Ham",
			Score: 1000 + 6.31 - 1.5, Required: 5, IsSpam: true, Autolearn: "no", Action: "reject",
			Tests:   []Test{{"GTUBE", 1000, false}, {"NO_RECEIVED", -0.001, false}, {"GTUBE", 0, false}, {"BAYES_00", -1.5, false}},
			Elapsed: 80 * time.Millisecond}},
		{"skipped adds nothing", []*Result{skipped, ham, nil}, &Result{Scanner: "Big,Ham", Score: -1.5, Required: 5,
			Tests: ham.Tests, Elapsed: time.Millisecond}},
		{"all skipped", []*Result{skipped}, &Result{Scanner: "Big", Skipped: "Big: too big", Elapsed: time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Combine(tc.in)
			if !equalResult(got, tc.want) {
				t.Errorf("Combine =\n %+v\nwant\n %+v", got, tc.want)
			}
		})
	}
}

func equalResult(a, b *Result) bool {
	if a == nil || b == nil {
		return a == b
	}
	if a.Scanner != b.Scanner || math.Abs(a.Score-b.Score) > 1e-9 || a.Required != b.Required ||
		a.IsSpam != b.IsSpam || a.Autolearn != b.Autolearn || a.Action != b.Action ||
		a.Skipped != b.Skipped || a.Elapsed != b.Elapsed || len(a.Tests) != len(b.Tests) {
		return false
	}
	for i := range a.Tests {
		if a.Tests[i] != b.Tests[i] {
			return false
		}
	}
	return true
}

// scannerFunc is a Scanner made of a function, to test CheckAll's
// concurrency and error handling (the real clients are tested in their
// packages and in combine_integration_test.go).
type scannerFunc struct {
	name string
	f    func(ctx context.Context) (*Result, error)
}

func (s scannerFunc) Name() string { return s.name }
func (s scannerFunc) Check(ctx context.Context, _ *Request) (*Result, error) {
	return s.f(ctx)
}

func TestCheckAllConcurrentAndErrors(t *testing.T) {
	started := make(chan struct{}, 2)
	release := make(chan struct{})
	slow := func(score float64) func(context.Context) (*Result, error) {
		return func(ctx context.Context) (*Result, error) {
			started <- struct{}{}
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return &Result{Score: score, Tests: []Test{{Name: "T", Score: score}}}, nil
		}
	}
	boom := errors.New("connection refused")
	scanners := []Scanner{
		scannerFunc{"a", slow(1)},
		scannerFunc{"b", func(context.Context) (*Result, error) { return nil, boom }},
		scannerFunc{"c", slow(2)},
	}
	go func() {
		// both slow scanners must be running at the same time
		<-started
		<-started
		close(release)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, outs := CheckAll(ctx, scanners, &Request{})
	if ctx.Err() != nil {
		t.Fatal("scanners did not run concurrently")
	}
	if got == nil || got.Score != 3 || len(got.Tests) != 2 {
		t.Fatalf("combined = %+v, want score 3 from a and c", got)
	}
	if len(outs) != 3 || outs[0].Scanner != "a" || outs[1].Scanner != "b" || outs[2].Scanner != "c" {
		t.Fatalf("outcomes not in scanner order: %+v", outs)
	}
	if !errors.Is(outs[1].Err, boom) || !strings.Contains(outs[1].Err.Error(), "spam scanner b") {
		t.Errorf("error of b = %v", outs[1].Err)
	}
	if outs[0].Result == nil || outs[2].Result == nil {
		t.Errorf("missing results: %+v", outs)
	}
}

func TestCheckAllAllFail(t *testing.T) {
	s := scannerFunc{"x", func(context.Context) (*Result, error) { return nil, errors.New("down") }}
	got, outs := CheckAll(context.Background(), []Scanner{s}, &Request{})
	if got != nil || outs[0].Err == nil {
		t.Fatalf("got %+v %+v, want nil result and an error", got, outs)
	}
}

func TestQuoteAddr(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "<>",
		"user@example.com":      "<user@example.com>",
		"first.last@x.org":      "<first.last@x.org>",
		"a b@x.org":             `<"a b"@x.org>`,
		`a"b@x.org`:             `<"a\"b"@x.org>`,
		".dot@x.org":            `<".dot"@x.org>`,
		"dot.@x.org":            `<"dot."@x.org>`,
		"jörg@example.de":       "<jörg@example.de>",
		"postmaster":            "<postmaster>",
		`"a@b"@x.org`:           `<"\"a@b\""@x.org>`,
		"user+ext@example.com":  "<user+ext@example.com>",
		"user@[192.0.2.1]":      "<user@[192.0.2.1]>",
		"o'brien@example.ie":    "<o'brien@example.ie>",
		"two..dots@example.com": `<"two..dots"@example.com>`,
	} {
		if got := QuoteAddr(in); got != want {
			t.Errorf("QuoteAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTruncateSize(t *testing.T) {
	for _, tc := range []struct {
		name                                  string
		size, hdr, limit, hdrCap, extra, want int64
	}{
		{"no limit", 10 << 20, 1000, -1, SpamdHeaderCap, 1, 0},
		{"small message", 3000, 1000, 1000, SpamdHeaderCap, 1, 0},
		{"within slack", 1000 + 1 + 1000 + 5*1024 - 1, 1000, 1000, SpamdHeaderCap, 1, 0},
		{"just above slack", 1000 + 1 + 1000 + 5*1024, 1000, 1000, SpamdHeaderCap, 1, 2001},
		{"big body", 1 << 20, 2000, 100 << 10, SpamdHeaderCap, 1, 2000 + 1 + 100<<10},
		{"huge header capped", 1 << 20, 200 << 10, 10 << 10, SpamdHeaderCap, 1, 64<<10 + 1 + 10<<10},
		{"rspamd cap", 1 << 20, 200 << 10, 10 << 10, RspamdHeaderCap, 0, 32<<10 + 10<<10},
		{"zero body limit", 1 << 20, 500, 0, SpamdHeaderCap, 1, 501},
		{"empty message", 0, 0, 10, SpamdHeaderCap, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := TruncateSize(tc.size, tc.hdr, tc.limit, tc.hdrCap, tc.extra); got != tc.want {
				t.Errorf("TruncateSize = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestHeaderSize(t *testing.T) {
	long := "X-Long: " + strings.Repeat("a", 40<<10) + "\r\n"
	for _, tc := range []struct {
		name, msg string
		want      int64
	}{
		{"crlf", "Subject: x\r\nFrom: a@b\r\n\r\nbody\r\n", 25},
		{"lf", "Subject: x\n\nbody\n", 12},
		{"no body", "Subject: x\r\n", 12},
		{"empty header crlf", "\r\nbody", 2},
		{"empty header lf", "\nbody", 1},
		{"empty", "", 0},
		{"separator across chunk", long + "Y: 1\r\n\r\nbody", int64(len(long)) + 8},
		{"folded", "Subject: x\r\n y\r\n\r\nb", 18},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := HeaderSize(strings.NewReader(tc.msg), int64(len(tc.msg)))
			if err != nil || got != tc.want {
				t.Errorf("HeaderSize = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
	// every split position of the separator around the 32 KiB chunk border
	for pad := (32 << 10) - 6; pad <= (32<<10)+2; pad++ {
		msg := "X: " + strings.Repeat("b", pad) + "\r\n\r\nbody"
		want := int64(len(msg) - 4)
		if got, err := HeaderSize(strings.NewReader(msg), int64(len(msg))); err != nil || got != want {
			t.Errorf("pad %d: HeaderSize = %d, %v; want %d", pad, got, err, want)
		}
	}
	if _, err := HeaderSize(strings.NewReader("short"), 100); err == nil {
		t.Error("HeaderSize on a short reader: no error")
	}
}

func FuzzHeaderSize(f *testing.F) {
	for _, s := range []string{"Subject: x\r\n\r\nbody", "\n\n", "a\nb\r\n\r\n", "", "\r\n", "x: y\r\n\r"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := HeaderSize(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		// reference: the first blank line
		want := int64(len(b))
		switch {
		case bytes.HasPrefix(b, []byte("\r\n")):
			want = 2
		case bytes.HasPrefix(b, []byte("\n")):
			want = 1
		default:
			i1 := bytes.Index(b, []byte("\n\n"))
			i2 := bytes.Index(b, []byte("\n\r\n"))
			switch {
			case i1 >= 0 && (i2 < 0 || i1 < i2):
				want = int64(i1 + 2)
			case i2 >= 0:
				want = int64(i2 + 3)
			}
		}
		if got != want {
			t.Fatalf("HeaderSize = %d, want %d", got, want)
		}
	})
}

func TestNewRequest(t *testing.T) {
	body := "Subject: hi\r\n\r\nhello\r\n"
	m := &mail.Message{
		LogID: "123-01",
		Envelope: mail.Envelope{MailFrom: "a@example.net",
			Rcpts: []*mail.Recipient{{Addr: "b@example.org"}, {Addr: "c@example.org"}}},
		Client: mail.ClientInfo{Name: "mx.example.net", Addr: "192.0.2.1", Helo: "mx", Ident: "Q1", Login: "bob"},
		Body:   mail.NewSpoolFromBytes([]byte(body)),
	}
	r, err := NewRequest(m)
	if err != nil {
		t.Fatal(err)
	}
	if r.Size != int64(len(body)) || r.MailFrom != "a@example.net" || len(r.Rcpts) != 2 ||
		r.ClientIP != "192.0.2.1" || r.ClientHelo != "mx" || r.ClientName != "mx.example.net" ||
		r.QueueID != "Q1" || r.AuthUser != "bob" || r.LogID != "123-01" {
		t.Errorf("NewRequest = %+v", r)
	}
	buf := make([]byte, r.Size)
	if _, err := r.Message.ReadAt(buf, 0); err != nil || string(buf) != body {
		t.Errorf("message = %q, %v", buf, err)
	}
	if _, err := NewRequest(&mail.Message{}); err == nil {
		t.Error("NewRequest without body: no error")
	}
}
