package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pelletier/go-toml/v2"
)

// MaxFileSize bounds a configuration file.
const MaxFileSize = 16 << 20

// Config is a loaded configuration: the global settings, the policy banks
// and where each setting came from. It is immutable and safe for
// concurrent use; the daemon replaces the whole *Config on reload.
type Config struct {
	file     string
	raw      *Settings // with lookup refs, no banks
	base     *Settings // resolved, no banks
	banks    map[string]*policyBank
	set      map[string]Pos
	warnings []Warning

	cache  sync.Map // bank sequence → *Settings
	cached atomic.Int32
}

// maxCachedSnapshots bounds the memo of per-bank-sequence snapshots (an
// AM.PDP client can name banks freely).
const maxCachedSnapshots = 256

// Default returns the built-in configuration for this machine (no file).
func Default() *Config { return SystemEnv().Default() }

// Parse reads a configuration from data; name is used in messages.
func Parse(name string, data []byte) (*Config, error) { return SystemEnv().Parse(name, data) }

// Load reads the configuration file at path.
func Load(path string) (*Config, error) { return SystemEnv().Load(path) }

// Default returns the built-in configuration for env.
func (e Env) Default() *Config {
	c, err := e.build("(default)", nil, &decoder{file: "(default)", ix: newPosIndex(nil)}, &document{})
	if err != nil {
		panic("config: built-in defaults do not load: " + err.Error())
	}
	return c
}

// Load reads the file at path with env's defaults.
func (e Env) Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: reading %s: %w", path, err)
	}
	if len(data) > MaxFileSize {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("file is larger than %d bytes", MaxFileSize)}}
	}
	return e.Parse(path, data)
}

// Parse reads a configuration from data with env's defaults. On failure
// the error is an Errors listing every problem.
func (e Env) Parse(name string, data []byte) (*Config, error) {
	var tree map[string]any
	if err := toml.Unmarshal(data, &tree); err != nil {
		return nil, Errors{syntaxError(name, err)}
	}
	d := &decoder{file: name, ix: newPosIndex(data)}
	doc := d.document(tree)
	return e.build(name, tree, d, doc)
}

func syntaxError(name string, err error) *Error {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		return &Error{File: name, Line: row, Msg: fmt.Sprintf("TOML syntax error at column %d: %s", col, msg)}
	}
	return &Error{File: name, Msg: "TOML: " + strings.TrimPrefix(err.Error(), "toml: ")}
}

