package virustest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Private is a clamd of the test's own (same signature db as scripts/clamd.sh's,
// Unix socket only), which the test may stop: "clamd is down" is then the
// real thing, a dead socket and pooled sessions that break.
type Private struct {
	Socket string
	cmd    *exec.Cmd
	done   chan struct{}
}

// StartPrivate starts a private clamd in the foreground and waits for its
// PING. It is stopped when the test ends.
func StartPrivate(t testing.TB, c Clamd) *Private {
	t.Helper()
	dir, err := os.MkdirTemp(filepath.Dir(c.ScanDir), "priv-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "clamd.ctl")
	conf := filepath.Join(dir, "clamd.conf")
	cfg := fmt.Sprintf(`LocalSocket %s
LocalSocketMode 600
Foreground yes
LogFile %s
DatabaseDirectory %s
OfficialDatabaseOnly false
SelfCheck 0
Bytecode false
MaxThreads 2
StreamMaxLength 25M
`, sock, filepath.Join(dir, "clamd.log"), c.DB)
	if err := os.WriteFile(conf, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &Private{Socket: sock, done: make(chan struct{})}
	p.cmd = exec.Command("clamd", "-c", conf)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start private clamd: %v", err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(p.Stop)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if ping("unix", sock) == nil {
			return p
		}
		select {
		case <-p.done:
			log, _ := os.ReadFile(filepath.Join(dir, "clamd.log"))
			t.Fatalf("private clamd exited: %s", log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("private clamd did not answer PING within 60s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the private clamd (the process this test started) and waits
// for it.
func (p *Private) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.done
}
