package config

import (
	"slices"
	"strings"
)

// ----- structured lists -----

func (d *decoder) ipPolicies(path []string, v any) []IPPolicy {
	var out []IPPolicy
	for i, e := range list(v) {
		ep := elemPath(path, v, i)
		m, ok := e.(map[string]any)
		if !ok {
			d.typeErr(ep, "{ maps = [...], banks = \"BANK\" }", e)
			continue
		}
		p := IPPolicy{Pos: d.pos(ep)}
		good := true
		for _, k := range sortedKeys(m) {
			kp := sub(ep, k)
			switch k {
			case "maps":
				p.Maps = d.maps(kp, m[k], "ip", "bool", true)
			case "banks":
				names, ok := d.strings(nil, kp, m[k])
				if !ok {
					good = false
					continue
				}
				for _, n := range names {
					if !d.bankList(kp, n) {
						good = false
					}
					p.Banks = append(p.Banks, splitBanks(n)...)
				}
			default:
				d.errf(kp, "unknown field (want maps, banks)")
				good = false
			}
		}
		if p.Maps == nil || len(p.Banks) == 0 {
			if good {
				d.errf(ep, "needs both maps and banks")
			}
			continue
		}
		if good {
			out = append(out, p)
		}
	}
	return out
}

// exitOrRegexp decodes a scanner's clean/infected test.
func (d *decoder) exitOrRegexp(path []string, v any) (ExitOrRegexp, bool) {
	switch x := v.(type) {
	case string:
		if x == "undef" {
			return ExitOrRegexp{}, true
		}
		re, err := CompileRegexp("(?m)" + x)
		if err != nil {
			d.errf(path, "%v", err)
			return ExitOrRegexp{}, false
		}
		re.Source = x
		return ExitOrRegexp{Regexp: re}, true
	case []any, int64:
		codes := []int{}
		for i, e := range list(v) {
			n, ok := e.(int64)
			if !ok || n < 0 || n > 255 {
				d.typeErr(elemPath(path, v, i), "an exit code 0..255", e)
				return ExitOrRegexp{}, false
			}
			codes = append(codes, int(n))
		}
		return ExitOrRegexp{Codes: codes}, true
	}
	d.typeErr(path, "exit codes or a regexp", v)
	return ExitOrRegexp{}, false
}

func (d *decoder) avScanners(path []string, v any) []AVScanner {
	var out []AVScanner
	for i, e := range list(v) {
		ep := elemPath(path, v, i)
		var sc AVScanner
		var ok bool
		switch x := e.(type) {
		case map[string]any:
			sc, ok = d.avScannerTable(ep, x)
		case []any:
			sc, ok = d.avScannerArray(ep, x)
		default:
			d.typeErr(ep, "a scanner table or amavis's [name, program, args, clean, infected, virus_name] array", e)
		}
		if ok {
			sc.Pos = d.pos(ep)
			out = append(out, sc)
		}
	}
	return out
}

var avTypes = []string{"ask_daemon", "ask_av", "command"}

func (d *decoder) avScannerTable(path []string, m map[string]any) (AVScanner, bool) {
	var sc AVScanner
	good := true
	strField := func(k string) (string, bool) {
		s, ok := m[k].(string)
		if !ok {
			d.typeErr(sub(path, k), "a string", m[k])
			good = false
		}
		return s, ok
	}
	for _, k := range sortedKeys(m) {
		kp := sub(path, k)
		switch k {
		case "name":
			sc.Name, _ = strField(k)
		case "type":
			if s, ok := strField(k); ok {
				if !slices.Contains(avTypes, s) {
					d.errf(kp, "unknown scanner type %q (want %s)", s, strings.Join(avTypes, ", "))
					good = false
				}
				sc.Type = s
			}
		case "command":
			l, ok := d.strings(nil, kp, m[k])
			sc.Command, good = l, good && ok
		case "args":
			sc.Args, _ = strField(k)
		case "sockets":
			l, ok := d.strings(nil, kp, m[k])
			sc.Sockets, good = l, good && ok
		case "clean", "infected":
			t, ok := d.exitOrRegexp(kp, m[k])
			good = good && ok
			if k == "clean" {
				sc.Clean = t
			} else {
				sc.Infected = t
			}
		case "virus_name":
			if s, ok := strField(k); ok {
				re, err := CompileRegexp("(?m)" + s)
				if err != nil {
					d.errf(kp, "%v", err)
					good = false
					continue
				}
				re.Source = s
				sc.VirusName = re
			}
		case "options":
			if t, ok := d.table(kp, m[k]); ok {
				sc.Options, _ = d.freeTable(kp, t, false)
			}
		default:
			d.errf(kp, "unknown field (want name, type, command, args, sockets, clean, infected, virus_name, options)")
			good = false
		}
	}
	if sc.Type == "" {
		if len(sc.Sockets) > 0 {
			sc.Type = "ask_daemon"
		} else {
			sc.Type = "command"
		}
	}
	if good {
		good = d.checkAVScanner(path, &sc)
	}
	return sc, good
}

