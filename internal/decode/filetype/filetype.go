// Package filetype tells what a file really is from its content, and names
// the result the way amavis does: a list of short types ("exe", "exe-ms",
// "dll", "zip", "asc", "html" …, see amavis's $map_full_type_to_short_type_re)
// plus a long, file(1)-like description.
//
// Detection is gabriel-vasile/mimetype for the bulk of formats, stdlib
// debug/pe and debug/elf for executables (mimetype calls anything starting
// with "MZ" an exe; amavis distinguishes exe, dll and DOS executables), and
// our own magic checks for the archive formats mimetype does not know (arj,
// lha, arc, zoo, ace, compress'd .Z, lzma, lzop, lz4, TNEF, SZDD) and for the
// text heuristics file(1) applies (ASCII vs 8-bit text, uuencode, BinHex,
// PGP armour, mail text). The package has no state; Detect is safe for
// concurrent use.
package filetype

import (
	"bytes"
	"debug/elf"
	"debug/pe"
	"encoding/binary"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/gabriel-vasile/mimetype"
)

// HeadSize is how many leading bytes Detect reads. ISO 9660 puts its magic
// at offset 32769, so the head must reach past it.
const HeadSize = 37 * 1024

// Type is the detected type of one file.
type Type struct {
	// Short holds amavis short type names, most general first, e.g.
	// ["exe","exe-ms"] or ["exe","dll"] or ["zip"]. Never empty.
	Short []string
	// Desc is a long description in the spirit of file(1).
	Desc string
	// MIME is the content-derived MIME type (from mimetype, or ours).
	MIME string
}

// Has reports whether t carries the short type s.
func (t Type) Has(s string) bool {
	for _, x := range t.Short {
		if x == s {
			return true
		}
	}
	return false
}

// Detect types the content of r (size bytes long).
func Detect(r io.ReaderAt, size int64) Type {
	if size <= 0 {
		return Type{Short: []string{"empty"}, Desc: "empty", MIME: "application/x-empty"}
	}
	n := int64(HeadSize)
	if size < n {
		n = size
	}
	head := make([]byte, n)
	m, err := r.ReadAt(head, 0)
	if m == 0 && err != nil {
		return Type{Short: []string{"dat"}, Desc: "cannot read: " + err.Error(), MIME: "application/octet-stream"}
	}
	head = head[:m]
	return DetectHead(head, r, size)
}

// DetectHead is Detect for callers that already hold the leading bytes;
// r may be nil, in which case executable analysis uses head only.
func DetectHead(head []byte, r io.ReaderAt, size int64) Type {
	if size <= 0 || len(head) == 0 {
		return Type{Short: []string{"empty"}, Desc: "empty", MIME: "application/x-empty"}
	}
	if r == nil {
		r = bytes.NewReader(head)
		size = int64(len(head))
	}
	if t, ok := magic(head, r, size); ok {
		return t
	}
	mt := mimetype.Detect(head)
	base := func(m *mimetype.MIME) string {
		s, _, _ := strings.Cut(m.String(), ";")
		return s
	}
	for m := mt; m != nil; m = m.Parent() {
		if t, ok := byMIME[base(m)]; ok {
			t.MIME = base(mt)
			if base(m) == "text/plain" || base(m) == "message/rfc822" {
				return text(head, t)
			}
			return t
		}
	}
	return Type{Short: []string{"dat"}, Desc: "data", MIME: base(mt)}
}

func st(desc string, short ...string) Type { return Type{Short: short, Desc: desc} }

