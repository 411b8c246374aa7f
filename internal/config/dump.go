package config

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Dump writes the configuration as a TOML file that Parse reads back to
// the same settings: every global setting (or, with onlySet, only those the
// file set), the [mavis] table and the policy banks. Lookup lists show
// their refs (`{ ref = "local_domains_acl" }`) as configured.
func (c *Config) Dump(w io.Writer, onlySet bool) error {
	bw := bufio.NewWriter(w)
	def := staticDefaults()
	fmt.Fprintf(bw, "# mavis configuration, from %s\n", c.file)
	var sections []*setting
	for _, st := range schema.list {
		if st.kind == kMavis || st.kind.isMapKind() {
			sections = append(sections, st)
			continue
		}
		pos, set := c.set[st.name]
		if onlySet && !set {
			continue
		}
		bw.WriteString(st.name + " = " + render(st, st.field(c.raw)))
		if set {
			bw.WriteString("  # " + pos.String())
		}
		bw.WriteByte('\n')
	}
	for _, st := range sections {
		if st.kind == kMavis {
			var lines []string
			for _, sst := range st.sub.list {
				pos, set := c.set[sst.name]
				if onlySet && !set {
					continue
				}
				l := sst.name + " = " + render(sst, sst.field(c.raw))
				if set {
					l += "  # " + pos.String()
				}
				lines = append(lines, l)
			}
			if len(lines) > 0 {
				fmt.Fprintf(bw, "\n[mavis]\n%s\n", strings.Join(lines, "\n"))
			}
			continue
		}
		pos, set := c.set[st.name]
		if onlySet && !set {
			continue
		}
		f, df := st.field(c.raw), st.field(&def)
		if f.Len() == 0 && df.Len() == 0 {
			continue
		}
		replace := !mapHasKeys(f, df)
		writeSection(bw, []string{st.name}, st, f, replace)
		if set {
			fmt.Fprintf(bw, "# %s set at %s\n", st.name, pos)
		}
	}
	for _, name := range c.Banks() {
		b := c.banks[name]
		fmt.Fprintf(bw, "\n[policy_bank.%s]\n", tomlKey(name))
		var later []assign
		assigns := slices.Clone(b.assigns)
		slices.SortFunc(assigns, func(x, y assign) int { return strings.Compare(x.st.name, y.st.name) })
		for _, a := range assigns {
			if a.st.kind.isMapKind() && !a.val.IsNil() {
				later = append(later, a)
				continue
			}
			bw.WriteString(a.st.name + " = " + render(a.st, a.val) + "\n")
		}
		for _, a := range later {
			writeSection(bw, []string{"policy_bank", name, a.st.name}, a.st, a.val, a.replace)
		}
	}
	return bw.Flush()
}

// mapHasKeys reports whether every key of want is in m.
func mapHasKeys(m, want reflect.Value) bool {
	if want.Len() == 0 {
		return true
	}
	for _, k := range want.MapKeys() {
		if !m.MapIndex(k).IsValid() {
			return false
		}
	}
	return true
}

func writeSection(w *bufio.Writer, path []string, st *setting, f reflect.Value, replace bool) {
	var keys []string
	vals := map[string]string{}
	it := f.MapRange()
	for it.Next() {
		var k string
		switch key := it.Key().Interface().(type) {
		case CCKey:
			k = key.String()
		case string:
			k = key
		}
		keys = append(keys, k)
		vals[k] = renderElem(st, it.Value())
	}
	slices.Sort(keys)
	var hdr []string
	for _, p := range path {
		hdr = append(hdr, tomlKey(p))
	}
	fmt.Fprintf(w, "\n[%s]\n", strings.Join(hdr, "."))
	if replace {
		w.WriteString("REPLACE = true\n")
	}
	for _, k := range keys {
		w.WriteString(tomlKey(k) + " = " + vals[k] + "\n")
	}
}

// renderElem renders one entry of a map-kind setting.
func renderElem(st *setting, v reflect.Value) string {
	switch x := v.Interface().(type) {
	case Maps:
		if x == nil {
			return `"undef"`
		}
		if len(x) == 1 && x[0].Type == LookupConst && x[0].Value.Kind() <= KindString && !x[0].Value.IsUndef() {
			return x[0].Value.String()
		}
		if len(x) == 1 && x[0].Type != LookupConst && x[0].Type != LookupACL {
			return renderSpec(x[0])
		}
		return renderMaps(x, true)
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case string:
		if x == "" && st.kind == kStringMap {
			return `"undef"`
		}
		return tomlString(x)
	case Value:
		return x.String()
	}
	return `"?"`
}

