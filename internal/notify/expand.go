package notify

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
)

// This file is a macro expander for amavis's template language (amavis's
// README.customize): %x and %#x simple macros, [:name|arg|...] calls,
// [@name|...] calls whose result is expanded again, [?cond|a|b|...]
// selectors, [~string|regexp|then|...|else] regexp selectors, [%x|body|sep]
// and [name|%x|body|sep] iterators over list macros, [=name|body] macro
// definitions with %0..%9 formal arguments, ["..."] quoting, # comments
// that eat the rest of the line, \n \t \r \f \b \e \a \nnn escapes, \ at a
// line end joining lines, and SpamAssassin-style _NAME(arg)_ calls. It
// follows amavis's token-stream semantics (results of active calls are
// pushed back onto the input; selector and iterator arguments are
// implicitly quoted) so that existing template files expand as they did.

// Value is the value of a builtin macro: a string or a list of strings.
// An undefined scalar is the zero Value.
type Value struct {
	Str     string
	List    []string
	IsList  bool
	Defined bool
}

// S returns a defined string value.
func S(s string) Value { return Value{Str: s, Defined: true} }

// L returns a list value.
func L(l []string) Value { return Value{List: l, IsList: true, Defined: true} }

// Macro computes a builtin macro; args are the call's arguments after the
// macro name (none for %x).
type Macro func(args []string) Value

// Macros maps macro names to builtins.
type Macros map[string]Macro

// Expansion limits: a template that recurses or explodes stops here.
const (
	maxSteps  = 1_000_000
	maxOutput = 4 << 20
)

// ErrTooComplex is returned when an expansion exceeds its limits.
var ErrTooComplex = errors.New("template expansion exceeds limits")

type tkind uint8

const (
	tText  tkind = iota // plain text
	tLex                // [ [? [~ [@ [: [= [" "] ] | #
	tMacro              // %x or %#x
	tArg                // %0 .. %9
	tNL                 // \n escape: a newline that # does not stop at
	tSA                 // _NAME(arg)_
)

type token struct {
	k    tkind
	s    string // text, lexel, "%x"/"%#x", "%N", "\n", or SA name
	arg  string // SA argument
	hasA bool   // SA argument present
}

func (t token) str() string {
	if t.k == tSA {
		s := "_" + t.s
		if t.hasA {
			s += "(" + t.arg + ")"
		}
		return s + "_"
	}
	return t.s
}

func toksString(ts []token) string {
	var b strings.Builder
	for _, t := range ts {
		b.WriteString(t.str())
	}
	return b.String()
}

func isLex(t token, s string) bool { return t.k == tLex && t.s == s }

// tokenize splits a template into tokens as amavis's lexer does.
func tokenize(src string) []token {
	var out []token
	text := func(s string) {
		if s == "" {
			return
		}
		out = append(out, token{k: tText, s: s})
	}
	for i := 0; i < len(src); {
		c := src[i]
		switch {
		case c == '#':
			out = append(out, token{k: tLex, s: "#"})
			i++
		case c == '[':
			if i+1 < len(src) && strings.IndexByte(`?~@:="`, src[i+1]) >= 0 {
				out = append(out, token{k: tLex, s: src[i : i+2]})
				i += 2
			} else {
				out = append(out, token{k: tLex, s: "["})
				i++
			}
		case c == '"' && i+1 < len(src) && src[i+1] == ']':
			out = append(out, token{k: tLex, s: `"]`})
			i += 2
		case c == ']' || c == '|':
			out = append(out, token{k: tLex, s: src[i : i+1]})
			i++
		case c == '%' && i+1 < len(src):
			if src[i+1] == '%' {
				text("%")
				i += 2
				break
			}
			n := 2
			if src[i+1] == '#' && i+2 < len(src) {
				n = 3
			}
			m := src[i : i+n]
			if n == 2 && m[1] >= '0' && m[1] <= '9' {
				out = append(out, token{k: tArg, s: m})
			} else {
				out = append(out, token{k: tMacro, s: m})
			}
			i += n
		case c == '\\' && i+1 < len(src):
			d := src[i+1]
			if d >= '0' && d <= '7' {
				j := i + 1
				for j < len(src) && j < i+4 && src[j] >= '0' && src[j] <= '7' {
					j++
				}
				v, _ := strconv.ParseUint(src[i+1:j], 8, 16)
				text(string([]byte{byte(v)}))
				i = j
				break
			}
			i += 2
			switch d {
			case '\n', '_':
			case 'n':
				out = append(out, token{k: tNL, s: "\n"})
			case 'r':
				text("\r")
			case 'f':
				text("\f")
			case 'b':
				text("\b")
			case 'e':
				text("\x1b")
			case 'a':
				text("\a")
			case 't':
				text("\t")
			default:
				text(string(d))
			}
		case c == '_':
			if t, n, ok := saMacro(src[i:]); ok {
				out = append(out, t)
				i += n
			} else {
				text("_")
				i++
			}
		case c == '\n':
			text("\n")
			i++
		default:
			j := i
			for j < len(src) && strings.IndexByte("[]\\|%\n#\"_", src[j]) < 0 {
				j++
			}
			if j == i { // a lone '"', or '%'/'\' at the very end
				j = i + 1
			}
			text(src[i:j])
			i = j
		}
	}
	return out
}

