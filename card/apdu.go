package card

// The applet's class and instruction bytes (ref §2.1), named after ISO
// 7816-4. The card emulator (internal/virtual) keeps its own table on purpose:
// it is the independent other side these bytes are tested against.
const (
	claISO    = 0x00 // interindustry commands, basic logical channel (ref §1.3)
	claBelpic = 0x80 // the applet's proprietary commands

	insVerify       = 0x20 // VERIFY (ref §7.3)
	insMSE          = 0x22 // MANAGE SECURITY ENVIRONMENT (ref §8.2)
	insChangeRef    = 0x24 // CHANGE REFERENCE DATA (ref §7.4)
	insPSO          = 0x2A // PERFORM SECURITY OPERATION (ref §8.3)
	insInternalAuth = 0x88 // INTERNAL AUTHENTICATE (ref §8.5)
	insSelect       = 0xA4 // SELECT FILE (ref §2.3)
	insReadBinary   = 0xB0 // READ BINARY (ref §2.4)
	insGetResponse  = 0xC0 // GET RESPONSE (ref §2.5)
	insGetCardData  = 0xE4 // GET CARD DATA, CLA 80 (ref §5)
)

// readBinary is READ BINARY of n bytes at offset in the current file. The
// offset has 15 bits and n is 1 to 256, 256 going out as Le 00 (ref §2.4).
func readBinary(offset, n int) []byte {
	return []byte{claISO, insReadBinary, byte(offset >> 8), byte(offset), byte(n)}
}
