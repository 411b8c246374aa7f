package config

import "fmt"

// Opt is a scalar setting that may be undefined, like a Perl scalar that is
// undef. amavis gives undef its own meaning for many settings (an undefined
// spam tag level means "always tag", an undefined $QUARANTINEDIR means "no
// file quarantine"), so getters must tell undef from a zero value.
//
// In the TOML file any setting is made undefined with the bare string
// "undef": `sa_tag_level_deflt = "undef"`.
type Opt[T any] struct {
	v   T
	set bool
}

// Some returns a defined Opt holding v.
func Some[T any](v T) Opt[T] { return Opt[T]{v: v, set: true} }

// None returns an undefined Opt.
func None[T any]() Opt[T] { return Opt[T]{} }

// Get returns the value and whether it is defined.
func (o Opt[T]) Get() (T, bool) { return o.v, o.set }

// IsSet reports whether the value is defined.
func (o Opt[T]) IsSet() bool { return o.set }

// Value returns the value, or the zero value of T when undefined.
func (o Opt[T]) Value() T { return o.v }

// Or returns the value, or def when undefined.
func (o Opt[T]) Or(def T) T {
	if o.set {
		return o.v
	}
	return def
}

// String formats the value, "undef" when undefined.
func (o Opt[T]) String() string {
	if !o.set {
		return "undef"
	}
	return fmt.Sprint(o.v)
}
