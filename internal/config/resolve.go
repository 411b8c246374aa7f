package config

import (
	"slices"
	"time"
)

// refable reports whether a lookup list may refer to a setting of st's
// kind, and so what the reference turns into.
func refable(st *setting) bool {
	switch st.kind {
	case kMaps, kIPACL, kHash, kRegexps, kAdmin,
		kOptBool, kOptInt, kOptFloat, kOptString, kOptDestiny, kOptDuration, kOptTemplate:
		return true
	case kStrings:
		return st.keys != "" // the legacy *_acl lists
	}
	return false
}

func hasRef(m Maps) bool {
	for _, sp := range m {
		if sp.Type == LookupRef {
			return true
		}
	}
	return false
}

// resolver replaces LookupRef entries by what they refer to, in one
// snapshot: a ref to a *_maps setting splices its tables in, a ref to a
// legacy ACL/hash/regexp setting becomes that table (nothing when empty),
// a ref to a scalar becomes a constant (nothing when undef, which amavis
// treats as "try the next table" anyway).
type resolver struct {
	s       *Settings
	stack   []string
	onCycle func(stack []string, pos Pos)
}

// resolveSettings resolves every lookup list of s (a copy) and returns it.
// onCycle, when not nil, is told about reference cycles, which resolve to
// nothing.
func resolveSettings(s Settings, onCycle func(stack []string, pos Pos)) *Settings {
	r := &resolver{s: &s, onCycle: onCycle}
	for _, st := range schema.list {
		f := st.field(&s)
		switch st.kind {
		case kMaps:
			if m := f.Interface().(Maps); hasRef(m) {
				r.stack = append(r.stack[:0], st.name)
				f.Set(reflectOf(r.maps(m)))
			}
		case kByCcat:
			b := f.Interface().(ByCcat)
			if !byCcatHasRef(b) {
				continue
			}
			out := make(ByCcat, len(b))
			for k, m := range b {
				r.stack = append(r.stack[:0], st.name)
				out[k] = r.maps(m)
			}
			f.Set(reflectOf(out))
		case kNamedMaps:
			n := f.Interface().(NamedMaps)
			changed := false
			for _, m := range n {
				changed = changed || hasRef(m)
			}
			if !changed {
				continue
			}
			out := make(NamedMaps, len(n))
			for k, m := range n {
				r.stack = append(r.stack[:0], st.name)
				out[k] = r.maps(m)
			}
			f.Set(reflectOf(out))
		case kIPPolicies:
			ps := f.Interface().([]IPPolicy)
			if !slices.ContainsFunc(ps, func(p IPPolicy) bool { return hasRef(p.Maps) }) {
				continue
			}
			out := slices.Clone(ps)
			for i := range out {
				r.stack = append(r.stack[:0], st.name)
				out[i].Maps = r.maps(out[i].Maps)
			}
			f.Set(reflectOf(out))
		}
	}
	return &s
}

func byCcatHasRef(b ByCcat) bool {
	for _, m := range b {
		if hasRef(m) {
			return true
		}
	}
	return false
}

func (r *resolver) maps(m Maps) Maps {
	if !hasRef(m) {
		return m
	}
	out := make(Maps, 0, len(m))
	for _, sp := range m {
		if sp.Type != LookupRef {
			out = append(out, sp)
			continue
		}
		out = append(out, r.target(sp.Ref, sp.Pos)...)
	}
	return out
}

func (r *resolver) target(name string, pos Pos) Maps {
	st := schema.byName[name]
	if st == nil || !refable(st) {
		return nil
	}
	if slices.Contains(r.stack, st.name) {
		if r.onCycle != nil {
			r.onCycle(append(slices.Clone(r.stack), st.name), pos)
		}
		return nil
	}
	r.stack = append(r.stack, st.name)
	defer func() { r.stack = r.stack[:len(r.stack)-1] }()
	f := st.field(r.s)
	switch st.kind {
	case kMaps:
		return r.maps(f.Interface().(Maps))
	case kStrings:
		if l := f.Interface().([]string); len(l) > 0 {
			return Maps{{Type: LookupACL, ACL: l}}
		}
	case kIPACL:
		if l := f.Interface().(IPACL); len(l) > 0 {
			return Maps{{Type: LookupACL, IPACL: l}}
		}
	case kHash:
		if h := f.Interface().(Hash); len(h) > 0 {
			return Maps{{Type: LookupHash, Entries: h}}
		}
	case kRegexps:
		if rs := f.Interface().(Regexps); len(rs) > 0 {
			return Maps{{Type: LookupRegexp, Rules: rs}}
		}
	case kAdmin:
		a := f.Interface().(AdminAddr)
		var out Maps
		if len(a.ByDomain) > 0 {
			out = append(out, LookupSpec{Type: LookupHash, Entries: a.ByDomain})
		}
		if v, ok := a.Addr.Get(); ok {
			out = append(out, LookupSpec{Type: LookupConst, Value: StringValue(v)})
		}
		return out
	default:
		if v, ok := optValue(st, f.Interface()); ok {
			return Maps{{Type: LookupConst, Value: v}}
		}
	}
	return nil
}

// optValue converts a scalar setting to a lookup Value.
func optValue(st *setting, x any) (Value, bool) {
	switch o := x.(type) {
	case Opt[bool]:
		v, ok := o.Get()
		return BoolValue(v), ok
	case Opt[int]:
		v, ok := o.Get()
		return IntValue(int64(v)), ok
	case Opt[float64]:
		v, ok := o.Get()
		return FloatValue(v), ok
	case Opt[string]:
		v, ok := o.Get()
		return StringValue(v), ok
	case Opt[Destiny]:
		v, ok := o.Get()
		return StringValue(v.String()), ok
	case Opt[time.Duration]:
		v, ok := o.Get()
		return IntValue(int64(v / time.Second)), ok
	case Opt[Template]:
		v, ok := o.Get()
		if v.File != "" {
			return TableValue(map[string]Value{"file": StringValue(v.File)}), ok
		}
		return StringValue(v.Text), ok
	}
	_ = st
	return Value{}, false
}
