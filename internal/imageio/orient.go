package imageio

// orientedSize returns the displayed size of a w x h stored image.
func orientedSize(w, h, o int) (int, int) {
	if o >= 5 && o <= 8 {
		return h, w
	}
	return w, h
}

// orient writes src, transformed by EXIF orientation o (2..8), into dst,
// whose Pix must already have room for it. Each stored pixel (sx, sy) lands
// at dst offset base + sx*dx + sy*dy, so one loop serves all eight cases.
// The loop walks the source in tiles so that the transposing orientations
// (5-8) write to a few cache lines at a time instead of striding through
// the whole destination for every source row.
func orient(dst, src *RGB, o int) {
	W, H := src.W, src.H
	dw, dh := orientedSize(W, H, o)
	dst.W, dst.H = dw, dh
	row := 3 * dw // destination stride
	var base, dx, dy int
	switch o {
	case 2: // mirror horizontally
		base, dx, dy = 3*(W-1), -3, row
	case 3: // rotate 180
		base, dx, dy = (H-1)*row+3*(W-1), -3, -row
	case 4: // mirror vertically
		base, dx, dy = (H-1)*row, 3, -row
	case 5: // transpose
		base, dx, dy = 0, row, 3
	case 6: // rotate 90 clockwise
		base, dx, dy = 3*(H-1), row, -3
	case 7: // transverse
		base, dx, dy = (W-1)*row+3*(H-1), -row, -3
	case 8: // rotate 90 counter-clockwise
		base, dx, dy = (W-1)*row, -row, 3
	default:
		copy(dst.Pix, src.Pix[:3*W*H])
		return
	}
	const tile = 64
	s, d := src.Pix, dst.Pix
	for ty := 0; ty < H; ty += tile {
		ey := min(ty+tile, H)
		for tx := 0; tx < W; tx += tile {
			ex := min(tx+tile, W)
			for y := ty; y < ey; y++ {
				si := 3 * (y*W + tx)
				di := base + tx*dx + y*dy
				for x := tx; x < ex; x++ {
					p := s[si : si+3 : si+3]
					q := d[di : di+3 : di+3]
					q[0], q[1], q[2] = p[0], p[1], p[2]
					si += 3
					di += dx
				}
			}
		}
	}
}
