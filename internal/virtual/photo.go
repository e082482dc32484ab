package virtual

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
)

// Photo dimensions of the card's JPEG (the test-card exports hold 140×200
// pictures, ref §11.1).
const photoW, photoH = 140, 200

// syntheticPhoto draws a grey passport-style silhouette — head and
// shoulders on a plain background — tinted by seed so that different
// holders get different files. It is a few kilobytes, like the real
// 2.5–3.5 KB photos (ref §3.1), so reading it takes several READ BINARY.
func syntheticPhoto(seed string) []byte {
	s := fnv32(seed)
	bg := color.Gray{Y: 200 + uint8(s%40)}
	skin := color.Gray{Y: 140 + uint8(s>>8%50)}
	cloth := color.Gray{Y: 40 + uint8(s>>16%60)}

	img := image.NewGray(image.Rect(0, 0, photoW, photoH))
	cx, headY := photoW/2, 80
	for y := 0; y < photoH; y++ {
		for x := 0; x < photoW; x++ {
			c := bg
			// A faint vertical gradient so the background is not flat.
			c.Y -= uint8(y / 20)
			dx, dy := float64(x-cx), float64(y-headY)
			switch {
			case dx*dx/(34*34)+dy*dy/(44*44) <= 1: // head
				c = skin
			case y > 130 && dx*dx/(68*68)+float64((y-200)*(y-200))/(70*70) <= 1: // shoulders
				c = cloth
			case y > 115 && y <= 135 && dx*dx <= 14*14: // neck
				c = skin
			}
			// Grain, so the JPEG is not trivially small.
			c.Y += uint8((x*7 + y*13 + int(s)) % 9)
			img.SetGray(x, y, c)
		}
	}
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 85}) // writing to memory cannot fail
	return buf.Bytes()
}