// magic checks the formats mimetype does not know or gets too coarse.
func magic(h []byte, r io.ReaderAt, size int64) (Type, bool) {
	has := func(off int, s string) bool {
		return len(h) >= off+len(s) && string(h[off:off+len(s)]) == s
	}
	switch {
	case has(0, "MZ"):
		return exe(r, size), true
	case has(0, "\x7fELF"):
		return elfType(r, size), true
	case has(0, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
		t := st("Composite Document File V2 Document", "doc", "cdf-ms")
		t.MIME = mimetype.Detect(h).String()
		return t, true
	case has(0, "\x78\x9f\x3e\x22"):
		return Type{Short: []string{"tnef"}, Desc: "Transport Neutral Encapsulation Format (TNEF)", MIME: "application/ms-tnef"}, true
	case has(0, "\x60\xea") && len(h) > 10:
		return Type{Short: []string{"arj"}, Desc: "ARJ archive data", MIME: "application/x-arj"}, true
	case len(h) > 21 && h[2] == '-' && h[3] == 'l' && (h[4] == 'h' || h[4] == 'z') && h[6] == '-':
		return Type{Short: []string{"lha"}, Desc: "LHa archive data", MIME: "application/x-lzh-compressed"}, true
	case has(0, "ZOO ") && len(h) >= 24 && binary.LittleEndian.Uint32(h[20:]) == 0xfdc4a7dc:
		return Type{Short: []string{"zoo"}, Desc: "Zoo archive data", MIME: "application/x-zoo"}, true
	case has(7, "**ACE**"):
		return Type{Short: []string{"ace"}, Desc: "ACE archive data", MIME: "application/x-ace-compressed"}, true
	case has(0, "\x1f\x9d"):
		return Type{Short: []string{"Z"}, Desc: "compress'd data 16 bits", MIME: "application/x-compress"}, true
	case has(0, "\x1f\x9f"):
		return Type{Short: []string{"F"}, Desc: "frozen file 2.1", MIME: "application/x-freeze"}, true
	case has(0, "\x89LZO\x00\r\n\x1a\n"):
		return Type{Short: []string{"lzo"}, Desc: "lzop compressed data", MIME: "application/x-lzop"}, true
	case has(0, "\x04\x22\x4d\x18"), has(0, "\x02\x21\x4c\x18"):
		return Type{Short: []string{"lz4"}, Desc: "LZ4 compressed data", MIME: "application/x-lz4"}, true
	case has(0, "SZDD\x88\xf0\x27\x33"), has(0, "KWAJ\x88\xf0\x27\xd1"):
		return Type{Short: []string{"szdd"}, Desc: "MS Compress archive data", MIME: "application/x-ms-compress-szdd"}, true
	case has(0, "SIT!"), has(0, "StuffIt "):
		return Type{Short: []string{"sit"}, Desc: "StuffIt Archive", MIME: "application/x-stuffit"}, true
	case len(h) >= 13 && h[0] == 0x5d && h[1] == 0 && h[2] == 0 && (h[12] == 0 || h[12] == 0xff):
		// classic .lzma: properties 0x5d, dictionary size, then the
		// uncompressed size, usually -1 (unknown) or small
		return Type{Short: []string{"lzma"}, Desc: "lzma compressed data", MIME: "application/x-lzma"}, true
	case len(h) >= 2 && h[0] == 0x1a && h[1] >= 1 && h[1] <= 9 && len(h) >= 29 && h[2+12] == 0:
		// ARC: marker 0x1a, method 1..9, then a NUL-terminated 13-byte name
		return Type{Short: []string{"arc"}, Desc: "ARC archive data", MIME: "application/x-arc"}, true
	case has(32769, "CD001"), has(34817, "CD001"), has(36865, "CD001"):
		return Type{Short: []string{"iso"}, Desc: "ISO 9660 CD-ROM filesystem data", MIME: "application/x-iso9660-image"}, true
	case has(0, "\xed\xab\xee\xdb"):
		return Type{Short: []string{"rpm"}, Desc: "RPM", MIME: "application/x-rpm"}, true
	case has(0, "!<arch>\ndebian-binary"):
		return Type{Short: []string{"deb"}, Desc: "Debian binary package", MIME: "application/vnd.debian.binary-package"}, true
	case has(0, "!<arch>\n"):
		return Type{Short: []string{"a"}, Desc: "current ar archive", MIME: "application/x-archive"}, true
	case has(0, "070701"), has(0, "070702"), has(0, "070707"):
		return Type{Short: []string{"cpio"}, Desc: "ASCII cpio archive", MIME: "application/x-cpio"}, true
	case has(0, "\xc7\x71"), has(0, "\x71\xc7"):
		return Type{Short: []string{"cpio"}, Desc: "cpio archive", MIME: "application/x-cpio"}, true
	case has(0, "-----BEGIN PGP MESSAGE-----"):
		return Type{Short: []string{"pgp", "pgp.enc"}, Desc: "PGP message", MIME: "application/pgp-encrypted"}, true
	case has(0, "-----BEGIN PGP SIGNED MESSAGE-----"), has(0, "-----BEGIN PGP SIGNATURE-----"):
		return Type{Short: []string{"pgp", "pgp.asc"}, Desc: "PGP message Signature", MIME: "application/pgp-signature"}, true
	case has(0, "-----BEGIN PGP PUBLIC KEY BLOCK-----"):
		return Type{Short: []string{"pgp", "pgp.asc"}, Desc: "PGP public key block", MIME: "application/pgp-keys"}, true
	}
	return Type{}, false
}

// exe tells PE executables from DLLs and plain DOS executables. debug/pe does
// the full parse; a PE it rejects is still an executable to Windows'
// loader's eyes if the signature is there, so a failed parse falls back to
// the bare header check.
func exe(r io.ReaderAt, size int64) Type {
	t := Type{MIME: "application/vnd.microsoft.portable-executable"}
	var hdr [0x40]byte
	if _, err := r.ReadAt(hdr[:], 0); err != nil {
		return Type{Short: []string{"exe", "exe-ms"}, Desc: "MS-DOS executable", MIME: "application/x-dosexec"}
	}
	lfanew := int64(binary.LittleEndian.Uint32(hdr[0x3c:]))
	var sig [4]byte
	if lfanew <= 0 || lfanew+24 > size {
		return Type{Short: []string{"exe", "exe-ms"}, Desc: "MS-DOS executable", MIME: "application/x-dosexec"}
	}
	if _, err := r.ReadAt(sig[:], lfanew); err != nil {
		return Type{Short: []string{"exe", "exe-ms"}, Desc: "MS-DOS executable", MIME: "application/x-dosexec"}
	}
	switch {
	case string(sig[:]) == "PE\x00\x00":
	case string(sig[:2]) == "NE":
		return Type{Short: []string{"exe", "exe-ms"}, Desc: "MS-DOS executable, NE for MS Windows 3.x", MIME: "application/x-dosexec"}
	case string(sig[:2]) == "LE", string(sig[:2]) == "LX":
		return Type{Short: []string{"exe", "exe-ms"}, Desc: "MS-DOS executable, LE executable", MIME: "application/x-dosexec"}
	default:
		return Type{Short: []string{"exe", "exe-ms"}, Desc: "MS-DOS executable", MIME: "application/x-dosexec"}
	}
	var coff [20]byte
	if _, err := r.ReadAt(coff[:], lfanew+4); err != nil {
		return Type{Short: []string{"exe", "exe-ms"}, Desc: "PE executable for MS Windows (truncated)", MIME: t.MIME}
	}
	chars := binary.LittleEndian.Uint16(coff[18:])
	machine := binary.LittleEndian.Uint16(coff[0:])
	bits := "PE32"
	gui := ""
	if f, err := pe.NewFile(io.NewSectionReader(r, 0, size)); err == nil {
		switch oh := f.OptionalHeader.(type) {
		case *pe.OptionalHeader64:
			bits = "PE32+"
			gui = subsystem(oh.Subsystem)
		case *pe.OptionalHeader32:
			gui = subsystem(oh.Subsystem)
		}
		chars = f.Characteristics
	}
	if chars&pe.IMAGE_FILE_DLL != 0 {
		t.Short = []string{"exe", "dll"}
		t.Desc = bits + " executable (DLL)" + gui + machineName(machine) + ", for MS Windows"
		return t
	}
	t.Short = []string{"exe", "exe-ms"}
	t.Desc = bits + " executable" + gui + machineName(machine) + ", for MS Windows"
	return t
}

func machineName(m uint16) string {
	switch m {
	case pe.IMAGE_FILE_MACHINE_I386:
		return " Intel 80386"
	case pe.IMAGE_FILE_MACHINE_AMD64:
		return " x86-64"
	case pe.IMAGE_FILE_MACHINE_ARM64:
		return " Aarch64"
	case pe.IMAGE_FILE_MACHINE_ARMNT:
		return " ARMv7 Thumb"
	}
	return ""
}

func subsystem(s uint16) string {
	switch s {
	case pe.IMAGE_SUBSYSTEM_WINDOWS_GUI:
		return " (GUI)"
	case pe.IMAGE_SUBSYSTEM_WINDOWS_CUI:
		return " (console)"
	case pe.IMAGE_SUBSYSTEM_NATIVE:
		return " (native)"
	case pe.IMAGE_SUBSYSTEM_EFI_APPLICATION:
		return " (EFI application)"
	}
	return ""
}

// elfType follows file(1)'s words: "executable" (incl. pie executable) maps
// to exe/exe-unix, "shared object" to so, "relocatable" to o. "elf" is added
// so a rule can name the format directly.
func elfType(r io.ReaderAt, size int64) Type {
	t := Type{MIME: "application/x-elf"}
	f, err := elf.NewFile(io.NewSectionReader(r, 0, size))
	if err != nil {
		t.Short = []string{"exe", "exe-unix", "elf"}
		t.Desc = "ELF executable, corrupted"
		return t
	}
	cls := "32-bit"
	if f.Class == elf.ELFCLASS64 {
		cls = "64-bit"
	}
	end := "LSB"
	if f.Data == elf.ELFDATA2MSB {
		end = "MSB"
	}
	desc := "ELF " + cls + " " + end + " "
	switch f.Type {
	case elf.ET_EXEC:
		t.Short = []string{"exe", "exe-unix", "elf"}
		desc += "executable"
	case elf.ET_DYN:
		interp := false
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				interp = true
			}
		}
		if interp {
			t.Short = []string{"exe", "exe-unix", "elf"}
			desc += "pie executable"
		} else {
			t.Short = []string{"so", "elf"}
			desc += "shared object"
		}
	case elf.ET_REL:
		t.Short = []string{"o", "elf"}
		desc += "relocatable"
	case elf.ET_CORE:
		t.Short = []string{"dat", "elf"}
		desc += "core file"
	default:
		t.Short = []string{"exe", "exe-unix", "elf"}
		desc += "executable"
	}
	t.Desc = desc + ", " + strings.TrimPrefix(f.Machine.String(), "EM_")
	return t
}

