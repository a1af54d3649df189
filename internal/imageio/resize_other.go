//go:build !amd64

package imageio

// simd is false off amd64: the Go loops of resize.go do the work.
var simd = false

func horizontalSIMD([]uint8, int, []uint8, int, int, *kernel, int) { panic("no SIMD resampling") }
func verticalSIMD([]uint8, int, []uint8, int, int, *kernel, int)   { panic("no SIMD resampling") }
