// Package imageio turns the bytes of one image file into a model input
// tensor. It is the hot path of `winnow featurize`, where several decoding
// goroutines share two cores with ONNX Runtime, so every stage is built to
// do as little work as the final 224x224-ish tensor needs, and to reuse its
// buffers.
//
// The pipeline, and why each step is where it is:
//
//  1. Sniff. The format comes from the signature bytes, never the file
//     name, so "UPPER.JPEG", a PNG saved as .jpg, or a text file called
//     .png all get the right treatment. Known formats we do not decode
//     (HEIC, AVIF, SVG, PDF, ICO, ...) are ErrUnsupported rather than
//     ErrNotImage, so the user knows what to convert.
//
//  2. Header check. Width and height are read from the header (libjpeg's
//     jpeg_read_header, or the Go decoder's DecodeConfig) and checked
//     against DecodeOptions.MaxPixels before a single pixel buffer is
//     allocated: a 600-byte PNG can claim 200000x200000 pixels.
//
//  3. Decode. JPEG, nearly all of the photos we see, goes through
//     libjpeg-turbo via cgo (SIMD IDCT and colour conversion, several times
//     faster than image/jpeg). When the caller says how small the image
//     will end up (MinW, MinH, Resize), libjpeg scales by 1/2, 1/4 or 1/8
//     inside the IDCT, which skips most of the work for large photos: the
//     strongest scale that still covers the picture Fit draws (PIL's
//     draft() rule), so a 12 MP photo bound for 224x224 is decoded at 1/8
//     scale and a 500x375 one padded to 224x168 at 1/2. Fit's filter then
//     does the rest; the result differs from a full decode by a few grey
//     levels on average (TestDCTScaledDecode).
//     libjpeg's fatal errors longjmp back to a C entry point instead of
//     calling exit(), and its "premature end of data" warning becomes
//     ErrTruncated. PNG, GIF (first frame), BMP, TIFF and WebP use the Go
//     decoders, with panics recovered.
//
//  4. Orient. The EXIF Orientation tag (JPEG APP1, TIFF's own IFD0, PNG
//     eXIf, WebP EXIF) is read by a small bounds-checked parser and applied
//     to the decoded, possibly already DCT-reduced, pixels: rotating the
//     smaller image is cheaper, and the model must see the picture the way
//     people do. Info reports the displayed size.
//
//  5. RGB. Everything becomes packed 8-bit RGB (3 bytes per pixel), the
//     one representation the later stages handle: grey is replicated,
//     palettes looked up, Adobe (inverted) CMYK converted, 16-bit samples
//     rounded, and alpha composited on white, as a browser on a white page
//     shows it; transparent pixels have arbitrary colour underneath, which
//     must not reach the model.
//
//  6. Fit. The image is resized to the model's input size by Pad
//     (letterbox), Crop (centre crop) or Stretch, with a separable
//     triangle filter that widens when shrinking (Pillow's BILINEAR), using
//     fixed-point weights computed once per call. Crop computes only the
//     kept window.
//
//  7. Pack. TensorSpec lays the bytes out as float32 in NCHW or NHWC, RGB,
//     BGR or luma order, normalised as (v/Scale - Mean)/Std through a
//     256-entry table per channel.
//
// A Decoder and a reused Fit destination make the steady state
// allocation-free for JPEG; give each goroutine its own.
package imageio