// text refines a text/plain verdict as file(1) would: uuencoded, BinHex,
// ASCII ("asc") vs 8-bit or UTF-8 ("txt"), mail text.
func text(h []byte, t Type) Type {
	first := h
	if i := bytes.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	switch {
	case IsUUBegin(first):
		return Type{Short: []string{"uue"}, Desc: "uuencoded text", MIME: "text/x-uuencode"}
	case bytes.Contains(h[:min(len(h), 4096)], []byte("(This file must be converted with BinHex")):
		return Type{Short: []string{"hqx"}, Desc: "BinHex binary text", MIME: "application/mac-binhex40"}
	}
	mail := t.MIME == "message/rfc822" || looksLikeMail(h)
	ascii := true
	for _, c := range h {
		if c >= 0x80 {
			ascii = false
			break
		}
	}
	prefix := ""
	if mail {
		prefix = "RFC 822 mail, "
	}
	switch {
	case ascii:
		return Type{Short: []string{"asc"}, Desc: prefix + "ASCII text", MIME: t.MIME}
	case utf8.Valid(h) || utf8.Valid(trimPartialRune(h)):
		return Type{Short: []string{"txt"}, Desc: prefix + "UTF-8 Unicode text", MIME: t.MIME}
	default:
		return Type{Short: []string{"txt"}, Desc: prefix + "ISO-8859 text", MIME: t.MIME}
	}
}

