package decode

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"

	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"github.com/bodgit/sevenzip"
	"github.com/klauspost/compress/zstd"
	"github.com/nwaples/rardecode/v2"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz/lzma"

	"github.com/mavis-filter/mavis/internal/decode/ar"
	"github.com/mavis-filter/mavis/internal/decode/cpio"
	"github.com/mavis-filter/mavis/internal/decode/filetype"
	"github.com/mavis-filter/mavis/internal/decode/tnef"
)

// maxDict bounds the dictionary/window a compressed stream may ask for
// (LZMA, LZMA2, xz, zstd, rar). Streams wanting more are undecipherable:
// the decoders allocate the whole window up front.
const maxDict = 128 << 20

// decodePart unpacks part i if its type has a decoder, as amavis's
// decompose_part does with @decoders (first match wins).
func (d *decoder) decodePart(i int) error {
	p := &d.res.Parts[i]
	if p.File == "" || p.Container {
		return nil
	}
	has := p.HasType
	mt := p.MIMEType
	switch {
	case isMailType(mt) || strings.HasPrefix(p.TypeDesc, "RFC 822 mail"):
		return d.doMail(i)
	case has("uue"):
		return d.doUU(i)
	case has("asc") || has("txt"):
		if d.noBegin[i] {
			return nil // no "begin " line, no uuencoded file: spare reading it again
		}
		if mt == "" || mt == "text/plain" || mt == "application/octet-stream" {
			return d.doUU(i)
		}
		return nil
	case has("zip"):
		return d.doZip(i)
	case has("7z"):
		return d.do7zGo(i)
	case has("rar"):
		return d.doRar(i)
	case has("gz"):
		return d.doStream(i, "do_gunzip", func(r io.Reader) (io.Reader, []string, error) {
			z, err := gzip.NewReader(r)
			if err != nil {
				return nil, nil, err
			}
			return z, []string{z.Name}, nil
		})
	case has("bz2"):
		return d.doStream(i, "do_bunzip2", func(r io.Reader) (io.Reader, []string, error) { return bzip2.NewReader(r), nil, nil })
	case has("xz"):
		return d.doStream(i, "do_unxz", func(r io.Reader) (io.Reader, []string, error) { return newXZReader(r), nil, nil })
	case has("lzma"):
		return d.doStream(i, "do_unlzma", func(r io.Reader) (io.Reader, []string, error) {
			z, err := lzma.ReaderConfig{DictCap: maxDict}.NewReader(r)
			return z, nil, err
		})
	case has("zst"):
		return d.doStream(i, "do_unzstd", func(r io.Reader) (io.Reader, []string, error) {
			z, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
				zstd.WithDecoderMaxWindow(maxDict), zstd.WithDecoderMaxMemory(1<<40))
			if err != nil {
				return nil, nil, err
			}
			return zstdReader{z}, nil, nil
		})
	case has("lz4"):
		return d.doStream(i, "do_unlz4", func(r io.Reader) (io.Reader, []string, error) { return lz4.NewReader(r), nil, nil })
	case has("tar"):
		return d.doTar(i)
	case has("cpio"):
		return d.doCpio(i)
	case has("deb") || has("a"):
		return d.doAr(i)
	case has("rpm"):
		return d.doRpm(i)
	case has("tnef"):
		return d.doTNEF(i)
	case has("doc") || has("cdf-ms"):
		return d.doOLE(i)
	case has("iso"):
		return d.doISO(i)
	case has("cab"):
		return d.doTool(i, d.tools.CabExtract, "do_cabextract", func(src, dst string) []string {
			return []string{"-q", "-d", dst, "--", src}
		})
	case has("arj"):
		return d.doTool(i, d.tools.Arj, "do_unarj", func(src, dst string) []string {
			if path.Base(d.tools.Arj) == "unarj" {
				return []string{"x", src}
			}
			// a trailing dot stops arj from appending ".arj" to a name
			// without extension (our parts/pNNN)
			return []string{"x", "-y", "-i", "-ht" + dst + "/", src + "."}
		})
	case has("lha"):
		return d.doTool(i, d.tools.Lha, "do_lha", func(src, dst string) []string {
			return []string{"-xfw=" + dst, src}
		})
	case has("arc"):
		return d.doTool(i, d.tools.Arc, "do_arc", func(src, dst string) []string {
			if path.Base(d.tools.Arc) == "arc" {
				return []string{"x", src}
			}
			return []string{src}
		})
	case has("zoo"):
		return d.doTool(i, d.tools.Zoo, "do_zoo", func(src, dst string) []string {
			if path.Base(d.tools.Zoo) == "unzoo" {
				return []string{"-x", src}
			}
			return []string{"-extract", src}
		})
	case has("Z") || has("F") || has("lzo") || has("lz") || has("chm") || has("szdd") ||
		has("ace") || has("installshield") || has("sit"):
		return d.do7z(i)
	case has("exe") && !has("exe-unix"):
		return d.doSFX(i)
	}
	return nil
}

