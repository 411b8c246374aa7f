package policy

import (
	"fmt"
	"strings"
)

// Destiny is amavis's final destiny of a recipient. The numeric values are
// amavis's (D_PASS=1, D_DISCARD=0, D_BOUNCE=-2, D_REJECT=-3, D_TEMPFAIL=-4).
type Destiny int

// Destinies.
const (
	DTempfail Destiny = -4
	DReject   Destiny = -3
	DBounce   Destiny = -2
	DDiscard  Destiny = 0
	DPass     Destiny = 1
)

func (d Destiny) String() string {
	switch d {
	case DPass:
		return "D_PASS"
	case DDiscard:
		return "D_DISCARD"
	case DBounce:
		return "D_BOUNCE"
	case DReject:
		return "D_REJECT"
	case DTempfail:
		return "D_TEMPFAIL"
	}
	return fmt.Sprintf("D_%d", int(d))
}

// ParseDestiny accepts amavis's constant names (D_PASS …) and their numbers.
func ParseDestiny(s string) (Destiny, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "D_PASS", "1":
		return DPass, nil
	case "D_DISCARD", "0":
		return DDiscard, nil
	case "D_BOUNCE", "-2":
		return DBounce, nil
	case "D_REJECT", "-3":
		return DReject, nil
	case "D_TEMPFAIL", "-4":
		return DTempfail, nil
	}
	return 0, fmt.Errorf("unknown destiny %q (want D_PASS, D_DISCARD, D_BOUNCE, D_REJECT or D_TEMPFAIL)", s)
}

// CCat is a major content category, amavis's CC_* constants; a higher value
// is more important.
type CCat int

// Major content categories.
const (
	CCCatchAll  CCat = 0
	CCClean     CCat = 1
	CCMTA       CCat = 2
	CCOversized CCat = 3
	CCBadH      CCat = 4
	CCSpammy    CCat = 5
	CCSpam      CCat = 6
	CCUnchecked CCat = 7
	CCBanned    CCat = 8
	CCVirus     CCat = 9
)

// Category is a major category with its minor code, amavis's "maj,min".
type Category struct {
	Major CCat
	Minor int
}

// LogName is the category as amavis's main log line shows it (without the
// parenthesised details of BANNED and INFECTED, which the caller adds).
func (c Category) LogName() string {
	switch c.Major {
	case CCClean:
		return "CLEAN"
	case CCMTA:
		return "MTA-BLOCKED"
	case CCOversized:
		return "OVERSIZED"
	case CCBadH:
		return fmt.Sprintf("BAD-HEADER-%d", c.Minor)
	case CCSpammy:
		return "SPAMMY"
	case CCSpam:
		return "SPAM"
	case CCUnchecked:
		if c.Minor == 1 {
			return "UNCHECKED-ENCRYPTED"
		}
		return "UNCHECKED"
	case CCBanned:
		return "BANNED"
	case CCVirus:
		return "INFECTED"
	}
	return "OTHER"
}

// SQLLetter is the one-letter content code amavis writes to msgs.content.
func (c Category) SQLLetter() string {
	switch c.Major {
	case CCClean:
		return "C"
	case CCMTA:
		return "T"
	case CCOversized:
		return "O"
	case CCBadH:
		if c.Minor == 2 || c.Minor == 4 {
			return "M"
		}
		return "H"
	case CCSpammy:
		return "Y"
	case CCSpam:
		return "S"
	case CCUnchecked:
		return "U"
	case CCBanned:
		return "B"
	case CCVirus:
		return "V"
	}
	return "?"
}
