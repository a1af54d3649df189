package imageio

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"

	"golang.org/x/image/tiff"
)

// exifBlock builds a TIFF-structured EXIF block whose IFD0 holds the given
// (tag, type, value) entries.
func exifBlock(bo binary.ByteOrder, entries ...[3]uint32) []byte {
	var b bytes.Buffer
	if bo == binary.LittleEndian {
		b.WriteString("II")
	} else {
		b.WriteString("MM")
	}
	binary.Write(&b, bo, uint16(42))
	binary.Write(&b, bo, uint32(8))
	binary.Write(&b, bo, uint16(len(entries)))
	for _, e := range entries {
		binary.Write(&b, bo, uint16(e[0]))
		binary.Write(&b, bo, uint16(e[1]))
		binary.Write(&b, bo, uint32(1))
		v := make([]byte, 4)
		switch e[1] {
		case 3:
			bo.PutUint16(v, uint16(e[2]))
		case 4:
			bo.PutUint32(v, e[2])
		default:
			v[0] = byte(e[2])
		}
		b.Write(v)
	}
	binary.Write(&b, bo, uint32(0)) // no next IFD
	return b.Bytes()
}

// jpegWithExif wraps an EXIF block in SOI, an APP0 and an APP1 segment.
func jpegWithExif(exif []byte) []byte {
	var b bytes.Buffer
	b.Write([]byte{0xff, 0xd8})
	b.Write([]byte{0xff, 0xe0, 0, 16})
	b.WriteString("JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
	seg := append([]byte("Exif\x00\x00"), exif...)
	b.Write([]byte{0xff, 0xe1, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)})
	b.Write(seg)
	b.Write([]byte{0xff, 0xda, 0, 2})
	return b.Bytes()
}

func pngChunk(typ string, data []byte) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, uint32(len(data)))
	b.WriteString(typ)
	b.Write(data)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(append([]byte(typ), data...)))
	return b.Bytes()
}

func TestTIFFOrientation(t *testing.T) {
	le, be := binary.LittleEndian, binary.BigEndian
	tests := []struct {
		name string
		b    []byte
		want int
	}{
		{"LE short", exifBlock(le, [3]uint32{0x0112, 3, 6}), 6},
		{"BE short", exifBlock(be, [3]uint32{0x0112, 3, 8}), 8},
		{"after other tags", exifBlock(be, [3]uint32{0x010f, 2, 0}, [3]uint32{0x0110, 2, 0}, [3]uint32{0x0112, 3, 3}), 3},
		{"LONG type", exifBlock(le, [3]uint32{0x0112, 4, 5}), 5},
		{"out of range", exifBlock(le, [3]uint32{0x0112, 3, 9}), 1},
		{"zero", exifBlock(le, [3]uint32{0x0112, 3, 0}), 1},
		{"wrong type", exifBlock(le, [3]uint32{0x0112, 5, 6}), 1},
		{"absent", exifBlock(le, [3]uint32{0x010f, 2, 0}), 1},
		{"bad magic", append([]byte("II\x2b\x00"), exifBlock(le, [3]uint32{0x0112, 3, 6})[4:]...), 1},
		{"bad byte order", append([]byte("IM"), exifBlock(le, [3]uint32{0x0112, 3, 6})[2:]...), 1},
		{"IFD offset past end", []byte("II*\x00\xff\xff\xff\x7f"), 1},
		{"IFD offset into header", []byte("II*\x00\x02\x00\x00\x00\x01\x00"), 1},
		{"count larger than data", exifBlock(le, [3]uint32{0x0112, 3, 6})[:20], 1},
		{"empty", nil, 1},
	}
	for _, tt := range tests {
		if got := tiffOrientation(tt.b); got != tt.want {
			t.Errorf("%s: got %d, want %d", tt.name, got, tt.want)
		}
	}
	// An entry count claiming more entries than exist must still find a
	// real entry and not read past the end.
	b := exifBlock(le, [3]uint32{0x0112, 3, 7})
	b[8], b[9] = 0xff, 0xff
	if got := tiffOrientation(b); got != 7 {
		t.Errorf("inflated count: got %d, want 7", got)
	}
}