func isMailType(mt string) bool {
	switch mt {
	case "message/rfc822", "message/global", "message/news", "message/x-rfc822", "message/rfc2822":
		return true
	}
	return false
}

// failed classifies an error from unpacking part i: limit and context
// errors end decoding, anything from the data itself only marks the part.
func (d *decoder) failed(i int, who string, err error) error {
	if err == nil {
		return nil
	}
	var he *holdError
	if errors.As(err, &he) {
		return err
	}
	if d.ctx.Err() != nil {
		return d.ctx.Err()
	}
	var re *readErr
	if errors.As(err, &re) || !isLocalErr(err) {
		d.undecipherable(i, "%s: %v", who, err)
		return nil
	}
	return err
}

// isLocalErr reports errors of our own file system (which abort decoding)
// rather than of the data.
func isLocalErr(err error) bool {
	var pe *os.PathError
	return errors.As(err, &pe) && !errors.Is(err, os.ErrClosed) && strings.Contains(pe.Path, partsDir)
}

func (d *decoder) openSection(i int) (*os.File, *io.SectionReader, error) {
	f, err := d.openPart(i)
	if err != nil {
		return nil, nil, err
	}
	return f, io.NewSectionReader(f, 0, d.res.Parts[i].Size), nil
}

// doMail decodes an attached message (mavis recurses into message/rfc822,
// amavis does not: an executable inside an attached message IS checked).
func (d *decoder) doMail(i int) error {
	f, err := d.openPart(i)
	if err != nil {
		return err
	}
	defer f.Close()
	d.nkids[i]++
	pl := fmt.Sprintf("%s/%d", d.res.Parts[i].Placement, d.nkids[i])
	errs, err := d.walkMIME(f, i, pl, d.res.Parts[i].Depth+1)
	d.res.Parts[i].Errors = append(d.res.Parts[i].Errors, errs...)
	d.res.Parts[i].Unpacked = true
	return d.failed(i, "mime_decode", err)
}

// doUU extracts uuencoded files from a text part (MIME::Parser's
// extract_uuencode, done on decoded text of any part).
func (d *decoder) doUU(i int) error {
	f, err := d.openPart(i)
	if err != nil {
		return err
	}
	defer f.Close()
	lr := newLineReader(ctxReader{d.ctx, f})
	defer lr.release()
	for lr.next() {
		if !lr.start || !filetype.IsUUBegin(lr.line) {
			continue
		}
		body, _ := splitEOL(lr.line)
		fields := strings.SplitN(string(body), " ", 3)
		c, err := d.newChild(i, fields[2])
		if err != nil {
			return err
		}
		s, err := d.open(c, "do_ascii", false)
		if err != nil {
			return err
		}
		u := newUUDec(s)
		u.begun = true
		var werr error
		for lr.next() {
			if !lr.start {
				continue
			}
			l, _ := splitEOL(lr.line)
			if bytes.Equal(bytes.TrimRight(l, " \t"), []byte("end")) {
				break
			}
			if len(l) == 0 {
				continue
			}
			if werr = u.Write2(l); werr != nil {
				break
			}
		}
		if err := u.Close(); werr == nil {
			werr = err
		}
		if err := d.close(c, s); werr == nil {
			werr = err
		}
		d.res.Parts[i].Unpacked = true
		if werr != nil {
			return d.failed(i, "do_ascii", werr)
		}
	}
	return d.failed(i, "do_ascii", lr.readError())
}

// Write2 decodes one uuencoded line (without its terminator).
func (d *uuDec) Write2(l []byte) error {
	d.out = uuDecodeLine(d.out, l, &d.bad)
	if len(d.out) >= 16*1024 {
		return d.flush()
	}
	return nil
}