// saMacro recognises _NAME_ or _NAME(arg)_ at the start of s.
func saMacro(s string) (token, int, bool) {
	j := 1
	for j < len(s) && s[j] >= 'A' && s[j] <= 'Z' {
		j++
	}
	if j == 1 || j >= len(s) {
		return token{}, 0, false
	}
	name := s[1:j]
	if s[j] == '_' {
		return token{k: tSA, s: name}, j + 1, true
	}
	if s[j] != '(' {
		return token{}, 0, false
	}
	end := strings.IndexByte(s[j:], ')')
	if end < 0 || j+end+1 >= len(s) || s[j+end+1] != '_' {
		return token{}, 0, false
	}
	return token{k: tSA, s: name, arg: s[j+1 : j+end], hasA: true}, j + end + 2, true
}

type frame struct {
	typ      string    // the opening lexel
	args     [][]token // collected arguments
	impliedQ bool
}

type expander struct {
	macros Macros
	user   map[string][]token
	steps  int
	over   bool // a result would exceed the limits
}

// budget reports whether n more tokens fit into the limits.
func (e *expander) budget(n int) bool {
	if e.steps+n > maxSteps {
		e.over = true
		return false
	}
	return true
}

// Expand expands a template with the given builtins. Unknown macros expand
// to nothing. It returns ErrTooComplex (with the output so far) when the
// expansion runs away.
func Expand(tmpl string, m Macros) (string, error) {
	e := &expander{macros: m, user: map[string][]token{}}
	return e.run(tokenize(tmpl))
}

