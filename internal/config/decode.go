package config

import (
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// assign is one setting given a value, globally or in a policy bank.
type assign struct {
	st      *setting
	val     reflect.Value // of st.typ
	replace bool          // map kinds: replace instead of merging
	pos     Pos
}

// apply sets the value in s. Map kinds merge key-wise into the current
// value unless replace, as amavis merges hashes when loading a bank.
func (a assign) apply(s *Settings) {
	f := a.st.field(s)
	if a.st.kind.isMapKind() && !a.replace && !f.IsNil() && f.Len() > 0 {
		merged := reflect.MakeMapWithSize(f.Type(), f.Len()+a.val.Len())
		for _, m := range []reflect.Value{f, a.val} {
			it := m.MapRange()
			for it.Next() {
				merged.SetMapIndex(it.Key(), it.Value())
			}
		}
		f.Set(merged)
		return
	}
	f.Set(a.val)
}

// policyBank is a named set of overrides, amavis's $policy_bank{NAME}.
type policyBank struct {
	name    string
	assigns []assign
	pos     Pos
}

// document is what a file says, before defaults are applied.
type document struct {
	assigns     []assign
	banks       []*policyBank
	deleteBanks map[string]Pos
}

// decoder turns the TOML tree into assignments, collecting every error.
type decoder struct {
	file     string
	ix       *posIndex
	errs     Errors
	warns    []Warning
	bankRefs []bankRef // policy bank names the file refers to
	refs     []refUse  // lookup refs, checked once all is decoded
}

type bankRef struct {
	name string
	path []string
}

type refUse struct {
	name string
	path []string
}

func (d *decoder) errf(path []string, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: d.ix.line(path), Key: displayKey(path),
		Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) warnf(path []string, format string, args ...any) {
	d.warns = append(d.warns, Warning{File: d.file, Line: d.ix.line(path), Key: displayKey(path),
		Msg: fmt.Sprintf(format, args...)})
}

func (d *decoder) pos(path []string) Pos { return Pos{File: d.file, Line: d.ix.line(path)} }

func sub(path []string, comps ...string) []string {
	return append(append(make([]string, 0, len(path)+len(comps)), path...), comps...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// tomlType names the TOML type of a decoded value for messages.
func tomlType(v any) string {
	switch x := v.(type) {
	case string:
		if x == "undef" {
			return "undef"
		}
		return "a string"
	case bool:
		return "a boolean"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case []any:
		return "an array"
	case map[string]any:
		return "a table"
	case nil:
		return "nothing"
	}
	return "a date/time"
}

func isUndef(v any) bool { s, ok := v.(string); return ok && s == "undef" }

func (d *decoder) typeErr(path []string, want string, v any) {
	d.errf(path, "want %s, got %s", want, tomlType(v))
}

// document walks the top level.
func (d *decoder) document(raw map[string]any) *document {
	doc := &document{deleteBanks: map[string]Pos{}}
	seen := map[*setting]string{}
	for _, key := range sortedKeys(raw) {
		v := raw[key]
		path := []string{key}
		if key == "policy_bank" {
			d.policyBanks(doc, v)
			continue
		}
		st := schema.byName[key]
		if st == nil {
			d.unknown(path, key, v, schema, false)
			continue
		}
		if other, dup := seen[st]; dup {
			d.errf(path, "set twice (%q and %q are the same setting)", other, key)
			continue
		}
		seen[st] = key
		if st.kind == kMavis {
			doc.assigns = append(doc.assigns, d.mavis(st, path, v)...)
			continue
		}
		if st.noeffect && !isUndef(v) {
			d.warnf(path, "accepted for compatibility; it has no effect in mavis")
		}
		if a, ok := d.setting(st, path, v); ok {
			doc.assigns = append(doc.assigns, a)
		}
	}
	return doc
}

// unknown reports a key that is not a setting (or is a retired one).
func (d *decoder) unknown(path []string, key string, v any, reg *registry, inBank bool) {
	if init, ok := retired[key]; ok && !inBank {
		val, err := toValue(v)
		if err == nil && !retiredSame(init, val) {
			d.warnf(path, "retired in amavis 2.7; changing it has no effect")
		}
		return
	}
	if quietlyIgnored[key] && !inBank {
		return
	}
	if hint, ok := readOnly[key]; ok {
		msg := "is set by amavis itself and cannot be configured"
		if hint != "" {
			msg += "; " + hint
		}
		d.errf(path, "%s", msg)
		return
	}
	if inBank && key == "ACTION" {
		d.errf(path, "policy bank ACTION (Perl code) is not supported")
		return
	}
	msg := "unknown setting"
	if s := reg.suggest(key); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	d.errf(path, "%s", msg)
}

// retiredSame compares as amavis's deprecate_var does (loosely).
func retiredSame(a, b Value) bool {
	if a.IsUndef() || b.IsUndef() {
		return a.IsUndef() && b.IsUndef() || !a.Truth() && !b.Truth()
	}
	if an, ok := a.Number(); ok {
		bn, ok := b.Number()
		return ok && an == bn
	}
	return a.Str() == b.Str()
}

func (d *decoder) policyBanks(doc *document, v any) {
	path := []string{"policy_bank"}
	tab, ok := v.(map[string]any)
	if !ok {
		d.typeErr(path, "a table of policy banks ([policy_bank.NAME])", v)
		return
	}
	for _, name := range sortedKeys(tab) {
		bpath := sub(path, name)
		if !validBankName(name) {
			d.errf(bpath, "bad policy bank name (no spaces or commas)")
			continue
		}
		if isUndef(tab[name]) {
			doc.deleteBanks[name] = d.pos(bpath)
			continue
		}
		bt, ok := tab[name].(map[string]any)
		if !ok {
			d.typeErr(bpath, "a table of settings", tab[name])
			continue
		}
		b := &policyBank{name: name, pos: d.pos(bpath)}
		seen := map[*setting]string{}
		for _, key := range sortedKeys(bt) {
			kpath := sub(bpath, key)
			st := schema.byName[key]
			if st == nil {
				d.unknown(kpath, key, bt[key], schema, true)
				continue
			}
			if !st.dyn {
				msg := "cannot be set in a policy bank: amavis reads it only globally"
				if alt := bankAlternative(st.name); alt != "" {
					msg += fmt.Sprintf(" (set %s in the bank instead)", alt)
				}
				d.errf(kpath, "%s", msg)
				continue
			}
			if other, dup := seen[st]; dup {
				d.errf(kpath, "set twice (%q and %q are the same setting)", other, key)
				continue
			}
			seen[st] = key
			if a, ok := d.setting(st, kpath, bt[key]); ok {
				b.assigns = append(b.assigns, a)
			}
		}
		doc.banks = append(doc.banks, b)
	}
}

func validBankName(s string) bool {
	return s != "" && !strings.ContainsAny(s, " \t\r\n,")
}

// mavis decodes the [mavis] table.
func (d *decoder) mavis(st *setting, path []string, v any) []assign {
	tab, ok := v.(map[string]any)
	if !ok {
		d.typeErr(path, "a table ([mavis])", v)
		return nil
	}
	var out []assign
	for _, key := range sortedKeys(tab) {
		kpath := sub(path, key)
		sst := st.sub.byName[key]
		if sst == nil {
			d.unknown(kpath, key, tab[key], st.sub, true)
			continue
		}
		if a, ok := d.setting(sst, kpath, tab[key]); ok {
			out = append(out, a)
		}
	}
	return out
}

// setting decodes one value for st.
func (d *decoder) setting(st *setting, path []string, v any) (assign, bool) {
	a := assign{st: st, pos: d.pos(path)}
	if isUndef(v) {
		a.val = reflect.Zero(st.typ)
		a.replace = true
		return a, true
	}
	nerr := len(d.errs)
	x, replace := d.value(st, path, v)
	if len(d.errs) > nerr || x == nil {
		return a, false
	}
	a.val = reflect.ValueOf(x)
	a.replace = replace
	return a, true
}

// value decodes v as st's type; it returns nil after reporting an error.
func (d *decoder) value(st *setting, path []string, v any) (any, bool) {
	switch st.kind {
	case kOptBool:
		if b, ok := d.boolean(path, v); ok {
			return Some(b), false
		}
	case kOptInt:
		if n, ok := d.integer(st, path, v); ok {
			return Some(int(n)), false
		}
	case kOptFloat:
		if f, ok := d.number(st, path, v); ok {
			return Some(f), false
		}
	case kOptString:
		if s, ok := d.str(st, path, v); ok {
			return Some(s), false
		}
	case kOptDestiny:
		if dst, ok := d.destiny(path, v); ok {
			return Some(dst), false
		}
	case kOptDuration:
		if n, ok := d.integer(st, path, v); ok {
			if n > math.MaxInt64/int64(time.Second) {
				d.errf(path, "%d seconds is too long", n)
				return nil, false
			}
			return Some(time.Duration(n) * time.Second), false
		}
	case kOptTemplate:
		if t, ok := d.template(path, v); ok {
			return Some(t), false
		}
	case kStrings:
		if l, ok := d.strings(st, path, v); ok {
			return l, false
		}
	case kPorts:
		return d.ports(path, v), false
	case kIPACL:
		return d.ipacl(path, v), false
	case kMethods:
		return d.methods(path, v), false
	case kMaps:
		return d.maps(path, v, st.keys, st.res, true), false
	case kHash:
		if m, ok := d.table(path, v); ok {
			return d.hash(path, m, st.res), false
		}
	case kTable:
		if m, ok := d.table(path, v); ok {
			t, replace := d.freeTable(path, m, true)
			return t, replace
		}
	case kRegexps:
		return Regexps(d.rules(path, v, st.res)), false
	case kByCcat:
		return d.byCcat(st, path, v)
	case kNamedMaps:
		return d.namedMaps(st, path, v)
	case kBoolMap, kIntMap, kStringMap:
		return d.scalarMap(st, path, v)
	case kIPPolicies:
		return d.ipPolicies(path, v), false
	case kAVScanners:
		return d.avScanners(path, v), false
	case kSpamScanners:
		return d.spamScanners(path, v), false
	case kDSNs:
		return d.dsns(path, v), false
	case kTables:
		return d.tables(path, v), false
	case kDKIMKeys:
		return d.dkimKeys(path, v), false
	case kValue:
		val, err := toValue(v)
		if err != nil {
			d.errf(path, "%v", err)
			return nil, false
		}
		return val, false
	case kAdmin:
		return d.admin(path, v), false
	}
	return nil, false
}

// ----- scalars -----

func (d *decoder) boolean(path []string, v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case int64: // Perl configs say 1 and 0
		return x != 0, true
	}
	d.typeErr(path, "true or false", v)
	return false, false
}

func (d *decoder) checkRange(st *setting, path []string, f float64) bool {
	if st == nil {
		return true
	}
	if st.min != nil && f < *st.min {
		d.errf(path, "%v is below the minimum %v", f, *st.min)
		return false
	}
	if st.max != nil && f > *st.max {
		d.errf(path, "%v is above the maximum %v", f, *st.max)
		return false
	}
	return true
}

func (d *decoder) integer(st *setting, path []string, v any) (int64, bool) {
	n, ok := v.(int64)
	if !ok {
		if f, isF := v.(float64); isF && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			d.errf(path, "want an integer, got a float (write %d)", int64(f))
		} else {
			d.typeErr(path, "an integer", v)
		}
		return 0, false
	}
	if n > math.MaxInt32*int64(1<<20) || n < -(math.MaxInt32*int64(1<<20)) {
		d.errf(path, "%d is out of range", n)
		return 0, false
	}
	if !d.checkRange(st, path, float64(n)) {
		return 0, false
	}
	return n, true
}

func (d *decoder) number(st *setting, path []string, v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case int64:
		f = float64(x)
	case float64:
		f = x
	default:
		d.typeErr(path, "a number", v)
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		d.errf(path, "want a finite number")
		return 0, false
	}
	return f, d.checkRange(st, path, f)
}