// doStream decompresses a single-stream format into one child named after
// the parent (x.exe.gz -> x.exe, as amavis's do_uncompress does).
func (d *decoder) doStream(i int, who string, open func(io.Reader) (io.Reader, []string, error)) error {
	f, err := d.openPart(i)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReader(ctxReader{d.ctx, f})
	z, stored, err := open(br)
	if err != nil {
		d.undecipherable(i, "%s: %v", who, err)
		return nil
	}
	if c, ok := z.(io.Closer); ok {
		defer c.Close()
	}
	p := &d.res.Parts[i]
	var names []string
	for _, n := range stored {
		if n != "" {
			names = append(names, n)
		}
	}
	for _, n := range p.Names {
		names = append(names, strippedName(n, p.Types))
	}
	c, err := d.newChild(i, names...)
	if err != nil {
		return err
	}
	d.res.Parts[i].Unpacked = true
	return d.failed(i, who, d.fill(c, z, who))
}

func strippedName(n string, types []string) string {
	lower := strings.ToLower(n)
	cut := func(ext, repl string) (string, bool) {
		if strings.HasSuffix(lower, ext) {
			return n[:len(n)-len(ext)] + repl, true
		}
		return "", false
	}
	for _, t := range types {
		var rules [][2]string
		switch t {
		case "gz":
			rules = [][2]string{{".gz", ""}, {".tgz", ".tar"}}
		case "bz2":
			rules = [][2]string{{".bz2", ""}, {".bz", ""}, {".tbz2", ".tar"}, {".tbz", ".tar"}}
		case "xz":
			rules = [][2]string{{".xz", ""}, {".txz", ".tar"}}
		case "lzma":
			rules = [][2]string{{".lzma", ""}, {".tlz", ".tar"}}
		case "zst":
			rules = [][2]string{{".zst", ""}, {".tzst", ".tar"}}
		case "lz4":
			rules = [][2]string{{".lz4", ""}}
		case "rpm":
			rules = [][2]string{{".rpm", ".cpio"}}
		}
		for _, r := range rules {
			if s, ok := cut(r[0], r[1]); ok {
				return s
			}
		}
	}
	return n
}

type zstdReader struct{ *zstd.Decoder }

func (z zstdReader) Close() error { z.Decoder.Close(); return nil }

// doZip unpacks a zip with archive/zip. Members in methods Go lacks
// (deflate64, implode, lzma…) send the whole archive to 7z instead;
// encrypted members become file-less parts with attributes U and C.
func (d *decoder) doZip(i int) error {
	f, sr, err := d.openSection(i)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := zip.NewReader(sr, sr.Size())
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		if d.tools.SevenZip != "" {
			return d.do7z(i)
		}
		d.undecipherable(i, "do_unzip: %v", err)
		return nil
	}
	zr.RegisterDecompressor(12, func(r io.Reader) io.ReadCloser { return io.NopCloser(bzip2.NewReader(r)) })
	for _, zf := range zr.File {
		switch zf.Method {
		case zip.Store, zip.Deflate, 12:
		default:
			if zf.Flags&1 == 0 && zf.Method != 99 && d.tools.SevenZip != "" {
				return d.do7z(i)
			}
		}
	}
	d.res.Parts[i].Unpacked = true
	for _, zf := range zr.File {
		if err := d.ctx.Err(); err != nil {
			return err
		}
		if strings.HasSuffix(zf.Name, "/") && zf.UncompressedSize64 == 0 {
			continue
		}
		c, err := d.newChild(i, zf.Name)
		if err != nil {
			return err
		}
		d.res.Parts[c].ArchiveName = zf.Name
		mode := zf.Mode()
		switch {
		case zf.Flags&1 != 0 || zf.Method == 99:
			d.encrypted(c, "")
			continue
		case mode&os.ModeSymlink != 0:
			d.res.Parts[c].addAttr("L")
			continue
		case zf.Method != zip.Store && zf.Method != zip.Deflate && zf.Method != 12:
			d.undecipherable(c, "do_unzip: unsupported compression method %d", zf.Method)
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			d.undecipherable(c, "do_unzip: %v", err)
			continue
		}
		err = d.fill(c, ctxReader{d.ctx, rc}, "do_unzip")
		rc.Close()
		if err := d.failed(c, "do_unzip", err); err != nil {
			return err
		}
	}
	return nil
}