func (d *decoder) checkAVScanner(path []string, sc *AVScanner) bool {
	switch {
	case sc.Name == "":
		d.errf(path, "a scanner needs a name")
	case sc.Type == "command" && len(sc.Command) == 0:
		d.errf(path, "a command scanner needs command = [...]")
	case sc.Type == "ask_daemon" && len(sc.Sockets) == 0:
		d.errf(path, "an ask_daemon scanner needs sockets = [...]")
	default:
		return true
	}
	return false
}

func (d *decoder) avScannerArray(path []string, l []any) (AVScanner, bool) {
	var sc AVScanner
	if len(l) < 3 || len(l) > 6 {
		d.errf(path, "an amavis scanner entry is [name, program, args, clean, infected, virus_name]; Perl code entries are not supported")
		return sc, false
	}
	good := true
	at := func(i int) []string { return sub(path, idxComp(i)) }
	name, ok := l[0].(string)
	if !ok {
		d.typeErr(at(0), "a scanner name", l[0])
		return sc, false
	}
	sc.Name = name
	switch p := l[1].(type) {
	case string:
		switch strings.TrimLeft(p, "\\&") {
		case "ask_daemon", "ask_av", "ask_clamav":
			sc.Type = strings.TrimLeft(p, "\\&")
			if sc.Type == "ask_clamav" {
				sc.Type = "ask_daemon"
			}
		default:
			sc.Type, sc.Command = "command", []string{p}
		}
	case []any:
		cmds, ok := d.strings(nil, at(1), p)
		sc.Type, sc.Command, good = "command", cmds, ok
	default:
		d.typeErr(at(1), "a program, a list of programs, or \"ask_daemon\"", l[1])
		return sc, false
	}
	if sc.Type == "command" {
		if sc.Args, ok = l[2].(string); !ok {
			d.typeErr(at(2), "an argument string", l[2])
			good = false
		}
	} else {
		args, isL := l[2].([]any)
		if !isL || len(args) != 2 {
			d.typeErr(at(2), "[query_template, socket or [sockets]]", l[2])
			return sc, false
		}
		if sc.Args, ok = args[0].(string); !ok {
			d.typeErr(sub(at(2), idxComp(0)), "a query template", args[0])
			good = false
		}
		socks, ok := d.strings(nil, sub(at(2), idxComp(1)), args[1])
		sc.Sockets, good = socks, good && ok
	}
	if len(l) > 3 {
		t, ok := d.exitOrRegexp(at(3), l[3])
		sc.Clean, good = t, good && ok
	}
	if len(l) > 4 {
		t, ok := d.exitOrRegexp(at(4), l[4])
		sc.Infected, good = t, good && ok
	}
	if len(l) > 5 && !isUndef(l[5]) {
		s, isS := l[5].(string)
		if !isS {
			d.typeErr(at(5), "a virus name regexp", l[5])
			return sc, false
		}
		re, err := CompileRegexp("(?m)" + s)
		if err != nil {
			d.errf(at(5), "%v", err)
			return sc, false
		}
		re.Source = s
		sc.VirusName = re
	}
	if good {
		good = d.checkAVScanner(path, &sc)
	}
	return sc, good
}

var spamModules = []string{"SpamAssassin", "SpamdClient", "RspamdClient", "ExtProg"}

func (d *decoder) spamScanners(path []string, v any) []SpamScanner {
	var out []SpamScanner
	for i, e := range list(v) {
		ep := elemPath(path, v, i)
		sc := SpamScanner{Pos: d.pos(ep), Options: Table{}}
		var opts map[string]any
		var modPath []string
		switch x := e.(type) {
		case map[string]any:
			opts = map[string]any{}
			for k, val := range x {
				switch k {
				case "name":
					sc.Name, _ = val.(string)
				case "module":
					sc.Module, _ = val.(string)
					modPath = sub(ep, k)
				default:
					opts[k] = val
				}
			}
		case []any:
			if len(x) < 2 || len(x) > 3 {
				d.errf(ep, "a spam scanner is [name, module] or [name, module, { options }]")
				continue
			}
			sc.Name, _ = x[0].(string)
			sc.Module, _ = x[1].(string)
			modPath = sub(ep, idxComp(1))
			if len(x) == 3 {
				t, ok := x[2].(map[string]any)
				if !ok {
					d.typeErr(sub(ep, idxComp(2)), "a table of options", x[2])
					continue
				}
				opts = t
			}
		default:
			d.typeErr(ep, "a spam scanner table", e)
			continue
		}
		if sc.Name == "" {
			d.errf(ep, "a spam scanner needs a name")
			continue
		}
		mod := strings.TrimPrefix(sc.Module, "Amavis::SpamControl::")
		if !slices.Contains(spamModules, mod) {
			d.errf(modPath, "unknown spam scanner module %q (want %s)", sc.Module, strings.Join(spamModules, ", "))
			continue
		}
		sc.Module = mod
		if opts != nil {
			sc.Options, _ = d.freeTable(ep, opts, false)
		}
		out = append(out, sc)
	}
	return out
}

