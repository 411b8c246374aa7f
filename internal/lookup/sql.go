package lookup

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Query is an SQL lookup clause (amavis Lookup::SQL), e.g.
// $sql_select_policy or $sql_select_white_black_list. Placeholders in the
// clause, expanded into bound parameters (never into the SQL text):
//
//	%k  the list of keys for the address (Rules.SQLKeys), as ?,?,…
//	%a  the address as given        %l  the full local part
//	%u  the user (no extension)     %e  the extension with its delimiter
//	%d  the domain                  %L  1 if the address is local, else 0
//	?   the next extra argument (e.g. users.id in the wblist clause)
//
// Placeholders inside quoted SQL literals are left alone. For PostgreSQL
// they become $1, $2, …. Keys with bytes outside printable ASCII get those
// bytes replaced by '?' unless Allow8bit ($sql_allow_8bit_address), in
// which case keys are bound as binary ([]byte) as amavis does.
type Query struct {
	// Name is the clause name (sel_policy, sel_wblist), for logs.
	Name   string
	Clause string
	DB     *DB
	Rules  Rules
	// Local is the static part of local_domains_maps (no SQL tables, to
	// avoid recursion): bare user keys are only used for local addresses.
	// nil means no address is local.
	Local Table
	// NoAtMeansDomain is $sql_lookups_no_at_means_domain.
	NoAtMeansDomain bool
	// Allow8bit is $sql_allow_8bit_address.
	Allow8bit bool
	// Policy marks $sql_select_policy: a '@.' catch-all row without a
	// 'local' column gets local=NULL, so the catch-all alone does not make
	// every domain local (amavis's "ugly hack", kept).
	Policy bool
}

// NewPolicyQuery returns the $sql_select_policy lookup.
func NewPolicyQuery(db *DB, clause string, rules Rules, local Table) *Query {
	return &Query{Name: "sel_policy", Clause: clause, DB: db, Rules: rules, Local: local, Policy: true}
}

// NewWBListQuery returns the $sql_select_white_black_list lookup.
func NewWBListQuery(db *DB, clause string, rules Rules, local Table) *Query {
	return &Query{Name: "sel_wblist", Clause: clause, DB: db, Rules: rules, Local: local}
}

// Default clauses (amavis 2.13 %sql_clause).
const (
	DefaultSelectPolicy = "SELECT users.*, policy.*, users.id FROM users LEFT JOIN policy ON users.policy_id=policy.id" +
		" WHERE users.email IN (%k) ORDER BY users.priority DESC"
	DefaultSelectWhiteBlackList = "SELECT wb FROM wblist JOIN mailaddr ON wblist.sid=mailaddr.id" +
		" WHERE wblist.rid=? AND mailaddr.email IN (%k) ORDER BY mailaddr.priority DESC"
)

func (q *Query) String() string { return "sql:" + q.Name }

// Rows returns the rows the clause selects for addr, in the clause's
// order. Without extra arguments the result is cached in the message's
// Cache (see WithCache). A database error is returned as an error, never
// as "no rows".
func (q *Query) Rows(ctx context.Context, addr string, extra ...any) ([]Row, error) {
	if q == nil || q.DB == nil || strings.TrimSpace(q.Clause) == "" {
		return nil, nil
	}
	cache := CacheFrom(ctx)
	if len(extra) == 0 {
		if rows, ok := cache.get(q, addr); ok {
			return rows, nil
		}
	}
	local := false
	if q.Local != nil {
		r, err := q.Local.Lookup(ctx, addr)
		if err != nil {
			return nil, fmt.Errorf("%s: local_domains: %w", q, err)
		}
		local = r.Found && Truthy(r.Value)
	}
	keys := q.Rules.SQLKeys(addr, local, q.NoAtMeansDomain)
	if !q.Allow8bit {
		for i, k := range keys.List {
			keys.List[i] = printableOnly(k)
		}
	}
	st := func(driver string) (string, []any, error) {
		return expandClause(q.Clause, driver, &keys, local, q.Allow8bit, extra)
	}
	rows, err := q.DB.query(ctx, st, 0)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", q, addr, err)
	}
	if q.Policy {
		for _, r := range rows {
			if _, ok := r["local"]; !ok {
				if e, ok := r["email"].(string); ok && e == "@." {
					r["local"] = nil
				}
			}
		}
	}
	if len(extra) == 0 {
		cache.put(q, addr, rows)
	}
	return rows, nil
}

// printableOnly replaces every byte outside 0x20..0x7E with '?'.
func printableOnly(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7E {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] < 0x20 || b[j] > 0x7E {
					b[j] = '?'
				}
			}
			return string(b)
		}
	}
	return s
}

var errTooFewArgs = errors.New("clause has more '?' placeholders than arguments")

// expandClause replaces the placeholders of an amavis clause with the
// driver's bound-parameter markers and returns the arguments.
func expandClause(clause, driver string, keys *Keys, local, binary bool, extra []any) (string, []any, error) {
	var b strings.Builder
	var args []any
	marker := func() {
		if driver == DriverPgx {
			b.WriteString("$" + strconv.Itoa(len(args)))
		} else {
			b.WriteByte('?')
		}
	}
	bind := func(v any) {
		if s, ok := v.(string); ok && binary && driver == DriverPgx {
			v = []byte(s)
		}
		args = append(args, v)
		marker()
	}
	next := 0
	for i := 0; i < len(clause); i++ {
		c := clause[i]
		switch c {
		case '\'', '"', '`':
			j := i + 1
			for j < len(clause) {
				if clause[j] == '\\' && driver == DriverMySQL && j+1 < len(clause) {
					j += 2
					continue
				}
				if clause[j] == c {
					if j+1 < len(clause) && clause[j+1] == c { // doubled quote
						j += 2
						continue
					}
					break
				}
				j++
			}
			if j >= len(clause) {
				return "", nil, fmt.Errorf("clause %q: unterminated quoted literal", clause)
			}
			b.WriteString(clause[i : j+1])
			i = j
		case '?':
			if next >= len(extra) {
				return "", nil, fmt.Errorf("clause %q: %w", clause, errTooFewArgs)
			}
			bind(extra[next])
			next++
		case '%':
			if i+1 >= len(clause) {
				b.WriteByte(c)
				continue
			}
			switch clause[i+1] {
			case 'k':
				for j, k := range keys.List {
					if j > 0 {
						b.WriteByte(',')
					}
					bind(k)
				}
			case 'a':
				bind(keys.RHS[0])
			case 'l':
				bind(keys.RHS[1])
			case 'u':
				bind(keys.RHS[2])
			case 'e':
				bind(keys.RHS[3])
			case 'd':
				bind(keys.RHS[4])
			case 'L':
				if local {
					bind("1")
				} else {
					bind("0")
				}
			default:
				b.WriteByte(c)
				continue
			}
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), args, nil
}
