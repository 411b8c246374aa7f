package config

import (
	"fmt"
	"slices"
	"strings"
)

// ----- lookup tables -----

// maps decodes a *_maps value: an array of lookup tables, or one table
// (a scalar constant or an inline table) standing for a one-table list.
func (d *decoder) maps(path []string, v any, keys, res string, allowRef bool) Maps {
	l, isList := v.([]any)
	if !isList {
		if sp, ok := d.spec(path, v, keys, res, allowRef); ok {
			return Maps{sp}
		}
		return nil
	}
	out := make(Maps, 0, len(l))
	for i, e := range l {
		if sp, ok := d.spec(sub(path, idxComp(i)), e, keys, res, allowRef); ok {
			out = append(out, sp)
		}
	}
	return out
}

func allStrings(l []any) ([]string, bool) {
	out := make([]string, len(l))
	for i, e := range l {
		s, ok := e.(string)
		if !ok {
			return nil, false
		}
		out[i] = s
	}
	return out, true
}

// spec decodes one lookup table.
func (d *decoder) spec(path []string, v any, keys, res string, allowRef bool) (LookupSpec, bool) {
	pos := d.pos(path)
	switch x := v.(type) {
	case []any:
		strs, ok := allStrings(x)
		if !ok {
			d.errf(path, "an inline array is an ACL and holds only strings; use a { type = ... } table for other lookups")
			return LookupSpec{}, false
		}
		return d.acl(path, strs, keys, pos)
	case map[string]any:
		return d.typedSpec(path, x, keys, res, allowRef)
	}
	val, ok := d.result(path, v, res)
	if !ok {
		return LookupSpec{}, false
	}
	if res == "bool" && val.Kind() == KindString && strings.ContainsAny(val.Str(), ".@/") {
		d.warnf(path, "the constant %q always matches (it is true for everyone); an ACL is written as an array inside the list: [[%q]]", val.Str(), val.Str())
	}
	return LookupSpec{Type: LookupConst, Value: val, Pos: pos}, true
}

func (d *decoder) acl(path []string, strs []string, keys string, pos Pos) (LookupSpec, bool) {
	if keys == "ip" {
		acl := d.ipacl(path, anySlice(strs))
		return LookupSpec{Type: LookupACL, IPACL: acl, Pos: pos}, true
	}
	ok := true
	for i, s := range strs {
		if strings.TrimSpace(strings.TrimLeft(s, "!")) == "" {
			d.errf(sub(path, idxComp(i)), "empty ACL element")
			ok = false
		}
	}
	return LookupSpec{Type: LookupACL, ACL: strs, Pos: pos}, ok
}

func anySlice(strs []string) []any {
	out := make([]any, len(strs))
	for i, s := range strs {
		out[i] = s
	}
	return out
}

var specFields = map[string][]string{
	"const":  {"type", "value"},
	"hash":   {"type", "entries", "file"},
	"acl":    {"type", "entries", "file"},
	"cidr":   {"type", "entries", "file"},
	"regexp": {"type", "rules"},
	"sql":    {"type", "field"},
	"ldap":   {"type", "field"},
	"ref":    {"type", "ref"},
}

const specTypesDoc = `type = "hash", "acl", "regexp", "cidr", "sql", "ldap" or "const" (or ref = "setting")`

