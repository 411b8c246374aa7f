package lookup

import (
	"context"
	"fmt"
	"strings"
)

// FieldType is how an SQL column is read (amavis SQLfield types).
type FieldType string

// Field types. A '-' type returns "not found" when the column does not
// exist; B0 / B1 treat a missing column as false / true.
const (
	FieldString           FieldType = "S-"
	FieldNumber           FieldType = "N-"
	FieldBool             FieldType = "B-"
	FieldBoolMissingFalse FieldType = "B0"
	FieldBoolMissingTrue  FieldType = "B1"
)

// Field is a lookup table reading one column of a Query's rows (amavis
// Lookup::SQLfield): the rows for the key are fetched once per message
// (cached), and the first row, in the clause's ORDER BY, whose column is
// not NULL gives the result. So with the default policy clause the most
// specific users row (highest priority) that sets a field wins, and less
// specific rows (the '@.' catch-all) fill in the fields it leaves NULL.
//
// Values: booleans become bool ("N", "n", "F", "f", " ", "0", "00", NUL
// bytes, "" are false; anything else true), numbers float64 (Perl's
// numification: "6.31abc" is 6.31), strings string (trailing spaces
// trimmed only with Rules.TrimTrailingSpace).
type Field struct {
	Query *Query
	Name  string // column name (compared lower-cased)
	Type  FieldType
	// Args are extra arguments for '?' in the clause (the user id for the
	// wblist clause); with Args the rows are not cached, as in amavis.
	Args []any
}

// NewField returns a table reading column name of q.
func NewField(q *Query, name string, typ FieldType, args ...any) *Field {
	return &Field{Query: q, Name: strings.ToLower(name), Type: typ, Args: args}
}

func (f *Field) String() string { return f.Query.String() + "." + f.Name }

// Lookup implements Table.
func (f *Field) Lookup(ctx context.Context, key string) (Result, error) {
	rs, err := f.lookup(ctx, key, false)
	if err != nil || len(rs) == 0 {
		return Result{}, err
	}
	return rs[0], nil
}

// LookupAll implements AllTable: one result per row with a non-NULL value.
func (f *Field) LookupAll(ctx context.Context, key string) ([]Result, error) {
	return f.lookup(ctx, key, true)
}

func (f *Field) lookup(ctx context.Context, key string, all bool) ([]Result, error) {
	if f.Query == nil {
		return nil, nil
	}
	rows, err := f.Query.Rows(ctx, key, f.Args...)
	if err != nil {
		return nil, err
	}
	var out []Result
	for _, row := range rows {
		v, ok := f.value(row)
		if !ok || v == nil {
			continue
		}
		out = append(out, Result{Found: true, Value: v, Key: rowKey(row), Table: f})
		if !all {
			break
		}
	}
	return out, nil
}

// value converts the row's column; ok false means no value (NULL or a
// missing column of a '-' type).
func (f *Field) value(row Row) (any, bool) {
	raw, exists := row[f.Name]
	if !exists {
		switch f.Type {
		case FieldBoolMissingTrue:
			return true, true
		case FieldBoolMissingFalse:
			return false, true
		}
		return nil, false
	}
	if raw == nil {
		return nil, false
	}
	switch f.Type[0] {
	case 'B':
		return sqlBool(raw), true
	case 'N':
		n, _ := Number(raw)
		return n, true
	default:
		s := sqlString(raw)
		if f.Query.Rules.TrimTrailingSpace {
			s = strings.TrimRight(s, " ")
		}
		return s, true
	}
}

// sqlBool is amavis's boolean reading of a column value.
func sqlBool(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case int64:
		return x != 0
	case float64:
		return x != 0
	}
	s := sqlString(v)
	t := strings.TrimRight(s, " ")
	if t == "" {
		return false // "" and " " (and "   ")
	}
	switch t {
	case "N", "n", "F", "f":
		return false
	}
	if strings.Trim(t, "0") == "" || strings.Trim(t, "\x00") == "" {
		return false
	}
	return true
}

func sqlString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case float64:
		return FormatValue(x)
	default:
		return fmt.Sprint(v)
	}
}

// rowKey describes a row for logs: its email column when present.
func rowKey(r Row) string {
	if e, ok := r["email"]; ok && e != nil {
		return "email=" + sqlString(e)
	}
	return "(sql row)"
}

// ImpliedField is a policy-table column amavis puts in front of a *_maps
// setting when SQL lookups are configured ($lookup_maps_imply_sql_and_ldap,
// default on).
type ImpliedField struct {
	Maps  string    // the setting, e.g. "spam_tag2_level_maps"
	Field string    // the column, e.g. "spam_tag2_level"
	Type  FieldType // how it is read
}

