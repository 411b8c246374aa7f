package virustest

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
)

// StoredRAR returns a RAR 4 archive holding data as one member stored
// without compression. No free RAR creator is packaged for Debian and this
// clamd cannot open RAR at all; a stored member is enough to show that what
// mavis's decoder unpacks reaches clamd (the member's bytes are visible in
// the raw archive too, so wrap something compressed to hide them).
func StoredRAR(name string, data []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte("Rar!\x1a\x07\x00")) // marker block
	// archive header: type 0x73, no flags, size 13
	main := []byte{0x73, 0, 0, 13, 0, 0, 0, 0, 0, 0, 0}
	writeBlock(&b, main)
	// file header: type 0x74, flags 0x8000 (data follows)
	var h bytes.Buffer
	h.WriteByte(0x74)
	binary.Write(&h, binary.LittleEndian, uint16(0x8000))
	binary.Write(&h, binary.LittleEndian, uint16(32+len(name)))
	binary.Write(&h, binary.LittleEndian, uint32(len(data)))        // packed size
	binary.Write(&h, binary.LittleEndian, uint32(len(data)))        // unpacked size
	h.WriteByte(3)                                                  // host OS: Unix
	binary.Write(&h, binary.LittleEndian, crc32.ChecksumIEEE(data)) // file CRC
	binary.Write(&h, binary.LittleEndian, uint32(0x5a210000))       // DOS time 2025-01-01
	h.WriteByte(20)                                                 // version needed: 2.0
	h.WriteByte(0x30)                                               // method: store
	binary.Write(&h, binary.LittleEndian, uint16(len(name)))
	binary.Write(&h, binary.LittleEndian, uint32(0o100644)) // attributes
	h.WriteString(name)
	writeBlock(&b, h.Bytes())
	b.Write(data)
	writeBlock(&b, []byte{0x7b, 0x00, 0x40, 7, 0}) // end of archive
	return b.Bytes()
}

// writeBlock writes a RAR 4 block: CRC16 (low half of CRC32 of the rest),
// then the rest.
func writeBlock(b *bytes.Buffer, rest []byte) {
	binary.Write(b, binary.LittleEndian, uint16(crc32.ChecksumIEEE(rest)))
	b.Write(rest)
}