// do7zGo unpacks 7z archives with bodgit/sevenzip (7z the program is the
// fallback for what it cannot read).
func (d *decoder) do7zGo(i int) error {
	f, sr, err := d.openSection(i)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := sevenzip.NewReader(sr, sr.Size())
	if err != nil {
		var re *sevenzip.ReadError
		if errors.As(err, &re) && re.Encrypted {
			d.encrypted(i, "7z: archive headers are encrypted")
			return nil
		}
		if d.tools.SevenZip != "" {
			return d.do7z(i)
		}
		d.undecipherable(i, "do_7zip: %v", err)
		return nil
	}
	d.res.Parts[i].Unpacked = true
	for _, zf := range zr.File {
		if err := d.ctx.Err(); err != nil {
			return err
		}
		if zf.FileInfo().IsDir() {
			continue
		}
		c, err := d.newChild(i, zf.Name)
		if err != nil {
			return err
		}
		d.res.Parts[c].ArchiveName = zf.Name
		if zf.FileInfo().Mode()&os.ModeSymlink != 0 {
			d.res.Parts[c].addAttr("L")
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			var re *sevenzip.ReadError
			if errors.As(err, &re) && re.Encrypted {
				d.encrypted(c, "")
			} else {
				d.undecipherable(c, "do_7zip: %v", err)
			}
			continue
		}
		err = d.fill(c, ctxReader{d.ctx, rc}, "do_7zip")
		rc.Close()
		var re *sevenzip.ReadError
		if errors.As(err, &re) && re.Encrypted {
			d.dropFile(c)
			d.encrypted(c, "")
			continue
		}
		if err := d.failed(c, "do_7zip", err); err != nil {
			return err
		}
	}
	return nil
}

// dropFile discards what was written for part c.
func (d *decoder) dropFile(c int) {
	p := &d.res.Parts[c]
	if p.File != "" {
		_ = d.root.Remove(path.Join(partsDir, p.ID))
	}
	p.File, p.Types, p.TypeDesc = "", nil, ""
}

// doRar unpacks RAR 1.5–5 with rardecode.
func (d *decoder) doRar(i int) error {
	f, err := d.openPart(i)
	if err != nil {
		return err
	}
	defer f.Close()
	rr, err := rardecode.NewReader(bufio.NewReader(ctxReader{d.ctx, f}), rardecode.MaxDictionarySize(maxDict))
	if err != nil {
		return d.rarErr(i, err)
	}
	for {
		if err := d.ctx.Err(); err != nil {
			return err
		}
		h, err := rr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return d.rarErr(i, err)
		}
		d.res.Parts[i].Unpacked = true
		if h.IsDir {
			continue
		}
		c, err := d.newChild(i, h.Name)
		if err != nil {
			return err
		}
		d.res.Parts[c].ArchiveName = h.Name
		switch {
		case h.Encrypted:
			d.encrypted(c, "")
			continue
		case h.LinkType != 0 || h.Mode()&os.ModeSymlink != 0:
			d.res.Parts[c].addAttr("L")
			continue
		}
		err = d.fill(c, rr, "do_unrar")
		if errors.Is(err, rardecode.ErrArchivedFileEncrypted) || errors.Is(err, rardecode.ErrBadPassword) {
			d.dropFile(c)
			d.encrypted(c, "")
			continue
		}
		if err := d.failed(c, "do_unrar", err); err != nil {
			return err
		}
		var re *readErr
		if errors.As(err, &re) { // the stream is out of sync after a bad member
			d.undecipherable(i, "do_unrar: %v", err)
			return nil
		}
	}
}

func (d *decoder) rarErr(i int, err error) error {
	if d.ctx.Err() != nil {
		return d.ctx.Err()
	}
	switch {
	case errors.Is(err, rardecode.ErrArchiveEncrypted), errors.Is(err, rardecode.ErrArchivedFileEncrypted),
		errors.Is(err, rardecode.ErrBadPassword):
		d.encrypted(i, "rar: archive is encrypted")
	case errors.Is(err, rardecode.ErrMultiVolume):
		d.undecipherable(i, "do_unrar: multi-volume archive, next volume missing")
	default:
		d.undecipherable(i, "do_unrar: %v", err)
	}
	return nil
}