// ImpliedFields returns amavis's list of implied SQL fields (Amavis.pm,
// "sql-prepare"), in amavis's order.
func ImpliedFields() []ImpliedField {
	return []ImpliedField{
		{"local_domains_maps", "local", FieldBoolMissingTrue},
		{"virus_lovers_maps", "virus_lover", FieldBool},
		{"spam_lovers_maps", "spam_lover", FieldBool},
		{"unchecked_lovers_maps", "unchecked_lover", FieldBool},
		{"banned_files_lovers_maps", "banned_files_lover", FieldBool},
		{"bad_header_lovers_maps", "bad_header_lover", FieldBool},
		{"bypass_virus_checks_maps", "bypass_virus_checks", FieldBool},
		{"bypass_spam_checks_maps", "bypass_spam_checks", FieldBool},
		{"bypass_banned_checks_maps", "bypass_banned_checks", FieldBool},
		{"bypass_header_checks_maps", "bypass_header_checks", FieldBool},
		{"spam_tag_level_maps", "spam_tag_level", FieldNumber},
		{"spam_tag2_level_maps", "spam_tag2_level", FieldNumber},
		{"spam_tag3_level_maps", "spam_tag3_level", FieldNumber},
		{"spam_kill_level_maps", "spam_kill_level", FieldNumber},
		{"spam_dsn_cutoff_level_maps", "spam_dsn_cutoff_level", FieldNumber},
		{"spam_quarantine_cutoff_level_maps", "spam_quarantine_cutoff_level", FieldNumber},
		{"spam_subject_tag_maps", "spam_subject_tag", FieldString},
		{"spam_subject_tag2_maps", "spam_subject_tag2", FieldString},
		{"spam_subject_tag3_maps", "spam_subject_tag3", FieldString},
		{"virus_quarantine_to_maps", "virus_quarantine_to", FieldString},
		{"spam_quarantine_to_maps", "spam_quarantine_to", FieldString},
		{"banned_quarantine_to_maps", "banned_quarantine_to", FieldString},
		{"unchecked_quarantine_to_maps", "unchecked_quarantine_to", FieldString},
		{"bad_header_quarantine_to_maps", "bad_header_quarantine_to", FieldString},
		{"clean_quarantine_to_maps", "clean_quarantine_to", FieldString},
		{"archive_quarantine_to_maps", "archive_quarantine_to", FieldString},
		{"message_size_limit_maps", "message_size_limit", FieldNumber},
		{"addr_extension_virus_maps", "addr_extension_virus", FieldString},
		{"addr_extension_spam_maps", "addr_extension_spam", FieldString},
		{"addr_extension_banned_maps", "addr_extension_banned", FieldString},
		{"addr_extension_bad_header_maps", "addr_extension_bad_header", FieldString},
		{"warnvirusrecip_maps", "warnvirusrecip", FieldBool},
		{"warnbannedrecip_maps", "warnbannedrecip", FieldBool},
		{"warnbadhrecip_maps", "warnbadhrecip", FieldBool},
		{"newvirus_admin_maps", "newvirus_admin", FieldString},
		{"virus_admin_maps", "virus_admin", FieldString},
		{"spam_admin_maps", "spam_admin", FieldString},
		{"banned_admin_maps", "banned_admin", FieldString},
		{"bad_header_admin_maps", "bad_header_admin", FieldString},
		{"banned_filename_maps", "banned_rulenames", FieldString},
		{"disclaimer_options_bysender_maps", "disclaimer_options", FieldString},
		{"forward_method_maps", "forward_method", FieldString},
		{"sa_userconf_maps", "sa_userconf", FieldString},
		{"sa_username_maps", "sa_username", FieldString},
	}
}

// ImpliedTables returns, for each setting of ImpliedFields, the Field
// table to put first in that *_maps list (amavis unshifts them, so SQL
// answers before the static tables).
func ImpliedTables(q *Query) map[string]Table {
	out := make(map[string]Table)
	for _, f := range ImpliedFields() {
		out[f.Maps] = NewField(q, f.Field, f.Type)
	}
	return out
}

// PolicySettings returns what the policy clause says about addr, column
// by column as the implied maps would see it: field name → value (bool,
// float64 or string) for every implied field with a defined answer.
func PolicySettings(ctx context.Context, q *Query, addr string) (map[string]any, error) {
	rows, err := q.Rows(ctx, addr)
	if err != nil {
		return nil, err
	}
	out := make(map[string]any)
	if len(rows) == 0 {
		return out, nil
	}
	for _, imp := range ImpliedFields() {
		r, err := NewField(q, imp.Field, imp.Type).Lookup(ctx, addr)
		if err != nil {
			return nil, err
		}
		if r.Found {
			out[imp.Field] = r.Value
		}
	}
	return out, nil
}

// UserIDs returns the users.id of every row of the policy clause matching
// the recipient (amavis $user_id_sql with get_all), for the wblist lookup.
// The ids keep their database type, so they bind back as they came.
func UserIDs(ctx context.Context, q *Query, recip string) ([]any, error) {
	rows, err := q.Rows(ctx, recip)
	if err != nil {
		return nil, err
	}
	var ids []any
	for _, r := range rows {
		if id, ok := r["id"]; ok && id != nil {
			ids = append(ids, id)
		}
	}
	return ids, nil
}