func (d *decoder) str(st *setting, path []string, v any) (string, bool) {
	s, ok := v.(string)
	if !ok {
		d.typeErr(path, "a string", v)
		return "", false
	}
	if len(st.enum) > 0 && !slices.Contains(st.enum, s) {
		d.errf(path, "%q is not one of %s", s, strings.Join(st.enum, ", "))
		return "", false
	}
	if st.header && !validHeaderName(s) {
		d.errf(path, "%q is not a valid header field name", s)
		return "", false
	}
	if st.method != "" {
		if _, err := ParseMethod(s); err != nil {
			d.errf(path, "%v", err)
			return "", false
		}
	}
	if err := checkValue(st.check, s); err != nil {
		d.errf(path, "%v", err)
		return "", false
	}
	return s, true
}

// checkValue applies a setting's extra check to one string.
func checkValue(check, s string) error {
	switch check {
	case "ip":
		if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err != nil {
			return fmt.Errorf("%q is not an IP address", s)
		}
	case "bind":
		if h := strings.Trim(s, "[]"); h != "*" && !validHostname(h) {
			if _, err := netip.ParseAddr(h); err != nil {
				return fmt.Errorf("%q is not an address to bind to (an IP address, [IPv6], a host name or *)", s)
			}
		}
	case "socket":
		return checkSocketSpec(s)
	}
	return nil
}