// doTar unpacks tar (all variants archive/tar knows).
func (d *decoder) doTar(i int) error {
	f, err := d.openPart(i)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(bufio.NewReader(ctxReader{d.ctx, f}))
	for n := 0; ; n++ {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if d.ctx.Err() != nil {
				return d.ctx.Err()
			}
			d.undecipherable(i, "do_tar: %v", err)
			return nil
		}
		d.res.Parts[i].Unpacked = true
		var attr string
		switch h.Typeflag {
		case tar.TypeDir:
			continue
		case tar.TypeReg, tar.TypeRegA, tar.TypeGNUSparse, tar.TypeCont:
		case tar.TypeSymlink, tar.TypeLink:
			attr = "L"
		case tar.TypeXGlobalHeader, tar.TypeXHeader, tar.TypeGNULongName, tar.TypeGNULongLink:
			continue
		default:
			attr = "S"
		}
		c, err := d.newChild(i, h.Name)
		if err != nil {
			return err
		}
		d.res.Parts[c].ArchiveName = h.Name
		if attr != "" {
			d.res.Parts[c].addAttr(attr)
			continue
		}
		if err := d.failed(c, "do_tar", d.fill(c, tr, "do_tar")); err != nil {
			return err
		}
	}
}

// doCpio unpacks cpio archives with our own reader.
func (d *decoder) doCpio(i int) error {
	f, err := d.openPart(i)
	if err != nil {
		return err
	}
	defer f.Close()
	cr := cpio.NewReader(ctxReader{d.ctx, f})
	for {
		h, err := cr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if d.ctx.Err() != nil {
				return d.ctx.Err()
			}
			d.undecipherable(i, "do_cpio: %v", err)
			return nil
		}
		d.res.Parts[i].Unpacked = true
		if h.Mode&cpio.TypeMask == cpio.TypeDir {
			continue
		}
		c, err := d.newChild(i, h.Name)
		if err != nil {
			return err
		}
		d.res.Parts[c].ArchiveName = h.Name
		switch {
		case h.Mode&cpio.TypeMask == cpio.TypeSymlink:
			d.res.Parts[c].addAttr("L")
			continue
		case !h.IsRegular():
			d.res.Parts[c].addAttr("S")
			continue
		}
		if err := d.failed(c, "do_cpio", d.fill(c, cr, "do_cpio")); err != nil {
			return err
		}
	}
}

// doAr unpacks ar archives (.deb, .a) with our own reader.
func (d *decoder) doAr(i int) error {
	f, err := d.openPart(i)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := ar.NewReader(ctxReader{d.ctx, f})
	if err != nil {
		d.undecipherable(i, "do_ar: %v", err)
		return nil
	}
	for {
		h, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			if d.ctx.Err() != nil {
				return d.ctx.Err()
			}
			d.undecipherable(i, "do_ar: %v", err)
			return nil
		}
		d.res.Parts[i].Unpacked = true
		c, err := d.newChild(i, h.Name)
		if err != nil {
			return err
		}
		d.res.Parts[c].ArchiveName = h.Name
		if err := d.failed(c, "do_ar", d.fill(c, r, "do_ar")); err != nil {
			return err
		}
	}
}

// doRpm strips the RPM lead and headers and decompresses the payload into
// one child, a cpio archive (what rpm2cpio does for amavis).
func (d *decoder) doRpm(i int) error {
	f, sr, err := d.openSection(i)
	if err != nil {
		return err
	}
	defer f.Close()
	off, err := rpmPayloadOffset(sr)
	if err != nil {
		d.undecipherable(i, "do_rpm: %v", err)
		return nil
	}
	payload := io.NewSectionReader(sr, off, sr.Size()-off)
	var head [6]byte
	_, _ = payload.ReadAt(head[:], 0)
	br := bufio.NewReader(ctxReader{d.ctx, payload})
	var z io.Reader
	switch {
	case head[0] == 0x1f && head[1] == 0x8b:
		gz, err := gzip.NewReader(br)
		if err != nil {
			d.undecipherable(i, "do_rpm: %v", err)
			return nil
		}
		z = gz
	case string(head[:3]) == "BZh":
		z = bzip2.NewReader(br)
	case string(head[:6]) == "\xfd7zXZ\x00":
		z = newXZReader(br)
	case string(head[:4]) == "\x28\xb5\x2f\xfd":
		zd, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(maxDict))
		if err != nil {
			d.undecipherable(i, "do_rpm: %v", err)
			return nil
		}
		defer zd.Close()
		z = zd
	case head[0] == 0x5d:
		lz, err := lzma.ReaderConfig{DictCap: maxDict}.NewReader(br)
		if err != nil {
			d.undecipherable(i, "do_rpm: %v", err)
			return nil
		}
		z = lz
	default:
		z = br // uncompressed cpio
	}
	var names []string
	for _, n := range d.res.Parts[i].Names {
		names = append(names, strippedName(n, []string{"rpm"}))
	}
	c, err := d.newChild(i, names...)
	if err != nil {
		return err
	}
	d.res.Parts[i].Unpacked = true
	return d.failed(i, "do_rpm", d.fill(c, z, "do_rpm"))
}

