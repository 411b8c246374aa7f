package lookup

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Result is the answer of one lookup.
//
// Found is amavis's "defined result": a table that matched with an undef
// value (a hash key whose value is undef, a regexp rule => undef, an SQL
// field that is NULL) gives Found false but a non-empty Key, and the search
// goes on with the next table.
type Result struct {
	Found bool
	// Value is the result: nil (undef), bool, int64, float64, string, a
	// Table or []Table (tables as values, e.g. @score_sender_maps), a Row,
	// or whatever a configuration put into a table.
	Value any
	// Key is the matching key (hash key, ACL element, regexp source, SQL
	// key description, "(constant:…)"), for logging.
	Key string
	// Table is the table that answered and Index its position in Maps.
	Table Table
	Index int
}

// Table is one lookup table of a *_maps list.
type Table interface {
	// Lookup looks key up. A table with no answer returns a zero Result
	// (Found false) and a nil error; an error means the table could not be
	// consulted (a database is down) and the caller must not treat it as
	// "not found": amavis tempfails the message.
	Lookup(ctx context.Context, key string) (Result, error)
	// String describes the table for logs ("hash(12 keys)", "acl(3)").
	String() string
}

// AllTable is implemented by tables that can return every match (amavis
// lookup with get_all, used by @score_sender_maps and SQL user ids).
type AllTable interface {
	Table
	LookupAll(ctx context.Context, key string) ([]Result, error)
}

// Const is a constant in a *_maps list: it matches every key. A nil Value
// (undef) never matches. It also serves amavis's Opaque(...) wrappers: in
// Go a slice or map Value is never mistaken for a table.
type Const struct{ Value any }

// Lookup implements Table.
func (c Const) Lookup(context.Context, string) (Result, error) {
	if c.Value == nil {
		return Result{}, nil
	}
	return Result{Found: true, Value: c.Value, Key: "(constant:" + FormatValue(c.Value) + ")", Table: c}, nil
}

func (c Const) String() string { return "constant(" + FormatValue(c.Value) + ")" }

// Func is a table computed at lookup time (amavis code refs in a maps list,
// e.g. @forward_method_maps = (sub { Opaque(c('forward_method')) })).
type Func struct {
	Name string
	F    func(ctx context.Context, key string) (Result, error)
}

// Lookup implements Table.
func (f Func) Lookup(ctx context.Context, key string) (Result, error) {
	r, err := f.F(ctx, key)
	if r.Table == nil {
		r.Table = f
	}
	return r, err
}

func (f Func) String() string { return "func(" + f.Name + ")" }

// Maps is a *_maps setting: tables tried in order; the first table with a
// defined result wins and an undefined result continues with the next.
// Maps is itself a Table, so it can be nested (a hash value that is a
// list of tables).
type Maps struct {
	// Name labels the list in logs (amavis Label), e.g. "spam_lovers".
	Name   string
	Tables []Table
}

// NewMaps returns a named list of tables.
func NewMaps(name string, tables ...Table) Maps { return Maps{Name: name, Tables: tables} }

// Lookup returns the first defined result. Found is false when no table
// knows the key. The first error stops the search: the caller tempfails.
func (m Maps) Lookup(ctx context.Context, key string) (Result, error) {
	for i, t := range m.Tables {
		if t == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return Result{}, fmt.Errorf("lookup %s: %w", m.label(), err)
		}
		r, err := t.Lookup(ctx, key)
		if err != nil {
			return Result{}, fmt.Errorf("lookup %s table %d (%s): %w", m.label(), i, t, err)
		}
		if r.Found {
			if r.Table == nil {
				r.Table = t
			}
			r.Index = i
			return r, nil
		}
	}
	return Result{}, nil
}

// LookupAll returns every defined result of every table, in search order
// (amavis get_all): all matching keys of a hash, all matching rules of a
// regexp table, all rows of SQL; one result from other tables.
func (m Maps) LookupAll(ctx context.Context, key string) ([]Result, error) {
	var out []Result
	for i, t := range m.Tables {
		if t == nil {
			continue
		}
		var rs []Result
		var err error
		if at, ok := t.(AllTable); ok {
			rs, err = at.LookupAll(ctx, key)
		} else {
			var r Result
			r, err = t.Lookup(ctx, key)
			if r.Found {
				rs = []Result{r}
			}
		}
		if err != nil {
			return nil, fmt.Errorf("lookup %s table %d (%s): %w", m.label(), i, t, err)
		}
		for _, r := range rs {
			if !r.Found {
				continue
			}
			if r.Table == nil {
				r.Table = t
			}
			r.Index = i
			out = append(out, r)
		}
	}
	return out, nil
}