func (e *expander) run(input []token) (string, error) {
	// queue holds the input reversed: the next token is the last one, and
	// results pushed back onto the input are appended in reverse.
	queue := make([]token, len(input))
	for i, t := range input {
		queue[len(input)-1-i] = t
	}
	var out strings.Builder
	var stack []*frame
	var openQuote []string
	quote := 0
	emit := func(t token) {
		if n := len(stack); n > 0 {
			f := stack[n-1]
			f.args[len(f.args)-1] = append(f.args[len(f.args)-1], t)
			return
		}
		out.WriteString(t.str())
	}
	popQuote := func() {
		if n := len(openQuote); n > 0 {
			if openQuote[n-1] == `["` {
				quote -= 2
			} else {
				quote--
			}
			openQuote = openQuote[:n-1]
		}
	}
	for len(queue) > 0 {
		e.steps++
		if e.over || e.steps > maxSteps || out.Len() > maxOutput || len(queue) > maxSteps {
			return out.String(), ErrTooComplex
		}
		t := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		isOpen := t.k == tLex && t.s[0] == '['
		isClose := t.k == tLex && (t.s == "]" || t.s == `"]`)
		switch {
		case t.k == tText:
			emit(t)
		case quote > 0 && isOpen:
			if t.s == `["` {
				quote += 2
			} else {
				quote++
			}
			openQuote = append(openQuote, t.s)
			emit(t)
		case t.k == tLex && t.s == `["`:
			quote += 2
			openQuote = append(openQuote, t.s)
		case isOpen:
			f := &frame{typ: t.s, args: [][]token{nil}}
			stack = append(stack, f)
			if t.s == "[" { // an iterator quotes all its arguments
				quote++
				openQuote = append(openQuote, t.s)
				f.impliedQ = true
			}
		case quote <= 1 && len(stack) > 0 && isLex(t, "|"):
			f := stack[len(stack)-1]
			f.args = append(f.args, nil)
			if f.typ == "[?" && len(f.args) == 2 { // selector alternatives are quoted
				quote++
				openQuote = append(openQuote, f.typ)
				f.impliedQ = true
			}
		case quote > 1 && isClose:
			popQuote()
			if t.s == "]" || quote > 0 {
				emit(t)
			}
		case len(stack) > 0 && isClose:
			f := stack[len(stack)-1]
			if t.s == `"]` {
				emit(token{k: tText, s: `"`})
			}
			if f.impliedQ && quote > 0 {
				popQuote()
			}
			res := e.eval(f.typ, f.args)
			e.steps += len(res) // copying results is work too
			stack = stack[:len(stack)-1]
			if f.typ == "[:" { // neutral call: the result is not rescanned
				for _, r := range res {
					emit(r)
				}
			} else {
				for i := len(res) - 1; i >= 0; i-- {
					queue = append(queue, res[i])
				}
			}
		case quote > 0:
			emit(t)
		case isLex(t, "#"):
			for len(queue) > 0 {
				d := queue[len(queue)-1]
				queue = queue[:len(queue)-1]
				if d.k == tText && d.s == "\n" {
					break
				}
			}
		case t.k == tMacro:
			for _, r := range e.eval(t.s, nil) {
				emit(r)
			}
		case t.k == tSA:
			args := [][]token{{{k: tText, s: t.s}}}
			if t.hasA {
				args = append(args, []token{{k: tText, s: t.arg}})
			}
			for _, r := range e.eval("[:", args) {
				emit(r)
			}
		default: // a misplaced lexel, %N or \n: kept as text
			emit(t)
		}
	}
	if e.over {
		return out.String(), ErrTooComplex
	}
	// unclosed calls: their collected text is lost, as in amavis
	return out.String(), nil
}

func trimName(s string) string { return strings.Trim(s, " \t\n") }

func isWhite(s string) bool { return strings.Trim(s, " \t\n\r\f\v") == "" }

func textTok(s string) token { return token{k: tText, s: s} }

// call evaluates a builtin or user macro by name.
func (e *expander) lookup(name string, args []string) (Value, []token, bool) {
	if u, ok := e.user[name]; ok {
		return Value{}, u, true
	}
	if m, ok := e.macros[name]; ok && m != nil {
		return m(args), nil, false
	}
	return Value{}, nil, false
}