// checkSocketSpec validates amavis's @listen_sockets forms: unix:/path,
// inet:host:port, inet6:[::1]:port, /path, a bare port, host:port.
func checkSocketSpec(s string) error {
	bad := fmt.Errorf("bad socket %q (want unix:/path, inet:host:port, inet6:[addr]:port, /path, port or host:port)", s)
	switch {
	case strings.HasPrefix(s, "unix:"):
		if !strings.HasPrefix(s[5:], "/") {
			return bad
		}
		return nil
	case strings.HasPrefix(s, "/"):
		return nil
	}
	rest := strings.TrimPrefix(strings.TrimPrefix(s, "inet6:"), "inet:")
	if n, err := strconv.Atoi(rest); err == nil {
		if n < 1 || n > 65535 {
			return bad
		}
		return nil
	}
	if _, _, err := splitHostPort(rest); err != nil || strings.Contains(rest, "*") {
		return bad
	}
	return nil
}

func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 33 || c > 126 || c == ':' {
			return false
		}
	}
	return true
}

func (d *decoder) destiny(path []string, v any) (Destiny, bool) {
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case int64:
		s = fmt.Sprint(x)
	default:
		d.typeErr(path, "a destiny (\"D_PASS\", \"D_DISCARD\", \"D_BOUNCE\", \"D_REJECT\", \"D_TEMPFAIL\")", v)
		return 0, false
	}
	dst, err := ParseDestiny(s)
	if err != nil {
		d.errf(path, "%v", err)
		return 0, false
	}
	return dst, true
}

