package decode

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
)

func benchDecode(b *testing.B, size int) {
	data := make([]byte, size)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	msg := mailWith(file("data.bin", data))
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		dir := b.TempDir()
		res, err := Decode(context.Background(), bytes.NewReader(msg), int64(len(msg)), dir, DefaultLimits(), testTools)
		if err != nil || find(res, "data.bin") < 0 {
			b.Fatalf("decode: %v", err)
		}
	}
}

func BenchmarkDecode1MB(b *testing.B)  { benchDecode(b, 1<<20) }
func BenchmarkDecode10MB(b *testing.B) { benchDecode(b, 10<<20) }

// BenchmarkDecodeZip10MB: the 10 MB attachment inside a zip (compressible
// text), to show the unpacking path.
func BenchmarkDecodeZip10MB(b *testing.B) {
	data := bytes.Repeat([]byte("The quick brown fox jumps over the lazy dog 0123456789.\n"), (10<<20)/56)
	msg := mailWith(file("data.zip", zipOf(member{"data.txt", data})))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		res, err := Decode(context.Background(), bytes.NewReader(msg), int64(len(msg)), b.TempDir(), DefaultLimits(), testTools)
		if err != nil || find(res, "data.txt") < 0 {
			b.Fatalf("decode: %v", err)
		}
	}
}

// BenchmarkDecodeSmallText: a 2 KiB plain-text message, the most common
// mail; the cost is per message (files, buffers) rather than per byte.
func BenchmarkDecodeSmallText(b *testing.B) {
	var msg bytes.Buffer
	msg.WriteString("From: a@example.com\r\nTo: b@example.org\r\nSubject: small\r\n\r\n")
	for msg.Len() < 2048 {
		msg.WriteString("The quick brown fox jumps over the lazy dog while mavis measures.\r\n")
	}
	data := msg.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		dir := b.TempDir()
		res, err := Decode(context.Background(), bytes.NewReader(data), int64(len(data)), dir, DefaultLimits(), testTools)
		if err != nil || len(res.Parts) != 1 {
			b.Fatalf("decode: %v", err)
		}
	}
}

// BenchmarkDecodeSmallTextReusedDir is BenchmarkDecodeSmallText with the
// work directory reused through WorkDirs instead of made and removed per
// message.
func BenchmarkDecodeSmallTextReusedDir(b *testing.B) {
	var msg bytes.Buffer
	msg.WriteString("From: a@example.com\r\nTo: b@example.org\r\nSubject: small\r\n\r\n")
	for msg.Len() < 2048 {
		msg.WriteString("The quick brown fox jumps over the lazy dog while mavis measures.\r\n")
	}
	data := msg.Bytes()
	w := NewWorkDirs(b.TempDir(), 1)
	defer w.Close()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		dir, err := w.Get()
		if err != nil {
			b.Fatal(err)
		}
		res, err := Decode(context.Background(), bytes.NewReader(data), int64(len(data)), dir, DefaultLimits(), testTools)
		if err != nil || len(res.Parts) != 1 {
			b.Fatalf("decode: %v", err)
		}
		if err := w.Put(dir); err != nil {
			b.Fatal(err)
		}
	}
}