// render renders a non-section setting value inline.
func render(st *setting, v reflect.Value) string {
	switch x := v.Interface().(type) {
	case Opt[bool]:
		return optStr(x, strconv.FormatBool)
	case Opt[int]:
		return optStr(x, strconv.Itoa)
	case Opt[float64]:
		return optStr(x, formatFloat)
	case Opt[string]:
		return optStr(x, tomlString)
	case Opt[Destiny]:
		return optStr(x, func(d Destiny) string { return tomlString(d.String()) })
	case Opt[time.Duration]:
		return optStr(x, func(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) })
	case Opt[Template]:
		return optStr(x, func(t Template) string {
			if t.File != "" {
				return "{ file = " + tomlString(t.File) + " }"
			}
			return tomlString(t.Text)
		})
	case []string:
		return stringList(x)
	case []int:
		parts := make([]string, len(x))
		for i, n := range x {
			parts[i] = strconv.Itoa(n)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case IPACL:
		return stringList(x.Raw())
	case Methods:
		switch len(x) {
		case 0:
			return `"undef"`
		case 1:
			return tomlString(x[0].Raw)
		}
		raw := make([]string, len(x))
		for i, m := range x {
			raw[i] = m.Raw
		}
		return stringList(raw)
	case Maps:
		return renderMaps(x, true)
	case Regexps:
		return renderRules(x, true)
	case []IPPolicy:
		items := make([]string, len(x))
		for i, p := range x {
			items[i] = "{ maps = " + renderMaps(p.Maps, false) + ", banks = " + tomlString(strings.Join(p.Banks, ", ")) + " }"
		}
		return multiline(items, "")
	case []AVScanner:
		items := make([]string, len(x))
		for i, sc := range x {
			items[i] = renderAVScanner(sc)
		}
		return multiline(items, "")
	case []SpamScanner:
		items := make([]string, len(x))
		for i, sc := range x {
			kv := []string{"name = " + tomlString(sc.Name), "module = " + tomlString(sc.Module)}
			kv = append(kv, tableItems(map[string]Value(sc.Options))...)
			items[i] = "{ " + strings.Join(kv, ", ") + " }"
		}
		return multiline(items, "")
	case []DSN:
		items := make([]string, len(x))
		for i, d := range x {
			items[i] = stringList([]string{d.DSN, d.User, d.Password})
		}
		return multiline(items, "")
	case []Table:
		items := make([]string, len(x))
		for i, t := range x {
			items[i] = TableValue(t).String()
		}
		return multiline(items, "")
	case []DKIMKey:
		items := make([]string, len(x))
		for i, k := range x {
			kv := []string{"domain = " + tomlString(k.Domain), "selector = " + tomlString(k.Selector), "key = " + tomlString(k.KeyFile)}
			kv = append(kv, tableItems(map[string]Value(k.Options))...)
			items[i] = "{ " + strings.Join(kv, ", ") + " }"
		}
		return multiline(items, "")
	case Value:
		return x.String()
	case AdminAddr:
		if len(x.ByDomain) > 0 {
			return TableValue(map[string]Value(x.ByDomain)).String()
		}
		return optStr(x.Addr, tomlString)
	}
	panic("config: cannot render " + st.name)
}

func optStr[T any](o Opt[T], f func(T) string) string {
	v, ok := o.Get()
	if !ok {
		return `"undef"`
	}
	return f(v)
}