func (d *decoder) template(path []string, v any) (Template, bool) {
	switch x := v.(type) {
	case string:
		return Template{Text: x}, true
	case map[string]any:
		t := Template{}
		for _, k := range sortedKeys(x) {
			if k != "file" {
				d.errf(sub(path, k), "unknown field (a text is a string or { file = \"path\" })")
				continue
			}
			f, ok := x[k].(string)
			if !ok || f == "" {
				d.typeErr(sub(path, k), "a file name", x[k])
				continue
			}
			t.File = f
		}
		if t.File == "" {
			d.errf(path, "want { file = \"path\" }")
			return t, false
		}
		return t, true
	}
	d.typeErr(path, "a string or { file = \"path\" }", v)
	return Template{}, false
}

// ----- lists -----

// list returns v as elements: an array, or a single value as a one-element
// list (amavis accepts a scalar where it expects an arrayref).
func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// elemPath is the path of element i of v (v itself when not an array).
func elemPath(path []string, v any, i int) []string {
	if _, ok := v.([]any); ok {
		return sub(path, idxComp(i))
	}
	return path
}

func (d *decoder) strings(st *setting, path []string, v any) ([]string, bool) {
	l := list(v)
	out := make([]string, 0, len(l))
	ok := true
	for i, e := range l {
		s, isStr := e.(string)
		ep := elemPath(path, v, i)
		if !isStr {
			d.typeErr(ep, "a string", e)
			ok = false
			continue
		}
		if st != nil && len(st.enum) > 0 && !slices.Contains(st.enum, s) {
			d.errf(ep, "%q is not one of %s", s, strings.Join(st.enum, ", "))
			ok = false
			continue
		}
		if st != nil {
			if err := checkValue(st.check, s); err != nil {
				d.errf(ep, "%v", err)
				ok = false
				continue
			}
		}
		out = append(out, s)
	}
	return out, ok
}

func (d *decoder) ports(path []string, v any) []int {
	var out []int
	for i, e := range list(v) {
		ep := elemPath(path, v, i)
		n, ok := e.(int64)
		if !ok || n < 1 || n > 65535 {
			if ok {
				d.errf(ep, "port %d is not 1..65535", n)
			} else {
				d.typeErr(ep, "a port number", e)
			}
			continue
		}
		out = append(out, int(n))
	}
	return out
}

func (d *decoder) ipacl(path []string, v any) IPACL {
	out := IPACL{}
	for i, e := range list(v) {
		ep := elemPath(path, v, i)
		s, ok := e.(string)
		if !ok {
			d.typeErr(ep, "an IP network string", e)
			continue
		}
		ent, err := ParseIPACLEntry(s)
		if err != nil {
			d.errf(ep, "%v", err)
			continue
		}
		out = append(out, ent)
	}
	return out
}

func (d *decoder) methods(path []string, v any) Methods {
	var out Methods
	for i, e := range list(v) {
		ep := elemPath(path, v, i)
		s, ok := e.(string)
		if !ok {
			d.typeErr(ep, "a method string like \"smtp:[127.0.0.1]:10025\"", e)
			continue
		}
		m, err := ParseMethod(s)
		if err != nil {
			d.errf(ep, "%v", err)
			continue
		}
		out = append(out, m)
	}
	return out
}

// ----- tables -----

func (d *decoder) table(path []string, v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	if !ok {
		d.typeErr(path, "a table", v)
	}
	return m, ok
}

