package imageio

import (
	"bytes"
)

// Format names, as reported in Info.Format. They match the names the
// standard library registers with image.RegisterFormat.
const (
	FormatJPEG = "jpeg"
	FormatPNG  = "png"
	FormatGIF  = "gif"
	FormatBMP  = "bmp"
	FormatTIFF = "tiff"
	FormatWebP = "webp"
)

type signature struct {
	format string
	magic  string // '?' matches any byte
}

// supported lists the signatures Decode can handle. Sniffing the content
// rather than trusting the file extension is what lets UPPER.JPEG, a PNG
// named .jpg, or a text file named .png get the right treatment.
var supported = []signature{
	{FormatJPEG, "\xff\xd8\xff"},
	{FormatPNG, "\x89PNG\r\n\x1a\n"},
	{FormatGIF, "GIF87a"},
	{FormatGIF, "GIF89a"},
	{FormatBMP, "BM"},
	{FormatTIFF, "II*\x00"},
	{FormatTIFF, "MM\x00*"},
	{FormatWebP, "RIFF????WEBP"},
}

// unsupported lists image formats we recognise but do not decode, so the
// user is told "unsupported" rather than "not an image".
var unsupported = []signature{
	{"pdf", "%PDF-"},
	{"ico", "\x00\x00\x01\x00"},
	{"cur", "\x00\x00\x02\x00"},
	{"jpeg2000", "\x00\x00\x00\x0cjP  \r\n\x87\n"},
	{"jpeg2000", "\xff\x4f\xff\x51"},
	{"jpegxl", "\x00\x00\x00\x0cJXL \r\n\x87\n"},
	{"jpegxl", "\xff\x0a"},
	{"psd", "8BPS"},
	{"bigtiff", "II+\x00"},
	{"bigtiff", "MM\x00+"},
	{"qoi", "qoif"},
	{"openexr", "\x76\x2f\x31\x01"},
	{"dds", "DDS "},
	{"xcf", "gimp xcf"},
	{"jpeg-xr", "II\xbc"},
	{"flif", "FLIF"},
}

// heifBrands are ISO-BMFF major brands of still-image formats (HEIC, AVIF).
var heifBrands = map[string]string{
	"heic": "heic", "heix": "heic", "hevc": "heic", "hevx": "heic",
	"heim": "heic", "heis": "heic", "hevm": "heic", "hevs": "heic",
	"mif1": "heif", "msf1": "heif", "avif": "avif", "avis": "avif",
}

func matchSig(b []byte, magic string) bool {
	if len(b) < len(magic) {
		return false
	}
	for i := 0; i < len(magic); i++ {
		if magic[i] != '?' && magic[i] != b[i] {
			return false
		}
	}
	return true
}

// isPrefixOfSig reports whether b is a proper prefix of magic: the start
// of a supported file that was cut short.
func isPrefixOfSig(b []byte, magic string) bool {
	if len(b) >= len(magic) {
		return false
	}
	for i := range b {
		if magic[i] != '?' && magic[i] != b[i] {
			return false
		}
	}
	return true
}

// sniff identifies the container format from the first bytes. It returns
// the format name of a supported format, or an error carrying one of the
// sentinels.
func sniff(b []byte) (string, error) {
	if len(b) == 0 {
		return "", ErrEmpty
	}
	for _, s := range supported {
		if matchSig(b, s.magic) {
			return s.format, nil
		}
	}
	for _, s := range unsupported {
		if matchSig(b, s.magic) {
			return "", newErr(ErrUnsupported, s.format, "")
		}
	}
	if len(b) >= 12 && string(b[4:8]) == "ftyp" {
		if f, ok := heifBrands[string(b[8:12])]; ok {
			return "", newErr(ErrUnsupported, f, "")
		}
	}
	if f := textImage(b); f != "" {
		return "", newErr(ErrUnsupported, f, "")
	}
	if len(b) >= 2 {
		for _, s := range supported {
			if isPrefixOfSig(b, s.magic) {
				return "", newErr(ErrCorrupt, s.format, "bad header: file ends inside the signature")
			}
		}
	}
	return "", ErrNotImage
}

// textImage recognises text-based image formats: SVG and Netpbm.
func textImage(b []byte) string {
	if len(b) >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '7' &&
		(b[2] == ' ' || b[2] == '\n' || b[2] == '\r' || b[2] == '\t') {
		return "netpbm"
	}
	head := b
	if len(head) > 4096 {
		head = head[:4096]
	}
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	head = bytes.TrimLeft(head, " \t\r\n")
	if bytes.HasPrefix(head, []byte("<")) && bytes.Contains(head, []byte("<svg")) {
		return "svg"
	}
	return ""
}