func (d *decoder) typedSpec(path []string, m map[string]any, keys, res string, allowRef bool) (LookupSpec, bool) {
	pos := d.pos(path)
	typ := "ref"
	if t, ok := m["type"]; ok {
		s, isStr := t.(string)
		if !isStr {
			d.typeErr(sub(path, "type"), "a lookup table type", t)
			return LookupSpec{}, false
		}
		typ = s
	} else if _, ok := m["ref"]; !ok {
		d.errf(path, "a lookup table needs %s", specTypesDoc)
		return LookupSpec{}, false
	}
	fields, ok := specFields[typ]
	if !ok {
		d.errf(sub(path, "type"), "unknown lookup table type %q (want %s)", typ, specTypesDoc)
		return LookupSpec{}, false
	}
	good := true
	for _, k := range sortedKeys(m) {
		if !slices.Contains(fields, k) {
			d.errf(sub(path, k), "unknown field in a %s lookup table (want %s)", typ, strings.Join(fields[1:], ", "))
			good = false
		}
	}
	if !good {
		return LookupSpec{}, false
	}
	sp := LookupSpec{Pos: pos}
	file := func() bool {
		f, ok := m["file"]
		if !ok {
			return true
		}
		s, isStr := f.(string)
		if !isStr || s == "" {
			d.typeErr(sub(path, "file"), "a file name", f)
			return false
		}
		sp.File = s
		return true
	}
	switch typ {
	case "ref":
		if !allowRef {
			d.errf(path, "a ref is not allowed inside a nested lookup table")
			return sp, false
		}
		name, isStr := m["ref"].(string)
		if !isStr {
			d.typeErr(sub(path, "ref"), "a setting name", m["ref"])
			return sp, false
		}
		sp.Type, sp.Ref = LookupRef, name
		d.refs = append(d.refs, refUse{name: name, path: sub(path, "ref")})
		return sp, true
	case "const":
		v, ok := m["value"]
		if !ok {
			d.errf(path, "a const lookup table needs value = ...")
			return sp, false
		}
		val, ok := d.result(sub(path, "value"), v, res)
		sp.Type, sp.Value = LookupConst, val
		return sp, ok
	case "hash":
		sp.Type = LookupHash
		ok := file()
		if e, has := m["entries"]; has {
			t, isT := e.(map[string]any)
			if !isT {
				d.typeErr(sub(path, "entries"), "a table of key = value", e)
				return sp, false
			}
			sp.Entries = d.hash(sub(path, "entries"), t, res)
		}
		return sp, ok
	case "acl", "cidr":
		if typ == "cidr" && keys != "ip" {
			d.errf(sub(path, "type"), "a cidr table matches IP addresses, but this setting is looked up by %s", keyDomainDoc(keys))
			return sp, false
		}
		ok := file()
		var entries []string
		if e, has := m["entries"]; has {
			l, isL := e.([]any)
			strs, allS := allStrings(l)
			if !isL || !allS {
				d.typeErr(sub(path, "entries"), "an array of strings", e)
				return sp, false
			}
			entries = strs
		}
		if typ == "cidr" {
			sp.Type = LookupCIDR
			sp.IPACL = d.ipacl(sub(path, "entries"), anySlice(entries))
			return sp, ok
		}
		acl, aok := d.acl(sub(path, "entries"), entries, keys, pos)
		acl.File = sp.File
		return acl, ok && aok
	case "regexp":
		sp.Type = LookupRegexp
		r, has := m["rules"]
		if !has {
			d.errf(path, "a regexp lookup table needs rules = [...]")
			return sp, false
		}
		n := len(d.errs)
		sp.Rules = d.rules(sub(path, "rules"), r, res)
		return sp, len(d.errs) == n
	case "sql", "ldap":
		if keys != "addr" {
			d.errf(sub(path, "type"), "%s lookups take mail addresses, but this setting is looked up by %s", typ, keyDomainDoc(keys))
			return sp, false
		}
		sp.Type = LookupSQL
		if typ == "ldap" {
			sp.Type = LookupLDAP
		}
		if f, has := m["field"]; has {
			s, isStr := f.(string)
			if !isStr || s == "" {
				d.typeErr(sub(path, "field"), "a field name", f)
				return sp, false
			}
			sp.Field = s
		}
		return sp, true
	}
	return sp, false
}

func keyDomainDoc(keys string) string {
	switch keys {
	case "ip":
		return "IP address"
	case "name":
		return "name (virus name, file type or name)"
	}
	return "mail address"
}

// hash decodes hash lookup entries.
func (d *decoder) hash(path []string, m map[string]any, res string) Hash {
	h := make(Hash, len(m))
	for _, k := range sortedKeys(m) {
		if val, ok := d.result(sub(path, k), m[k], res); ok {
			h[k] = val
		}
	}
	return h
}