// replaceFlag takes the REPLACE key out of a map-kind table.
func (d *decoder) replaceFlag(path []string, m map[string]any) (map[string]any, bool) {
	r, ok := m["REPLACE"]
	if !ok {
		return m, false
	}
	b, ok := d.boolean(sub(path, "REPLACE"), r)
	rest := make(map[string]any, len(m)-1)
	for k, v := range m {
		if k != "REPLACE" {
			rest[k] = v
		}
	}
	return rest, ok && b
}

func (d *decoder) freeTable(path []string, m map[string]any, allowReplace bool) (Table, bool) {
	replace := false
	if allowReplace {
		m, replace = d.replaceFlag(path, m)
	}
	t := make(Table, len(m))
	for _, k := range sortedKeys(m) {
		val, err := toValue(m[k])
		if err != nil {
			d.errf(sub(path, k), "%v", err)
			continue
		}
		t[k] = val
	}
	return t, replace
}

func (d *decoder) scalarMap(st *setting, path []string, v any) (any, bool) {
	m, ok := d.table(path, v)
	if !ok {
		return nil, false
	}
	m, replace := d.replaceFlag(path, m)
	key := func(k string) string {
		if st.lc {
			return strings.ToLower(k)
		}
		return k
	}
	checkKey := func(kp []string, k string) bool {
		if len(st.enum) > 0 && !slices.Contains(st.enum, key(k)) {
			d.errf(kp, "unknown entry %q (want one of %s)", k, strings.Join(st.enum, ", "))
			return false
		}
		return true
	}
	switch st.kind {
	case kBoolMap:
		out := make(map[string]bool, len(m))
		for _, k := range sortedKeys(m) {
			kp := sub(path, k)
			if b, ok := d.boolean(kp, m[k]); ok && checkKey(kp, k) {
				out[key(k)] = b
			}
		}
		return out, replace
	case kIntMap:
		out := make(map[string]int, len(m))
		for _, k := range sortedKeys(m) {
			kp := sub(path, k)
			if n, ok := d.integer(st, kp, m[k]); ok && checkKey(kp, k) {
				out[key(k)] = int(n)
			}
		}
		return out, replace
	default:
		out := make(map[string]string, len(m))
		for _, k := range sortedKeys(m) {
			kp := sub(path, k)
			if isUndef(m[k]) {
				out[key(k)] = ""
				continue
			}
			s, ok := m[k].(string)
			if !ok {
				d.typeErr(kp, "a string", m[k])
				continue
			}
			if st.res == "bank" {
				if !d.bankList(kp, s) {
					continue
				}
			}
			out[key(k)] = s
		}
		return out, replace
	}
}

// bankList validates a "BANK1, BANK2" list and notes the names.
func (d *decoder) bankList(path []string, s string) bool {
	names := splitBanks(s)
	if len(names) == 0 {
		d.errf(path, "empty policy bank name")
		return false
	}
	for _, n := range names {
		d.bankRefs = append(d.bankRefs, bankRef{name: n, path: path})
	}
	return true
}

// splitBanks splits amavis's comma/space separated bank list.
func splitBanks(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
}

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

// ----- by-ccat and named tables -----

func (d *decoder) byCcat(st *setting, path []string, v any) (any, bool) {
	m, ok := d.table(path, v)
	if !ok {
		return nil, false
	}
	m, replace := d.replaceFlag(path, m)
	keys := st.keys
	if keys == "" {
		keys = "addr"
	}
	out := make(ByCcat, len(m))
	for _, k := range sortedKeys(m) {
		kp := sub(path, k)
		cc, err := ParseCCKey(k)
		if err != nil {
			d.errf(kp, "%v", err)
			continue
		}
		if _, dup := out[cc]; dup {
			d.errf(kp, "content category %s given twice", cc)
			continue
		}
		if isUndef(m[k]) {
			out[cc] = nil
			continue
		}
		out[cc] = d.maps(kp, m[k], keys, st.res, true)
	}
	return out, replace
}

func (d *decoder) namedMaps(st *setting, path []string, v any) (any, bool) {
	m, ok := d.table(path, v)
	if !ok {
		return nil, false
	}
	m, replace := d.replaceFlag(path, m)
	out := make(NamedMaps, len(m))
	for _, k := range sortedKeys(m) {
		out[k] = d.maps(sub(path, k), m[k], st.keys, st.res, true)
	}
	return out, replace
}

// ----- structured lists -----

