package mail

import (
	"bufio"
	"bytes"
	"io"
	"strings"
)

// MaxHeaderBytes bounds the header section parsed into memory. A header
// section beyond this size is cut: the rest is treated as body, and
// Header.Truncated is set (bad-header checks report it).
const MaxHeaderBytes = 1 << 20

// Field is one header field as it appeared in the message.
type Field struct {
	Name string // the field name as written (case preserved)
	// Raw is the complete field including folded continuation lines and the
	// final line ending, exactly as received.
	Raw []byte
}

// Value returns the unfolded field body with surrounding blanks removed.
func (f Field) Value() string {
	i := bytes.IndexByte(f.Raw, ':')
	if i < 0 {
		return ""
	}
	v := f.Raw[i+1:]
	v = bytes.ReplaceAll(v, []byte("\r\n"), nil)
	v = bytes.ReplaceAll(v, []byte("\n"), nil)
	return strings.TrimSpace(string(v))
}

// Header is the parsed header section of a message.
type Header struct {
	Fields []Field
	// Len is the length in bytes of the header section including the empty
	// line that ends it (0 if the message has no empty line: all header).
	Len int64
	// Invalid counts lines that are neither a field nor a continuation;
	// they are kept in Fields with an empty Name (the bad-header check
	// reports them).
	Invalid int
	// Truncated is set when the header section exceeded MaxHeaderBytes.
	Truncated bool
	// NoSeparator is set when the message ended without an empty line.
	NoSeparator bool
}

// ParseHeader reads the header section from r. It is tolerant: lines that
// are not fields are counted in Invalid, a missing final empty line is
// recorded, and at most MaxHeaderBytes are read.
func ParseHeader(r io.Reader) (*Header, error) {
	br := bufio.NewReaderSize(io.LimitReader(r, MaxHeaderBytes+1), 4096)
	h := &Header{}
	var cur *Field
	var total int64
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A very long line: collect it whole.
			buf := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				buf = append(buf, line...)
			}
			line = buf
		}
		if len(line) == 0 && err != nil {
			if err == io.EOF {
				h.NoSeparator = true
				if total >= MaxHeaderBytes {
					h.Truncated = true
				}
				h.Len = 0
				return h, nil
			}
			return h, err
		}
		total += int64(len(line))
		if total > MaxHeaderBytes {
			h.Truncated = true
			h.Len = total - int64(len(line))
			return h, nil
		}
		if isBlankLine(line) {
			h.Len = total
			return h, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			if cur != nil {
				cur.Raw = append(cur.Raw, line...)
			} else {
				h.Invalid++
			}
			continue
		}
		colon := bytes.IndexByte(line, ':')
		name := ""
		if colon > 0 {
			name = string(bytes.TrimRight(line[:colon], " \t"))
		}
		if colon <= 0 || !validFieldName(name) {
			// Kept with an empty name so that the bad-header check sees it;
			// Get and Values never match it.
			h.Invalid++
			h.Fields = append(h.Fields, Field{Raw: append([]byte(nil), line...)})
			cur = &h.Fields[len(h.Fields)-1]
			continue
		}
		h.Fields = append(h.Fields, Field{Name: name, Raw: append([]byte(nil), line...)})
		cur = &h.Fields[len(h.Fields)-1]
		if err == io.EOF {
			h.NoSeparator = true
			return h, nil
		}
	}
}

func isBlankLine(l []byte) bool {
	return len(l) == 1 && l[0] == '\n' || len(l) == 2 && l[0] == '\r' && l[1] == '\n'
}

func validFieldName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		// amavis accepts 8-bit octets in a field name here (its bad-header
		// check then reports them).
		if c < 33 || c == 127 || c == ':' {
			return false
		}
	}
	return true
}

// Get returns the unfolded value of the first field named name
// (case-insensitive), or "".
func (h *Header) Get(name string) string {
	if h == nil {
		return ""
	}
	for _, f := range h.Fields {
		if strings.EqualFold(f.Name, name) {
			return f.Value()
		}
	}
	return ""
}

// Values returns the unfolded values of all fields named name, in order.
func (h *Header) Values(name string) []string {
	if h == nil {
		return nil
	}
	var out []string
	for _, f := range h.Fields {
		if strings.EqualFold(f.Name, name) {
			out = append(out, f.Value())
		}
	}
	return out
}

// Count returns how many fields are named name.
func (h *Header) Count(name string) int {
	if h == nil {
		return 0
	}
	n := 0
	for _, f := range h.Fields {
		if strings.EqualFold(f.Name, name) {
			n++
		}
	}
	return n
}

// AddrSpec returns the address of a header mailbox "Name <a@b>" or "a@b",
// or "" when there is none.
func AddrSpec(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			return s[i+1 : i+j]
		}
	}
	if strings.Contains(s, "@") && !strings.ContainsAny(s, " \t,") {
		return s
	}
	return ""
}
