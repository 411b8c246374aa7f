package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mavis-filter/mavis/internal/testcorpus"
)

func runCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte("max_servers = 4\nfinal_spam_destiny = \"D_DISCARD\"\nbypass_virus_checks_maps = [true]\n"), 0o644)
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("max_servers = 4\nmax_sevrers = 2\nfinal_spam_destiny = \"D_MAYBE\"\n"), 0o644)

	if code, out, errs := runCLI("config", "check", "-c", good); code != 0 || !strings.Contains(out, "configuration OK") {
		t.Errorf("good config: %d %q %q", code, out, errs)
	}
	code, _, errs := runCLI("config", "check", "-c", bad)
	if code != 1 {
		t.Errorf("bad config exit %d", code)
	}
	for _, want := range []string{"bad.toml:2", `"max_sevrers"`, "max_servers", "bad.toml:3", "final_spam_destiny", "2 error(s)"} {
		if !strings.Contains(errs, want) {
			t.Errorf("errors lack %q:\n%s", want, errs)
		}
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "m.toml")
	os.WriteFile(cfg, []byte("MYHOME = \""+dir+"\"\nmydomain = \"example.org\"\nav_scanners = []\nav_scanners_backup = []\n"), 0o644)
	clean := filepath.Join(dir, "clean.eml")
	os.WriteFile(clean, []byte("From: a@example.net\nTo: user@example.org\nDate: Sat, 01 Jun 2024 12:00:00 +0000\nSubject: hi\nMessage-ID: <1@x>\n\nhello\n"), 0o644)
	code, out, errs := runCLI("check", "-c", cfg, clean)
	if code != 0 || !strings.HasPrefix(out, "CLEAN\n") || !strings.Contains(out, "Received: from") {
		t.Errorf("clean: %d\n%s\n%s", code, out, errs)
	}
	banned := filepath.Join(dir, "banned.eml")
	os.WriteFile(banned, testcorpus.Message("exe", []testcorpus.Attachment{testcorpus.File("invoice.pdf", testcorpus.TinyPE(false))}), 0o644)
	code, out, _ = runCLI("check", "-c", cfg, "--json", banned)
	if code != 0 {
		t.Fatalf("banned: exit %d", code)
	}
	var a struct {
		CCat  string `json:"content_category"`
		Parts string `json:"parts"`
		Rcpts []struct {
			Destiny string `json:"destiny"`
		} `json:"recipients"`
	}
	if err := json.Unmarshal([]byte(out), &a); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if !strings.HasPrefix(a.CCat, "BANNED") || !strings.Contains(a.Parts, "invoice.pdf") || len(a.Rcpts) != 1 || a.Rcpts[0].Destiny != "D_DISCARD" {
		t.Errorf("banned analysis: %+v", a)
	}
	if code, _, _ := runCLI("check", filepath.Join(dir, "missing.eml")); code == 0 {
		t.Error("missing file: exit 0")
	}
}

func TestVersionAndUsage(t *testing.T) {
	if code, out, _ := runCLI("version"); code != 0 || !strings.HasPrefix(out, "mavis-") {
		t.Errorf("version: %d %q", code, out)
	}
	if code, _, _ := runCLI("frobnicate"); code != 64 {
		t.Errorf("unknown command exit %d", code)
	}
}

func TestSQLSchemaAndShow(t *testing.T) {
	for _, d := range []string{"mysql", "pg", "sqlite"} {
		code, out, errs := runCLI("sql", "schema", "--dialect", d)
		if code != 0 || !strings.Contains(out, "CREATE TABLE") || !strings.Contains(out, "msgrcpt") || !strings.Contains(out, "quarantine") {
			t.Errorf("%s: %d %q %q", d, code, out[:min(len(out), 200)], errs)
		}
	}
	if code, _, _ := runCLI("sql", "schema", "--dialect", "oracle"); code == 0 {
		t.Error("unknown dialect accepted")
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "m.toml")
	os.WriteFile(cfg, []byte("max_servers = 7\n"), 0o644)
	code, out, _ := runCLI("config", "show", "-c", cfg)
	if code != 0 || !strings.Contains(out, "max_servers = 7") {
		t.Errorf("config show: %d\n%s", code, out)
	}
}
