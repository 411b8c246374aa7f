package config

import (
	"sort"
	"strconv"
	"strings"

	"github.com/pelletier/go-toml/v2/unstable"
)

// A path names a value in the document: table keys, and array indexes as
// components that start with idxMark.
const idxMark = "\x01"

func idxComp(i int) string { return idxMark + strconv.Itoa(i) }

func pathKey(path []string) string { return strings.Join(path, "\x00") }

// displayKey renders a path for messages: policy_bank."AM.PDP-SOCK".protocol,
// local_domains_maps[1].type.
func displayKey(path []string) string {
	var b strings.Builder
	for i, c := range path {
		if strings.HasPrefix(c, idxMark) {
			b.WriteString("[" + c[len(idxMark):] + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(tomlKey(c))
	}
	return b.String()
}

// posIndex maps value paths to the line where they are written. go-toml's
// decoder gives values but no positions, so the document is walked once
// more with go-toml's own parser (unstable.Parser) to note them.
type posIndex struct {
	lines map[string]int
	// arrays counts the [[array tables]] seen per path, to number them.
	arrays map[string]int
	starts []int // byte offset of each line start
}

func newPosIndex(data []byte) *posIndex {
	ix := &posIndex{lines: map[string]int{}, arrays: map[string]int{}, starts: []int{0}}
	for i, c := range data {
		if c == '\n' {
			ix.starts = append(ix.starts, i+1)
		}
	}
	var p unstable.Parser
	p.Reset(data)
	var table []string
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table, unstable.ArrayTable:
			parts, line := ix.keyOf(e.Key())
			path := ix.expandArrays(parts)
			if e.Kind == unstable.ArrayTable {
				k := pathKey(path)
				n := ix.arrays[k]
				ix.arrays[k] = n + 1
				ix.setPrefixes(path, line)
				path = append(path, idxComp(n))
			}
			ix.setPrefixes(path, line)
			table = path
		case unstable.KeyValue:
			parts, line := ix.keyOf(e.Key())
			path := append(append([]string(nil), table...), parts...)
			ix.setPrefixes(path, line)
			ix.value(path, e.Value(), line)
		}
	}
	// Errors were reported by the decoder already; a partial index is fine.
	return ix
}

// expandArrays inserts the current element index after every prefix that
// names an array of tables ([a.b] after [[a]] is inside a's last element).
func (ix *posIndex) expandArrays(parts []string) []string {
	var path []string
	for _, p := range parts {
		path = append(path, p)
		if n, ok := ix.arrays[pathKey(path)]; ok {
			path = append(path, idxComp(n-1))
		}
	}
	return path
}

func (ix *posIndex) keyOf(it unstable.Iterator) ([]string, int) {
	var parts []string
	line := 0
	for it.Next() {
		n := it.Node()
		parts = append(parts, string(n.Data))
		if line == 0 {
			line = ix.lineAt(int(n.Raw.Offset))
		}
	}
	return parts, line
}

func (ix *posIndex) value(path []string, n *unstable.Node, line int) {
	switch n.Kind {
	case unstable.InlineTable:
		it := n.Children()
		for it.Next() {
			kv := it.Node()
			if kv.Kind != unstable.KeyValue {
				continue
			}
			parts, l := ix.keyOf(kv.Key())
			sub := append(append([]string(nil), path...), parts...)
			ix.setPrefixes(sub, l)
			ix.value(sub, kv.Value(), l)
		}
	case unstable.Array:
		it := n.Children()
		i := 0
		for it.Next() {
			c := it.Node()
			if c.Kind == unstable.Comment {
				continue
			}
			l := line
			if c.Raw.Length > 0 {
				l = ix.lineAt(int(c.Raw.Offset))
			} else if first := c.Child(); c.Kind == unstable.Array && first != nil && first.Raw.Length > 0 {
				l = ix.lineAt(int(first.Raw.Offset))
			}
			sub := append(append([]string(nil), path...), idxComp(i))
			ix.set(sub, l)
			ix.value(sub, c, l)
			i++
		}
	}
}

// setPrefixes records line for path and every prefix not yet known (the
// first mention of a table is where it is defined).
func (ix *posIndex) setPrefixes(path []string, line int) {
	for i := 1; i <= len(path); i++ {
		ix.set(path[:i], line)
	}
}

func (ix *posIndex) set(path []string, line int) {
	k := pathKey(path)
	if _, ok := ix.lines[k]; !ok {
		ix.lines[k] = line
	}
}

func (ix *posIndex) lineAt(off int) int {
	return sort.Search(len(ix.starts), func(i int) bool { return ix.starts[i] > off })
}

// line returns the line of path, or of its nearest known parent.
func (ix *posIndex) line(path []string) int {
	for i := len(path); i > 0; i-- {
		if l, ok := ix.lines[pathKey(path[:i])]; ok {
			return l
		}
	}
	return 0
}
