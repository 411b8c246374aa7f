package quarantine

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// safeName is what amavis accepts as a mail_file in a release request.
var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9/_.+-]*$`)

// Resolve turns a quarantine location as amavis logs it ("7/virus-ID",
// "spam-ID.gz") into a path under dir. It refuses names that could leave
// dir, as amavis's AM.PDP release does.
func Resolve(dir, loc string) (string, error) {
	if !safeName.MatchString(loc) || strings.Contains(loc, "../") || strings.HasSuffix(loc, "..") {
		return "", fmt.Errorf("quarantine: unsafe file name %q", loc)
	}
	return filepath.Join(dir, filepath.FromSlash(loc)), nil
}

// Open opens a quarantined message by its location relative to dir and
// returns its content as stored (prefix fields included), gunzipped when
// the name ends in ".gz".
func Open(dir, loc string) (io.ReadCloser, error) {
	path, err := Resolve(dir, loc)
	if err != nil {
		return nil, err
	}
	return OpenPath(path)
}

// OpenPath opens a quarantine file by its full name, gunzipping ".gz".
func OpenPath(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("quarantine: %w", err)
	}
	if !strings.HasSuffix(path, ".gz") {
		return f, nil
	}
	zr, err := gzip.NewReader(bufio.NewReader(f))
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("quarantine: %s: %w", path, err)
	}
	return &gzFile{Reader: zr, f: f}, nil
}

type gzFile struct {
	*gzip.Reader
	f *os.File
}

func (g *gzFile) Close() error {
	err := g.Reader.Close()
	if cerr := g.f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Find looks for the quarantine files of a mail_id: names ending in
// "-<mail_id>" or "-<mail_id>.gz" (the default templates) or equal to the
// mail_id, in dir and in the subdirectory named after the mail_id's first
// character.
func Find(dir, mailID string) ([]Location, error) {
	if mailID == "" || !safeName.MatchString(mailID) || strings.Contains(mailID, "/") {
		return nil, fmt.Errorf("quarantine: bad mail_id %q", mailID)
	}
	var out []Location
	dirs := []string{""}
	if isAlnum(mailID[0]) {
		dirs = append(dirs, mailID[:1])
	}
	for _, sub := range dirs {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("quarantine: %w", err)
		}
		for _, e := range ents {
			n := e.Name()
			if !e.Type().IsRegular() || strings.HasPrefix(n, ".") {
				continue
			}
			base := strings.TrimSuffix(n, ".gz")
			if base != mailID && !strings.HasSuffix(base, "-"+mailID) {
				continue
			}
			rel := n
			if sub != "" {
				rel = sub + "/" + n
			}
			t := "F"
			if strings.HasSuffix(n, ".gz") {
				t = "Z"
			}
			out = append(out, Location{Path: filepath.Join(dir, sub, n), Rel: rel, Type: t})
		}
	}
	return out, nil
}

// Envelope is what a quarantine file's prefix records about the message.
type Envelope struct {
	Sender       string   // from X-Envelope-From (or Return-Path), no brackets
	Recipients   []string // X-Envelope-To
	Blocked      []string // X-Envelope-To-Blocked (all recipients when absent)
	QuarantineID string   // X-Quarantine-ID without brackets
	HasSender    bool     // an X-Envelope-From or Return-Path was found
}

// maxPrefix bounds how much of a file ParseEnvelope reads as prefix.
const maxPrefix = 1 << 20

// ParseEnvelope reads the fields amavis prepends to a quarantined message
// (as amavis's release does: Return-Path, Delivered-To, X-Envelope-*,
// X-Quarantine-ID and the X-Amavis-*/X-Spam-* fields it added) and returns
// the envelope and a reader positioned at the first other field, i.e. the
// message to release.
func ParseEnvelope(r io.Reader) (*Envelope, io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	env := &Envelope{}
	var pending []byte // the first field that is not ours, to give back
	var cur []byte
	haveBlocked := false
	total := 0
	flush := func() bool { // handles cur; false = not one of ours
		if cur == nil {
			return true
		}
		name, value, _ := strings.Cut(string(cur), ":")
		value = strings.TrimSpace(strings.NewReplacer("\r", "", "\n", "").Replace(value))
		switch lname := strings.ToLower(strings.TrimSpace(name)); {
		case lname == "delivered-to":
		case lname == "return-path" || lname == "x-envelope-from":
			if !env.HasSender {
				addrs := splitAddrs(value)
				if len(addrs) == 1 {
					env.Sender, env.HasSender = addrs[0], true
				}
			}
		case lname == "x-envelope-to":
			env.Recipients = append(env.Recipients, splitAddrs(value)...)
		case lname == "x-envelope-to-blocked":
			env.Blocked = append(env.Blocked, splitAddrs(value)...)
			haveBlocked = true
		case lname == "x-quarantine-id":
			env.QuarantineID = strings.TrimSuffix(strings.TrimPrefix(value, "<"), ">")
		case strings.HasPrefix(lname, "x-amavis-"), strings.HasPrefix(lname, "x-spam-"), strings.HasPrefix(lname, "x-crm114-"):
		default:
			return false
		}
		return true
	}
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, nil, errors.New("quarantine: header line too long in prefix")
		}
		total += len(line)
		if total > maxPrefix {
			return nil, nil, errors.New("quarantine: prefix too long")
		}
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') && cur != nil {
			cur = append(cur, line...)
		} else {
			if !flush() {
				pending = cur
				cur = nil
				pending = append(pending, line...)
				break
			}
			cur = append([]byte(nil), line...)
			if len(line) == 0 || isBlank(line) {
				pending, cur = cur, nil
				break
			}
		}
		if err == io.EOF {
			if !flush() {
				pending = cur
			}
			cur = nil
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("quarantine: %w", err)
		}
	}
	if !haveBlocked {
		env.Blocked = append([]string(nil), env.Recipients...)
	}
	return env, io.MultiReader(strings.NewReader(string(pending)), br), nil
}

// splitAddrs splits "<a>, <b>" (or bare addresses) into addresses without
// angle brackets; "<>" gives "".
func splitAddrs(v string) []string {
	var out []string
	for len(v) > 0 {
		v = strings.TrimLeft(v, " \t,")
		if v == "" {
			break
		}
		if v[0] == '<' {
			end := strings.IndexByte(v, '>')
			if end < 0 {
				out = append(out, v[1:])
				break
			}
			out = append(out, unquoteLocal(v[1:end]))
			v = v[end+1:]
			continue
		}
		end := strings.IndexAny(v, ", \t")
		if end < 0 {
			end = len(v)
		}
		out = append(out, v[:end])
		v = v[end:]
	}
	return out
}

// unquoteLocal undoes angle()'s quoting of a local part: "a b"@c -> a b@c.
func unquoteLocal(a string) string {
	if !strings.HasPrefix(a, `"`) {
		return a
	}
	i := strings.LastIndex(a, `"@`)
	if i <= 0 {
		if len(a) >= 2 && strings.HasSuffix(a, `"`) {
			i = len(a) - 1
		} else {
			return a
		}
	}
	local := strings.NewReplacer(`\\`, `\`, `\"`, `"`).Replace(a[1:i])
	return local + a[i+1:]
}
