package virus

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mavis-filter/mavis/internal/check/virus/clamd"
)

// What says what a streaming clamd scanner sends.
type What int

const (
	// ScanBoth streams the raw message and every decoded part (default).
	ScanBoth What = iota
	// ScanParts streams only the decoded parts (amavis's behaviour: it
	// scans its parts directory). The raw message is streamed anyway when
	// the request has no parts.
	ScanParts
	// ScanMessage streams only the raw message (clamd does all decoding).
	ScanMessage
)

func (w What) String() string {
	switch w {
	case ScanParts:
		return "parts"
	case ScanMessage:
		return "message"
	default:
		return "both"
	}
}

// ParseWhat reads "both", "parts" or "message".
func ParseWhat(s string) (What, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "both":
		return ScanBoth, nil
	case "parts":
		return ScanParts, nil
	case "message":
		return ScanMessage, nil
	}
	return 0, fmt.Errorf("virus: scan contents %q: want both, parts or message", s)
}

// Mode is how a clamd scanner hands content to clamd.
type Mode int

const (
	// Stream sends bytes with zINSTREAM in an IDSESSION (default): clamd
	// needs no access to mavis's files.
	Stream Mode = iota
	// PassFD sends part files' descriptors with zFILDES (Unix socket only;
	// the raw message, when in memory, is still streamed).
	PassFD
	// ContScan and MultiScan ask clamd to scan Request.Dir by path (amavis's
	// Debian entry, "CONTSCAN {}\n"): clamd must be able to read it.
	ContScan
	MultiScan
)

func (m Mode) String() string {
	switch m {
	case PassFD:
		return "FILDES"
	case ContScan:
		return "CONTSCAN"
	case MultiScan:
		return "MULTISCAN"
	default:
		return "INSTREAM"
	}
}

// ClamdOptions configure a Clamd scanner.
type ClamdOptions struct {
	Mode Mode
	What What
	// StopOnFound stops sending parts after the first hit (set it with
	// Options.FirstInfectedStopsScan).
	StopOnFound bool
}

// Clamd is a Scanner backed by a clamd client.
type Clamd struct {
	name   string
	client *clamd.Client
	opt    ClamdOptions
}

// NewClamd returns a scanner named name (e.g. "ClamAV-clamd") using client.
// The client (and its session pool) may be shared by several scanners.
func NewClamd(name string, client *clamd.Client, opt ClamdOptions) *Clamd {
	return &Clamd{name: name, client: client, opt: opt}
}

// Name is the scanner's name.
func (s *Clamd) Name() string { return s.name }

// Client returns the scanner's clamd client.
func (s *Clamd) Client() *clamd.Client { return s.client }

// String describes the scanner for logs and `mavis check`.
func (s *Clamd) String() string {
	return fmt.Sprintf("%s (clamd %s, %s, %s)", s.name, s.client, s.opt.Mode, s.opt.What)
}

// messageName labels the raw message in output.
const messageName = "message"

// Objects lists what a streaming scan of req sends, in order.
func (s *Clamd) Objects(req *Request) []clamd.Object {
	var objs []clamd.Object
	wantMsg := s.opt.What != ScanParts || len(req.Parts) == 0
	if wantMsg && req.Message != nil && req.Size > 0 {
		objs = append(objs, clamd.Object{Name: messageName, R: req.Message, Size: req.Size})
	}
	if s.opt.What != ScanMessage {
		for _, p := range req.Parts {
			objs = append(objs, clamd.Object{Name: partName(req.Dir, p), Path: p})
		}
	}
	return objs
}

// partName is a part's path relative to the request's directory.
func partName(dir, p string) string {
	if dir != "" {
		if rel, err := filepath.Rel(dir, p); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return filepath.Base(p)
}

// Scan implements Scanner.
func (s *Clamd) Scan(ctx context.Context, req *Request) ScannerResult {
	var (
		replies []clamd.Reply
		err     error
	)
	switch s.opt.Mode {
	case ContScan, MultiScan:
		if req.Dir == "" {
			return ScannerResult{Err: errors.New("no directory to scan (CONTSCAN/MULTISCAN need Request.Dir)")}
		}
		cmd := clamd.ContScan
		if s.opt.Mode == MultiScan {
			cmd = clamd.MultiScan
		}
		replies, err = s.client.ScanPath(ctx, cmd, req.Dir)
		for i := range replies {
			replies[i].Name = partName(req.Dir, replies[i].Name)
		}
	default:
		objs := s.Objects(req)
		if len(objs) == 0 {
			// nothing to scan is clean, as amavis ("no files to scan")
			return ScannerResult{Output: "nothing to scan"}
		}
		replies, err = s.client.ScanStreams(ctx, objs, clamd.StreamOptions{
			StopOnFound: s.opt.StopOnFound,
			PassFD:      s.opt.Mode == PassFD,
		})
	}
	return fromReplies(replies, err, req.Dir)
}

// fromReplies turns clamd's replies into a ScannerResult: any FOUND is an
// infection (even if other objects failed, as amavis); otherwise any error
// fails the scanner; only all-OK is clean.
func fromReplies(replies []clamd.Reply, err error, dir string) ScannerResult {
	var r ScannerResult
	var out []string
	var firstErr string
	for _, rep := range replies {
		if rep.Truncated {
			r.Truncated = append(r.Truncated, rep.Name)
		}
		switch rep.Status {
		case clamd.Found:
			r.Infected = true
			if !strings.HasPrefix(rep.Virus, "Infected Archive") {
				r.Viruses = append(r.Viruses, rep.Virus)
			}
			out = append(out, rep.Line())
		case clamd.Failed:
			if firstErr == "" {
				firstErr = rep.Line()
			}
			out = append(out, rep.Line())
		}
	}
	if len(out) == 0 && len(replies) > 0 {
		out = append(out, replies[0].Line()) // one success line, as amavis keeps
	}
	for _, n := range r.Truncated {
		out = append(out, n+": scanned only up to the stream limit")
	}
	r.Output = strings.Join(out, "\n")
	r.Viruses = uniq(r.Viruses)
	if dir != "" {
		r.Output = strings.ReplaceAll(r.Output, strings.TrimSuffix(dir, "/")+"/", "")
	}
	switch {
	case r.Infected:
		// an infection found before a failure still stands
	case err != nil:
		r.Err = err
	case firstErr != "":
		r.Err = fmt.Errorf("clamd: %s", firstErr)
	}
	return r
}
