package virustest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestStoredRAR: the archive is valid for the real unpackers.
func TestStoredRAR(t *testing.T) {
	dir := t.TempDir()
	data := bytes.Repeat([]byte("rar member\n"), 100)
	rar := filepath.Join(dir, "a.rar")
	if err := os.WriteFile(rar, StoredRAR("member.txt", data), 0o644); err != nil {
		t.Fatal(err)
	}
	tools := map[string][]string{"7z": {"7z", "x", "-y", rar}, "unrar": {"unrar-free", "-x", rar}}
	for d, tool := range tools {
		out := filepath.Join(dir, d)
		if err := os.MkdirAll(out, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(tool[0], tool[1:]...)
		cmd.Dir = out
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", tool[0], err, b)
		}
	}
	for _, d := range []string{"7z", "unrar"} {
		got, err := os.ReadFile(filepath.Join(dir, d, "member.txt"))
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("%s: member differs", d)
		}
	}
}
