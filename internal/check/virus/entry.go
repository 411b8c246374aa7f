package virus

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/mavis-filter/mavis/internal/check/virus/clamd"
)

// Entry is the Go form of one amavis @av_scanners / @av_scanners_backup
// entry: [name, program_or_\&ask_daemon, args, clean, infected, virus_name].
type Entry struct {
	// Name is the first field ("ClamAV-clamd").
	Name string
	// Programs: a command-line scanner's program alternatives (the second
	// field as a string or array); empty for daemon entries.
	Programs []string
	// Args: the command's argument template ("{}", "{}/*", "*").
	Args string
	// Query and Sockets: an \&ask_daemon entry's ["query {}\n", socket(s)].
	// A socket with the "clamd:" prefix selects the native clamd client.
	Query   string
	Sockets []string
	// Clean, Infected: the tests (nil = amavis's undef).
	Clean, Infected *Match
	// VirusName extracts names from the output.
	VirusName *NamePattern
}

// BuildOptions tune how New maps entries to scanners.
type BuildOptions struct {
	// Clamd configures the clamd client for clamd entries (Network and
	// Address come from the entry's socket).
	Clamd clamd.Config
	// What a streaming clamd scanner sends (default ScanBoth).
	What What
	// KeepPathScan keeps a clamd "CONTSCAN {}\n"/"MULTISCAN {}\n" entry as a
	// path scan. By default mavis streams instead (zINSTREAM): same clamd,
	// same verdicts, no need for clamd to read mavis's files.
	KeepPathScan bool
	// StopOnFound is $first_infected_stops_scan, for the clamd client.
	StopOnFound bool
}

// clamdQuery recognises clamd's path commands in an ask_daemon query.
var clamdQuery = regexp.MustCompile(`^[zn]?(SCAN|CONTSCAN|MULTISCAN|ALLMATCHSCAN) \{\}[\x00\n]?$`)

// New builds the scanner for an entry: a Command for program entries; for
// \&ask_daemon entries, a Clamd for "clamd:" sockets and for clamd's
// CONTSCAN/MULTISCAN queries (streamed unless KeepPathScan), else a Daemon.
// ErrProgramNotFound means the entry is to be disabled, as amavis does.
// Clamd clients made here are not shared; close them with Close.
func New(e Entry, opt BuildOptions) (Scanner, error) {
	if e.Name == "" {
		return nil, fmt.Errorf("virus: @av_scanners entry without a name")
	}
	if len(e.Programs) > 0 {
		return NewCommand(e.Name, e.Programs, e.Args, e.Clean, e.Infected, e.VirusName)
	}
	if len(e.Sockets) == 0 {
		return nil, fmt.Errorf("virus: %s: neither a program nor a daemon socket", e.Name)
	}
	native := strings.HasPrefix(strings.ToLower(e.Sockets[0]), "clamd:")
	m := clamdQuery.FindStringSubmatch(e.Query)
	if !native && m == nil {
		return NewDaemon(e.Name, e.Query, e.Sockets, e.Clean, e.Infected, e.VirusName)
	}
	network, addr, err := clamd.ParseAddress(e.Sockets[0])
	if err != nil {
		return nil, fmt.Errorf("virus: %s: %w", e.Name, err)
	}
	cfg := opt.Clamd
	cfg.Network, cfg.Address = network, addr
	client, err := clamd.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("virus: %s: %w", e.Name, err)
	}
	co := ClamdOptions{Mode: Stream, What: opt.What, StopOnFound: opt.StopOnFound}
	if !native && opt.KeepPathScan {
		co.Mode = ContScan
		if m[1] == "MULTISCAN" {
			co.Mode = MultiScan
		}
	}
	return NewClamd(e.Name, client, co), nil
}

// Close releases what a scanner holds (a Clamd's idle sessions).
func Close(s Scanner) {
	if c, ok := s.(*Clamd); ok {
		c.client.Close()
	}
}

// Worked examples: the ClamAV entries of Debian's
// /etc/amavis/conf.d/15-av_scanners, in Go.

// DebianClamdEntry is Debian's primary entry, ['ClamAV-clamd', \&ask_daemon,
// ["CONTSCAN {}\n", socket], qr/\bOK$/m, qr/\bFOUND$/m,
// qr/^.*?: (?!Infected Archive)(.*) FOUND$/m]. New streams it (zINSTREAM)
// unless BuildOptions.KeepPathScan.
func DebianClamdEntry(socket string) Entry {
	return Entry{
		Name: "ClamAV-clamd", Query: "CONTSCAN {}\n", Sockets: []string{socket},
		Clean: MustOutput(`qr/\bOK$/m`), Infected: MustOutput(`qr/\bFOUND$/m`),
		VirusName: MustPattern(`qr/^.*?: (?!Infected Archive)(.*) FOUND$/m`),
	}
}

// ClamscanEntry is Debian's backup entry, ['ClamAV-clamscan', 'clamscan',
// "--stdout --no-summary -r --tempdir=$TEMPBASE {}", [0],
// qr/:.*\sFOUND$/m, qr/^.*?: (?!Infected Archive)(.*) FOUND$/m], with
// extra options before "{}" (e.g. "-d /path/to/db").
func ClamscanEntry(tempdir, extra string) Entry {
	args := "--stdout --no-summary -r"
	if tempdir != "" {
		args += " --tempdir=" + tempdir
	}
	if extra != "" {
		args += " " + extra
	}
	return Entry{
		Name: "ClamAV-clamscan", Programs: []string{"clamscan"}, Args: args + " {}",
		Clean: Codes(0), Infected: MustOutput(`qr/:.*\sFOUND$/m`),
		VirusName: MustPattern(`qr/^.*?: (?!Infected Archive)(.*) FOUND$/m`),
	}
}

// ClamdscanEntry runs clamdscan against a clamd: exit 0 clean, 1 infected,
// anything else (2: error) fails. --fdpass lets clamd read files it has no
// permission for; extra goes before "{}" (e.g. "--config-file=/etc/...").
func ClamdscanEntry(extra string) Entry {
	args := "--stdout --no-summary --fdpass"
	if extra != "" {
		args += " " + extra
	}
	return Entry{
		Name: "ClamAV-clamdscan", Programs: []string{"clamdscan"}, Args: args + " {}",
		Clean: Codes(0), Infected: Codes(1),
		VirusName: MustPattern(`qr/^.*?: (?!Infected Archive)(.*) FOUND$/m`),
	}
}
