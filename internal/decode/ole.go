package decode

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/kdomanski/iso9660"
	"github.com/richardlehane/mscfb"
)

// doOLE looks inside an OLE2 compound file (doc, xls, ppt, msi, msg):
// it flags a VBA project (Part.Macros) and password protection, and
// extracts embedded objects (Ole10Native packages, Package and CONTENTS
// streams, PowerPoint's compressed ExOleObjStg records) as children. The
// document itself is kept, as amavis keeps it after ripOLE.
func (d *decoder) doOLE(i int) error {
	f, sr, err := d.openSection(i)
	if err != nil {
		return err
	}
	defer f.Close()
	r, err := mscfb.New(sr)
	if err != nil {
		d.undecipherable(i, "do_ole: %v", err)
		return nil
	}
	entries := 0
	for {
		if err := d.ctx.Err(); err != nil {
			return err
		}
		e, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			d.undecipherable(i, "do_ole: %v", err)
			return nil
		}
		if entries++; entries > 100000 {
			d.undecipherable(i, "do_ole: too many entries")
			return nil
		}
		name := e.Name
		p := &d.res.Parts[i]
		switch {
		case name == "VBA" || name == "_VBA_PROJECT_CUR" || name == "Macros" || name == "_VBA_PROJECT" ||
			(name == "dir" && inPath(e.Path, "VBA")):
			p.Macros = true
		case name == "EncryptedPackage" || name == "EncryptionInfo":
			d.encrypted(i, "password-protected Office document")
		case name == "WordDocument":
			var fib [12]byte
			if n, _ := e.ReadAt(fib[:], 0); n == len(fib) && binary.LittleEndian.Uint16(fib[10:])&0x0100 != 0 {
				d.encrypted(i, "password-protected Word document")
			}
		case name == "\x01Ole10Native" || name == "Ole10Native":
			if err := d.oleNative(i, e); err != nil {
				return err
			}
		case name == "Package" || name == "CONTENTS":
			c, err := d.newChild(i, path.Join(append(append([]string{}, e.Path...), name)...))
			if err != nil {
				return err
			}
			d.res.Parts[i].Unpacked = true
			if err := d.failed(c, "do_ole", d.fill(c, io.LimitReader(e, e.Size), "do_ole")); err != nil {
				return err
			}
		case name == "PowerPoint Document":
			if err := d.pptObjects(i, e); err != nil {
				return err
			}
		}
	}
}

func inPath(p []string, s string) bool {
	for _, x := range p {
		if x == s {
			return true
		}
	}
	return false
}

// oleNative extracts an Ole10Native package: size, flags, label, path,
// reserved, temp path, data size, data. Streams that do not follow the
// layout are taken as raw data after the size word.
func (d *decoder) oleNative(i int, e *mscfb.File) error {
	var hdr [4]byte
	if _, err := e.ReadAt(hdr[:], 0); err != nil {
		return nil
	}
	buf := make([]byte, min(e.Size, 8192))
	n, _ := e.ReadAt(buf, 0)
	buf = buf[:n]
	var names []string
	dataOff, dataLen := int64(4), e.Size-4
	if len(buf) > 6 {
		b := buf[6:]
		label, rest, ok1 := bytes.Cut(b, []byte{0})
		file, rest, ok2 := bytes.Cut(rest, []byte{0})
		if ok1 && ok2 && len(rest) >= 8 {
			tlen := int(binary.LittleEndian.Uint32(rest[4:8]))
			if tlen >= 0 && 8+tlen+4 <= len(rest) {
				tmp := strings.TrimRight(string(rest[8:8+tlen]), "\x00")
				size := int64(binary.LittleEndian.Uint32(rest[8+tlen:]))
				off := int64(len(buf) - len(rest) + 8 + tlen + 4)
				if off+size <= e.Size {
					names = append(names, string(label), baseName(string(file)), string(file), baseName(tmp))
					dataOff, dataLen = off, size
				}
			}
		}
	}
	c, err := d.newChild(i, names...)
	if err != nil {
		return err
	}
	d.res.Parts[i].Unpacked = true
	return d.failed(c, "do_ole", d.fill(c, io.NewSectionReader(e, dataOff, dataLen), "do_ole"))
}