func (e *expander) eval(typ string, args [][]token) []token {
	switch typ {
	case "[?":
		sel := toksString(args[0])
		alts := args[1:]
		n := 0
		if t := strings.TrimSpace(sel); t == "" {
			n = 0
		} else if isDigits(t) {
			v, err := strconv.Atoi(t)
			if err != nil {
				v = len(alts) // huge: the last alternative
			}
			n = v
		} else {
			n = 1
		}
		if len(alts) >= 2 && n > len(alts)-1 {
			n = len(alts) - 1
		}
		if n < len(alts) {
			return alts[n]
		}
		return nil
	case "[~":
		str := toksString(args[0])
		rest := args[1:]
		var repl []string
		for len(rest) >= 2 {
			re := toksString(rest[0])
			match := false
			repl = nil
			if re == "" {
				match = true
			} else if rx, err := compileRe(re); err == nil {
				if m := rx.FindStringSubmatch(str); m != nil {
					match = true
					repl = m[1:]
				}
			}
			rest = rest[1:]
			if match {
				break
			}
			rest = rest[1:]
		}
		if len(rest) == 0 {
			return nil
		}
		repl = append([]string{str}, repl...)
		var out []token
		for _, t := range rest[0] {
			if t.k == tArg {
				i := int(t.s[1] - '0')
				if i < len(repl) {
					out = append(out, textTok(repl[i]))
				}
				continue
			}
			out = append(out, t)
		}
		return out
	case "[":
		var cvar, body, sep []token
		if len(args) >= 3 {
			cvar, body, sep = args[0], args[1], args[2]
		} else {
			body = args[0]
			if len(args) == 2 {
				sep = args[1]
			}
			cvar = body
		}
		name, iter := "", ""
		for _, t := range cvar {
			if (t.k == tMacro || t.k == tArg) && len(t.s) == 2 {
				name, iter = t.s[1:], t.s
				break
			}
		}
		if len(args) >= 3 && name == "" {
			name = trimName(toksString(cvar))
			if name == "" {
				return nil
			}
			iter = "%x"
		}
		if name == "" {
			return nil
		}
		v, utoks, ok := e.lookup(name, nil)
		if !ok && utoks == nil && !e.known(name) {
			return nil
		}
		var vals []string
		switch {
		case utoks != nil:
			vals = []string{toksString(e.substArgs(utoks, [][]token{{textTok(name)}}))}
		case v.IsList:
			vals = v.List
		default:
			vals = []string{v.Str}
		}
		if !e.budget(len(vals) * (len(body) + len(sep))) {
			return nil
		}
		var out []token
		for i, val := range vals {
			if i > 0 {
				out = append(out, sep...)
			}
			for _, t := range body {
				if (t.k == tMacro || t.k == tArg) && t.s == iter {
					out = append(out, textTok(val))
				} else {
					out = append(out, t)
				}
			}
		}
		return out
	case "[=":
		name := trimName(toksString(args[0]))
		var def []token
		if len(args) > 1 {
			def = append([]token(nil), args[1]...)
		}
		e.user[name] = def
		return nil
	}
	// a macro call: [:name|...], [@name|...], %x, %#x
	var name string
	card := false
	var sargs []string
	if typ == "[:" || typ == "[@" {
		name = trimName(toksString(args[0]))
		for _, a := range args[1:] {
			sargs = append(sargs, toksString(a))
		}
	} else {
		name = typ[1:]
		if len(name) == 2 && name[0] == '#' {
			card, name = true, name[1:]
		}
	}
	v, utoks, isUser := e.lookup(name, sargs)
	if isUser {
		targs := [][]token{{textTok(name)}}
		if len(args) > 1 {
			targs = append(targs, args[1:]...)
		}
		res := e.substArgs(utoks, targs)
		if card {
			return []token{textTok(boolDigit(!isWhite(toksString(res))))}
		}
		return res
	}
	if card {
		if v.IsList {
			return []token{textTok(strconv.Itoa(len(v.List)))}
		}
		return []token{textTok(boolDigit(!isWhite(v.Str)))}
	}
	if v.IsList {
		return []token{textTok(strings.Join(v.List, ", "))}
	}
	if v.Str == "" {
		return nil
	}
	return []token{textTok(v.Str)}
}

func (e *expander) known(name string) bool {
	_, ok := e.macros[name]
	return ok
}

func (e *expander) substArgs(body []token, args [][]token) []token {
	n := 0
	for _, t := range body {
		if t.k == tArg {
			if i := int(t.s[1] - '0'); i < len(args) {
				n += len(args[i])
			}
			continue
		}
		n++
	}
	if !e.budget(n) {
		return nil
	}
	out := make([]token, 0, n)
	for _, t := range body {
		if t.k == tArg {
			if i := int(t.s[1] - '0'); i < len(args) {
				out = append(out, args[i]...)
			}
			continue
		}
		out = append(out, t)
	}
	return out
}

func boolDigit(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// compileRe compiles a Perl-style regexp as far as Go's syntax allows;
// amavis treats an invalid one as not matching.
func compileRe(re string) (*regexp.Regexp, error) {
	if len(re) > 1000 {
		return nil, errors.New("regexp too long")
	}
	return regexp.Compile(re)
}