// IsUUBegin reports whether line is a uuencode "begin <mode> <name>" line.
func IsUUBegin(line []byte) bool {
	line = bytes.TrimRight(line, "\r\n")
	rest, ok := bytes.CutPrefix(line, []byte("begin "))
	if !ok {
		return false
	}
	if len(rest) > 0 && rest[0] == '-' { // begin-base64 (sharutils)
		return false
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '7' {
		i++
	}
	return i >= 3 && i <= 4 && i+1 < len(rest) && rest[i] == ' '
}

// LooksLikeMail reports whether head starts like an RFC 5322 message.
func LooksLikeMail(head []byte) bool { return looksLikeMail(head) }

func looksLikeMail(h []byte) bool {
	if bytes.HasPrefix(h, []byte("From ")) { // mbox separator
		if i := bytes.IndexByte(h, '\n'); i >= 0 {
			h = h[i+1:]
		}
	}
	known := 0
	for range 8 {
		i := bytes.IndexByte(h, '\n')
		if i < 0 {
			break
		}
		line := bytes.TrimRight(h[:i], "\r")
		h = h[i+1:]
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		name, _, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return false
		}
		switch strings.ToLower(string(name)) {
		case "received", "return-path", "from", "to", "subject", "date", "message-id",
			"mime-version", "content-type", "delivered-to", "reply-to", "cc", "x-mailer",
			"dkim-signature", "authentication-results", "sender":
			known++
		}
	}
	return known >= 2
}

func trimPartialRune(b []byte) []byte {
	for i := 0; i < 3 && len(b) > 0; i++ {
		r, _ := utf8.DecodeLastRune(b)
		if r != utf8.RuneError {
			break
		}
		b = b[:len(b)-1]
	}
	return b
}

