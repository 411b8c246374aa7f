package virus

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fixed is a Scanner with a set answer: a fixture for testing Run's
// orchestration (tiers, stop rules, aggregation), not a stand-in for a
// scanner server — those are tested against the real clamd and clamscan.
type fixed struct {
	name  string
	res   ScannerResult
	delay time.Duration
	calls atomic.Int32
}

func (f *fixed) Name() string { return f.name }
func (f *fixed) Scan(ctx context.Context, _ *Request) ScannerResult {
	f.calls.Add(1)
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
			return ScannerResult{Err: ctx.Err()}
		}
	}
	return f.res
}

// barrier releases its waiters once n of them arrived.
type barrier struct {
	mu sync.Mutex
	n  int
	ch chan struct{}
}

func (b *barrier) arrive() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.n--
	if b.n == 0 {
		close(b.ch)
	}
	return b.ch
}

// meeting is a scanner that first waits for the other scanners of its
// barrier to start.
type meeting struct {
	fixed
	bar *barrier
}

func (m *meeting) Scan(ctx context.Context, r *Request) ScannerResult {
	select {
	case <-m.bar.arrive():
	case <-ctx.Done():
		return ScannerResult{Err: ctx.Err()}
	}
	return m.fixed.Scan(ctx, r)
}

func clean(n string) *fixed { return &fixed{name: n, res: ScannerResult{Output: n + ": OK"}} }
func failing(n string) *fixed {
	return &fixed{name: n, res: ScannerResult{Err: errors.New("connection refused")}}
}
func infected(n string, v ...string) *fixed {
	return &fixed{name: n, res: ScannerResult{Infected: true, Viruses: v, Output: n + ": FOUND"}}
}
func inconclusive(n string) *fixed { return &fixed{name: n, res: ScannerResult{Inconclusive: true}} }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestRunSemantics(t *testing.T) {
	type want struct {
		infected, allFailed, noScanners, usedBackup bool
		viruses, detectedBy                         []string
		backupCalls                                 int32
	}
	tests := []struct {
		name            string
		primary, backup []*fixed
		opts            Options
		want            want
	}{
		{"clean", []*fixed{clean("a")}, []*fixed{clean("b")}, Options{},
			want{}},
		{"infected", []*fixed{infected("a", "X", "X", "Y")}, nil, Options{},
			want{infected: true, viruses: []string{"X", "Y"}, detectedBy: []string{"a"}}},
		{"infected without a name gets an empty one", []*fixed{infected("a")}, nil, Options{},
			want{infected: true, viruses: []string{""}, detectedBy: []string{"a"}}},
		{"one primary failed, another answered: no backups", []*fixed{failing("a"), clean("b")}, []*fixed{infected("c", "Z")}, Options{},
			want{}},
		{"all primaries failed: all backups run", []*fixed{failing("a"), failing("b")}, []*fixed{clean("c"), infected("d", "Z")}, Options{},
			want{infected: true, usedBackup: true, viruses: []string{"Z"}, detectedBy: []string{"d"}, backupCalls: 2}},
		{"inconclusive primaries count as no answer", []*fixed{inconclusive("a")}, []*fixed{clean("c")}, Options{},
			want{usedBackup: true, backupCalls: 1}},
		{"everything failed", []*fixed{failing("a")}, []*fixed{failing("b")}, Options{},
			want{allFailed: true, usedBackup: true, backupCalls: 1}},
		{"failed, no backups", []*fixed{failing("a")}, nil, Options{},
			want{allFailed: true}},
		{"only inconclusive", []*fixed{inconclusive("a")}, nil, Options{},
			want{allFailed: true}},
		{"no scanners", nil, nil, Options{},
			want{noScanners: true}},
		{"several detect: names from the first in order", []*fixed{clean("a"), infected("b", "B1"), infected("c", "C1")}, nil, Options{},
			want{infected: true, viruses: []string{"B1"}, detectedBy: []string{"b", "c"}}},
		{"sequential, first infected stops", []*fixed{infected("a", "A1"), infected("b", "B1")}, nil, Options{Sequential: true, FirstInfectedStopsScan: true},
			want{infected: true, viruses: []string{"A1"}, detectedBy: []string{"a"}}},
		{"sequential without stop", []*fixed{infected("a", "A1"), infected("b", "B1")}, nil, Options{Sequential: true},
			want{infected: true, viruses: []string{"A1"}, detectedBy: []string{"a", "b"}}},
		{"infected and failed is infected", []*fixed{failing("a"), infected("b", "B1")}, []*fixed{clean("c")}, Options{},
			want{infected: true, viruses: []string{"B1"}, detectedBy: []string{"b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var prim, back []Scanner
			for _, f := range tt.primary {
				prim = append(prim, f)
			}
			for _, f := range tt.backup {
				back = append(back, f)
			}
			tt.opts.Logger = quiet
			r := Run(context.Background(), prim, back, &Request{LogID: "t"}, tt.opts)
			w := tt.want
			if r.Infected != w.infected || r.AllFailed != w.allFailed || r.NoScanners != w.noScanners || r.UsedBackup != w.usedBackup {
				t.Fatalf("got infected=%v allFailed=%v noScanners=%v usedBackup=%v; want %+v", r.Infected, r.AllFailed, r.NoScanners, r.UsedBackup, w)
			}
			if !equal(r.Viruses, w.viruses) || !equal(r.DetectedBy, w.detectedBy) {
				t.Fatalf("viruses %q detectedBy %q; want %q %q", r.Viruses, r.DetectedBy, w.viruses, w.detectedBy)
			}
			var bc int32
			for _, f := range tt.backup {
				bc += f.calls.Load()
			}
			if bc != w.backupCalls {
				t.Fatalf("backup scanners called %d times, want %d", bc, w.backupCalls)
			}
			if (r.Err() != nil) != (w.allFailed || w.noScanners) {
				t.Fatalf("Err() = %v", r.Err())
			}
			if w.allFailed && !errors.Is(r.Err(), ErrAllFailed) || w.noScanners && !errors.Is(r.Err(), ErrNoScanners) {
				t.Fatalf("Err() = %v", r.Err())
			}
			n := len(tt.primary)
			if w.usedBackup {
				n += len(tt.backup)
			}
			if len(r.Scanners) != n {
				t.Fatalf("%d scanner results, want %d", len(r.Scanners), n)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRunConcurrentStop: with scanners running concurrently, the first hit
// cancels the slow ones, which are reported as skipped; wall time is not the
// sum.
func TestRunConcurrentStop(t *testing.T) {
	slow := &fixed{name: "slow", res: ScannerResult{Output: "OK"}, delay: 10 * time.Second}
	fast := infected("fast", "V")
	start := time.Now()
	r := Run(context.Background(), []Scanner{slow, fast}, nil, &Request{}, Options{FirstInfectedStopsScan: true, Logger: quiet})
	if time.Since(start) > 20*time.Second {
		t.Fatal("slow scanner was not cancelled")
	}
	if !r.Infected || !r.Scanners[0].Skipped || r.Scanners[0].Name != "slow" || r.Scanners[1].Name != "fast" {
		t.Fatalf("%+v", r.Scanners)
	}
	// without the stop rule both finish, and they run at the same time:
	// each waits until the other has started (a sequential run would never
	// get past the first).
	bar := &barrier{n: 2, ch: make(chan struct{})}
	a, b := &meeting{fixed: fixed{name: "a", res: ScannerResult{Output: "OK"}, delay: 50 * time.Millisecond}, bar: bar},
		&meeting{fixed: fixed{name: "b", res: ScannerResult{Output: "OK"}, delay: 50 * time.Millisecond}, bar: bar}
	r = Run(context.Background(), []Scanner{a, b}, nil, &Request{}, Options{Logger: quiet, ScannerTimeout: 20 * time.Second})
	for _, sr := range r.Scanners {
		if sr.Err != nil {
			t.Errorf("%s: %v: scanners did not run concurrently", sr.Name, sr.Err)
		}
	}
	if r.Scanners[0].Elapsed < 50*time.Millisecond {
		t.Errorf("elapsed not measured: %v", r.Scanners[0].Elapsed)
	}
}

func TestRunScannerTimeout(t *testing.T) {
	slow := &fixed{name: "slow", res: ScannerResult{}, delay: 10 * time.Second}
	r := Run(context.Background(), []Scanner{slow}, nil, &Request{}, Options{ScannerTimeout: 50 * time.Millisecond, Logger: quiet})
	if !r.AllFailed || !errors.Is(r.Scanners[0].Err, context.DeadlineExceeded) {
		t.Fatalf("%+v", r.Scanners[0])
	}
}

func TestRunSpamScore(t *testing.T) {
	score := func(name string) (float64, bool) {
		switch name {
		case "Sanesecurity.Junk.1":
			return 0.1, true
		case "Sanesecurity.Spam.2":
			return 3.5, true
		}
		return 0, false
	}
	r := Run(context.Background(), []Scanner{infected("a", "Sanesecurity.Junk.1", "Sanesecurity.Spam.2")}, nil, &Request{}, Options{SpamScore: score, Logger: quiet})
	if r.Infected || r.SpamScore != 3.5 || !equal(r.SpamTests, []string{"AV:Sanesecurity.Junk.1=0.1", "AV:Sanesecurity.Spam.2=3.5"}) || r.AllFailed {
		t.Fatalf("%+v", r)
	}
	// one name is a real virus: all of it stays a virus
	r = Run(context.Background(), []Scanner{infected("a", "Sanesecurity.Junk.1", "Win.Trojan.X")}, nil, &Request{}, Options{SpamScore: score, Logger: quiet})
	if !r.Infected || len(r.SpamTests) != 0 {
		t.Fatalf("%+v", r)
	}
}

func TestCompilePattern(t *testing.T) {
	clamOut := "p001: OK\np002: Eicar-Signature FOUND\np003: Infected Archive FOUND\np004: Win.Test.X FOUND\n"
	tests := []struct {
		perl  string
		out   string
		names []string
	}{
		{`qr/^.*?: (?!Infected Archive)(.*) FOUND$/m`, clamOut, []string{"Eicar-Signature", "Win.Test.X"}},
		{`qr/(?:INFECTED|WARNING|SUSPICION|SUSPICIOUS) (.+)/m`, "x INFECTED Trojan.A\n", []string{"Trojan.A"}},
		{`qr/infected: (.+)/m`, "file infected: EICAR-Test\n", []string{"EICAR-Test"}},
		{`qr/(?x)^\s* (?:virus|iworm|macro|mutant|sequence|trojan)\ found:\ ( [^\]\s']+ )\ \.\.\.\ /m`, "  virus found: Foo.Bar ... \n", []string{"Foo.Bar"}},
		{`m{^\[Found\s+[^\]]*\]\s+<([^ \t(>]*)}m`, "[Found virus] <EICAR_Test_File> in x\n", []string{"EICAR_Test_File"}},
		{`^(.*) FOUND$`, "a FOUND", []string{"a"}},
	}
	for _, tt := range tests {
		p, err := CompilePattern(tt.perl)
		if err != nil {
			t.Errorf("%s: %v", tt.perl, err)
			continue
		}
		if got := p.Names(tt.out); !equal(got, tt.names) {
			t.Errorf("%s on %q: %q, want %q", tt.perl, tt.out, got, tt.names)
		}
	}
	for _, bad := range []string{`qr/(a)\1/`, `qr/(?<=x)y/`, `qr/(?!a.*b)c/`, `qr/x/e`} {
		if _, err := CompilePattern(bad); err == nil {
			t.Errorf("%s compiled", bad)
		}
	}
	m := MustOutput(`qr/\bOK$/m`)
	if !m.matches(0, "p: OK\n") || m.matches(0, "p: OKAY") {
		t.Error("clean test")
	}
	if _, err := Output(`qr/^.*?: (?!Infected Archive)(.*) FOUND$/m`); err == nil {
		t.Error("lookahead accepted in a clean/infected test")
	}
	var undef *Match
	if undef.matches(0, "anything") {
		t.Error("undef matched")
	}
	if !Codes(0, 1).matches(1, "") || Codes(0).matches(2, "") {
		t.Error("codes")
	}
}

func FuzzCompilePattern(f *testing.F) {
	for _, s := range []string{`qr/^.*?: (?!Infected Archive)(.*) FOUND$/m`, `qr/\bOK$/m`, `m{x}x`, `(?!`, `qr//`, `qr/(?x) a # c
 b/m`} {
		f.Add(s, "p: Eicar FOUND\n")
	}
	f.Fuzz(func(t *testing.T, perl, out string) {
		p, err := CompilePattern(perl)
		if err != nil {
			return
		}
		for _, n := range p.Names(out) {
			if n == "" {
				t.Fatalf("empty name from %q on %q", perl, out)
			}
		}
	})
}