// rpmPayloadOffset skips the 96-byte lead, the signature header (padded to
// 8 bytes) and the main header.
func rpmPayloadOffset(r io.ReaderAt) (int64, error) {
	off := int64(96)
	for k := 0; k < 2; k++ {
		var h [16]byte
		if _, err := r.ReadAt(h[:], off); err != nil {
			return 0, fmt.Errorf("truncated header: %w", err)
		}
		if !bytes.Equal(h[:3], []byte{0x8e, 0xad, 0xe8}) {
			return 0, errors.New("bad header magic")
		}
		nindex := int64(beU32(h[8:]))
		hsize := int64(beU32(h[12:]))
		if nindex > 1<<20 || hsize > 1<<28 {
			return 0, errors.New("header too large")
		}
		off += 16 + nindex*16 + hsize
		if k == 0 {
			off += (8 - off%8) % 8
		}
	}
	return off, nil
}

func beU32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// doTNEF extracts attachments from winmail.dat with our own TNEF reader.
func (d *decoder) doTNEF(i int) error {
	f, err := d.openPart(i)
	if err != nil {
		return err
	}
	defer f.Close()
	kids := map[int]int{}
	child := func(att int) (int, error) {
		if c, ok := kids[att]; ok {
			return c, nil
		}
		c, err := d.newChild(i)
		if err != nil {
			return -1, err
		}
		kids[att] = c
		return c, nil
	}
	var stop error
	err = tnef.Walk(ctxReader{d.ctx, f}, tnef.Visitor{
		Data: func(att int, r io.Reader) error {
			c, err := child(att)
			if err != nil {
				stop = err
				return err
			}
			if d.res.Parts[c].File != "" { // a second data value: its own part
				if c, err = d.newChild(i, d.res.Parts[c].Names...); err != nil {
					stop = err
					return err
				}
			}
			if err := d.fill(c, r, "do_tnef"); err != nil {
				var re *readErr
				if !errors.As(err, &re) {
					stop = err
				}
				return err
			}
			return nil
		},
		Name: func(att int, name string) {
			if c, err := child(att); err == nil {
				d.res.Parts[c].addName(name)
			} else if stop == nil {
				stop = err
			}
		},
		MIME: func(att int, mt string) {
			if c, err := child(att); err == nil && d.res.Parts[c].MIMEType == "" {
				d.res.Parts[c].MIMEType = strings.ToLower(mt)
			}
		},
	})
	d.res.Parts[i].Unpacked = len(kids) > 0
	if stop != nil {
		return d.failed(i, "do_tnef", stop)
	}
	if err != nil {
		if d.ctx.Err() != nil {
			return d.ctx.Err()
		}
		d.undecipherable(i, "do_tnef: %v", err)
	}
	return nil
}

// doSFX looks for an archive appended to an executable (self-extracting
// zip or rar), as amavis's do_executable. The executable itself is kept.
func (d *decoder) doSFX(i int) error {
	f, sr, err := d.openSection(i)
	if err != nil {
		return err
	}
	defer f.Close()
	if zr, err := zip.NewReader(sr, sr.Size()); err == nil && len(zr.File) > 0 {
		f.Close()
		return d.doZip(i)
	}
	if _, err := rardecode.NewReader(bufio.NewReader(io.NewSectionReader(sr, 0, min(sr.Size(), 4<<20))), rardecode.MaxDictionarySize(maxDict)); err == nil {
		f.Close()
		if err := d.doRar(i); err != nil {
			return err
		}
		// an exe that is not an SFX is not undecipherable
		p := &d.res.Parts[i]
		if !p.Unpacked && strings.Contains(p.Attrs, "U") && !p.Encrypted {
			p.Attrs = strings.ReplaceAll(p.Attrs, "U", "")
			p.Errors = nil
		}
	}
	return nil
}
