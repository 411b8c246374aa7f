package decode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Tools are the external unpackers found on PATH at start, as amavis's
// @decoders entries are enabled only for programs it finds. An empty path
// disables the format (its parts are then marked undecipherable).
type Tools struct {
	SevenZip   string // 7zz, 7z or 7za: cab, arj, lzh, chm, Z, szdd, nsis, udf, wim… and zips with methods Go lacks
	CabExtract string // cabextract
	Arj        string // arj or unarj
	Lha        string // lha (lhasa)
	Arc        string // nomarch or arc
	Zoo        string // zoo or unzoo
	Unrar      string // unrar-free / unrar (only a fallback: rar is decoded in Go)
	// Timeout bounds one run of a program (on top of the decode budget).
	Timeout time.Duration
}

// FindTools looks the programs up on PATH once and logs, once, which are
// missing. log may be nil.
func FindTools(log *slog.Logger) *Tools {
	t := &Tools{Timeout: 60 * time.Second}
	var missing []string
	find := func(dst *string, what string, names ...string) {
		for _, n := range names {
			if p, err := exec.LookPath(n); err == nil {
				*dst = p
				return
			}
		}
		missing = append(missing, what+" ("+strings.Join(names, "|")+")")
	}
	find(&t.SevenZip, "7-Zip", "7zz", "7z", "7za")
	find(&t.CabExtract, "cab", "cabextract")
	find(&t.Arj, "arj", "arj", "unarj")
	find(&t.Lha, "lha", "lha", "lhasa")
	find(&t.Arc, "arc", "nomarch", "arc")
	find(&t.Zoo, "zoo", "zoo", "unzoo")
	find(&t.Unrar, "rar", "unrar-free", "unrar")
	if log != nil && len(missing) > 0 {
		log.Warn("decode: unpacking programs not found, these formats will be marked undecipherable",
			"missing", strings.Join(missing, ", "))
	}
	return t
}

// maxToolOutput is how much of a program's stdout/stderr we keep.
const maxToolOutput = 256 * 1024

type capped struct {
	b   bytes.Buffer
	max int
}

func (c *capped) Write(p []byte) (int, error) {
	if room := c.max - c.b.Len(); room > 0 {
		c.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// runTool runs prog with args in dir (a fresh private directory) without a
// shell, with stdin from /dev/null, in its own process group that is killed
// when ctx ends, the tool's own timeout passes, or the output directory
// grows past limit bytes (then errToolQuota).
func (d *decoder) runTool(prog string, args []string, dir string, limit int64) (string, error) {
	ctx := d.ctx
	if d.tools.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d.tools.Timeout)
		defer cancel()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=/usr/bin:/bin", "LANG=C", "LC_ALL=C", "HOME=" + dir, "TMPDIR=" + dir}
	out := &capped{max: maxToolOutput}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		if cmd.Process != nil {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		}
		return nil
	}
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("start %s: %w", filepath.Base(prog), err)
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	if limit >= 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for {
				select {
				case <-done:
					return
				case <-tick.C:
					if dirSize(dir) > limit {
						cancel(errToolQuota)
						return
					}
				}
			}
		}()
	}
	err := cmd.Wait()
	close(done)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && (errors.Is(cause, errToolQuota) || d.ctx.Err() != nil) {
		if errors.Is(cause, errToolQuota) {
			return out.b.String(), errToolQuota
		}
		return out.b.String(), d.ctx.Err()
	}
	if ctx.Err() != nil {
		return out.b.String(), fmt.Errorf("%s: timed out after %s", filepath.Base(prog), d.tools.Timeout)
	}
	if err != nil {
		return out.b.String(), fmt.Errorf("%s: %w", filepath.Base(prog), err)
	}
	return out.b.String(), nil
}

var errToolQuota = errors.New("output exceeds the storage quota")

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			if fi, err := e.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// toolDir makes a fresh private directory for part i's program output.
func (d *decoder) toolDir(i int) (rel, abs string, err error) {
	rel = filepath.Join(partsDir, "x-"+d.res.Parts[i].ID)
	if err := d.root.Mkdir(rel, 0o700); err != nil {
		return "", "", fmt.Errorf("make tool dir: %w", err)
	}
	return rel, filepath.Join(d.dir, "x-"+d.res.Parts[i].ID), nil
}

