package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// fieldKind is how a setting's Go type is decoded, merged and printed.
type fieldKind uint8

const (
	kOptBool fieldKind = iota
	kOptInt
	kOptFloat
	kOptString
	kOptDestiny
	kOptDuration
	kOptTemplate
	kStrings
	kPorts
	kIPACL
	kMethods
	kMaps
	kHash
	kTable
	kRegexps
	kByCcat
	kNamedMaps
	kBoolMap
	kIntMap
	kStringMap
	kIPPolicies
	kAVScanners
	kSpamScanners
	kDSNs
	kTables
	kDKIMKeys
	kValue
	kAdmin
	kMavis
)

var kindOfType = map[reflect.Type]fieldKind{
	reflect.TypeFor[Opt[bool]]():          kOptBool,
	reflect.TypeFor[Opt[int]]():           kOptInt,
	reflect.TypeFor[Opt[float64]]():       kOptFloat,
	reflect.TypeFor[Opt[string]]():        kOptString,
	reflect.TypeFor[Opt[Destiny]]():       kOptDestiny,
	reflect.TypeFor[Opt[time.Duration]](): kOptDuration,
	reflect.TypeFor[Opt[Template]]():      kOptTemplate,
	reflect.TypeFor[[]string]():           kStrings,
	reflect.TypeFor[[]int]():              kPorts,
	reflect.TypeFor[IPACL]():              kIPACL,
	reflect.TypeFor[Methods]():            kMethods,
	reflect.TypeFor[Maps]():               kMaps,
	reflect.TypeFor[Hash]():               kHash,
	reflect.TypeFor[Table]():              kTable,
	reflect.TypeFor[Regexps]():            kRegexps,
	reflect.TypeFor[ByCcat]():             kByCcat,
	reflect.TypeFor[NamedMaps]():          kNamedMaps,
	reflect.TypeFor[map[string]bool]():    kBoolMap,
	reflect.TypeFor[map[string]int]():     kIntMap,
	reflect.TypeFor[map[string]string]():  kStringMap,
	reflect.TypeFor[[]IPPolicy]():         kIPPolicies,
	reflect.TypeFor[[]AVScanner]():        kAVScanners,
	reflect.TypeFor[[]SpamScanner]():      kSpamScanners,
	reflect.TypeFor[[]DSN]():              kDSNs,
	reflect.TypeFor[[]Table]():            kTables,
	reflect.TypeFor[[]DKIMKey]():          kDKIMKeys,
	reflect.TypeFor[Value]():              kValue,
	reflect.TypeFor[AdminAddr]():          kAdmin,
	reflect.TypeFor[MavisSettings]():      kMavis,
}

// isMapKind reports whether a kind is an amavis hash: assignments merge
// key-wise into the current value unless the table has REPLACE = true,
// as amavis merges hashes when loading a policy bank.
func (k fieldKind) isMapKind() bool {
	switch k {
	case kHash, kTable, kByCcat, kNamedMaps, kBoolMap, kIntMap, kStringMap:
		return true
	}
	return false
}

// typeDoc describes a kind for the reference.
func (k fieldKind) typeDoc() string {
	switch k {
	case kOptBool:
		return "boolean"
	case kOptInt:
		return "integer"
	case kOptFloat:
		return "number"
	case kOptString:
		return "string"
	case kOptDestiny:
		return "destiny"
	case kOptDuration:
		return "seconds"
	case kOptTemplate:
		return "text"
	case kStrings:
		return "string list"
	case kPorts:
		return "port list"
	case kIPACL:
		return "IP ACL"
	case kMethods:
		return "method"
	case kMaps:
		return "lookup list"
	case kHash:
		return "hash table"
	case kTable:
		return "table"
	case kRegexps:
		return "regexp table"
	case kByCcat:
		return "by-ccat table"
	case kNamedMaps:
		return "named lookup lists"
	case kBoolMap:
		return "table of booleans"
	case kIntMap:
		return "table of integers"
	case kStringMap:
		return "table of strings"
	case kIPPolicies:
		return "IP policy list"
	case kAVScanners:
		return "scanner list"
	case kSpamScanners:
		return "scanner list"
	case kDSNs:
		return "DSN list"
	case kTables:
		return "list of tables"
	case kDKIMKeys:
		return "DKIM key list"
	case kValue:
		return "any"
	case kAdmin:
		return "address or by-domain table"
	case kMavis:
		return "table"
	}
	return "?"
}

// setting describes one configurable variable.
type setting struct {
	name     string
	aliases  []string
	index    []int // field index path from Settings
	kind     fieldKind
	dyn      bool   // allowed in a policy bank
	legacy   bool   // legacy variable referenced by default maps
	noeffect bool   // accepted, warns that it does nothing in mavis
	header   bool   // value must be a header field name
	lc       bool   // table keys are lower-cased (header field names, test names)
	keys     string // lookup key domain of a *_maps: addr, ip, name
	res      string // result type: bool, num, str, destiny, method, bank, maps, rules, any
	method   string // "quarantine": value is a quarantine method
	check    string // extra value check: bind, ip, socket
	min, max *float64
	enum     []string
	upstream string
	section  string
	goName   string
	typ      reflect.Type
	sub      *registry // kMavis: the nested table's settings
}

