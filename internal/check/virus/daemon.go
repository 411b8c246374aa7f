package virus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/mavis-filter/mavis/internal/check/virus/clamd"
)

// Daemon speaks amavis's "simple" daemon protocol (ask_daemon without a
// protocol prefix): connect, write the query with "{}" replaced by
// Request.Dir, read until the daemon closes, then apply the entry's tests.
// Sockets are tried in order (amavis rotates the list on failure).
type Daemon struct {
	name     string
	query    string
	sockets  [][2]string // network, address
	clean    *Match
	infected *Match
	names    *NamePattern
	timeout  time.Duration
}

// maxDaemonOutput bounds a daemon's answer (amavis: 100000 bytes).
const maxDaemonOutput = 100000

// NewDaemon returns a simple-protocol daemon scanner. sockets are Unix
// socket paths or host:port (amavis's socket specs).
func NewDaemon(name, query string, sockets []string, clean, infected *Match, names *NamePattern) (*Daemon, error) {
	d := &Daemon{name: name, query: query, clean: clean, infected: infected, names: names, timeout: 10 * time.Second}
	for _, s := range sockets {
		n, a, err := clamd.ParseAddress(s)
		if err != nil {
			return nil, fmt.Errorf("virus: %s: %w", name, err)
		}
		d.sockets = append(d.sockets, [2]string{n, a})
	}
	if len(d.sockets) == 0 {
		return nil, fmt.Errorf("virus: %s: no socket", name)
	}
	return d, nil
}

// Name is the scanner's name.
func (d *Daemon) Name() string { return d.name }

// Scan implements Scanner.
func (d *Daemon) Scan(ctx context.Context, req *Request) ScannerResult {
	q := d.query
	if strings.Contains(q, "{}") {
		if req.Dir == "" {
			return ScannerResult{Err: errors.New("no directory to scan (Request.Dir is empty)")}
		}
		q = strings.ReplaceAll(q, "{}", req.Dir)
	}
	var errs []error
	for _, s := range d.sockets {
		out, err := d.ask(ctx, s[0], s[1], q)
		if err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if req.Dir != "" {
			out = strings.ReplaceAll(out, strings.TrimSuffix(req.Dir, "/")+"/", "")
		}
		r := ScannerResult{Output: out}
		switch {
		case d.infected.matches(0, out):
			r.Infected, r.Viruses = true, uniq(d.names.Names(out))
		case d.clean == nil:
			r.Inconclusive = true
		case d.clean.matches(0, out):
		default:
			r.Err = fmt.Errorf("unexpected answer %q", trimOutput(out))
		}
		return r
	}
	return ScannerResult{Err: errors.Join(errs...)}
}

func (d *Daemon) ask(ctx context.Context, network, addr, query string) (string, error) {
	dl := net.Dialer{Timeout: d.timeout}
	conn, err := dl.DialContext(ctx, network, addr)
	if err != nil {
		return "", fmt.Errorf("connect %s: %w", addr, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := io.WriteString(conn, query); err != nil {
		return "", fmt.Errorf("write to %s: %w", addr, err)
	}
	b, err := io.ReadAll(io.LimitReader(conn, maxDaemonOutput))
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("read from %s: %w", addr, ctx.Err())
		}
		return "", fmt.Errorf("read from %s: %w", addr, err)
	}
	if len(b) == 0 {
		return "", fmt.Errorf("empty result from %s", addr)
	}
	// clamd's z-commands end replies with NUL: make them lines
	return strings.TrimRight(strings.ReplaceAll(string(b), "\x00", "\n"), "\n"), nil
}