// harvest turns what a program left in rel into child parts of i: regular
// files are moved to parts/pNNN (never following links: os.Root), links
// and special files become file-less parts with attribute L or S, then the
// directory is removed. names maps output paths to declared member names
// when the program's listing had them.
func (d *decoder) harvest(i int, rel string, who string, skip map[string]bool) error {
	defer func() { _ = d.root.RemoveAll(rel) }()
	sub, err := d.root.OpenRoot(rel)
	if err != nil {
		return fmt.Errorf("open tool dir: %w", err)
	}
	defer sub.Close()
	var files []string
	var others []struct {
		path string
		attr string
	}
	err = fs.WalkDir(sub.FS(), ".", func(path string, e fs.DirEntry, err error) error {
		if err != nil || path == "." {
			return nil
		}
		switch {
		case e.IsDir():
		case e.Type().IsRegular():
			files = append(files, path)
		case e.Type()&fs.ModeSymlink != 0:
			others = append(others, struct{ path, attr string }{path, "L"})
		default:
			others = append(others, struct{ path, attr string }{path, "S"})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("walk tool dir: %w", err)
	}
	for _, o := range others {
		c, err := d.newChild(i, o.path)
		if err != nil {
			return err
		}
		d.res.Parts[c].ArchiveName = o.path
		d.res.Parts[c].addAttr(o.attr)
	}
	for _, f := range files {
		if skip[f] {
			continue
		}
		fi, err := sub.Lstat(f)
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		c, err := d.newChild(i, f)
		if err != nil {
			return err
		}
		d.res.Parts[c].ArchiveName = f
		sz := fi.Size()
		if sz > d.remaining {
			return d.quotaHold(who, sz)
		}
		d.remaining -= sz
		p := &d.res.Parts[c]
		p.Size = sz
		if sz == 0 {
			p.Types, p.TypeDesc = []string{"empty"}, "empty"
			continue
		}
		if err := d.root.Rename(filepath.Join(rel, f), filepath.Join(partsDir, p.ID)); err != nil {
			return fmt.Errorf("move tool output: %w", err)
		}
		_ = d.root.Chmod(filepath.Join(partsDir, p.ID), 0o600)
		p.File = filepath.Join(d.dir, p.ID)
		d.typeIt(c)
	}
	return nil
}

// parse7zList reads "7z l -slt" output: member paths, sizes, encryption.
type szMember struct {
	path      string
	size      int64
	dir       bool
	encrypted bool
}

func parse7zList(out string) (members []szMember, archiveEncrypted bool) {
	var cur *szMember
	started := false
	for _, ln := range strings.Split(out, "\n") {
		ln = strings.TrimRight(ln, "\r")
		if strings.HasPrefix(ln, "----------") {
			started = true
			continue
		}
		if strings.Contains(ln, "Can not open encrypted archive") || strings.Contains(ln, "Wrong password") {
			archiveEncrypted = true
		}
		if !started {
			continue
		}
		k, v, ok := strings.Cut(ln, " = ")
		switch {
		case ln == "":
			cur = nil
		case !ok:
		case k == "Path":
			members = append(members, szMember{path: v})
			cur = &members[len(members)-1]
		case cur == nil:
		case k == "Size":
			fmt.Sscan(v, &cur.size)
		case k == "Folder":
			cur.dir = v == "+"
		case k == "Attributes":
			cur.dir = cur.dir || strings.HasPrefix(v, "D")
		case k == "Encrypted":
			cur.encrypted = v == "+"
		}
	}
	return members, archiveEncrypted
}

// do7z unpacks part i with 7-Zip, as amavis's do_7zip: list first (sizes
// for a quota pre-check, encrypted members become file-less parts with
// attributes U and C), then extract into a fresh directory.
func (d *decoder) do7z(i int) error {
	if d.tools.SevenZip == "" {
		d.undecipherable(i, "no program to unpack %s (7z not found)", d.res.Parts[i].Type())
		return nil
	}
	src := d.res.Parts[i].File
	out, err := d.runTool(d.tools.SevenZip, []string{"l", "-slt", "-p", "-y", "--", src}, d.dir, -1)
	if err != nil && d.ctx.Err() != nil {
		return d.ctx.Err()
	}
	members, encArchive := parse7zList(out)
	if encArchive {
		d.encrypted(i, "7z: archive headers are encrypted")
		return nil
	}
	if err != nil && len(members) == 0 {
		d.undecipherable(i, "7z: cannot list archive: %v: %s", err, lastLine(out))
		return nil
	}
	var total int64
	enc := map[string]bool{}
	for _, m := range members {
		if m.dir {
			continue
		}
		if m.encrypted {
			enc[m.path] = true
			c, err := d.newChild(i, m.path)
			if err != nil {
				return err
			}
			d.res.Parts[c].ArchiveName = m.path
			d.encrypted(c, "")
			continue
		}
		total += m.size
	}
	if total > d.remaining {
		return d.quotaHold("do_7zip-pre", total)
	}
	rel, abs, err := d.toolDir(i)
	if err != nil {
		return err
	}
	out, err = d.runTool(d.tools.SevenZip, []string{"x", "-bd", "-y", "-p", "-snl-", "-o" + abs, "--", src}, abs, d.remaining)
	if errors.Is(err, errToolQuota) {
		_ = d.root.RemoveAll(rel)
		return d.quotaHold("do_7zip", d.remaining+1)
	}
	if err != nil && d.ctx.Err() != nil {
		_ = d.root.RemoveAll(rel)
		return d.ctx.Err()
	}
	if err != nil && len(enc) == 0 {
		d.res.Parts[i].Errors = append(d.res.Parts[i].Errors, fmt.Sprintf("7z: %v: %s", err, lastLine(out)))
		d.res.Parts[i].addAttr("U")
	}
	d.res.Parts[i].Unpacked = true
	return d.harvest(i, rel, "do_7zip", enc)
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for k := len(lines) - 1; k >= 0; k-- {
		if l := strings.TrimSpace(lines[k]); l != "" {
			return clip(l, 200)
		}
	}
	return ""
}

// doTool unpacks part i with a program that extracts into its working
// directory (cabextract, arj, lha, nomarch, zoo).
func (d *decoder) doTool(i int, prog string, who string, args func(src, dst string) []string) error {
	if prog == "" {
		if d.tools.SevenZip != "" && who != "do_arc" && who != "do_zoo" {
			return d.do7z(i)
		}
		d.undecipherable(i, "no program to unpack %s", d.res.Parts[i].Type())
		return nil
	}
	rel, abs, err := d.toolDir(i)
	if err != nil {
		return err
	}
	out, err := d.runTool(prog, args(d.res.Parts[i].File, abs), abs, d.remaining)
	if errors.Is(err, errToolQuota) {
		_ = d.root.RemoveAll(rel)
		return d.quotaHold(who, d.remaining+1)
	}
	if err != nil && d.ctx.Err() != nil {
		_ = d.root.RemoveAll(rel)
		return d.ctx.Err()
	}
	if err != nil {
		d.undecipherable(i, "%s: %v: %s", filepath.Base(prog), err, lastLine(out))
	}
	d.res.Parts[i].Unpacked = true
	return d.harvest(i, rel, who, nil)
}
