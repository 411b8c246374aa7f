package decode

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func listAll(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, _ os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestWorkDirsReuse: a directory goes back emptied (parts directory kept)
// and the next message decodes into it as into a new one.
func TestWorkDirsReuse(t *testing.T) {
	base := t.TempDir()
	w := NewWorkDirs(base, 2)
	msg := mailWith(file("a.zip", zipOf(member{"in.exe", tinyPE(false)})), file("b.txt", []byte("hello\n")))
	var first string
	var want string
	for round := range 3 {
		dir, err := w.Get()
		if err != nil {
			t.Fatal(err)
		}
		if round == 0 {
			first = dir
		} else if dir != first {
			t.Fatalf("round %d: got %s, want the reused %s", round, dir, first)
		}
		if got := listAll(t, dir); len(got) > 1 || (len(got) == 1 && got[0] != partsDir) {
			t.Fatalf("round %d: directory not empty: %v", round, got)
		}
		res, err := Decode(context.Background(), bytes.NewReader(msg), int64(len(msg)), dir, DefaultLimits(), testTools)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		got := summary(res)
		if round == 0 {
			want = got
		} else if got != want {
			t.Fatalf("round %d: decode in a reused dir differs:\n%s\nwant\n%s", round, got, want)
		}
		if i := find(res, "in.exe"); i < 0 {
			t.Fatalf("round %d: member not found:\n%s", round, res.Tree())
		}
		if err := w.Put(dir); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got := listAll(t, base); len(got) != 0 {
		t.Fatalf("Close left %v", got)
	}
}

// TestWorkDirsLeftovers: whatever is left in a directory (files, nested
// directories, a link pointing outside) is removed, the link's target is
// not.
func TestWorkDirsLeftovers(t *testing.T) {
	base := t.TempDir()
	outside := filepath.Join(t.TempDir(), "precious")
	if err := os.WriteFile(outside, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := NewWorkDirs(base, 1)
	dir, err := w.Get()
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, partsDir, "x-p002", "deep", "er"), 0o700))
	must(os.WriteFile(filepath.Join(dir, partsDir, "p001"), []byte("a"), 0o600))
	must(os.WriteFile(filepath.Join(dir, partsDir, "x-p002", "deep", "er", "f"), []byte("b"), 0o600))
	must(os.Symlink(outside, filepath.Join(dir, partsDir, "link")))
	must(os.Symlink(filepath.Dir(outside), filepath.Join(dir, "dirlink")))
	must(os.WriteFile(filepath.Join(dir, "stray"), []byte("c"), 0o600))
	for i := range 300 { // more than one Readdirnames batch
		must(os.WriteFile(filepath.Join(dir, partsDir, "m"+string(rune('a'+i%26))+string(rune('a'+i/26))), nil, 0o600))
	}
	must(w.Put(dir))
	if got := listAll(t, dir); !slices.Equal(got, []string{partsDir}) {
		t.Fatalf("left after Put: %v", got)
	}
	if b, err := os.ReadFile(outside); err != nil || string(b) != "keep me" {
		t.Fatalf("link target touched: %q %v", b, err)
	}
	again, err := w.Get()
	if err != nil || again != dir {
		t.Fatalf("Get = %s, %v; want the reused %s", again, err, dir)
	}
}

// TestWorkDirsKeepAndGone: beyond keep, and after Close, directories are
// removed; a directory that vanished is not handed out again.
func TestWorkDirsKeepAndGone(t *testing.T) {
	base := t.TempDir()
	w := NewWorkDirs(base, 1)
	a, _ := w.Get()
	b, _ := w.Get()
	if a == b {
		t.Fatal("two Gets returned the same directory")
	}
	if err := w.Put(a); err != nil {
		t.Fatal(err)
	}
	if err := w.Put(b); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(b); !os.IsNotExist(err) {
		t.Fatalf("directory beyond keep not removed: %v", err)
	}
	c, _ := w.Get()
	if c != a {
		t.Fatalf("Get = %s, want kept %s", c, a)
	}
	if err := os.RemoveAll(c); err != nil {
		t.Fatal(err)
	}
	if err := w.Put(c); err != nil {
		t.Fatalf("Put of a vanished dir: %v", err)
	}
	d, err := w.Get()
	if err != nil || d == c {
		t.Fatalf("Get = %s, %v; want a new directory", d, err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Put(d); err != nil {
		t.Fatal(err)
	}
	if got := listAll(t, base); len(got) != 0 {
		t.Fatalf("left after Close and Put: %v", got)
	}
}