func stringList(l []string) string {
	parts := make([]string, len(l))
	for i, s := range l {
		parts[i] = tomlString(s)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// multiline renders an array one item per line (TOML allows newlines in
// arrays, but not inside inline tables, so only top-level values use it).
func multiline(items []string, indent string) string {
	switch len(items) {
	case 0:
		return "[]"
	case 1:
		return "[" + items[0] + "]"
	}
	return "[\n" + indent + "  " + strings.Join(items, ",\n"+indent+"  ") + ",\n" + indent + "]"
}

func flat(items []string) string { return "[" + strings.Join(items, ", ") + "]" }

// renderMaps renders a lookup list; multi-line only at the top level.
func renderMaps(m Maps, top bool) string {
	items := make([]string, len(m))
	for i, sp := range m {
		items[i] = renderSpec(sp)
	}
	if top {
		return multiline(items, "")
	}
	return flat(items)
}

func renderSpec(sp LookupSpec) string {
	field := func(typ string, kv ...string) string {
		return "{ " + strings.Join(append([]string{"type = " + tomlString(typ)}, kv...), ", ") + " }"
	}
	file := func() []string {
		if sp.File == "" {
			return nil
		}
		return []string{"file = " + tomlString(sp.File)}
	}
	switch sp.Type {
	case LookupConst:
		switch sp.Value.Kind() {
		case KindList, KindTable, KindMaps:
			return field("const", "value = "+sp.Value.String())
		}
		return sp.Value.String()
	case LookupACL:
		entries := sp.ACL
		if sp.IPACL != nil {
			entries = sp.IPACL.Raw()
		}
		if sp.File != "" {
			kv := file()
			if len(entries) > 0 {
				kv = append(kv, "entries = "+stringList(entries))
			}
			return field("acl", kv...)
		}
		return stringList(entries)
	case LookupHash:
		kv := file()
		if len(sp.Entries) > 0 || sp.File == "" {
			kv = append(kv, "entries = "+TableValue(map[string]Value(sp.Entries)).String())
		}
		return field("hash", kv...)
	case LookupCIDR:
		kv := file()
		if len(sp.IPACL) > 0 || sp.File == "" {
			kv = append(kv, "entries = "+stringList(sp.IPACL.Raw()))
		}
		return field("cidr", kv...)
	case LookupRegexp:
		return field("regexp", "rules = "+renderRules(sp.Rules, false))
	case LookupSQL, LookupLDAP:
		var kv []string
		if sp.Field != "" {
			kv = append(kv, "field = "+tomlString(sp.Field))
		}
		return field(sp.Type.String(), kv...)
	case LookupRef:
		return "{ ref = " + tomlString(sp.Ref) + " }"
	}
	return `"?"`
}

func renderRules(rs []RegexpRule, top bool) string {
	items := make([]string, len(rs))
	for i, r := range rs {
		if r.Value.Equal(IntValue(1)) {
			items[i] = tomlString(r.Re.Source)
		} else {
			items[i] = "[" + tomlString(r.Re.Source) + ", " + r.Value.String() + "]"
		}
	}
	if top {
		return multiline(items, "")
	}
	return flat(items)
}

func renderTest(t ExitOrRegexp) string {
	switch {
	case t.Regexp != nil:
		return tomlString(t.Regexp.Source)
	case t.Codes != nil:
		parts := make([]string, len(t.Codes))
		for i, c := range t.Codes {
			parts[i] = strconv.Itoa(c)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return `"undef"`
}

func renderAVScanner(sc AVScanner) string {
	kv := []string{"name = " + tomlString(sc.Name), "type = " + tomlString(sc.Type)}
	if len(sc.Command) > 0 {
		kv = append(kv, "command = "+stringList(sc.Command))
	}
	kv = append(kv, "args = "+tomlString(sc.Args))
	if len(sc.Sockets) > 0 {
		kv = append(kv, "sockets = "+stringList(sc.Sockets))
	}
	kv = append(kv, "clean = "+renderTest(sc.Clean), "infected = "+renderTest(sc.Infected))
	if sc.VirusName != nil {
		kv = append(kv, "virus_name = "+tomlString(sc.VirusName.Source))
	}
	if len(sc.Options) > 0 {
		kv = append(kv, "options = "+TableValue(map[string]Value(sc.Options)).String())
	}
	return "{ " + strings.Join(kv, ", ") + " }"
}

func tableItems(t map[string]Value) []string {
	keys := sortedKeys(t)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = tomlKey(k) + " = " + t[k].String()
	}
	return out
}

// writeValue renders a Value in TOML syntax.
func writeValue(b *strings.Builder, v Value) {
	switch v.kind {
	case KindUndef:
		b.WriteString(`"undef"`)
	case KindBool:
		b.WriteString(strconv.FormatBool(v.b))
	case KindInt:
		b.WriteString(strconv.FormatInt(v.i, 10))
	case KindFloat:
		b.WriteString(formatFloat(v.f))
	case KindString:
		b.WriteString(tomlString(v.s))
	case KindList:
		b.WriteByte('[')
		for i, e := range v.list {
			if i > 0 {
				b.WriteString(", ")
			}
			writeValue(b, e)
		}
		b.WriteByte(']')
	case KindTable:
		items := tableItems(v.table)
		if len(items) == 0 {
			b.WriteString("{}")
			return
		}
		b.WriteString("{ " + strings.Join(items, ", ") + " }")
	case KindMaps:
		b.WriteString(renderMaps(v.maps, false))
	}
}

func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	case math.IsNaN(f):
		return "nan"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".eEn") {
		s += ".0"
	}
	return s
}

// tomlKey renders a key bare when TOML allows it, quoted otherwise.
func tomlKey(k string) string {
	if k == "" {
		return `""`
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return tomlString(k)
		}
	}
	return k
}

// tomlString renders a TOML basic string.
func tomlString(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
