package decode

import (
	"encoding/binary"
	"testing"
	"unicode/utf16"
)

// cfbWithStorages hand-builds a minimal OLE2 compound file (v3, one FAT
// sector, one directory sector) holding the given storages under the root,
// the first one containing the second, e.g. Macros/VBA as Word stores a
// VBA project. No stream data is needed to show the structure.
func cfbWithStorages(outer, inner, stream string) []byte {
	const sec = 512
	b := make([]byte, 3*sec)
	h := b[:sec]
	copy(h, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
	le := binary.LittleEndian
	le.PutUint16(h[0x18:], 0x3e)
	le.PutUint16(h[0x1a:], 3)
	le.PutUint16(h[0x1c:], 0xfffe)
	le.PutUint16(h[0x1e:], 9)
	le.PutUint16(h[0x20:], 6)
	le.PutUint32(h[0x2c:], 1)          // FAT sectors
	le.PutUint32(h[0x30:], 1)          // first directory sector
	le.PutUint32(h[0x38:], 0x1000)     // mini stream cutoff
	le.PutUint32(h[0x3c:], 0xfffffffe) // no mini FAT
	le.PutUint32(h[0x44:], 0xfffffffe) // no DIFAT sectors
	for k := 0; k < 109; k++ {
		le.PutUint32(h[0x4c+4*k:], 0xffffffff)
	}
	le.PutUint32(h[0x4c:], 0) // FAT in sector 0
	fat := b[sec : 2*sec]
	for k := 0; k < sec/4; k++ {
		le.PutUint32(fat[4*k:], 0xffffffff)
	}
	le.PutUint32(fat[0:], 0xfffffffd) // FAT sector
	le.PutUint32(fat[4:], 0xfffffffe) // directory: one sector
	dir := b[2*sec:]
	entry := func(k int, name string, typ byte, left, right, child uint32) {
		e := dir[128*k : 128*(k+1)]
		u := utf16.Encode([]rune(name))
		for j, c := range u {
			le.PutUint16(e[2*j:], c)
		}
		le.PutUint16(e[64:], uint16(2*len(u)+2))
		e[66] = typ
		e[67] = 1
		le.PutUint32(e[68:], left)
		le.PutUint32(e[72:], right)
		le.PutUint32(e[76:], child)
		le.PutUint32(e[116:], 0xfffffffe)
	}
	const none = 0xffffffff
	entry(0, "Root Entry", 5, none, none, 1)
	entry(1, outer, 1, none, 3, 2)
	entry(2, inner, 1, none, none, none)
	entry(3, stream, 2, none, none, none)
	return b
}

func TestOLEMacros(t *testing.T) {
	res := decodeBytes(t, mailWith(
		file("macro.doc", cfbWithStorages("Macros", "VBA", "WordDocument")),
		file("plain.doc", cfbWithStorages("ObjectPool", "_123", "WordDocument")),
	), DefaultLimits())
	m, p := find(res, "macro.doc"), find(res, "plain.doc")
	if m < 0 || p < 0 {
		t.Fatalf("parts missing:\n%s", res.Tree())
	}
	if !res.Parts[m].HasType("doc") || !res.Parts[m].Macros {
		t.Errorf("macro.doc: %+v", res.Parts[m])
	}
	if res.Parts[p].Macros || !res.Macros() {
		t.Errorf("plain.doc macros %v, result %v", res.Parts[p].Macros, res.Macros())
	}
}