func (d *decoder) ipPolicies(path []string, v any) []IPPolicy {
	var out []IPPolicy
	for i, e := range list(v) {
		ep := elemPath(path, v, i)
		m, ok := e.(map[string]any)
		if !ok {
			d.typeErr(ep, "{ maps = [...], banks = \"BANK\" }", e)
			continue
		}
		p := IPPolicy{Pos: d.pos(ep)}
		good := true
		for _, k := range sortedKeys(m) {
			kp := sub(ep, k)
			switch k {
			case "maps":
				p.Maps = d.maps(kp, m[k], "ip", "bool", true)
			case "banks":
				names, ok := d.strings(nil, kp, m[k])
				if !ok {
					good = false
					continue
				}
				for _, n := range names {
					if !d.bankList(kp, n) {
						good = false
					}
					p.Banks = append(p.Banks, splitBanks(n)...)
				}
			default:
				d.errf(kp, "unknown field (want maps, banks)")
				good = false
			}
		}
		if p.Maps == nil || len(p.Banks) == 0 {
			if good {
				d.errf(ep, "needs both maps and banks")
			}
			continue
		}
		if good {
			out = append(out, p)
		}
	}
	return out
}

// exitOrRegexp decodes a scanner's clean/infected test.
func (d *decoder) exitOrRegexp(path []string, v any) (ExitOrRegexp, bool) {
	switch x := v.(type) {
	case string:
		if x == "undef" {
			return ExitOrRegexp{}, true
		}
		re, err := CompileRegexp("(?m)" + x)
		if err != nil {
			d.errf(path, "%v", err)
			return ExitOrRegexp{}, false
		}
		re.Source = x
		return ExitOrRegexp{Regexp: re}, true
	case []any, int64:
		codes := []int{}
		for i, e := range list(v) {
			n, ok := e.(int64)
			if !ok || n < 0 || n > 255 {
				d.typeErr(elemPath(path, v, i), "an exit code 0..255", e)
				return ExitOrRegexp{}, false
			}
			codes = append(codes, int(n))
		}
		return ExitOrRegexp{Codes: codes}, true
	}
	d.typeErr(path, "exit codes or a regexp", v)
	return ExitOrRegexp{}, false
}

func (d *decoder) avScanners(path []string, v any) []AVScanner {
	var out []AVScanner
	for i, e := range list(v) {
		ep := elemPath(path, v, i)
		var sc AVScanner
		var ok bool
		switch x := e.(type) {
		case map[string]any:
			sc, ok = d.avScannerTable(ep, x)
		case []any:
			sc, ok = d.avScannerArray(ep, x)
		default:
			d.typeErr(ep, "a scanner table or amavis's [name, program, args, clean, infected, virus_name] array", e)
		}
		if ok {
			sc.Pos = d.pos(ep)
			out = append(out, sc)
		}
	}
	return out
}

var avTypes = []string{"ask_daemon", "ask_av", "command"}

func (d *decoder) avScannerTable(path []string, m map[string]any) (AVScanner, bool) {
	var sc AVScanner
	good := true
	strField := func(k string) (string, bool) {
		s, ok := m[k].(string)
		if !ok {
			d.typeErr(sub(path, k), "a string", m[k])
			good = false
		}
		return s, ok
	}
	for _, k := range sortedKeys(m) {
		kp := sub(path, k)
		switch k {
		case "name":
			sc.Name, _ = strField(k)
		case "type":
			if s, ok := strField(k); ok {
				if !slices.Contains(avTypes, s) {
					d.errf(kp, "unknown scanner type %q (want %s)", s, strings.Join(avTypes, ", "))
					good = false
				}
				sc.Type = s
			}
		case "command":
			l, ok := d.strings(nil, kp, m[k])
			sc.Command, good = l, good && ok
		case "args":
			sc.Args, _ = strField(k)
		case "sockets":
			l, ok := d.strings(nil, kp, m[k])
			sc.Sockets, good = l, good && ok
		case "clean", "infected":
			t, ok := d.exitOrRegexp(kp, m[k])
			good = good && ok
			if k == "clean" {
				sc.Clean = t
			} else {
				sc.Infected = t
			}
		case "virus_name":
			if s, ok := strField(k); ok {
				re, err := CompileRegexp("(?m)" + s)
				if err != nil {
					d.errf(kp, "%v", err)
					good = false
					continue
				}
				re.Source = s
				sc.VirusName = re
			}
		case "options":
			if t, ok := d.table(kp, m[k]); ok {
				sc.Options, _ = d.freeTable(kp, t, false)
			}
		default:
			d.errf(kp, "unknown field (want name, type, command, args, sockets, clean, infected, virus_name, options)")
			good = false
		}
	}
	if sc.Type == "" {
		if len(sc.Sockets) > 0 {
			sc.Type = "ask_daemon"
		} else {
			sc.Type = "command"
		}
	}
	if good {
		good = d.checkAVScanner(path, &sc)
	}
	return sc, good
}

