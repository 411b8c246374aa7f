package decode

import (
	"fmt"
	"strconv"
	"strings"
)

// Tree renders the part tree for `mavis check`: one line per part, indented
// by nesting, with ID, placement, declared MIME type, names, short types,
// size and attributes, then the hold and UNCHECKED reasons.
func (r *Result) Tree() string {
	var b strings.Builder
	kids := make([][]int, len(r.Parts)+1) // last slot: top level
	for i, p := range r.Parts {
		k := p.Parent
		if k < 0 || k >= len(r.Parts) {
			k = len(r.Parts)
		}
		kids[k] = append(kids[k], i)
	}
	var walk func(i, indent int)
	walk = func(i, indent int) {
		p := &r.Parts[i]
		b.WriteString(strings.Repeat("  ", indent))
		b.WriteString(p.ID + " " + p.Placement)
		if p.MIMEType != "" {
			b.WriteString(" " + p.MIMEType)
		}
		for _, n := range p.Names {
			b.WriteString(" " + strconv.Quote(n))
		}
		if len(p.Types) > 0 {
			b.WriteString(" [" + strings.Join(p.Types, ",") + "]")
		}
		if !p.Container {
			b.WriteString(" " + humanSize(p.Size))
		}
		if p.Attrs != "" {
			b.WriteString(" A=" + p.Attrs)
		}
		if p.Macros {
			b.WriteString(" macros")
		}
		for _, e := range p.Errors {
			b.WriteString("\n" + strings.Repeat("  ", indent+2) + "! " + e)
		}
		b.WriteByte('\n')
		for _, k := range kids[i] {
			walk(k, indent+1)
		}
	}
	for _, k := range kids[len(r.Parts)] {
		walk(k, 0)
	}
	for _, e := range r.MIMEErrors {
		b.WriteString("MIME error: " + e + "\n")
	}
	if r.Hold != "" {
		b.WriteString("X-Amavis-Hold: " + r.Hold + "\n")
	}
	for _, u := range r.Unchecked {
		b.WriteString(fmt.Sprintf("%s: %s", MinorNames[u.Minor], u.Reason))
		if u.Part != "" {
			b.WriteString(" (" + u.Part + ")")
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func humanSize(n int64) string {
	switch {
	case n >= 10<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 10<<10:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}