func TestContainerOrientation(t *testing.T) {
	exif := exifBlock(binary.BigEndian, [3]uint32{0x0112, 3, 6})
	j := jpegWithExif(exif)
	if got := jpegOrientation(j); got != 6 {
		t.Errorf("jpeg: got %d", got)
	}
	// Fill bytes before a marker are legal.
	filled := append([]byte{0xff, 0xd8, 0xff, 0xff}, j[2:]...)
	if got := jpegOrientation(filled); got != 6 {
		t.Errorf("jpeg with fill bytes: got %d", got)
	}
	// APP1 after SOS is image data, not metadata.
	late := append(bytes.Clone(j[:2]), append([]byte{0xff, 0xda, 0, 2}, j[2:]...)...)
	if got := jpegOrientation(late); got != 1 {
		t.Errorf("jpeg with Exif after SOS: got %d", got)
	}
	// A segment length running off the end.
	if got := jpegOrientation(j[:30]); got != 1 {
		t.Errorf("cut jpeg: got %d", got)
	}

	png := append([]byte("\x89PNG\r\n\x1a\n"), pngChunk("IHDR", make([]byte, 13))...)
	png = append(png, pngChunk("eXIf", exif)...)
	png = append(png, pngChunk("IEND", nil)...)
	if got := pngOrientation(png); got != 6 {
		t.Errorf("png: got %d", got)
	}

	var w bytes.Buffer
	w.WriteString("RIFF\x00\x00\x00\x00WEBP")
	w.WriteString("VP8X")
	binary.Write(&w, binary.LittleEndian, uint32(10))
	w.Write(make([]byte, 10))
	w.WriteString("ICCP")
	binary.Write(&w, binary.LittleEndian, uint32(3)) // odd: padded
	w.Write([]byte{1, 2, 3, 0})
	w.WriteString("EXIF")
	binary.Write(&w, binary.LittleEndian, uint32(len(exif)))
	w.Write(exif)
	if got := webpOrientation(w.Bytes()); got != 6 {
		t.Errorf("webp: got %d", got)
	}
}

// Orientation from the image's own TIFF tag: the same picture stored
// rotated decodes to the same displayed pixels.
func TestTIFFFileOrientation(t *testing.T) {
	src := synthetic(6, 4)
	rot := NewRGB(4, 6)
	orient(rot, src, 8) // stored pixels rotated one way...
	var buf bytes.Buffer
	if err := tiff.Encode(&buf, rot.NRGBA(), nil); err != nil {
		t.Fatal(err)
	}
	data := addTIFFOrientation(t, buf.Bytes(), 6) // ...and tagged to be rotated back
	// Rotating by 8 then by 6 is the identity only if 6 undoes 8.
	img, info := mustDecode(t, data, DecodeOptions{})
	if info.Width != 6 || info.Height != 4 {
		t.Fatalf("info %+v", info)
	}
	if _, maxd := diff(t, img, src); maxd != 0 {
		t.Errorf("tagged TIFF decodes to different pixels (max diff %d)", maxd)
	}
}

// addTIFFOrientation appends a copy of IFD0 with an Orientation entry
// added, and points the header at it.
func addTIFFOrientation(t *testing.T, b []byte, o uint16) []byte {
	t.Helper()
	bo := binary.ByteOrder(binary.LittleEndian)
	if string(b[:2]) == "MM" {
		bo = binary.BigEndian
	}
	off := bo.Uint32(b[4:])
	n := int(bo.Uint16(b[off:]))
	entries := b[off+2 : int(off)+2+12*n]
	var e [12]byte
	bo.PutUint16(e[0:], 0x0112)
	bo.PutUint16(e[2:], 3)
	bo.PutUint32(e[4:], 1)
	bo.PutUint16(e[8:], o)
	// Keep entries sorted by tag, as TIFF requires.
	var out []byte
	inserted := false
	for i := 0; i < n; i++ {
		ent := entries[12*i : 12*i+12]
		if !inserted && bo.Uint16(ent) > 0x0112 {
			out, inserted = append(out, e[:]...), true
		}
		out = append(out, ent...)
	}
	if !inserted {
		out = append(out, e[:]...)
	}
	res := bytes.Clone(b)
	if len(res)%2 == 1 {
		res = append(res, 0)
	}
	newOff := uint32(len(res))
	res = append(res, 0, 0)
	bo.PutUint16(res[newOff:], uint16(n+1))
	res = append(res, out...)
	res = append(res, 0, 0, 0, 0)
	bo.PutUint32(res[4:], newOff)
	return res
}

func FuzzOrientation(f *testing.F) {
	le, be := binary.LittleEndian, binary.BigEndian
	f.Add(exifBlock(le, [3]uint32{0x0112, 3, 6}))
	f.Add(exifBlock(be, [3]uint32{0x010f, 2, 0}, [3]uint32{0x0112, 3, 8}))
	f.Add(jpegWithExif(exifBlock(be, [3]uint32{0x0112, 3, 3})))
	f.Add([]byte("II*\x00\x08\x00\x00\x00\xff\xff"))
	f.Add([]byte{0xff, 0xd8, 0xff, 0xe1, 0xff, 0xff, 'E', 'x', 'i', 'f', 0, 0})
	f.Add([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\x10eXIfMM\x00*\x00\x00\x00\x08\x00\x01\x01\x12"))
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPEXIF\xff\xff\xff\xffII*\x00"))
	for n := 1; n <= 8; n++ {
		b := testdata(f, "orient/orient-"+string(rune('0'+n))+".jpg")
		f.Add(b[:min(len(b), 512)])
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for name, fn := range map[string]func([]byte) int{
			"tiff": tiffOrientation, "jpeg": jpegOrientation, "png": pngOrientation, "webp": webpOrientation,
		} {
			if o := fn(b); o < 1 || o > 8 {
				t.Fatalf("%s: orientation %d", name, o)
			}
		}
	})
}