var dsnDrivers = []string{"mysql", "MariaDB", "Pg", "SQLite"}

func (d *decoder) dsns(path []string, v any) []DSN {
	l, ok := v.([]any)
	if ok && len(l) > 0 {
		if s, isS := l[0].(string); isS && strings.HasPrefix(s, "DBI:") {
			l = []any{l} // a single [dsn, user, password] triple
		}
	}
	if !ok {
		l = []any{v}
	}
	var out []DSN
	for i, e := range l {
		ep := sub(path, idxComp(i))
		if !ok {
			ep = path
		}
		var dsn DSN
		switch x := e.(type) {
		case []any:
			strs, allS := allStrings(x)
			if !allS || len(strs) < 1 || len(strs) > 3 {
				d.typeErr(ep, "[\"DBI:driver:...\", \"user\", \"password\"]", e)
				continue
			}
			strs = append(strs, "", "")
			dsn = DSN{DSN: strs[0], User: strs[1], Password: strs[2]}
		case map[string]any:
			good := true
			for _, k := range sortedKeys(x) {
				s, isS := x[k].(string)
				if !isS {
					d.typeErr(sub(ep, k), "a string", x[k])
					good = false
					continue
				}
				switch k {
				case "dsn":
					dsn.DSN = s
				case "user":
					dsn.User = s
				case "password":
					dsn.Password = s
				default:
					d.errf(sub(ep, k), "unknown field (want dsn, user, password)")
					good = false
				}
			}
			if !good {
				continue
			}
		default:
			d.typeErr(ep, "a DSN triple or { dsn, user, password }", e)
			continue
		}
		rest, isDBI := strings.CutPrefix(dsn.DSN, "DBI:")
		drv, _, _ := strings.Cut(rest, ":")
		if !isDBI || !slices.Contains(dsnDrivers, drv) {
			d.errf(ep, "bad DSN %q (want DBI:mysql:..., DBI:MariaDB:..., DBI:Pg:... or DBI:SQLite:...)", dsn.DSN)
			continue
		}
		dsn.Driver = drv
		out = append(out, dsn)
	}
	return out
}

func (d *decoder) tables(path []string, v any) []Table {
	var out []Table
	for i, e := range list(v) {
		ep := elemPath(path, v, i)
		m, ok := e.(map[string]any)
		if !ok {
			d.typeErr(ep, "a table", e)
			continue
		}
		t, _ := d.freeTable(ep, m, false)
		out = append(out, t)
	}
	return out
}

func (d *decoder) dkimKeys(path []string, v any) []DKIMKey {
	var out []DKIMKey
	for i, e := range list(v) {
		ep := elemPath(path, v, i)
		m, ok := e.(map[string]any)
		if !ok {
			d.typeErr(ep, "a [[dkim_key]] table", e)
			continue
		}
		k := DKIMKey{Pos: d.pos(ep), Options: Table{}}
		good := true
		for _, f := range sortedKeys(m) {
			fp := sub(ep, f)
			switch f {
			case "domain", "selector", "key":
				s, ok := m[f].(string)
				if !ok || s == "" {
					d.typeErr(fp, "a non-empty string", m[f])
					good = false
					continue
				}
				switch f {
				case "domain":
					k.Domain = s
				case "selector":
					k.Selector = s
				default:
					k.KeyFile = s
				}
			default:
				val, err := toValue(m[f])
				if err != nil {
					d.errf(fp, "%v", err)
					good = false
					continue
				}
				k.Options[f] = val
			}
		}
		if good && (k.Domain == "" || k.Selector == "" || k.KeyFile == "") {
			d.errf(ep, "a dkim_key needs domain, selector and key (the PEM file)")
			good = false
		}
		if good {
			out = append(out, k)
		}
	}
	return out
}

func (d *decoder) admin(path []string, v any) AdminAddr {
	switch x := v.(type) {
	case string:
		return AdminAddr{Addr: Some(x)}
	case map[string]any:
		return AdminAddr{ByDomain: d.hash(path, x, "str")}
	}
	d.typeErr(path, "an address or a table of domain = address", v)
	return AdminAddr{}
}