func baseName(p string) string {
	p = strings.ReplaceAll(p, "\\", "/")
	return path.Base(p)
}

// pptObjects extracts ExOleObjStg records (type 0x1011) from a PowerPoint
// Document stream; compressed ones (instance 1) are zlib after a size word.
func (d *decoder) pptObjects(i int, e *mscfb.File) error {
	off := int64(0)
	for steps := 0; off+8 <= e.Size && steps < 1<<20; steps++ {
		var h [8]byte
		if _, err := e.ReadAt(h[:], off); err != nil {
			return nil
		}
		verInst := binary.LittleEndian.Uint16(h[0:])
		typ := binary.LittleEndian.Uint16(h[2:])
		ln := int64(binary.LittleEndian.Uint32(h[4:]))
		off += 8
		if verInst&0x0f == 0x0f { // container: its records follow
			continue
		}
		if off+ln > e.Size {
			return nil
		}
		if typ == 0x1011 && ln > 4 {
			var src io.Reader = io.NewSectionReader(e, off, ln)
			if verInst>>4 == 1 {
				z, err := zlib.NewReader(io.NewSectionReader(e, off+4, ln-4))
				if err != nil {
					d.res.Parts[i].Errors = append(d.res.Parts[i].Errors, fmt.Sprintf("do_ole: embedded object: %v", err))
					off += ln
					continue
				}
				src = z
			}
			c, err := d.newChild(i, fmt.Sprintf("ExOleObjStg-%d", off))
			if err != nil {
				return err
			}
			d.res.Parts[i].Unpacked = true
			if err := d.failed(c, "do_ole", d.fill(c, src, "do_ole")); err != nil {
				return err
			}
		}
		off += ln
	}
	return nil
}

// doISO unpacks ISO 9660 images (Rock Ridge names where present) with
// kdomanski/iso9660; 7z (which also reads Joliet and UDF) is the fallback.
func (d *decoder) doISO(i int) error {
	f, sr, err := d.openSection(i)
	if err != nil {
		return err
	}
	defer f.Close()
	img, err := iso9660.OpenImage(sr)
	if err != nil {
		return d.isoFallback(i, err)
	}
	root, err := img.RootDir()
	if err != nil {
		return d.isoFallback(i, err)
	}
	visited := 0
	var walk func(dir *iso9660.File, prefix string, depth int) error
	walk = func(dir *iso9660.File, prefix string, depth int) error {
		if depth > 32 {
			return errors.New("directories nested too deep")
		}
		kids, err := dir.GetChildren()
		if err != nil {
			return err
		}
		for _, k := range kids {
			if err := d.ctx.Err(); err != nil {
				return err
			}
			if visited++; visited > 20000 {
				return errors.New("too many directory entries")
			}
			name := path.Join(prefix, k.Name())
			if k.IsDir() {
				if err := walk(k, name, depth+1); err != nil {
					return err
				}
				continue
			}
			c, err := d.newChild(i, name)
			if err != nil {
				return err
			}
			d.res.Parts[i].Unpacked = true
			d.res.Parts[c].ArchiveName = name
			if err := d.failed(c, "do_iso", d.fill(c, k.Reader(), "do_iso")); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root, "", 0); err != nil {
		var he *holdError
		if errors.As(err, &he) || d.ctx.Err() != nil {
			return err
		}
		d.undecipherable(i, "do_iso: %v", err)
	}
	return nil
}

func (d *decoder) isoFallback(i int, err error) error {
	if d.tools.SevenZip != "" {
		return d.do7z(i)
	}
	d.undecipherable(i, "do_iso: %v", err)
	return nil
}