// byMIME maps mimetype's answers (checked from the most specific up the
// hierarchy) to amavis short types and a file(1)-like description.
var byMIME = map[string]Type{
	"application/zip": st("Zip archive data", "zip"),
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   st("Microsoft Word 2007+", "zip", "doc", "ooxml"),
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         st("Microsoft Excel 2007+", "zip", "ooxml"),
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": st("Microsoft PowerPoint 2007+", "zip", "ooxml"),
	"application/java-archive":                      st("Java archive data (JAR)", "zip", "jar"),
	"application/vnd.google-earth.kmz":              st("Compressed Google KML Document", "zip", "kmz"),
	"application/x-7z-compressed":                   st("7-zip archive data", "7z"),
	"application/vnd.rar":                           st("RAR archive data", "rar"),
	"application/gzip":                              st("gzip compressed data", "gz"),
	"application/x-bzip2":                           st("bzip2 compressed data", "bz2"),
	"application/x-xz":                              st("xz compressed data", "xz"),
	"application/zstd":                              st("Zstandard compressed data", "zst"),
	"application/lzip":                              st("lzip compressed data", "lz"),
	"application/x-tar":                             st("POSIX tar archive", "tar"),
	"application/x-cpio":                            st("cpio archive", "cpio"),
	"application/vnd.debian.binary-package":         st("Debian binary package", "deb"),
	"application/x-archive":                         st("current ar archive", "a"),
	"application/x-rpm":                             st("RPM", "rpm"),
	"application/vnd.ms-cab-compressed":             st("Microsoft Cabinet archive data", "cab"),
	"application/x-installshield":                   st("InstallShield Cabinet file", "installshield"),
	"application/x-iso9660-image":                   st("ISO 9660 CD-ROM filesystem data", "iso"),
	"application/vnd.ms-htmlhelp":                   st("MS Windows HtmlHelp Data", "chm"),
	"application/pdf":                               st("PDF document", "pdf"),
	"text/rtf":                                      st("Rich Text Format data", "rtf"),
	"application/postscript":                        st("PostScript document text", "ps"),
	"application/x-shockwave-flash":                 st("Macromedia Flash data", "swf"),
	"application/x-java-applet":                     st("compiled Java class data", "java"),
	"application/x-mach-binary":                     st("Mach-O executable", "exe", "macho"),
	"application/x-ms-shortcut":                     st("MS Windows shortcut", "lnk"),
	"application/onenote":                           st("Microsoft OneNote", "one"),
	"application/vnd.microsoft.portable-executable": st("PE executable for MS Windows", "exe", "exe-ms"),
	"image/jpeg":                                    st("JPEG image data", "image", "jpg"),
	"image/gif":                                     st("GIF image data", "image", "gif"),
	"image/png":                                     st("PNG image data", "image", "png"),
	"image/tiff":                                    st("TIFF image data", "image", "tif"),
	"image/bmp":                                     st("PC bitmap data", "image", "bmp"),
	"image/svg+xml":                                 st("SVG Scalable Vector Graphics image", "image", "svg"),
	"image/webp":                                    st("RIFF (little-endian) data, Web/P image", "image", "webp"),
	"image/x-icon":                                  st("MS Windows icon resource", "image", "ico"),
	"audio/mpeg":                                    st("MPEG ADTS, layer III", "audio", "mpa", "mp3"),
	"audio/flac":                                    st("FLAC audio bitstream data", "audio", "flac"),
	"audio/ogg":                                     st("Ogg data", "audio", "ogg"),
	"application/ogg":                               st("Ogg data", "audio", "ogg"),
	"audio/wav":                                     st("RIFF (little-endian) data, WAVE audio", "audio", "wav"),
	"audio/mp4":                                     st("ISO Media, MPEG v4 system", "audio", "mpa", "m4a"),
	"video/mpeg":                                    st("MPEG system stream data", "movie", "mpg"),
	"video/mp4":                                     st("ISO Media, MP4", "movie", "mp4"),
	"video/matroska":                                st("Matroska data", "movie", "mkv"),
	"video/x-ms-asf":                                st("Microsoft ASF", "movie", "wmv"),
	"video/x-msvideo":                               st("RIFF (little-endian) data, AVI", "movie", "avi"),
	"video/quicktime":                               st("ISO Media, Apple QuickTime movie", "movie", "mov"),
	"video/webm":                                    st("WebM", "movie", "webm"),
	"text/html":                                     st("HTML document text", "html"),
	"application/xhtml+xml":                         st("HTML document text", "html"),
	"text/xml":                                      st("XML document text", "xml"),
	"text/x-shellscript":                            st("POSIX shell script text executable", "txt"),
	"text/x-python":                                 st("Python script text executable", "txt"),
	"text/x-perl":                                   st("Perl script text executable", "txt"),
	"text/javascript":                               st("JavaScript source text", "txt"),
	"text/plain":                                    st("ASCII text", "asc"),
	"message/rfc822":                                st("RFC 822 mail text", "asc"),
}
