package lookup

import (
	"context"
	"fmt"
	"regexp"
	"strconv"

	"github.com/mavis-filter/mavis/internal/lookup/perlre"
)

// RERule is one rule of a regexp table: a Perl pattern with its flags and
// the result when it matches. HasValue false means amavis's single-regexp
// form (result 1); a nil Value with HasValue is "=> undef": the rule stops
// the search in this table but gives no defined result.
type RERule struct {
	Pattern  string
	Flags    string
	Value    any
	HasValue bool
}

// RE is an amavis regexp table (new_RE(...)): the rules are applied in
// order to the full unmodified key, the first match wins, and $1, ${1},
// $(1) in a string result are replaced with the match's captures (with no
// capture group, $1 is "1", as Perl's list-context match returns).
type RE struct {
	rules []reRule
	name  string
}

type reRule struct {
	src      string
	re       *regexp.Regexp
	value    any
	hasValue bool
}

// NewRE compiles the rules (Perl syntax, translated by perlre). An empty
// pattern matches everything, as amavis's qr{(?:)}.
func NewRE(rules ...RERule) (*RE, error) {
	t := &RE{rules: make([]reRule, 0, len(rules))}
	for i, r := range rules {
		re, err := perlre.Compile(r.Pattern, r.Flags)
		if err != nil {
			return nil, fmt.Errorf("regexp table rule %d: %w", i+1, err)
		}
		src := r.Pattern
		if r.Flags != "" {
			src = "(?" + r.Flags + ")" + src
		}
		t.rules = append(t.rules, reRule{src: src, re: re, value: r.Value, hasValue: r.HasValue})
	}
	return t, nil
}

// NewRECompiled builds a regexp table from already compiled Go regexps
// (patterns written in RE2 syntax).
func NewRECompiled(rules []*regexp.Regexp, values []any) *RE {
	t := &RE{rules: make([]reRule, 0, len(rules))}
	for i, re := range rules {
		r := reRule{src: re.String(), re: re}
		if i < len(values) {
			r.value, r.hasValue = values[i], true
		}
		t.rules = append(t.rules, r)
	}
	return t
}

// Named sets a label for logs and returns t.
func (t *RE) Named(name string) *RE { t.name = name; return t }

func (t *RE) String() string {
	s := "re(" + strconv.Itoa(len(t.rules)) + ")"
	if t.name != "" {
		s = t.name + ":" + s
	}
	return s
}

// Lookup implements Table.
func (t *RE) Lookup(_ context.Context, key string) (Result, error) {
	for i := range t.rules {
		if r, ok := t.match(&t.rules[i], key); ok {
			return r, nil
		}
	}
	return Result{}, nil
}

// LookupAll implements AllTable.
func (t *RE) LookupAll(_ context.Context, key string) ([]Result, error) {
	var out []Result
	for i := range t.rules {
		if r, ok := t.match(&t.rules[i], key); ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// LookupAny applies each rule to each of keys in turn (amavis lookup_re
// with a list of keys, used for banned names: the rule order decides, and
// a rule matches if any key matches it).
func (t *RE) LookupAny(_ context.Context, keys []string) (Result, error) {
	for i := range t.rules {
		for _, k := range keys {
			if r, ok := t.match(&t.rules[i], k); ok {
				return r, nil
			}
		}
	}
	return Result{}, nil
}

func (t *RE) match(r *reRule, key string) (Result, bool) {
	var v any = 1
	if r.hasValue {
		v = r.value
	}
	s, isString := v.(string)
	if !isString {
		if !r.re.MatchString(key) {
			return Result{}, false
		}
		return Result{Found: v != nil, Value: normInt(v), Key: r.src, Table: t}, true
	}
	m := r.re.FindStringSubmatchIndex(key)
	if m == nil {
		return Result{}, false
	}
	var caps []string
	if len(m) <= 2 {
		caps = []string{"1"}
	} else {
		caps = make([]string, 0, len(m)/2-1)
		for j := 2; j+1 < len(m); j += 2 {
			if m[j] < 0 {
				caps = append(caps, "")
			} else {
				caps = append(caps, key[m[j]:m[j+1]])
			}
		}
	}
	return Result{Found: true, Value: substituteRHS(s, caps), Key: r.src, Table: t}, true
}

// normInt makes the implied result 1 an int64 like other integers.
func normInt(v any) any {
	if i, ok := v.(int); ok {
		return int64(i)
	}
	return v
}