func (m Maps) label() string {
	if m.Name == "" {
		return "maps"
	}
	return m.Name
}

func (m Maps) String() string {
	return fmt.Sprintf("%s(%d tables)", m.label(), len(m.Tables))
}

// Bool looks key up and returns the result as a Perl boolean (undef and no
// match are false).
func (m Maps) Bool(ctx context.Context, key string) (bool, Result, error) {
	r, err := m.Lookup(ctx, key)
	if err != nil {
		return false, r, err
	}
	return r.Found && Truthy(r.Value), r, nil
}

// Tables returns the tables a lookup Value holds: a Table, a []Table, a
// Maps; a plain value is taken as a constant (as Perl would take a scalar
// where a table is expected). nil gives none.
func Tables(v any) []Table {
	switch x := v.(type) {
	case nil:
		return nil
	case Maps:
		return x.Tables
	case Table:
		return []Table{x}
	case []Table:
		return x
	default:
		return []Table{Const{Value: v}}
	}
}

// Truthy reports whether v is true as a Perl scalar: undef, "", "0", 0,
// false are false; everything else (including "0.0" and "00") is true.
func Truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != "" && x != "0"
	case int:
		return x != 0
	case int64:
		return x != 0
	case float64:
		return x != 0
	case float32:
		return x != 0
	case []byte:
		return len(x) != 0 && string(x) != "0"
	default:
		return true
	}
}

// Number converts v as Perl numifies a scalar: a leading decimal number
// ("6.31", " -2e1xyz"), else 0; ok is false for undef.
func Number(v any) (f float64, ok bool) {
	switch x := v.(type) {
	case nil:
		return 0, false
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case string:
		return perlNumber(x), true
	case []byte:
		return perlNumber(string(x)), true
	default:
		return 0, true
	}
}

// perlNumber parses the longest leading numeric prefix of s after
// whitespace, as Perl's string-to-number conversion.
func perlNumber(s string) float64 {
	s = strings.TrimLeft(s, " \t\n\r\f\v")
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i == start || i == start+1 && s[start] == '.' {
		rest := strings.ToLower(s[start:])
		switch {
		case strings.HasPrefix(rest, "inf"):
			if start > 0 && s[0] == '-' {
				return math.Inf(-1)
			}
			return math.Inf(1)
		case strings.HasPrefix(rest, "nan"):
			return math.NaN()
		}
		return 0
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		k := j
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k > j {
			i = k
		}
	}
	f, err := strconv.ParseFloat(s[:i], 64)
	if err != nil {
		// out of range: ParseFloat returns ±Inf with the error
		return f
	}
	return f
}

// FormatValue renders a value for logs as amavis would print it.
func FormatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "undef"
	case string:
		return x
	case bool:
		if x {
			return "1"
		}
		return "0"
	case float64:
		return strconv.FormatFloat(x, 'g', 15, 64)
	case fmt.Stringer:
		return x.String()
	default:
		return fmt.Sprint(v)
	}
}

// LogLine formats a lookup for the log as amavis does at log level 4:
//
//	lookup [spam_lovers] => true,  "u@example.com" matches, result="1", matching_key="u@example.com"
//	lookup [spam_lovers] => undef, "u@example.com" does not match
func (m Maps) LogLine(key string, r Result) string {
	label := ""
	if m.Name != "" {
		label = " [" + m.Name + "]"
	}
	if !r.Found {
		return fmt.Sprintf("lookup%s => undef, %q does not match", label, key)
	}
	tf := "false,"
	if Truthy(r.Value) {
		tf = "true,"
	}
	return fmt.Sprintf("lookup%s => %-6s %q matches, result=%q, matching_key=%q", label, tf, key, FormatValue(r.Value), r.Key)
}
