package app

import (
	"fmt"
	"regexp"

	"github.com/mavis-filter/mavis/internal/config"
	"github.com/mavis-filter/mavis/internal/lookup"
)

// Tables compiles a *_maps setting (config's lookup specs) into lookup
// tables with amavis's semantics.
func Tables(name string, m config.Maps, rules lookup.Rules) (lookup.Maps, error) {
	out := lookup.Maps{Name: name}
	for i, spec := range m {
		t, err := table(spec, rules)
		if err != nil {
			return out, fmt.Errorf("%s: table %d (%s): %w", name, i+1, spec.Type, err)
		}
		if t != nil {
			out.Tables = append(out.Tables, t)
		}
	}
	return out, nil
}

func table(spec config.LookupSpec, rules lookup.Rules) (lookup.Table, error) {
	switch spec.Type {
	case config.LookupConst:
		return lookup.Const{Value: Value(spec.Value)}, nil
	case config.LookupACL:
		if spec.File != "" {
			return lookup.NewACLFile(spec.File, rules)
		}
		if len(spec.IPACL) > 0 {
			return lookup.NewIPACL(spec.IPACL.Raw()...)
		}
		return lookup.NewACL(spec.ACL, rules), nil
	case config.LookupHash:
		entries := map[string]any{}
		for k, v := range spec.Entries {
			if v.Kind() == config.KindMaps {
				// A hash whose values are lookup lists (score_sender_maps,
				// per_recip_*_sender_lookup_tables).
				m, err := Tables(k, v.Maps(), rules)
				if err != nil {
					return nil, err
				}
				entries[k] = m
				continue
			}
			entries[k] = Value(v)
		}
		if spec.File != "" {
			fromFile, err := lookup.ReadHashFile(spec.File, rules)
			if err != nil {
				return nil, err
			}
			for k, v := range fromFile {
				if _, ok := entries[k]; !ok {
					entries[k] = v
				}
			}
		}
		return lookup.NewHash(entries, rules), nil
	case config.LookupRegexp:
		res := make([]*regexp.Regexp, len(spec.Rules))
		vals := make([]any, len(spec.Rules))
		for i, r := range spec.Rules {
			res[i] = r.Re.Re()
			vals[i] = Value(r.Value)
			if r.Value.IsUndef() {
				vals[i] = int64(1)
			}
		}
		return lookup.NewRECompiled(res, vals), nil
	case config.LookupCIDR:
		if spec.File != "" {
			return lookup.NewIPACLFile(spec.File)
		}
		return lookup.NewIPACL(spec.IPACL.Raw()...)
	case config.LookupSQL, config.LookupLDAP:
		return nil, fmt.Errorf("%s lookups are not available in this table", spec.Type)
	}
	return nil, fmt.Errorf("unsupported lookup table type %s", spec.Type)
}

// Value converts a config value to the plain Go value lookup tables hold.
func Value(v config.Value) any {
	switch v.Kind() {
	case config.KindUndef:
		return nil
	case config.KindBool:
		return v.Truth()
	case config.KindInt:
		f, _ := v.Number()
		return int64(f)
	case config.KindFloat:
		f, _ := v.Number()
		return f
	case config.KindString:
		return v.Str()
	case config.KindList:
		var out []any
		for _, x := range v.List() {
			out = append(out, Value(x))
		}
		return out
	case config.KindTable:
		out := map[string]any{}
		for k, x := range v.Table() {
			out[k] = Value(x)
		}
		return out
	}
	return v.String()
}