// registry is the immutable schema built once from the Settings struct.
type registry struct {
	list   []*setting
	byName map[string]*setting // names and aliases
}

var schema = buildRegistry(reflect.TypeFor[Settings](), nil)

func buildRegistry(t reflect.Type, prefix []int) *registry {
	r := &registry{byName: map[string]*setting{}}
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("amavis")
		if !ok {
			continue
		}
		parts := strings.Split(tag, ",")
		st := &setting{name: parts[0], index: append(append([]int(nil), prefix...), i),
			upstream: f.Tag.Get("up"), goName: f.Name, typ: f.Type}
		k, ok := kindOfType[f.Type]
		if !ok {
			panic(fmt.Sprintf("config: field %s has unsupported type %s", f.Name, f.Type))
		}
		st.kind = k
		for _, opt := range parts[1:] {
			key, val, _ := strings.Cut(opt, "=")
			switch key {
			case "dyn":
				st.dyn = true
			case "legacy":
				st.legacy = true
			case "noeffect":
				st.noeffect = true
			case "header":
				st.header = true
			case "lc":
				st.lc = true
			case "keys":
				st.keys = val
			case "res":
				st.res = val
			case "method":
				st.method = val
			case "check":
				st.check = val
			case "min", "max":
				n, err := strconv.ParseFloat(val, 64)
				if err != nil {
					panic("config: bad " + key + " in tag of " + f.Name)
				}
				if key == "min" {
					st.min = &n
				} else {
					st.max = &n
				}
			case "enum":
				st.enum = strings.Split(val, "|")
			case "alias":
				st.aliases = append(st.aliases, val)
			case "sec":
				st.section = val
			default:
				panic("config: unknown tag option " + opt + " on " + f.Name)
			}
		}
		if k == kMavis {
			st.sub = buildRegistry(f.Type, st.index)
		}
		if k == kMaps && st.keys == "" {
			panic("config: maps setting " + st.name + " needs keys=")
		}
		r.list = append(r.list, st)
		for _, n := range append([]string{st.name}, st.aliases...) {
			if _, dup := r.byName[n]; dup {
				panic("config: duplicate setting " + n)
			}
			r.byName[n] = st
		}
	}
	return r
}

// field returns the setting's field in s.
func (st *setting) field(s *Settings) reflect.Value {
	return reflect.ValueOf(s).Elem().FieldByIndex(st.index)
}

// retired are amavis variables that no longer do anything (deprecate_var
// in amavis 2.13) with the value amavis initialises them to; setting
// another value draws a warning, as amavis does.
var retired = map[string]Value{
	"insert_received_line":  IntValue(1),
	"relayhost_is_client":   Undef(),
	"warnvirussender":       Undef(),
	"warnspamsender":        Undef(),
	"sa_spam_report_header": Undef(),
	"sa_spam_modifies_subj": IntValue(1),
	"sa_auto_whitelist":     Undef(),
	"sa_timeout":            IntValue(30),
	"syslog_priority":       StringValue("debug"),
	"SYSLOG_LEVEL":          StringValue("mail.debug"),
	"notify_xmailer_header": Undef(),
}

// quietlyIgnored are legacy variables amavis still declares but never
// reads; they are accepted silently (Debian's conf.d sets some of them).
var quietlyIgnored = map[string]bool{
	"enable_global_cache":            true,
	"append_header_fields_to_bottom": true,
	"gets_addr_in_quoted_form":       true,
	"virus_check_negative_ttl":       true,
	"virus_check_positive_ttl":       true,
	"spam_check_negative_ttl":        true,
	"spam_check_positive_ttl":        true,
}

// readOnly are amavis-internal variables a configuration cannot set; the
// value is a hint.
var readOnly = map[string]string{
	"myproduct_name":              "",
	"myversion":                   "",
	"myversion_id":                "",
	"myversion_id_numeric":        "",
	"myversion_date":              "",
	"policy_bank_name":            "",
	"policy_bank_path":            "",
	"current_policy_bank":         "",
	"spamcontrol_obj":             "",
	"profiling":                   "",
	"can_truncate":                "",
	"my_pid":                      "",
	"AF_INET6":                    "",
	"have_inet4":                  "",
	"have_inet6":                  "",
	"io_socket_module_name":       "",
	"ccat_display_names":          "",
	"ccat_display_names_major":    "",
	"dkim_signing_keys_by_domain": "use [[dkim_key]] tables",
	"dkim_signing_keys_list":      "use [[dkim_key]] tables",
	"dkim_signing_keys_storage":   "use [[dkim_key]] tables",
}

// suggest returns the known name closest to an unknown one, or "".
func (r *registry) suggest(name string) string {
	best, bestD := "", 3
	lname := strings.ToLower(name)
	for n := range r.byName {
		if strings.ToLower(n) == lname {
			return n
		}
		if d := editDistance(lname, strings.ToLower(n), bestD); d < bestD || d == bestD && best != "" && n < best {
			best, bestD = n, d
		}
	}
	if bestD > 2 {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance of a and b, or limit+1 when it
// exceeds limit (cheap early exit).
func editDistance(a, b string, limit int) int {
	if d := len(a) - len(b); d > limit || -d > limit {
		return limit + 1
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		rowMin := cur[0]
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			rowMin = min(rowMin, cur[j])
		}
		if rowMin > limit {
			return limit + 1
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
