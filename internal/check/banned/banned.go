// Package banned implements amavis's banned-contents check: every leaf part
// of the decoded message (the files inside archives included) is described
// by the chain of parts leading to it, and that description is matched
// against the recipient's banned rules (banned_filename_re and friends,
// evaluated rule-major with "allow" rules whose value is false) and against
// banned_namepath_re. A match makes the message CC_BANNED for the
// recipient, naming the offending part.
package banned

import (
	"strings"

	"github.com/mavis-filter/mavis/internal/config"
	"github.com/mavis-filter/mavis/internal/decode"
)

// Hit is one banned part.
type Hit struct {
	Part int    // index into decode.Result.Parts
	ID   string // part id, e.g. "p004"
	// Reason is amavis's banning_reason_short: "[rule comment:]" plus the
	// leaf's traditional keys joined by ",", e.g.
	// "application/octet-stream,.exe,.exe-ms,setup.exe".
	Reason string
	// Path is the whole chain in the traditional form, nodes joined by
	// " | " (amavis's p.path log text).
	Path string
	// Rule is the matching rule's source; Value its right-hand side.
	Rule  string
	Value string
	// DiscardDSN is set when the rule's value starts with "DISCARD"
	// (amavis: the DSN is suppressed).
	DiscardDSN bool
}

// Keys returns the traditional keys of one part: each declared MIME type,
// each short type with a dot in front, each declared name, and
// UNDECIPHERABLE for an undecipherable part.
func Keys(p *decode.Part) []string {
	var k []string
	if p.MIMEType != "" {
		k = append(k, clean(p.MIMEType))
	}
	for _, t := range p.Types {
		if t != "" {
			k = append(k, "."+clean(t))
		}
	}
	for _, n := range p.Names {
		if n != "" {
			k = append(k, clean(n))
		}
	}
	if strings.ContainsRune(p.Attrs, 'U') {
		k = append(k, "UNDECIPHERABLE")
	}
	return k
}

func clean(s string) string { return strings.NewReplacer("\t", " ", "\n", " ").Replace(s) }

// Check evaluates every leaf part of res. tables are the recipient's
// regexp tables (from banned_filename_maps through banned_rules), tried in
// order as one lookup; namepath is banned_namepath_re (may be nil), tried
// when the tables gave no verdict for a part. It returns the banned parts.
func Check(res *decode.Result, tables []config.Regexps, namepath config.Regexps) []Hit {
	if res == nil {
		return nil
	}
	var hits []Hit
	for _, i := range res.Leaves() {
		if res.Parts[i].Container {
			continue
		}
		chain := res.Chain(i)
		var keys []string
		var trad []string
		for _, j := range chain {
			k := Keys(&res.Parts[j])
			keys = append(keys, k...)
			trad = append(trad, strings.Join(k, ","))
		}
		leaf := trad[len(trad)-1]
		path := strings.Join(trad, " | ")
		rule, val, found := lookupRules(tables, keys)
		if !found && len(namepath) > 0 {
			rule, val, found = lookupRules([]config.Regexps{namepath}, []string{res.NamePath(i)})
		}
		if !found || !val.Truth() {
			continue
		}
		reason := compactBlanks(leaf)
		if rule.Re.Comment != "" {
			reason = rule.Re.Comment + ":" + reason
		}
		vs := val.Str()
		hits = append(hits, Hit{
			Part: i, ID: res.Parts[i].ID, Reason: reason, Path: path,
			Rule: rule.Re.Source, Value: vs,
			DiscardDSN: strings.HasPrefix(strings.ToUpper(vs), "DISCARD"),
		})
	}
	return hits
}

// lookupRules is amavis's regexp-table lookup over a list of keys: for each
// rule in order (across the tables), every key is tried; the first rule
// that matches any key decides.
func lookupRules(tables []config.Regexps, keys []string) (config.RegexpRule, config.Value, bool) {
	for _, t := range tables {
		for _, r := range t {
			if r.Re == nil {
				continue
			}
			for _, k := range keys {
				if r.Re.MatchString(k) {
					v := r.Value
					if v.IsUndef() {
						v = config.IntValue(1)
					}
					return r, v, true
				}
			}
		}
	}
	return config.RegexpRule{}, config.Value{}, false
}

// compactBlanks replaces runs of six or more blanks by " ... ".
func compactBlanks(s string) string {
	var b strings.Builder
	run := 0
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' || s[i] == '\t' {
			run++
			continue
		}
		if run >= 6 {
			b.WriteString(" ... ")
		} else {
			b.WriteString(s[i-run : i])
		}
		run = 0
		b.WriteByte(s[i])
	}
	if run >= 6 {
		b.WriteString(" ... ")
	} else {
		b.WriteString(s[len(s)-run:])
	}
	return b.String()
}
