package lookup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// MaxLineLen bounds one line of a lookup file.
const MaxLineLen = 64 << 10

// readLines calls fn for each line of r without its "\n" (and "\r\n").
func readLines(r io.Reader, name string, fn func(line string) error) error {
	br := bufio.NewReaderSize(r, 16<<10)
	lineNo := 0
	for {
		line, err := readLine(br)
		if len(line) > 0 || err == nil {
			lineNo++
			if fnErr := fn(line); fnErr != nil {
				return fmt.Errorf("%s line %d: %w", name, lineNo, fnErr)
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read %s line %d: %w", name, lineNo+1, err)
		}
	}
}

var errLineTooLong = errors.New("line too long")

func readLine(br *bufio.Reader) (string, error) {
	var b []byte
	for {
		frag, isPrefix, err := br.ReadLine()
		if err != nil {
			if len(b) > 0 && errors.Is(err, io.EOF) {
				return string(b), nil
			}
			return string(b), err
		}
		if len(b)+len(frag) > MaxLineLen {
			return "", errLineTooLong
		}
		b = append(b, frag...)
		if !isPrefix {
			return string(b), nil
		}
	}
}

// tokenizeLine splits a read_hash/read_array line into amavis's tokens:
// quoted strings (a '#' inside does not start a comment), runs of
// non-special characters, runs of blanks, single other characters.
// It calls fn for each token until fn returns false.
func tokenizeLine(line string, fn func(tok string) bool) {
	for i := 0; i < len(line); {
		j := i
		switch c := line[i]; {
		case c == '"':
			j = i + 1
			closed := false
			for j < len(line) {
				if line[j] == '\\' && j+1 < len(line) {
					j += 2
					continue
				}
				if line[j] == '"' {
					j++
					closed = true
					break
				}
				j++
			}
			if !closed {
				j = i + 1 // a lone '"' is a token of its own
			}
		case c == ' ' || c == '\t':
			for j < len(line) && (line[j] == ' ' || line[j] == '\t') {
				j++
			}
		case c == '#':
			j = i + 1
		default:
			for j < len(line) && line[j] != '#' && line[j] != '"' && line[j] != ' ' && line[j] != '\t' {
				j++
			}
		}
		if !fn(line[i:j]) {
			return
		}
		i = j
	}
}

// ReadHash reads an amavis read_hash file: one key per line, optionally
// followed by blanks and a value (a missing value means 1, an int64);
// '#' starts a comment except inside a quoted local part; empty lines are
// skipped. Keys are RFC 5321-quoted addresses or domains and are stored in
// internal form (see NormalizeHashKey). Trailing blanks of a value are
// removed when a comment follows it or rules.TrimTrailingSpace is set.
//
// Differences from amavis, on purpose: leading blanks and a trailing "\r"
// on a line are ignored (amavis turns an indented line into the key "",
// which matches the null sender).
func ReadHash(r io.Reader, name string, rules Rules) (map[string]any, error) {
	m := make(map[string]any)
	err := readLines(r, name, func(line string) error {
		line = strings.TrimRight(line, "\r")
		line = strings.TrimLeft(line, " \t")
		var lhs, rhs strings.Builder
		atRHS, comment := false, false
		tokenizeLine(line, func(tok string) bool {
			if tok == "#" {
				comment = true
				return false
			}
			if !atRHS && (tok[0] == ' ' || tok[0] == '\t') {
				atRHS = true
				return true
			}
			if atRHS {
				rhs.WriteString(tok)
			} else {
				lhs.WriteString(tok)
			}
			return true
		})
		l, v := lhs.String(), rhs.String()
		if comment || rules.TrimTrailingSpace {
			v = strings.TrimRight(v, " \t")
		}
		if l == "" && v == "" {
			return nil
		}
		key := NormalizeHashKey(l, rules)
		if v == "" {
			m[key] = int64(1)
		} else {
			m[key] = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// ReadHashFile is ReadHash on a file.
func ReadHashFile(path string, rules Rules) (map[string]any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read_hash: %w", err)
	}
	defer f.Close()
	return ReadHash(f, path, rules)
}

// NewHashFile reads a read_hash file into a Hash table.
func NewHashFile(path string, rules Rules) (*Hash, error) {
	m, err := ReadHashFile(path, rules)
	if err != nil {
		return nil, err
	}
	return NewHash(m, rules).Named(path), nil
}

// ReadArray reads an amavis read_array file: one element per line, '#'
// comments (not inside quotes), trailing blanks removed, RFC 5321 quoting
// of the local part undone. Leading blanks and "\r" are ignored (amavis
// keeps leading blanks, which makes the element never match).
func ReadArray(r io.Reader, name string) ([]string, error) {
	var out []string
	err := readLines(r, name, func(line string) error {
		line = strings.TrimRight(line, "\r")
		line = strings.TrimLeft(line, " \t")
		var lhs strings.Builder
		tokenizeLine(line, func(tok string) bool {
			if tok == "#" {
				return false
			}
			lhs.WriteString(tok)
			return true
		})
		l := strings.TrimRight(lhs.String(), " \t")
		if l == "" {
			return nil
		}
		local, domain := parseQuotedRFC5321(l)
		if domain == "" && local != "" && strings.IndexByte(local, '@') >= 0 {
			domain = "@"
		}
		out = append(out, local+domain)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ReadArrayFile is ReadArray on a file.
func ReadArrayFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read_array: %w", err)
	}
	defer f.Close()
	return ReadArray(f, path)
}

// NewACLFile reads a read_array file into an ACL.
func NewACLFile(path string, rules Rules) (*ACL, error) {
	elems, err := ReadArrayFile(path)
	if err != nil {
		return nil, err
	}
	return NewACL(elems, rules).Named(path), nil
}

// CIDRLine is one logical line of a read_cidr file.
type CIDRLine struct {
	Key   string // the network as written (may start with '!')
	Value string // the rest of the line ("" when absent)
}

// ReadCIDR reads a Postfix-style CIDR file as amavis's read_cidr: lines
// that are empty or start (after blanks) with '#' are skipped, a line
// starting with a blank continues the previous one, and each logical line
// is "network[/mask] [result]".
func ReadCIDR(r io.Reader, name string) ([]CIDRLine, error) {
	var out []CIDRLine
	var cur *strings.Builder
	flush := func() {
		if cur == nil {
			return
		}
		f := strings.Fields(cur.String())
		if len(f) > 0 {
			rest := strings.TrimLeft(cur.String(), " \t\r\n\f\v")
			rest = strings.TrimLeft(rest[len(f[0]):], " \t\r\n\f\v")
			out = append(out, CIDRLine{Key: f[0], Value: rest})
		}
		cur = nil
	}
	err := readLines(r, name, func(line string) error {
		line = strings.TrimRight(line, "\r")
		t := strings.TrimLeft(line, " \t")
		if t == "" || t[0] == '#' {
			return nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			if cur == nil {
				cur = &strings.Builder{}
			}
			if cur.Len()+len(line) > MaxLineLen {
				return errLineTooLong
			}
			cur.WriteString(line)
			return nil
		}
		flush()
		cur = &strings.Builder{}
		cur.WriteString(line)
		return nil
	})
	if err != nil {
		return nil, err
	}
	flush()
	return out, nil
}

// ReadCIDRFile is ReadCIDR on a file.
func ReadCIDRFile(path string) ([]CIDRLine, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read_cidr: %w", err)
	}
	defer f.Close()
	return ReadCIDR(f, path)
}

// NewIPACLFile reads a read_cidr file as an IP ACL (results ignored, as
// amavis does for the array form).
func NewIPACLFile(path string) (*IPACL, error) {
	lines, err := ReadCIDRFile(path)
	if err != nil {
		return nil, err
	}
	elems := make([]string, len(lines))
	for i, l := range lines {
		elems[i] = l.Key
	}
	a, err := NewIPACL(elems...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a.Named(path), nil
}

// NewIPHashFile reads a read_cidr file as an IP hash (keys lower-cased, a
// missing result is 1).
func NewIPHashFile(path string) (*IPHash, error) {
	lines, err := ReadCIDRFile(path)
	if err != nil {
		return nil, err
	}
	m := make(map[string]any, len(lines))
	for _, l := range lines {
		if l.Value == "" {
			m[strings.ToLower(l.Key)] = int64(1)
		} else {
			m[strings.ToLower(l.Key)] = l.Value
		}
	}
	h, err := NewIPHash(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return h.Named(path), nil
}