func (d *decoder) checkAVScanner(path []string, sc *AVScanner) bool {
	switch {
	case sc.Name == "":
		d.errf(path, "a scanner needs a name")
	case sc.Type == "command" && len(sc.Command) == 0:
		d.errf(path, "a command scanner needs command = [...]")
	case sc.Type == "ask_daemon" && len(sc.Sockets) == 0:
		d.errf(path, "an ask_daemon scanner needs sockets = [...]")
	default:
		return true
	}
	return false
}

func (d *decoder) avScannerArray(path []string, l []any) (AVScanner, bool) {
	var sc AVScanner
	if len(l) < 3 || len(l) > 6 {
		d.errf(path, "an amavis scanner entry is [name, program, args, clean, infected, virus_name]; Perl code entries are not supported")
		return sc, false
	}
	good := true
	at := func(i int) []string { return sub(path, idxComp(i)) }
	name, ok := l[0].(string)
	if !ok {
		d.typeErr(at(0), "a scanner name", l[0])
		return sc, false
	}
	sc.Name = name
	switch p := l[1].(type) {
	case string:
		switch strings.TrimLeft(p, "\\&") {
		case "ask_daemon", "ask_av", "ask_clamav":
			sc.Type = strings.TrimLeft(p, "\\&")
			if sc.Type == "ask_clamav" {
				sc.Type = "ask_daemon"
			}
		default:
			sc.Type, sc.Command = "command", []string{p}
		}
	case []any:
		cmds, ok := d.strings(nil, at(1), p)
		sc.Type, sc.Command, good = "command", cmds, ok
	default:
		d.typeErr(at(1), "a program, a list of programs, or \"ask_daemon\"", l[1])
		return sc, false
	}
	if sc.Type == "command" {
		if sc.Args, ok = l[2].(string); !ok {
			d.typeErr(at(2), "an argument string", l[2])
			good = false
		}
	} else {
		args, isL := l[2].([]any)
		if !isL || len(args) != 2 {
			d.typeErr(at(2), "[query_template, socket or [sockets]]", l[2])
			return sc, false
		}
		if sc.Args, ok = args[0].(string); !ok {
			d.typeErr(sub(at(2), idxComp(0)), "a query template", args[0])
			good = false
		}
		socks, ok := d.strings(nil, sub(at(2), idxComp(1)), args[1])
		sc.Sockets, good = socks, good && ok
	}
	if len(l) > 3 {
		t, ok := d.exitOrRegexp(at(3), l[3])
		sc.Clean, good = t, good && ok
	}
	if len(l) > 4 {
		t, ok := d.exitOrRegexp(at(4), l[4])
		sc.Infected, good = t, good && ok
	}
	if len(l) > 5 && !isUndef(l[5]) {
		s, isS := l[5].(string)
		if !isS {
			d.typeErr(at(5), "a virus name regexp", l[5])
			return sc, false
		}
		re, err := CompileRegexp("(?m)" + s)
		if err != nil {
			d.errf(at(5), "%v", err)
			return sc, false
		}
		re.Source = s
		sc.VirusName = re
	}
	if good {
		good = d.checkAVScanner(path, &sc)
	}
	return sc, good
}

var spamModules = []string{"SpamAssassin", "SpamdClient", "RspamdClient", "ExtProg"}

func (d *decoder) spamScanners(path []string, v any) []SpamScanner {
	var out []SpamScanner
	for i, e := range list(v) {
		ep := elemPath(path, v, i)
		sc := SpamScanner{Pos: d.pos(ep), Options: Table{}}
		var opts map[string]any
		var modPath []string
		switch x := e.(type) {
		case map[string]any:
			opts = map[string]any{}
			for k, val := range x {
				switch k {
				case "name":
					sc.Name, _ = val.(string)
				case "module":
					sc.Module, _ = val.(string)
					modPath = sub(ep, k)
				default:
					opts[k] = val
				}
			}
		case []any:
			if len(x) < 2 || len(x) > 3 {
				d.errf(ep, "a spam scanner is [name, module] or [name, module, { options }]")
				continue
			}
			sc.Name, _ = x[0].(string)
			sc.Module, _ = x[1].(string)
			modPath = sub(ep, idxComp(1))
			if len(x) == 3 {
				t, ok := x[2].(map[string]any)
				if !ok {
					d.typeErr(sub(ep, idxComp(2)), "a table of options", x[2])
					continue
				}
				opts = t
			}
		default:
			d.typeErr(ep, "a spam scanner table", e)
			continue
		}
		if sc.Name == "" {
			d.errf(ep, "a spam scanner needs a name")
			continue
		}
		mod := strings.TrimPrefix(sc.Module, "Amavis::SpamControl::")
		if !slices.Contains(spamModules, mod) {
			d.errf(modPath, "unknown spam scanner module %q (want %s)", sc.Module, strings.Join(spamModules, ", "))
			continue
		}
		sc.Module = mod
		if opts != nil {
			sc.Options, _ = d.freeTable(ep, opts, false)
		}
		out = append(out, sc)
	}
	return out
}

