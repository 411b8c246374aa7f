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
		if a, ok := d.setting(st, path, v); ok {
			doc.assigns = append(doc.assigns, a)
			def := staticDefaults()
			if st.noeffect && !isUndef(v) && !reflect.DeepEqual(a.val.Interface(), st.field(&def).Interface()) {
				d.warnf(path, "accepted for compatibility; it has no effect in mavis")
			}
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
