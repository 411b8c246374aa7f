package clamd

import (
	"context"
	"fmt"
	"strings"
)

// PathCommand is a clamd command that scans a path clamd reads itself.
type PathCommand string

// Path commands. CONTSCAN is amavis's Debian default ("CONTSCAN {}\n");
// MULTISCAN scans the files of a directory in parallel clamd threads.
const (
	Scan         PathCommand = "SCAN"
	ContScan     PathCommand = "CONTSCAN"
	MultiScan    PathCommand = "MULTISCAN"
	AllMatchScan PathCommand = "ALLMATCHSCAN"
)

// maxPathReplies bounds the answers read for one path scan.
const maxPathReplies = 100000

// ScanPath asks clamd to scan path (a file or a directory, absolute) with
// cmd on a connection of its own (clamd does not accept these commands inside
// IDSESSION). clamd must be able to read path: it runs as its own user. It
// returns one Reply per line clamd answered: one per infected file or error,
// or a single "<path>: OK".
func (c *Client) ScanPath(ctx context.Context, cmd PathCommand, path string) ([]Reply, error) {
	switch cmd {
	case Scan, ContScan, MultiScan, AllMatchScan:
	default:
		return nil, fmt.Errorf("clamd: unknown path command %q", cmd)
	}
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "\x00\n") {
		return nil, fmt.Errorf("clamd: %s needs an absolute path without NUL or newline, got %q", cmd, path)
	}
	lines, err := c.command(ctx, string(cmd)+" "+path, maxPathReplies)
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return nil, fmt.Errorf("%w: %s: empty answer to %s", ErrProtocol, c, cmd)
	}
	out := make([]Reply, 0, len(lines))
	for _, l := range lines {
		_, r, err := ParseReply(l, false)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}