var dsnDrivers = []string{"mysql", "MariaDB", "Pg", "SQLite"}

func (d *decoder) dsns(path []string, v any) []DSN {
	l, ok := v.([]any)
	if ok && len(l) > 0 {
		if s, isS := l[0].(string); isS && strings.HasPrefix(s, "DBI:") {
			l = []any{l} // a single [dsn, user, password] triple
		}
	}
	if !ok {
		l = []any{v}
	}
	var out []DSN
	for i, e := range l {
		ep := sub(path, idxComp(i))
		if !ok {
			ep = path
		}
		var dsn DSN
		switch x := e.(type) {
		case []any:
			strs, allS := allStrings(x)
			if !allS || len(strs) < 1 || len(strs) > 3 {
				d.typeErr(ep, "[\"DBI:driver:...\", \"user\", \"password\"]", e)
				continue
			}
			strs = append(strs, "", "")
			dsn = DSN{DSN: strs[0], User: strs[1], Password: strs[2]}
		case map[string]any:
			good := true
			for _, k := range sortedKeys(x) {
				s, isS := x[k].(string)
				if !isS {
					d.typeErr(sub(ep, k), "a string", x[k])
					good = false
					continue
				}
				switch k {
				case "dsn":
					dsn.DSN = s
				case "user":
					dsn.User = s
				case "password":
					dsn.Password = s
				default:
					d.errf(sub(ep, k), "unknown field (want dsn, user, password)")
					good = false
				}
			}
			if !good {
				continue
			}
		default:
			d.typeErr(ep, "a DSN triple or { dsn, user, password }", e)
			continue
		}
		rest, isDBI := strings.CutPrefix(dsn.DSN, "DBI:")
		drv, _, _ := strings.Cut(rest, ":")
		if !isDBI || !slices.Contains(dsnDrivers, drv) {
			d.errf(ep, "bad DSN %q (want DBI:mysql:..., DBI:MariaDB:..., DBI:Pg:... or DBI:SQLite:...)", dsn.DSN)
			continue
		}
		dsn.Driver = drv
		out = append(out, dsn)
	}
	return out
}

func (d *decoder) tables(path []string, v any) []Table {
	var out []Table
	for i, e := range list(v) {
		ep := elemPath(path, v, i)
		m, ok := e.(map[string]any)
		if !ok {
			d.typeErr(ep, "a table", e)
			continue
		}
		t, _ := d.freeTable(ep, m, false)
		out = append(out, t)
	}
	return out
}

func (d *decoder) dkimKeys(path []string, v any) []DKIMKey {
	var out []DKIMKey
	for i, e := range list(v) {
		ep := elemPath(path, v, i)
		m, ok := e.(map[string]any)
		if !ok {
			d.typeErr(ep, "a [[dkim_key]] table", e)
			continue
		}
		k := DKIMKey{Pos: d.pos(ep), Options: Table{}}
		good := true
		for _, f := range sortedKeys(m) {
			fp := sub(ep, f)
			switch f {
			case "domain", "selector", "key":
				s, ok := m[f].(string)
				if !ok || s == "" {
					d.typeErr(fp, "a non-empty string", m[f])
					good = false
					continue
				}
				switch f {
				case "domain":
					k.Domain = s
				case "selector":
					k.Selector = s
				default:
					k.KeyFile = s
				}
			default:
				val, err := toValue(m[f])
				if err != nil {
					d.errf(fp, "%v", err)
					good = false
					continue
				}
				k.Options[f] = val
			}
		}
		if good && (k.Domain == "" || k.Selector == "" || k.KeyFile == "") {
			d.errf(ep, "a dkim_key needs domain, selector and key (the PEM file)")
			good = false
		}
		if good {
			out = append(out, k)
		}
	}
	return out
}

func (d *decoder) admin(path []string, v any) AdminAddr {
	switch x := v.(type) {
	case string:
		return AdminAddr{Addr: Some(x)}
	case map[string]any:
		return AdminAddr{ByDomain: d.hash(path, x, "str")}
	}
	d.typeErr(path, "an address or a table of domain = address", v)
	return AdminAddr{}
}
