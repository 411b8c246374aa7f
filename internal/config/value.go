package config

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Kind is the type of a Value.
type Kind uint8

// Value kinds.
const (
	KindUndef  Kind = iota // Perl undef
	KindBool               // TOML boolean
	KindInt                // TOML integer
	KindFloat              // TOML float
	KindString             // TOML string
	KindList               // TOML array (of values)
	KindTable              // TOML table
	KindMaps               // a nested list of lookup tables (e.g. @score_sender_maps)
)

func (k Kind) String() string {
	switch k {
	case KindUndef:
		return "undef"
	case KindBool:
		return "boolean"
	case KindInt:
		return "integer"
	case KindFloat:
		return "float"
	case KindString:
		return "string"
	case KindList:
		return "array"
	case KindTable:
		return "table"
	case KindMaps:
		return "lookup tables"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Value is a loosely typed value as a Perl scalar holds it: the result of a
// lookup table (a constant, a hash right-hand side, a regexp rule's value),
// an option of a scanner, an entry of a free-form table. The zero Value is
// undef. Values are immutable.
type Value struct {
	kind  Kind
	b     bool
	i     int64
	f     float64
	s     string
	list  []Value
	table map[string]Value
	maps  Maps
}

// Constructors.
func Undef() Value               { return Value{} }
func BoolValue(b bool) Value     { return Value{kind: KindBool, b: b} }
func IntValue(i int64) Value     { return Value{kind: KindInt, i: i} }
func FloatValue(f float64) Value { return Value{kind: KindFloat, f: f} }
func StringValue(s string) Value { return Value{kind: KindString, s: s} }
func ListValue(l []Value) Value  { return Value{kind: KindList, list: l} }
func TableValue(t map[string]Value) Value {
	return Value{kind: KindTable, table: t}
}
func MapsValue(m Maps) Value { return Value{kind: KindMaps, maps: m} }

// Kind returns the value's kind.
func (v Value) Kind() Kind { return v.kind }

// IsUndef reports whether v is undef.
func (v Value) IsUndef() bool { return v.kind == KindUndef }

// Truth is Perl's truthiness: undef, "", "0", 0 and 0.0 are false, everything
// else (including "0.0" and "00") is true.
func (v Value) Truth() bool {
	switch v.kind {
	case KindUndef:
		return false
	case KindBool:
		return v.b
	case KindInt:
		return v.i != 0
	case KindFloat:
		return v.f != 0
	case KindString:
		return v.s != "" && v.s != "0"
	}
	return true
}

// Number returns the numeric value of a number or of a string holding a
// number (as amavis reads numeric SQL fields and hash values).
func (v Value) Number() (float64, bool) {
	switch v.kind {
	case KindInt:
		return float64(v.i), true
	case KindFloat:
		return v.f, true
	case KindBool:
		if v.b {
			return 1, true
		}
		return 0, true
	case KindString:
		f, err := strconv.ParseFloat(strings.TrimSpace(v.s), 64)
		return f, err == nil
	}
	return 0, false
}

// Str is the Perl string form of a scalar ("" for undef, "1"/"" for
// booleans as Perl prints them, numbers in shortest form).
func (v Value) Str() string {
	switch v.kind {
	case KindBool:
		if v.b {
			return "1"
		}
		return ""
	case KindInt:
		return strconv.FormatInt(v.i, 10)
	case KindFloat:
		return strconv.FormatFloat(v.f, 'g', -1, 64)
	case KindString:
		return v.s
	}
	return ""
}

// Destiny interprets the value as a destiny: a D_* name or its amavis number.
func (v Value) Destiny() (Destiny, bool) {
	switch v.kind {
	case KindString:
		d, err := ParseDestiny(v.s)
		return d, err == nil
	case KindInt:
		d, err := ParseDestiny(strconv.FormatInt(v.i, 10))
		return d, err == nil
	}
	return 0, false
}

// List returns the elements of an array value (nil otherwise).
func (v Value) List() []Value { return v.list }

// Table returns the entries of a table value (nil otherwise).
func (v Value) Table() map[string]Value { return v.table }

// Maps returns the lookup tables of a KindMaps value (nil otherwise).
func (v Value) Maps() Maps { return v.maps }

// Equal reports whether two values are the same (deep).
func (v Value) Equal(w Value) bool {
	if v.kind != w.kind {
		return false
	}
	switch v.kind {
	case KindUndef:
		return true
	case KindBool:
		return v.b == w.b
	case KindInt:
		return v.i == w.i
	case KindFloat:
		return v.f == w.f
	case KindString:
		return v.s == w.s
	case KindList:
		return slices.EqualFunc(v.list, w.list, Value.Equal)
	case KindTable:
		return maps.EqualFunc(v.table, w.table, Value.Equal)
	case KindMaps:
		return v.maps.Equal(w.maps)
	}
	return false
}

// String renders the value in TOML syntax ("undef" for undef).
func (v Value) String() string {
	var b strings.Builder
	writeValue(&b, v)
	return b.String()
}
