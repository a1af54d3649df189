package imageio

import (
	"encoding/binary"
)

// The orientation readers below are deliberately small: they look for one
// tag (0x0112) in IFD0 and nothing else. Every offset is bounds-checked,
// and every loop advances by at least one byte and is capped by the input
// length, so hostile input can neither panic nor spin. Anything unexpected
// yields 1 (no transform), the same as a file without EXIF.

const tagOrientation = 0x0112

// tiffOrientation reads the orientation from a TIFF-structured block: an
// EXIF payload, or a whole TIFF file.
func tiffOrientation(b []byte) int {
	if len(b) < 8 {
		return 1
	}
	var bo binary.ByteOrder
	switch {
	case b[0] == 'I' && b[1] == 'I':
		bo = binary.LittleEndian
	case b[0] == 'M' && b[1] == 'M':
		bo = binary.BigEndian
	default:
		return 1
	}
	if bo.Uint16(b[2:]) != 42 {
		return 1
	}
	off := uint64(bo.Uint32(b[4:]))
	if off < 8 || off+2 > uint64(len(b)) {
		return 1
	}
	n := uint64(bo.Uint16(b[off:]))
	p := off + 2
	// At most n entries, and at most as many as fit in the block.
	if max := (uint64(len(b)) - p) / 12; n > max {
		n = max
	}
	for i := uint64(0); i < n; i++ {
		e := b[p+12*i : p+12*i+12]
		if bo.Uint16(e) != tagOrientation {
			continue
		}
		if bo.Uint32(e[4:]) == 0 {
			return 1
		}
		var v uint32
		switch bo.Uint16(e[2:]) {
		case 3: // SHORT, the type the spec mandates
			v = uint32(bo.Uint16(e[8:]))
		case 4: // LONG, seen from sloppy writers
			v = bo.Uint32(e[8:])
		case 1: // BYTE
			v = uint32(e[8])
		default:
			return 1
		}
		if v >= 1 && v <= 8 {
			return int(v)
		}
		return 1
	}
	return 1
}

// exifPayload strips the optional "Exif\0\0" header some containers keep.
func exifPayload(b []byte) []byte {
	if len(b) >= 6 && string(b[:6]) == "Exif\x00\x00" {
		return b[6:]
	}
	return b
}

// jpegOrientation walks the JPEG marker segments up to the first scan and
// returns the orientation from the first Exif APP1 segment.
func jpegOrientation(b []byte) int {
	if len(b) < 4 || b[0] != 0xff || b[1] != 0xd8 {
		return 1
	}
	p := 2
	for p+4 <= len(b) {
		if b[p] != 0xff {
			return 1 // not at a marker: give up rather than guess
		}
		m := b[p+1]
		switch {
		case m == 0xff: // fill byte
			p++
			continue
		case m == 0xd8 || m == 0x01 || (m >= 0xd0 && m <= 0xd7): // no length
			p += 2
			continue
		case m == 0xda || m == 0xd9: // SOS, EOI: metadata is over
			return 1
		}
		n := int(b[p+2])<<8 | int(b[p+3])
		if n < 2 || p+2+n > len(b) {
			return 1
		}
		seg := b[p+4 : p+2+n]
		if m == 0xe1 && len(seg) >= 6 && string(seg[:6]) == "Exif\x00\x00" {
			return tiffOrientation(seg[6:])
		}
		p += 2 + n
	}
	return 1
}

// pngOrientation returns the orientation from an eXIf chunk.
func pngOrientation(b []byte) int {
	const sig = 8
	if len(b) < sig {
		return 1
	}
	p := uint64(sig)
	for p+8 <= uint64(len(b)) {
		n := uint64(binary.BigEndian.Uint32(b[p:]))
		typ := string(b[p+4 : p+8])
		end := p + 8 + n
		if end > uint64(len(b)) {
			return 1
		}
		switch typ {
		case "eXIf":
			return tiffOrientation(exifPayload(b[p+8 : end]))
		case "IEND":
			return 1
		}
		p = end + 4 // CRC
	}
	return 1
}

// webpOrientation returns the orientation from the EXIF chunk of an
// extended (VP8X) WebP.
func webpOrientation(b []byte) int {
	if len(b) < 12 {
		return 1
	}
	p := uint64(12)
	for p+8 <= uint64(len(b)) {
		n := uint64(binary.LittleEndian.Uint32(b[p+4:]))
		end := p + 8 + n
		if end > uint64(len(b)) {
			return 1
		}
		if string(b[p:p+4]) == "EXIF" {
			return tiffOrientation(exifPayload(b[p+8 : end]))
		}
		p = end + n&1 // chunks are padded to even length
	}
	return 1
}

// orientationOf dispatches on the sniffed format.
func orientationOf(format string, b []byte) int {
	switch format {
	case FormatJPEG:
		return jpegOrientation(b)
	case FormatTIFF:
		return tiffOrientation(b)
	case FormatPNG:
		return pngOrientation(b)
	case FormatWebP:
		return webpOrientation(b)
	}
	return 1
}