// rules decodes regexp rules: "re" (value 1) or ["re", value].
func (d *decoder) rules(path []string, v any, res string) []RegexpRule {
	var out []RegexpRule
	for i, e := range list(v) {
		ep := elemPath(path, v, i)
		pat, val := e, any(int64(1))
		if pair, ok := e.([]any); ok {
			if len(pair) < 1 || len(pair) > 2 {
				d.errf(ep, "a rule is \"regexp\" or [\"regexp\", value]")
				continue
			}
			pat = pair[0]
			if len(pair) == 2 {
				val = pair[1]
			}
		}
		s, ok := pat.(string)
		if !ok {
			d.typeErr(ep, "a regexp string", pat)
			continue
		}
		re, err := CompileRegexp(s)
		if err != nil {
			d.errf(ep, "%v", err)
			continue
		}
		rv, ok := d.result(ep, val, res)
		if !ok {
			continue
		}
		out = append(out, RegexpRule{Re: re, Value: rv, Pos: d.pos(ep)})
	}
	return out
}

// result decodes a lookup result value of the given result type.
func (d *decoder) result(path []string, v any, res string) (Value, bool) {
	if isUndef(v) {
		return Undef(), true
	}
	if nested, ok := strings.CutPrefix(res, "maps:"); ok {
		switch v.(type) {
		case []any, map[string]any:
			return MapsValue(d.maps(path, v, "addr", nested, false)), true
		}
		d.typeErr(path, "a list of lookup tables", v)
		return Value{}, false
	}
	if res == "rules" {
		switch x := v.(type) {
		case []any, map[string]any:
			return MapsValue(d.maps(path, v, "name", "str", false)), true
		case string:
			if len(splitBanks(x)) == 0 {
				d.errf(path, "empty list of banned rule names")
				return Value{}, false
			}
			return StringValue(x), true
		}
		d.typeErr(path, "banned rule names or lookup tables", v)
		return Value{}, false
	}
	val, err := toValue(v)
	if err != nil {
		d.errf(path, "%v", err)
		return Value{}, false
	}
	switch res {
	case "any", "":
		return val, true
	}
	if k := val.Kind(); k == KindList || k == KindTable {
		d.typeErr(path, "a single value", v)
		return Value{}, false
	}
	switch res {
	case "num":
		if _, ok := val.Number(); !ok {
			d.typeErr(path, "a number", v)
			return Value{}, false
		}
	case "str":
		if val.Kind() == KindBool {
			d.typeErr(path, "a string", v)
			return Value{}, false
		}
	case "destiny":
		if _, ok := val.Destiny(); !ok {
			d.errf(path, "unknown destiny %s (want D_PASS, D_DISCARD, D_BOUNCE, D_REJECT or D_TEMPFAIL)", val)
			return Value{}, false
		}
	case "method":
		if val.Kind() != KindString {
			d.typeErr(path, "a method string", v)
			return Value{}, false
		}
		if _, err := ParseMethod(val.Str()); err != nil {
			d.errf(path, "%v", err)
			return Value{}, false
		}
	case "bank":
		if val.Kind() == KindString && !d.bankList(path, val.Str()) {
			return Value{}, false
		}
	}
	return val, true
}

// toValue converts a decoded TOML value.
func toValue(v any) (Value, error) {
	switch x := v.(type) {
	case string:
		if x == "undef" {
			return Undef(), nil
		}
		return StringValue(x), nil
	case bool:
		return BoolValue(x), nil
	case int64:
		return IntValue(x), nil
	case float64:
		return FloatValue(x), nil
	case []any:
		l := make([]Value, len(x))
		for i, e := range x {
			val, err := toValue(e)
			if err != nil {
				return Value{}, err
			}
			l[i] = val
		}
		return ListValue(l), nil
	case map[string]any:
		t := make(map[string]Value, len(x))
		for k, e := range x {
			val, err := toValue(e)
			if err != nil {
				return Value{}, err
			}
			t[k] = val
		}
		return TableValue(t), nil
	}
	return Value{}, fmt.Errorf("dates and times are not supported here")
}
