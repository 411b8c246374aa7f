// Command mavis is the operator's command-line tool for mavis:
//
//	mavis config check [-c FILE]            check a configuration file
//	mavis check [-c FILE] [--json] MSG.eml   run the pipeline offline on a message
//	mavis version                           print the version
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/mavis-filter/mavis/internal/app"
	"github.com/mavis-filter/mavis/internal/config"
	"github.com/mavis-filter/mavis/internal/decode"
	"github.com/mavis-filter/mavis/internal/mail"
	"github.com/mavis-filter/mavis/internal/pipeline"
	"github.com/mavis-filter/mavis/internal/store"
	"github.com/mavis-filter/mavis/internal/version"
)

const usageText = `Usage:
  mavis config check [-c FILE]              check a configuration file (default: the embedded defaults)
  mavis check [-c FILE] [--json] [--from ADDR] [--rcpt ADDR]... MESSAGE.eml
                                            run the checks offline on a message file; the first line
                                            is the content category (e.g. CLEAN)
  mavis config show [-c FILE] [--all]       print the effective settings as TOML (--all: defaults too)
  mavis sql schema --dialect mysql|pg|sqlite
                                            print amavis's SQL schema (plus mavis's extra indexes)
  mavis version                             print the version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText)
		return 64
	}
	switch args[0] {
	case "version", "--version", "-V":
		fmt.Fprintln(stdout, version.String())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText)
		return 0
	case "config":
		switch {
		case len(args) >= 2 && args[1] == "check":
			return configCheck(args[2:], stdout, stderr)
		case len(args) >= 2 && args[1] == "show":
			return configShow(args[2:], stdout, stderr)
		}
		fmt.Fprint(stderr, "mavis config: want 'check' or 'show'\n"+usageText)
		return 64
	case "sql":
		if len(args) < 2 || args[1] != "schema" {
			fmt.Fprint(stderr, "mavis sql: want 'mavis sql schema --dialect mysql|pg|sqlite'\n"+usageText)
			return 64
		}
		return sqlSchema(args[2:], stdout, stderr)
	case "check":
		return check(args[1:], stdout, stderr)
	}
	fmt.Fprintf(stderr, "mavis: unknown command %q\n%s", args[0], usageText)
	return 64
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

// parseInterspersed parses flags that may come after positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func configCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mavis config check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "", "configuration `FILE`")
	if _, err := parseInterspersed(fs, args); err != nil {
		return 64
	}
	cfg, err := load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		var es config.Errors
		if errors.As(err, &es) {
			fmt.Fprintf(stderr, "%d error(s)\n", len(es))
		}
		return 1
	}
	if _, err := app.Build(cfg, decode.FindTools(nil)); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	for _, w := range cfg.Warnings() {
		fmt.Fprintln(stderr, "warning: "+w.String())
	}
	name := *path
	if name == "" {
		name = "embedded defaults"
	}
	fmt.Fprintf(stdout, "%s: configuration OK\n", name)
	return 0
}

func configShow(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mavis config show", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "", "configuration `FILE`")
	all := fs.Bool("all", false, "also print settings left at their defaults")
	if _, err := parseInterspersed(fs, args); err != nil {
		return 64
	}
	cfg, err := load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := cfg.Dump(stdout, !*all); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	return 0
}

func sqlSchema(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mavis sql schema", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dialect := fs.String("dialect", "", "mysql, pg or sqlite")
	if _, err := parseInterspersed(fs, args); err != nil {
		return 64
	}
	ddl, err := store.Schema(*dialect)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 64
	}
	fmt.Fprint(stdout, ddl)
	return 0
}

func load(path string) (*config.Config, error) {
	if path == "" {
		return config.Default(), nil
	}
	return config.Load(path)
}

func check(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mavis check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("c", "", "configuration `FILE`")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	from := fs.String("from", "", "envelope sender (default: the From: address)")
	var rcpts stringList
	fs.Var(&rcpts, "rcpt", "envelope recipient, repeatable (default: the To: and Cc: addresses)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return 64
	}
	if len(pos) != 1 {
		fmt.Fprint(stderr, "mavis check: want exactly one MESSAGE file\n"+usageText)
		return 64
	}
	cfg, err := load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	snap, err := app.Build(cfg, decode.FindTools(nil))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	m, err := readMessage(pos[0], snap, *from, rcpts)
	if err != nil {
		fmt.Fprintf(stderr, "mavis check: %v\n", err)
		return 1
	}
	defer m.Close()
	p := &pipeline.Pipeline{
		Settings: snap.ForMessage,
		Logger:   slog.New(slog.DiscardHandler),
	}
	a, err := p.Analyze(context.Background(), m, snap.ForMessage(m))
	defer a.Close()
	if err != nil {
		fmt.Fprintf(stderr, "mavis check: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(a); err != nil {
			return 1
		}
		return 0
	}
	printAnalysis(stdout, m, a)
	return 0
}

func readMessage(file string, snap *app.Snapshot, from string, rcpts []string) (*mail.Message, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	mailID, secret := mail.NewMailID()
	m := &mail.Message{LogID: "check", MailID: mailID, SecretID: secret,
		Body: mail.NewSpool(snap.Settings.TempBase.Or(os.TempDir()), 0)}
	// Store with CRLF line ends, as the SMTP server would.
	if err := copyCRLF(m.Body, f); err != nil {
		m.Close()
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	m.Size = m.Body.Size()
	h, err := mail.ParseHeader(m.Body.Reader())
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("parse header of %s: %w", file, err)
	}
	m.Header = h
	if from == "" {
		from = mail.AddrSpec(h.Get("From"))
	}
	m.Envelope.MailFrom = from
	if len(rcpts) == 0 {
		for _, f := range []string{"To", "Cc"} {
			for _, v := range h.Values(f) {
				for _, a := range strings.Split(v, ",") {
					if ad := mail.AddrSpec(a); ad != "" {
						rcpts = append(rcpts, ad)
					}
				}
			}
		}
	}
	for _, r := range rcpts {
		m.Envelope.Rcpts = append(m.Envelope.Rcpts, &mail.Recipient{Addr: r, Raw: r})
	}
	m.Conn = mail.ConnInfo{RemoteIP: "127.0.0.1", LocalIP: "127.0.0.1", LocalPort: "10024", Helo: "localhost", Protocol: "ESMTP"}
	return m, nil
}

// copyCRLF copies r to w with every line end (CRLF, bare LF, bare CR) made
// CRLF, as the SMTP server stores messages. It streams: the spool bounds the
// memory used.
func copyCRLF(w io.Writer, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	bw := bufio.NewWriterSize(w, 64<<10)
	for {
		c, err := br.ReadByte()
		if err == io.EOF {
			return bw.Flush()
		}
		if err != nil {
			return err
		}
		switch c {
		case '\r':
			if next, err := br.Peek(1); err == nil && next[0] == '\n' {
				br.ReadByte()
			}
			bw.WriteString("\r\n")
		case '\n':
			bw.WriteString("\r\n")
		default:
			bw.WriteByte(c)
		}
	}
}

func printAnalysis(w io.Writer, m *mail.Message, a *pipeline.Analysis) {
	fmt.Fprintln(w, a.CCat)
	fmt.Fprintf(w, "mail_id: %s, size: %d", a.MailID, a.Size)
	if id := m.Header.Get("Message-ID"); id != "" {
		fmt.Fprintf(w, ", Message-ID: %s", id)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "sender: <%s>, recipients: %s\n", m.Envelope.MailFrom, strings.Join(bracket(m.RecipientAddrs()), ","))
	if len(a.Findings) > 0 {
		fmt.Fprintln(w, "found:")
		for _, f := range a.Findings {
			fmt.Fprintln(w, "  "+f)
		}
	}
	if a.Parts != "" {
		fmt.Fprintln(w, "parts:")
		for _, line := range strings.Split(strings.TrimRight(a.Parts, "\n"), "\n") {
			fmt.Fprintln(w, "  "+line)
		}
	}
	if len(a.BadHdr) > 0 {
		fmt.Fprintln(w, "bad header:")
		for _, b := range a.BadHdr {
			fmt.Fprintln(w, "  "+b)
		}
	}
	if len(a.Scanners) > 0 {
		fmt.Fprintln(w, "virus scanners:")
		for _, sc := range a.Scanners {
			line := fmt.Sprintf("  %s: %s", sc.Name, sc.Verdict)
			if len(sc.Viruses) > 0 {
				line += " (" + strings.Join(sc.Viruses, ", ") + ")"
			}
			if sc.Error != "" {
				line += ": " + sc.Error
			}
			fmt.Fprintln(w, line+", "+sc.Elapsed)
		}
	}
	for _, r := range a.Rcpts {
		fmt.Fprintf(w, "recipient <%s>%s: %s, %s\n", r.Addr, map[bool]string{true: " (local)", false: ""}[r.Local], r.CCat, r.Destiny)
		if r.Spam != nil {
			lv := r.Policy.SpamLevels
			fmt.Fprintf(w, "  spam score %s: tag=%s tag2=%s kill=%s, tagged=%v spam-flag=%v kill=%v\n",
				r.SpamScore, lv.Tag, lv.Tag2, lv.Kill, r.Spam.DoTag, r.Spam.DoTag2, r.Spam.DoKill)
		}
		for _, h := range r.Banned {
			fmt.Fprintf(w, "  banned: %s (rule %s)\n", h.Reason, h.Rule)
		}
		if r.Decision.Blocked {
			continue
		}
		fmt.Fprintln(w, "  would add header fields:")
		for _, f := range r.Add {
			for _, line := range strings.Split(strings.TrimRight(string(f.Raw), "\r\n"), "\r\n") {
				fmt.Fprintln(w, "    "+line)
			}
		}
		if r.Subject != nil {
			fmt.Fprintln(w, "  would replace: "+strings.TrimRight(string(r.Subject.Raw), "\r\n"))
		}
	}
}

func bracket(as []string) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = "<" + a + ">"
	}
	return out
}
