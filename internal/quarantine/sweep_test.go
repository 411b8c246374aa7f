package quarantine

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSweepRemovesOnlyOldFiles(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2024, 6, 10, 12, 0, 0, 0, time.UTC)
	files := map[string]time.Duration{ // name -> age
		"7/virus-old":      6 * 24 * time.Hour,
		"S/spam-old.gz":    5*24*time.Hour + time.Minute,
		"S/spam-young.gz":  5*24*time.Hour - time.Minute,
		"banned-new":       time.Hour,
		"deep/x/badh-old":  30 * 24 * time.Hour,
		"deep/x/badh-keep": 0,
	}
	for name, age := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Repeat("x", 10)), 0o640); err != nil {
			t.Fatal(err)
		}
		mt := now.Add(-age)
		if err := os.Chtimes(p, mt, mt); err != nil {
			t.Fatal(err)
		}
	}
	st, err := Sweep(context.Background(), dir, 5*24*time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if st.Scanned != 6 || st.Removed != 3 || st.Bytes != 30 || st.Errors != 0 {
		t.Errorf("stats = %+v", st)
	}
	for name, age := range files {
		_, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name)))
		gone := os.IsNotExist(err)
		if want := age > 5*24*time.Hour; gone != want {
			t.Errorf("%s (age %v): removed=%v, want %v", name, age, gone, want)
		}
	}
	// directories stay
	for _, d := range []string{"7", "S", "deep/x"} {
		if fi, err := os.Stat(filepath.Join(dir, d)); err != nil || !fi.IsDir() {
			t.Errorf("directory %s removed", d)
		}
	}
	// maxAge 0 removes nothing
	if st, err := Sweep(context.Background(), dir, 0, now.Add(1000*time.Hour)); err != nil || st.Removed != 0 {
		t.Errorf("maxAge 0: %+v %v", st, err)
	}
	// a missing directory is an error
	if _, err := Sweep(context.Background(), filepath.Join(dir, "nope"), time.Hour, now); err == nil {
		t.Error("missing directory not reported")
	}
}

func TestRunSweeperStopsWithContext(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "virus-x")
	os.WriteFile(p, []byte("x"), 0o640)
	old := time.Now().Add(-48 * time.Hour)
	os.Chtimes(p, old, old)
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sweeper{Dir: dir, MaxAge: 24 * time.Hour}
	done := make(chan error, 1)
	go func() { done <- s.RunSweeper(ctx, time.Millisecond) }()
	deadline := time.After(10 * time.Second)
	for {
		if _, err := os.Stat(p); os.IsNotExist(err) {
			break
		}
		select {
		case <-deadline:
			t.Fatal("old file not swept")
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != context.Canceled {
			t.Errorf("RunSweeper returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunSweeper did not stop")
	}
}