// build applies the document to the defaults and checks what can only be
// checked once everything is known (bank names, refs).
func (e Env) build(name string, _ map[string]any, d *decoder, doc *document) (*Config, error) {
	raw := defaultSettings(e)
	set := map[string]Pos{}
	for _, a := range doc.assigns {
		a.apply(&raw)
		set[a.st.name] = a.pos
	}
	applyDerived(&raw, set)

	banks := map[string]*policyBank{}
	for _, b := range defaultBanks() {
		banks[b.name] = b
	}
	for n := range doc.deleteBanks {
		delete(banks, n)
	}
	for _, b := range doc.banks {
		banks[b.name] = b
	}
	for _, r := range d.bankRefs {
		if _, ok := banks[r.name]; !ok && r.name == "MYNETS" {
			// amavis's own default refers to MYNETS without defining it.
			d.warnf(r.path, "policy bank MYNETS is not defined, so mail from these networks is not treated as originating (add [policy_bank.MYNETS] with originating = true)")
		} else if !ok {
			msg := fmt.Sprintf("unknown policy bank %q", r.name)
			if s := suggestBank(banks, r.name); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else {
				msg += fmt.Sprintf(" (define it as [policy_bank.%s])", tomlKey(r.name))
			}
			d.errf(r.path, "%s", msg)
		}
	}
	for _, r := range d.refs {
		st := schema.byName[r.name]
		switch {
		case st == nil:
			msg := fmt.Sprintf("ref to unknown setting %q", r.name)
			if s := schema.suggest(r.name); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errf(r.path, "%s", msg)
		case !refable(st):
			d.errf(r.path, "cannot refer to %q (a %s) from a lookup list", r.name, st.kind.typeDoc())
		}
	}

	c := &Config{file: name, raw: &raw, banks: banks, set: set}
	if len(d.errs) == 0 {
		// Resolve the base and each bank alone, to report ref cycles.
		seen := map[string]bool{}
		cycle := func(stack []string, pos Pos) {
			e := &Error{File: d.file, Line: pos.Line, Key: stack[len(stack)-2],
				Msg: "lookup refs form a cycle: " + strings.Join(stack, " → ")}
			if !seen[e.Error()] {
				seen[e.Error()] = true
				d.errs = append(d.errs, e)
			}
		}
		c.base = resolveSettings(raw, cycle)
		for _, bn := range slices.Sorted(mapsKeys(banks)) {
			resolveSettings(*c.apply([]string{bn}), cycle)
		}
	}
	if len(d.errs) > 0 {
		d.errs.sort()
		return nil, d.errs
	}
	c.warnings = d.warns
	return c, nil
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func suggestBank(banks map[string]*policyBank, name string) string {
	for n := range banks {
		if strings.EqualFold(n, name) || editDistance(strings.ToLower(n), strings.ToLower(name), 2) <= 2 {
			return n
		}
	}
	return ""
}

// File returns the name the configuration was read from.
func (c *Config) File() string { return c.file }

// Warnings returns the non-fatal findings (retired or ignored settings,
// likely mistakes), in file order.
func (c *Config) Warnings() []Warning { return slices.Clone(c.warnings) }

// Banks returns the names of the defined policy banks, sorted.
func (c *Config) Banks() []string { return slices.Sorted(mapsKeys(c.banks)) }

// HasBank reports whether a policy bank is defined.
func (c *Config) HasBank(name string) bool { _, ok := c.banks[name]; return ok }

// IsSet reports whether the file set a global setting (by its amavis name
// or an alias), and where. [mavis] settings are named "mavis.<key>".
func (c *Config) IsSet(name string) (Pos, bool) {
	if m, ok := strings.CutPrefix(name, "mavis."); ok {
		st := schema.byName["mavis"].sub.byName[m]
		if st == nil {
			return Pos{}, false
		}
		name = st.name
	} else if st := schema.byName[name]; st != nil {
		name = st.name
	}
	p, ok := c.set[name]
	return p, ok
}

// Raw returns the global settings before lookup refs are resolved (as
// Dump prints them). Do not modify.
func (c *Config) Raw() *Settings { return c.raw }

// Settings returns the effective settings with the named policy banks
// loaded in order, as amavis's load_policy_bank does: later banks override
// earlier ones; a bank's tables merge key-wise into the current value
// unless they say REPLACE = true; loading "MYNETS" sets originating first;
// loading the bank that is already current does nothing; unknown names are
// ignored; "" goes back to the base settings. Without arguments it returns
// the base snapshot. The result is shared and must not be modified.
func (c *Config) Settings(banks ...string) *Settings {
	if len(banks) == 0 {
		return c.base
	}
	key := banks[0]
	if len(banks) > 1 {
		key = strings.Join(banks, "\x00")
	}
	if v, ok := c.cache.Load(key); ok {
		return v.(*Settings)
	}
	s := resolveSettings(*c.apply(banks), nil)
	if c.cached.Add(1) <= maxCachedSnapshots {
		if v, loaded := c.cache.LoadOrStore(key, s); loaded {
			return v.(*Settings)
		}
	}
	return s
}

// apply loads banks onto a copy of the raw settings (refs unresolved).
func (c *Config) apply(banks []string) *Settings {
	s := *c.raw
	for _, name := range banks {
		if name == "" {
			s = *c.raw
			continue
		}
		b, ok := c.banks[name]
		if !ok || name == s.PolicyBankName {
			continue
		}
		if name == "MYNETS" {
			s.Originating = Some(true)
		}
		for _, a := range b.assigns {
			a.apply(&s)
		}
		if s.PolicyBankPath == "" {
			s.PolicyBankPath = name
		} else {
			s.PolicyBankPath += "/" + name
		}
		s.PolicyBankName = name
	}
	return &s
}

// Get returns a setting's value by its amavis name (or alias), as the
// field's Go type (Opt[int], Maps, ...). [mavis] settings are named
// "mavis.<key>".
func (s *Settings) Get(name string) (any, bool) {
	st := lookupSetting(name)
	if st == nil {
		return nil, false
	}
	return st.field(s).Interface(), true
}

func lookupSetting(name string) *setting {
	if m, ok := strings.CutPrefix(name, "mavis."); ok {
		return schema.byName["mavis"].sub.byName[m]
	}
	st := schema.byName[name]
	if st != nil && st.kind == kMavis {
		return nil
	}
	return st
}

// Names returns the amavis names of all settings, in reference order
// ([mavis] ones as "mavis.<key>").
func Names() []string {
	var out []string
	for _, st := range schema.list {
		if st.kind == kMavis {
			for _, sst := range st.sub.list {
				out = append(out, "mavis."+sst.name)
			}
			continue
		}
		out = append(out, st.name)
	}
	return out
}

// IsDynamic reports whether a setting may be set in a policy bank.
func IsDynamic(name string) bool {
	st := lookupSetting(name)
	return st != nil && st.dyn
}

func reflectOf(x any) reflect.Value { return reflect.ValueOf(x) }

func reflectValue(st *setting, v any) reflect.Value {
	rv := reflect.ValueOf(v)
	if rv.Type() != st.typ {
		panic(fmt.Sprintf("config: %s wants %s, got %s", st.name, st.typ, rv.Type()))
	}
	return rv
}
