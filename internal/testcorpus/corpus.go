// Package testcorpus builds test messages and files in code (nothing is
// downloaded): a minimal valid PE executable, MIME messages with
// attachments, and archives. It is used by tests across mavis.
package testcorpus

import (
	"archive/zip"
	"bytes"
	"debug/pe"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
)

// EICAR is the EICAR anti-virus test file.
const EICAR = `X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*`

// TinyPE returns a minimal, valid 32-bit Windows PE executable (a DLL when
// dll is set) that debug/pe parses.
func TinyPE(dll bool) []byte {
	var b bytes.Buffer
	dos := make([]byte, 0x40)
	copy(dos, "MZ")
	binary.LittleEndian.PutUint32(dos[0x3c:], 0x40)
	b.Write(dos)
	b.WriteString("PE\x00\x00")
	chars := uint16(pe.IMAGE_FILE_EXECUTABLE_IMAGE | pe.IMAGE_FILE_32BIT_MACHINE)
	if dll {
		chars |= pe.IMAGE_FILE_DLL
	}
	write(&b, pe.FileHeader{Machine: pe.IMAGE_FILE_MACHINE_I386, NumberOfSections: 1,
		SizeOfOptionalHeader: 0xe0, Characteristics: chars})
	write(&b, pe.OptionalHeader32{Magic: 0x10b, SizeOfCode: 0x200, AddressOfEntryPoint: 0x1000,
		BaseOfCode: 0x1000, ImageBase: 0x400000, SectionAlignment: 0x1000, FileAlignment: 0x200,
		MajorOperatingSystemVersion: 4, MajorSubsystemVersion: 4, SizeOfImage: 0x2000,
		SizeOfHeaders: 0x200, Subsystem: pe.IMAGE_SUBSYSTEM_WINDOWS_GUI, SizeOfStackReserve: 0x100000,
		SizeOfStackCommit: 0x1000, SizeOfHeapReserve: 0x100000, SizeOfHeapCommit: 0x1000, NumberOfRvaAndSizes: 16})
	sh := pe.SectionHeader32{VirtualSize: 1, VirtualAddress: 0x1000, SizeOfRawData: 0x200,
		PointerToRawData: 0x200, Characteristics: 0x60000020}
	copy(sh.Name[:], ".text")
	write(&b, sh)
	for b.Len() < 0x200 {
		b.WriteByte(0)
	}
	code := make([]byte, 0x200)
	code[0] = 0xc3
	b.Write(code)
	return b.Bytes()
}

func write(b *bytes.Buffer, v any) {
	if err := binary.Write(b, binary.LittleEndian, v); err != nil {
		panic(err) // fixed-size structs into a buffer cannot fail
	}
}

// Attachment is one MIME part of a test message.
type Attachment struct {
	ContentType string // full Content-Type value
	Disposition string // Content-Disposition value, "" for none
	Data        []byte // sent base64-encoded
}

// File is an application/octet-stream attachment named name.
func File(name string, data []byte) Attachment {
	return Attachment{
		ContentType: `application/octet-stream; name="` + name + `"`,
		Disposition: `attachment; filename="` + name + `"`,
		Data:        data,
	}
}

// Message returns a multipart/mixed message (CRLF line ends) with a text
// part and the attachments; extraHeader lines (without CRLF) are added.
func Message(subject string, atts []Attachment, extraHeader ...string) []byte {
	bnd := fmt.Sprintf("=_mavis_%d", len(subject)+len(atts)*7919)
	var b strings.Builder
	b.WriteString("From: Sender <sender@example.net>\r\nTo: User <user@example.org>\r\nSubject: " + subject + "\r\n" +
		"Date: Sat, 01 Jun 2024 12:00:00 +0000\r\nMessage-ID: <" + strings.ReplaceAll(subject, " ", ".") + "@example.net>\r\nMIME-Version: 1.0\r\n")
	for _, h := range extraHeader {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("Content-Type: multipart/mixed; boundary=\"" + bnd + "\"\r\n\r\nThis is a MIME message.\r\n\r\n" +
		"--" + bnd + "\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nHello.\r\n")
	for _, a := range atts {
		b.WriteString("--" + bnd + "\r\nContent-Type: " + a.ContentType + "\r\n")
		if a.Disposition != "" {
			b.WriteString("Content-Disposition: " + a.Disposition + "\r\n")
		}
		b.WriteString("Content-Transfer-Encoding: base64\r\n\r\n")
		enc := base64.StdEncoding.EncodeToString(a.Data)
		for len(enc) > 76 {
			b.WriteString(enc[:76] + "\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc + "\r\n")
	}
	b.WriteString("--" + bnd + "--\r\n")
	return []byte(b.String())
}

// Zip returns a zip archive holding the files (name → content) in the
// order of names.
func Zip(names []string, files map[string][]byte) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, n := range names {
		f, err := w.Create(n)
		if err != nil {
			panic(err)
		}
		f.Write(files[n])
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return b.Bytes()
}
