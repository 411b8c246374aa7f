package virus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Command is a command-line scanner (an @av_scanners entry with a program):
// clamscan, clamdscan, or any scanner with exit-status or output tests.
type Command struct {
	name     string
	path     string   // resolved program
	args     []string // template words: "{}" = Request.Dir, "{}/*" and "*" = part files
	clean    *Match
	infected *Match
	names    *NamePattern
}

// maxCommandOutput bounds what is read from a scanner (amavis: 200 KiB).
const maxCommandOutput = 200 << 10

// maxArgBytes bounds the file-name arguments of one call (amavis: 4000, the
// POSIX minimum); more files take more calls.
const maxArgBytes = 4000

// ErrProgramNotFound: none of an entry's programs is installed. amavis
// disables such an entry at startup; so does the caller.
var ErrProgramNotFound = errors.New("virus: scanner program not found")

// NewCommand returns a command-line scanner. programs are alternatives
// (absolute paths or names looked up in $PATH), the first found is used;
// args is amavis's argument template, split on white space.
func NewCommand(name string, programs []string, args string, clean, infected *Match, names *NamePattern) (*Command, error) {
	var path string
	for _, p := range programs {
		if lp, err := exec.LookPath(p); err == nil {
			path = lp
			break
		}
	}
	if path == "" {
		return nil, fmt.Errorf("%w: %s: %s", ErrProgramNotFound, name, strings.Join(programs, ", "))
	}
	return &Command{name: name, path: path, args: strings.Fields(args), clean: clean, infected: infected, names: names}, nil
}

// Name is the scanner's name.
func (c *Command) Name() string { return c.name }

// String describes the scanner.
func (c *Command) String() string {
	return fmt.Sprintf("%s (%s %s)", c.name, c.path, strings.Join(c.args, " "))
}

// calls expands the template for req: one argument list per call.
func (c *Command) calls(req *Request) ([][]string, error) {
	perFile := false
	for _, a := range c.args {
		if a == "*" || a == "{}/*" {
			perFile = true
		}
		if strings.Contains(a, "{}") && req.Dir == "" {
			return nil, errors.New("no directory to scan (Request.Dir is empty)")
		}
	}
	expand := func(files []string) []string {
		var out []string
		for _, a := range c.args {
			switch {
			case a == "*" || a == "{}/*":
				out = append(out, files...)
			default:
				out = append(out, strings.ReplaceAll(a, "{}", req.Dir))
			}
		}
		return out
	}
	if !perFile {
		return [][]string{expand(nil)}, nil
	}
	var calls [][]string
	var batch []string
	size := 0
	for _, p := range req.Parts {
		if len(batch) > 0 && size+len(p)+1 > maxArgBytes {
			calls = append(calls, expand(batch))
			batch, size = nil, 0
		}
		batch = append(batch, p)
		size += len(p) + 1
	}
	if len(batch) > 0 {
		calls = append(calls, expand(batch))
	}
	return calls, nil
}

// Scan implements Scanner.
func (c *Command) Scan(ctx context.Context, req *Request) ScannerResult {
	calls, err := c.calls(req)
	if err != nil {
		return ScannerResult{Err: err}
	}
	if len(calls) == 0 {
		return ScannerResult{Output: "nothing to scan"}
	}
	var r ScannerResult
	var outs []string
	clean := false
	for _, args := range calls {
		status, out, err := c.run(ctx, req.Dir, args)
		if req.Dir != "" {
			out = strings.ReplaceAll(out, strings.TrimSuffix(req.Dir, "/")+"/", "")
		}
		outs = append(outs, out)
		switch {
		case err != nil:
			r.Err = err
		case c.infected.matches(status, out):
			// infected is tested first, in case both match
			r.Infected = true
			r.Viruses = append(r.Viruses, c.names.Names(out)...)
		case c.clean == nil:
			// amavis's undef: clean but inconclusive, keep scanning
		case c.clean.matches(status, out):
			clean = true
		default:
			r.Err = fmt.Errorf("unexpected exit %d, output=%q", status, trimOutput(out))
		}
		if r.Err != nil {
			break // amavis bails out at the first error
		}
	}
	r.Output = strings.Join(outs, "\n")
	r.Viruses = uniq(r.Viruses)
	if r.Infected {
		r.Err = nil // an infection found before a failure still stands
	} else if r.Err == nil && !clean {
		r.Inconclusive = true
	}
	return r
}

func trimOutput(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 800 {
		return "..." + s[len(s)-800:]
	}
	return s
}

// run executes the program in dir and returns its exit status and combined
// output. A signal, a timeout or cancellation is an error.
func (c *Command) run(ctx context.Context, dir string, args []string) (int, string, error) {
	cmd := exec.CommandContext(ctx, c.path, args...)
	cmd.Dir = dir
	var buf limitedBuffer
	buf.max = maxCommandOutput
	cmd.Stdout, cmd.Stderr = &buf, &buf
	// own process group: a cancelled scan kills the program and its children
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	out := strings.TrimRight(buf.String(), "\n")
	if ctxErr := ctx.Err(); ctxErr != nil {
		return -1, out, fmt.Errorf("%s: %w", filepath.Base(c.path), ctxErr)
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out, nil
	case errors.As(err, &ee) && ee.Exited():
		return ee.ExitCode(), out, nil
	default:
		return -1, out, fmt.Errorf("run %s: %w", c.path, err)
	}
}

// limitedBuffer keeps the first max bytes written and discards the rest.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		if len(p) > room {
			b.Buffer.Write(p[:room])
		} else {
			b.Buffer.Write(p)
		}
	}
	return len(p), nil
}
