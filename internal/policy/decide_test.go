package policy

import "testing"

func TestCategoriesAdd(t *testing.T) {
	var cs Categories
	cs.Add(Category{Major: CCBadH, Minor: 3})
	cs.Add(Category{Major: CCVirus})
	want := []Category{{CCVirus, 0}, {CCBadH, 3}, {CCBadH, 0}, {CCClean, 0}}
	if len(cs) != len(want) {
		t.Fatalf("got %v", cs)
	}
	for i := range want {
		if cs[i] != want[i] {
			t.Fatalf("got %v want %v", cs, want)
		}
	}
	if cs.Main() != (Category{CCVirus, 0}) || !cs.Has(CCBadH) || cs.Has(CCSpam) {
		t.Errorf("Main/Has wrong on %v", cs)
	}
}

func TestDecide(t *testing.T) {
	cats := func(cs ...Category) Categories {
		var out Categories
		for _, c := range cs {
			out.Add(c)
		}
		return out
	}
	def := DefaultDestinies()
	seed0 := def
	seed0.Spam = DDiscard
	tests := []struct {
		name   string
		cats   Categories
		d      Destinies
		lovers []CCat
		mercy  bool
		want   Decision
	}{
		{"clean passes", cats(), def, nil, false, Decision{Destiny: DPass}},
		{"virus discarded", cats(Category{CCVirus, 0}), def, nil, false, Decision{DDiscard, Category{CCVirus, 0}, true}},
		{"virus lover passes", cats(Category{CCVirus, 0}), def, []CCat{CCVirus}, false, Decision{Destiny: DPass}},
		{"virus lover still blocked by banned", cats(Category{CCVirus, 0}, Category{CCBanned, 0}), def, []CCat{CCVirus}, false, Decision{DDiscard, Category{CCBanned, 0}, true}},
		{"spam passes by default", cats(Category{CCSpam, 0}), def, nil, false, Decision{Destiny: DPass}},
		{"spam discarded (seed 000)", cats(Category{CCSpam, 0}, Category{CCSpammy, 0}), seed0, nil, false, Decision{DDiscard, Category{CCSpam, 0}, true}},
		{"spammy never blocks", cats(Category{CCSpammy, 1}), seed0, nil, false, Decision{Destiny: DPass}},
		{"unchecked passes", cats(Category{CCUnchecked, 1}), def, nil, false, Decision{Destiny: DPass}},
		{"badh bounce", cats(Category{CCBadH, 2}), Destinies{BadHeader: DBounce, Virus: DDiscard}, nil, false, Decision{DBounce, Category{CCBadH, 2}, true}},
		{"badh bounce mercy", cats(Category{CCBadH, 2}), Destinies{BadHeader: DBounce, Virus: DDiscard}, nil, true, Decision{Destiny: DPass}},
		{"banned reject", cats(Category{CCBanned, 0}), Destinies{Banned: DReject}, nil, false, Decision{DReject, Category{CCBanned, 0}, true}},
		{"oversized bounces", cats(Category{CCOversized, 0}), def, nil, false, Decision{DBounce, Category{CCOversized, 0}, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lover := func(c CCat) bool {
				for _, l := range tt.lovers {
					if l == c {
						return true
					}
				}
				return false
			}
			if got := Decide(tt.cats, tt.d, lover, tt.mercy); got != tt.want {
				t.Errorf("got %+v want %+v", got, tt.want)
			}
		})
	}
}

func TestBlockedReply(t *testing.T) {
	tests := []struct {
		dec  Decision
		soft bool
		det  Details
		want string
	}{
		{Decision{DDiscard, Category{CCVirus, 0}, true}, false, Details{Viruses: []string{"Eicar-Signature"}}, "250 2.7.0 Ok, discarded, id=03695-02 - INFECTED: Eicar-Signature"},
		{Decision{DReject, Category{CCVirus, 0}, true}, false, Details{Viruses: []string{"Eicar-Signature"}}, "554 5.7.0 Reject, id=03695-02 - INFECTED: Eicar-Signature"},
		{Decision{DReject, Category{CCBanned, 0}, true}, false, Details{Banned: []string{".exe,clam.exe"}}, "554 5.7.0 Reject, id=03695-02 - BANNED: .exe,clam.exe"},
		{Decision{DReject, Category{CCBadH, 0}, true}, false, Details{}, "554 5.6.0 Reject, id=03695-02 - BAD HEADER"},
		{Decision{DReject, Category{CCBadH, 2}, true}, false, Details{}, "554 5.6.3 Reject, id=03695-02 - BAD HEADER: nonencoded 8-bit character"},
		{Decision{DBounce, Category{CCSpam, 0}, true}, false, Details{}, "554 5.7.0 Bounce, id=03695-02 - spam"},
		{Decision{DDiscard, Category{CCSpam, 0}, true}, false, Details{}, "250 2.7.0 Ok, discarded, id=03695-02 - spam"},
		{Decision{DReject, Category{CCSpam, 0}, true}, true, Details{}, "450 4.7.0 Reject (soft_bounce), id=03695-02 - spam"},
		{Decision{DTempfail, Category{CCUnchecked, 1}, true}, false, Details{}, "450 4.7.0 Temporary failure, id=03695-02 - UNCHECKED: encrypted"},
		{Decision{DBounce, Category{CCOversized, 0}, true}, false, Details{}, "552 5.3.4 Bounce, id=03695-02 - Message size exceeds recipient's size limit"},
	}
	for _, tt := range tests {
		if got := BlockedReply("03695-02", tt.dec, tt.soft, tt.det).String(); got != tt.want {
			t.Errorf("got  %q\nwant %q", got, tt.want)
		}
	}
}
