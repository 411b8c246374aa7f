package decode

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

// lhaStored builds a level-0 LHA archive with one -lh0- (stored) member.
func lhaStored(name string, data []byte) []byte {
	crc := uint16(0)
	for _, c := range data { // CRC-16/ARC
		crc ^= uint16(c)
		for k := 0; k < 8; k++ {
			if crc&1 != 0 {
				crc = crc>>1 ^ 0xa001
			} else {
				crc >>= 1
			}
		}
	}
	var h bytes.Buffer
	h.WriteString("-lh0-")
	_ = binary.Write(&h, binary.LittleEndian, uint32(len(data)))
	_ = binary.Write(&h, binary.LittleEndian, uint32(len(data)))
	_ = binary.Write(&h, binary.LittleEndian, uint32(0x5a000000))
	h.WriteByte(0x20) // attribute
	h.WriteByte(0)    // level 0
	h.WriteByte(byte(len(name)))
	h.WriteString(name)
	_ = binary.Write(&h, binary.LittleEndian, crc)
	var sum byte
	for _, c := range h.Bytes() {
		sum += c
	}
	out := append([]byte{byte(h.Len()), sum}, h.Bytes()...)
	out = append(out, data...)
	return append(out, 0)
}

// TestExternalTools exercises the program-driven formats: the part must be
// unpacked by the program into a private directory and the directory must
// be gone afterwards (checkWorkDir).
func TestExternalTools(t *testing.T) {
	t.Run("lha", func(t *testing.T) {
		needTool(t, "lha")
		res := decodeBytes(t, mailWith(file("x.lzh", lhaStored("evil.exe", tinyPE(false)))), DefaultLimits())
		i := find(res, "evil.exe")
		if o := find(res, "x.lzh"); o < 0 || !res.Parts[o].HasType("lha") || i < 0 || !res.Parts[i].HasType("exe-ms") {
			t.Fatalf("lha not unpacked:\n%s", res.Tree())
		}
	})
	t.Run("missing program", func(t *testing.T) {
		msg := mailWith(file("x.lzh", lhaStored("evil.exe", tinyPE(false))))
		res, err := Decode(t.Context(), bytes.NewReader(msg), int64(len(msg)), t.TempDir(), DefaultLimits(), &Tools{})
		if err != nil {
			t.Fatal(err)
		}
		if !hasMinor(res, MinorUnchecked) {
			t.Errorf("an archive we cannot open must be UNCHECKED:\n%s", res.Tree())
		}
	})
	t.Run("7z bomb", func(t *testing.T) {
		needTool(t, "7z")
		zeros := make([]byte, 40<<20)
		bomb := run7z(t, []string{"-tzip", "-mm=Deflate64"}, member{"zeros.bin", zeros})
		lim := DefaultLimits()
		lim.MaxExpansionFactor = 50 // quota ~10 MB for this ~200 KB message
		res := decodeBytes(t, mailWith(file("bomb.zip", bomb)), lim)
		if !strings.HasPrefix(res.Hold, "Exceeded storage quota") {
			t.Errorf("no hold for a deflate64 zip bomb (unpacked by 7z):\n%s", res.Tree())
		}
	})
}
