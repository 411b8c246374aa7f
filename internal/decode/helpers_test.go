package decode

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"debug/pe"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// tinyPE builds a minimal but valid PE32 image (one .text section holding
// "ret"); dll sets IMAGE_FILE_DLL.
func tinyPE(dll bool) []byte {
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
	must(binary.Write(&b, binary.LittleEndian, pe.FileHeader{
		Machine: pe.IMAGE_FILE_MACHINE_I386, NumberOfSections: 1,
		SizeOfOptionalHeader: 0xe0, Characteristics: chars,
	}))
	must(binary.Write(&b, binary.LittleEndian, pe.OptionalHeader32{
		Magic: 0x10b, SizeOfCode: 0x200, AddressOfEntryPoint: 0x1000, BaseOfCode: 0x1000,
		ImageBase: 0x400000, SectionAlignment: 0x1000, FileAlignment: 0x200,
		MajorOperatingSystemVersion: 4, MajorSubsystemVersion: 4, SizeOfImage: 0x2000,
		SizeOfHeaders: 0x200, Subsystem: pe.IMAGE_SUBSYSTEM_WINDOWS_GUI,
		SizeOfStackReserve: 0x100000, SizeOfStackCommit: 0x1000, SizeOfHeapReserve: 0x100000,
		SizeOfHeapCommit: 0x1000, NumberOfRvaAndSizes: 16,
	}))
	sh := pe.SectionHeader32{VirtualSize: 1, VirtualAddress: 0x1000, SizeOfRawData: 0x200,
		PointerToRawData: 0x200, Characteristics: 0x60000020}
	copy(sh.Name[:], ".text")
	must(binary.Write(&b, binary.LittleEndian, sh))
	for b.Len() < 0x200 {
		b.WriteByte(0)
	}
	code := make([]byte, 0x200)
	code[0] = 0xc3
	b.Write(code)
	return b.Bytes()
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

type member struct {
	name string
	data []byte
}

func zipOf(ms ...member) []byte {
	var b bytes.Buffer
	w := zip.NewWriter(&b)
	for _, m := range ms {
		f, err := w.Create(m.name)
		must(err)
		_, err = f.Write(m.data)
		must(err)
	}
	must(w.Close())
	return b.Bytes()
}

func tarOf(ms ...member) []byte {
	var b bytes.Buffer
	w := tar.NewWriter(&b)
	for _, m := range ms {
		must(w.WriteHeader(&tar.Header{Name: m.name, Mode: 0o644, Size: int64(len(m.data)), Typeflag: tar.TypeReg}))
		_, err := w.Write(m.data)
		must(err)
	}
	must(w.Close())
	return b.Bytes()
}

func gzipOf(name string, data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Name = name
	_, err := w.Write(data)
	must(err)
	must(w.Close())
	return b.Bytes()
}

// cpioNewc writes a "newc" cpio archive.
func cpioNewc(ms ...member) []byte {
	var b bytes.Buffer
	hdr := func(name string, mode, size int) {
		fmt.Fprintf(&b, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
			1, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(name)+1, 0)
		b.WriteString(name + "\x00")
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	for _, m := range ms {
		hdr(m.name, 0o100644, len(m.data))
		b.Write(m.data)
		for b.Len()%4 != 0 {
			b.WriteByte(0)
		}
	}
	hdr("TRAILER!!!", 0, 0)
	return b.Bytes()
}

// arOf writes a common-format ar archive (GNU long names for > 15 chars).
func arOf(ms ...member) []byte {
	var b bytes.Buffer
	b.WriteString("!<arch>\n")
	var table bytes.Buffer
	offs := map[string]int{}
	for _, m := range ms {
		if len(m.name) > 15 {
			offs[m.name] = table.Len()
			table.WriteString(m.name + "/\n")
		}
	}
	write := func(name string, data []byte) {
		fmt.Fprintf(&b, "%-16s%-12d%-6d%-6d%-8o%-10d`\n", name, 0, 0, 0, 0o644, len(data))
		b.Write(data)
		if len(data)%2 == 1 {
			b.WriteByte('\n')
		}
	}
	if table.Len() > 0 {
		write("//", table.Bytes())
	}
	for _, m := range ms {
		n := m.name + "/"
		if o, ok := offs[m.name]; ok {
			n = fmt.Sprintf("/%d", o)
		}
		write(n, m.data)
	}
	return b.Bytes()
}

// rpmOf wraps a gzip'd cpio payload in a minimal RPM (lead, empty
// signature and main headers).
func rpmOf(ms ...member) []byte {
	var b bytes.Buffer
	lead := make([]byte, 96)
	copy(lead, "\xed\xab\xee\xdb\x03\x00")
	b.Write(lead)
	hdr := []byte{0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	b.Write(hdr) // signature header (112, already 8-aligned)
	b.Write(hdr) // main header
	b.Write(gzipOf("", cpioNewc(ms...)))
	return b.Bytes()
}

// rar4Stored builds a RAR 4 archive with stored members; encrypted sets
// the password flag on every member (data left in clear: the flag is what
// readers go by).
func rar4Stored(encrypted bool, ms ...member) []byte {
	var b bytes.Buffer
	b.WriteString("Rar!\x1a\x07\x00")
	block := func(typ byte, flags uint16, rest []byte) {
		h := []byte{typ, byte(flags), byte(flags >> 8), 0, 0}
		h = append(h, rest...)
		binary.LittleEndian.PutUint16(h[3:], uint16(len(h)+2))
		crc := uint16(crc32.ChecksumIEEE(h))
		b.Write([]byte{byte(crc), byte(crc >> 8)})
		b.Write(h)
	}
	block(0x73, 0, make([]byte, 6))
	for _, m := range ms {
		var fh bytes.Buffer
		w := func(v any) { must(binary.Write(&fh, binary.LittleEndian, v)) }
		w(uint32(len(m.data)))
		w(uint32(len(m.data)))
		fh.WriteByte(3) // Unix
		w(crc32.ChecksumIEEE(m.data))
		w(uint32(0x5a000000)) // DOS time
		fh.WriteByte(20)
		fh.WriteByte(0x30) // stored
		w(uint16(len(m.name)))
		w(uint32(0o100644))
		fh.WriteString(m.name)
		flags := uint16(0x8000)
		if encrypted {
			flags |= 0x04
		}
		block(0x74, flags, fh.Bytes())
		b.Write(m.data)
	}
	block(0x7b, 0x4000, nil)
	return b.Bytes()
}

func vint(v uint64) []byte {
	var out []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			out = append(out, c|0x80)
			continue
		}
		return append(out, c)
	}
}

// rar5Stored builds a RAR 5 archive with stored members.
func rar5Stored(ms ...member) []byte {
	var b bytes.Buffer
	b.WriteString("Rar!\x1a\x07\x01\x00")
	block := func(fields []byte, data []byte) {
		h := append(vint(uint64(len(fields))), fields...)
		var crc [4]byte
		binary.LittleEndian.PutUint32(crc[:], crc32.ChecksumIEEE(h))
		b.Write(crc[:])
		b.Write(h)
		b.Write(data)
	}
	// main archive header: type 1, flags 0, archive flags 0
	block([]byte{1, 0, 0}, nil)
	for _, m := range ms {
		var f []byte
		f = append(f, vint(2)...)                   // type: file
		f = append(f, vint(0x0002)...)              // header flags: data area present
		f = append(f, vint(uint64(len(m.data)))...) // data size
		f = append(f, vint(0x0004)...)              // file flags: CRC32 present
		f = append(f, vint(uint64(len(m.data)))...) // unpacked size
		f = append(f, vint(0o644)...)               // attributes
		var crc [4]byte
		binary.LittleEndian.PutUint32(crc[:], crc32.ChecksumIEEE(m.data))
		f = append(f, crc[:]...)
		f = append(f, vint(0)...) // compression: version 0, stored
		f = append(f, vint(1)...) // host OS: Unix
		f = append(f, vint(uint64(len(m.name)))...)
		f = append(f, m.name...)
		block(f, m.data)
	}
	block([]byte{5, 0, 0}, nil) // end of archive
	return b.Bytes()
}

// tnefOf builds a winmail.dat with one attachment: title, data, and MAPI
// properties carrying the long file name (PT_UNICODE).
func tnefOf(title, long string, data []byte) []byte {
	var b bytes.Buffer
	b.WriteString("\x78\x9f\x3e\x22\x01\x00")
	attr := func(level byte, id uint32, d []byte) {
		b.WriteByte(level)
		must(binary.Write(&b, binary.LittleEndian, id))
		must(binary.Write(&b, binary.LittleEndian, uint32(len(d))))
		b.Write(d)
		var sum uint16
		for _, c := range d {
			sum += uint16(c)
		}
		must(binary.Write(&b, binary.LittleEndian, sum))
	}
	attr(1, 0x00089006, []byte{0, 0, 0, 0}) // attTnefVersion-ish message attribute
	attr(2, 0x00069002, make([]byte, 14))   // attAttachRendData
	attr(2, 0x00018010, []byte(title+"\x00"))
	attr(2, 0x0006800f, data)
	var p bytes.Buffer
	w := func(v any) { must(binary.Write(&p, binary.LittleEndian, v)) }
	w(uint32(2))
	w(uint32(0x0003) | 0x0ffe<<16) // PR_OBJECT_TYPE-ish PT_LONG
	w(uint32(7))
	w(uint32(0x001f) | 0x3707<<16) // PR_ATTACH_LONG_FILENAME, PT_UNICODE
	w(uint32(1))
	var u []byte
	for _, r := range long + "\x00" {
		u = append(u, byte(r), byte(r>>8))
	}
	w(uint32(len(u)))
	p.Write(u)
	for p.Len()%4 != 0 {
		p.WriteByte(0)
	}
	attr(2, 0x00069005, p.Bytes())
	return b.Bytes()
}

// attachment is one MIME part for mailWith.
type attachment struct {
	ctype  string // full Content-Type value
	disp   string // full Content-Disposition value, "" for none
	cte    string // "base64" (default), "7bit", "quoted-printable"
	body   []byte
	header string // extra raw header lines
}

func b64lines(data []byte) string {
	s := base64.StdEncoding.EncodeToString(data)
	var b strings.Builder
	for len(s) > 76 {
		b.WriteString(s[:76] + "\r\n")
		s = s[76:]
	}
	b.WriteString(s + "\r\n")
	return b.String()
}

// mailWith builds a multipart/mixed message with a text part and atts.
func mailWith(atts ...attachment) []byte {
	bnd := fmt.Sprintf("=_b%d", boundaryCounter.Add(1))
	var b strings.Builder
	b.WriteString("From: a@example.com\r\nTo: b@example.org\r\nSubject: test\r\n" +
		"Date: Mon, 2 Jun 2025 10:00:00 +0000\r\nMessage-ID: <t@example.com>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"" + bnd + "\"\r\n\r\nThis is a MIME message.\r\n\r\n" +
		"--" + bnd + "\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nHello.\r\n")
	for _, a := range atts {
		b.WriteString("--" + bnd + "\r\nContent-Type: " + a.ctype + "\r\n")
		if a.disp != "" {
			b.WriteString("Content-Disposition: " + a.disp + "\r\n")
		}
		cte := a.cte
		if cte == "" {
			cte = "base64"
		}
		b.WriteString("Content-Transfer-Encoding: " + cte + "\r\n" + a.header + "\r\n")
		if cte == "base64" {
			b.WriteString(b64lines(a.body))
		} else {
			b.Write(a.body)
			b.WriteString("\r\n")
		}
	}
	b.WriteString("--" + bnd + "--\r\n")
	return []byte(b.String())
}

func file(name string, data []byte) attachment {
	return attachment{
		ctype: "application/octet-stream; name=\"" + name + "\"",
		disp:  "attachment; filename=\"" + name + "\"",
		body:  data,
	}
}

var testTools = FindTools(nil)

var boundaryCounter atomic.Int64

func decodeBytes(t testing.TB, msg []byte, lim Limits) *Result {
	t.Helper()
	dir := t.TempDir()
	res, err := Decode(context.Background(), bytes.NewReader(msg), int64(len(msg)), dir, lim, testTools)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	checkWorkDir(t, dir, res)
	return res
}

// checkWorkDir asserts that decoding left nothing but parts/pNNN files,
// each 0600 and matching a part.
func checkWorkDir(t testing.TB, dir string, res *Result) {
	t.Helper()
	files := map[string]bool{}
	for _, p := range res.Parts {
		if p.File != "" {
			files[p.File] = true
		}
	}
	err := filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if path == dir || path == filepath.Join(dir, partsDir) {
			return nil
		}
		if !files[path] {
			t.Errorf("unexpected file left in work dir: %s", path)
		} else if fi.Mode().Perm() != 0o600 || !fi.Mode().IsRegular() {
			t.Errorf("%s: mode %v, want regular 0600", path, fi.Mode())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// find returns the first part with name n (or -1).
func find(r *Result, name string) int {
	for i := range r.Parts {
		for _, n := range r.Parts[i].Names {
			if n == name {
				return i
			}
		}
	}
	return -1
}

func needTool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s not installed", name)
	}
	return p
}

// run7z creates an archive with the 7z program in a temp dir from members.
func run7z(t testing.TB, args []string, ms ...member) []byte {
	t.Helper()
	sz := needTool(t, "7z")
	dir := t.TempDir()
	var names []string
	for _, m := range ms {
		must(os.WriteFile(filepath.Join(dir, m.name), m.data, 0o600))
		names = append(names, m.name)
	}
	out := filepath.Join(dir, "out.arc")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sz, append(append(append([]string{"a", "-bd", "-y"}, args...), out), names...)...)
	cmd.Dir = dir
	if o, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("7z: %v\n%s", err, o)
	}
	b, err := os.ReadFile(out)
	must(err)
	return b
}

func newCmd(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, name, args...)
}

type tarWriter struct{ w *tar.Writer }

func newTarWriter(w io.Writer) *tarWriter { return &tarWriter{tar.NewWriter(w)} }

func (t *tarWriter) symlink(name, target string) {
	must(t.w.WriteHeader(&tar.Header{Name: name, Linkname: target, Typeflag: tar.TypeSymlink, Mode: 0o777}))
}

func (t *tarWriter) file(name string, data []byte) {
	must(t.w.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}))
	_, err := t.w.Write(data)
	must(err)
}

func (t *tarWriter) close() { must(t.w.Close()) }
